"""Reference baselines every learned model must beat.

- ``zero``: no movement anywhere (displacement 0 m at every cell and time).
- ``trend``: a constant rate per cell, the least-squares linear rate of its TRAINING
  observations (m/day); a cell without training observations takes the inverse-distance
  weighted rate of its ``k`` nearest training cells (weights 1 / distance**power).
  Predicted displacement = rate x days since the first case time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from engine.errors import InputError, SolverError
from engine.evaluate import linear_rate
from engine.registry import register
from engine.result import Result
from engine.solver import Limit, Solver
from engine.split import Split
from engine.units import DAYS_PER_YEAR, M_TO_MM

_STATE_FILE = "trend.json"


@register("zero")
class ZeroSolver(Solver):
    name = "zero"
    kind = "ml"

    def predict(self, case) -> Result:
        return Result.for_case(case, self.name, self.kind,
                               np.zeros((case.n_cells, case.n_times)), options=self.options)


@register("trend")
class TrendSolver(Solver):
    name = "trend"
    kind = "ml"
    stateful = True
    defaults = {"k": 4, "power": 2.0}
    limits = {"k": Limit(1, 1000), "power": Limit(0.0, 10.0)}

    def __init__(self, **options):
        super().__init__(**options)
        if self.options["k"] < 1:
            raise InputError("solver options", "k", f"{self.options['k']} is not >= 1")
        if self.options["power"] < 0:
            raise InputError("solver options", "power", f"{self.options['power']} is not >= 0")
        self.x = self.y = self.rate = None

    def fit(self, case, split: Split | None = None) -> dict:
        observed = case.observations.displacement
        if observed is None:
            raise InputError(case.source or case.name, "observations.displacement",
                             "the trend solver needs observed displacement to fit")
        mask = (split or Split("none")).train_mask(case)
        rate = linear_rate(case.days, observed, mask)
        known = np.isfinite(rate)
        if not known.any():
            raise InputError(case.source or case.name, "observations.displacement",
                             "no training cell has two observed times to fit a rate")
        self.x, self.y, self.rate = case.cells.x[known], case.cells.y[known], rate[known]
        return {"training_cells": int(known.sum()),
                "median_rate_mm_per_year": float(np.median(self.rate) * M_TO_MM * DAYS_PER_YEAR)}

    def rates(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Rate (m/day) at points x, y (m): a training cell's own rate at its location,
        else inverse-distance weighting of the k nearest training cells."""
        if self.rate is None:
            raise SolverError("trend: predict() before fit() or load()")
        k = min(int(self.options["k"]), len(self.rate))
        distance, index = cKDTree(np.column_stack([self.x, self.y])).query(
            np.column_stack([x, y]), k=k)
        distance, index = distance.reshape(len(x), k), index.reshape(len(x), k)
        at_cell = distance == 0.0
        with np.errstate(divide="ignore"):
            weight = np.where(at_cell.any(axis=1, keepdims=True), at_cell.astype(float),
                              distance ** -float(self.options["power"]))
        return (weight * self.rate[index]).sum(axis=1) / weight.sum(axis=1)

    def predict(self, case) -> Result:
        rate = self.rates(case.cells.x, case.cells.y)
        return Result.for_case(case, self.name, self.kind, rate[:, None] * case.days[None, :],
                               options=self.options)

    def save(self, directory) -> None:
        if self.rate is None:
            raise SolverError("trend: nothing to save before fit()")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        state = {"solver": self.name, "options": self.options, "x": self.x.tolist(),
                 "y": self.y.tolist(), "rate": self.rate.tolist()}
        (path / _STATE_FILE).write_text(json.dumps(state), encoding="utf-8")

    @classmethod
    def load(cls, directory) -> "TrendSolver":
        path = Path(directory) / _STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(path, "(file)",
                             f"cannot read a saved trend solver ({exc})") from None
        missing = [k for k in ("solver", "options", "x", "y", "rate") if k not in state]
        if missing or state["solver"] != cls.name:
            raise InputError(path, missing[0] if missing else "solver",
                             f"not a saved {cls.name} solver")
        solver = cls(**state["options"])
        solver.x, solver.y, solver.rate = (np.asarray(state[k], dtype=np.float64)
                                           for k in ("x", "y", "rate"))
        return solver
