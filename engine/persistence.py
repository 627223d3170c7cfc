"""Saving and loading fitted solvers, whatever their kind.

A saved model is a folder: what the solver's own ``save`` writes (weights, fitted
parameters; never pickles) plus the manifest ``solver.json``, which names the solver so
that ``load_model`` finds its class through the registry and calls its ``load``. Nothing
here knows how any solver stores its state, so this module needs neither torch nor any
other library of the solvers.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine import __version__
from engine.errors import InputError
from engine.registry import solver_class
from engine.solver import Solver

MANIFEST_FILE = "solver.json"


def save_model(solver: Solver, directory) -> None:
    """``solver.save(directory)`` plus the manifest ``load_model`` reads."""
    solver.save(directory)
    manifest = {"solver": solver.name, "kind": solver.kind, "landsub_version": __version__}
    (Path(directory) / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def load_model(directory) -> Solver:
    """The solver saved in ``directory`` by ``save_model`` (or ``landsub fit``)."""
    path = Path(directory) / MANIFEST_FILE
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["solver"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(path, "solver", f"not a saved landsub model ({exc})") from None
    return solver_class(name).load(directory)
