"""The solver protocol every physics, neural and hybrid model implements.

A solver is constructed with keyword options (``Solver(**options)``), may be fitted on
the training part of a case (``fit(case, split)``), and predicts a Result for any case
with the same kind of inputs (``predict(case)``), never reading its observations.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from engine.errors import InputError, suggest


class Solver:
    """Base class. Subclasses set ``name``, ``kind`` and ``defaults`` (option name ->
    default value; the default's type is used to parse command-line strings)."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "physics"          # "physics" | "ml" | "hybrid"
    uses_target_history: ClassVar[bool] = False
    stateful: ClassVar[bool] = False         # True when fit() learns something to save
    # True when a cell's prediction depends on that cell's inputs only (tiles may split it)
    cellwise: ClassVar[bool] = True
    defaults: ClassVar[dict] = {}

    def __init__(self, **options):
        unknown = [k for k in options if k not in self.defaults]
        if unknown:
            k = unknown[0]
            raise InputError("solver options", k,
                             f'unknown option "{k}" for solver "{self.name}"'
                             f"{suggest(k, self.defaults)}; options are: "
                             f"{', '.join(sorted(self.defaults)) or 'none'}")
        self.options = {**self.defaults, **options}

    def fit(self, case, split=None) -> dict:
        """Learn from the training part of ``case``; returns a report (dict). Physics
        solvers without calibration do nothing."""
        return {}

    def predict(self, case):
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        """Write whatever fit() learned (stateful solvers only)."""
        raise NotImplementedError(f"solver {self.name} has no state to save")

    @classmethod
    def load(cls, directory: str | Path) -> "Solver":
        raise NotImplementedError(f"solver {cls.name} has no state to load")
