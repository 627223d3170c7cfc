"""The networks, one module per family, all ``SequenceModel`` s (see ``base``).

Each module declares its networks where it defines them, with
``surrogates.neural_solver.register_network(name, model_class, kind=..., defaults=...,
presets=...)``: that makes and registers the network's solver. Importing this package
imports every module in it (it is the ``networks`` provider of the ``landsub.solvers``
entry points), so adding a network is adding one module here.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
