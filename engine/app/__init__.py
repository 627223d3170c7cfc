"""The applications on top of every layer: the command line, ``bench``, ``whatif``,
``verify``, ``fit``, figures, reports and Dask orchestration. The only package that may
import everything (engine core, physics, surrogates, cases).

Scripts use ``engine.app.api`` (``from engine.app import api as ls``): the public, stable
functions over the same code paths as the commands."""
