"""``tfn``: transfer-function-noise baseline per cell, with pastas.

At each training cell a pastas model explains the observed displacement (m, up
positive) by the heads of the aquifers, one stress per aquifer (its head change since
the first time, m) through a Gamma response (gain A, shape n, scale a in days), plus a
constant and pastas's noise model. The scale a is bounded by ``max_scale_days``
(default one year, beyond the longest interbed lag times of the seminar's table): left
free, a linear model fits non-recovering (inelastic) compaction with near-integrating
responses whose huge, mutually compensating gains and scales differ wildly between
neighbouring cells, and cannot be interpolated to other cells. Time runs daily inside pastas; the heads vary
linearly between the case times, as DESIGN.md says. A cell outside the training part
takes the inverse-distance weighted parameters of its ``k`` nearest fitted cells
(positive parameters averaged in log space). Prediction is the pastas simulation with
those parameters, minus its value at the first time.

Only training observations are read (the validation part is not needed: there is no
early stopping). A pastas fit takes 2-4 s per cell on a 22-year monthly case (daily inside pastas), so at most
``max_cells`` training cells are fitted (a seeded random subset when there are more;
0 = all); the others take interpolated parameters like unseen cells. Saved as
``config.json`` plus ``parameters.safetensors`` (no pickle).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file

from engine.errors import InputError, SolverError
from engine.persistence import check_finite, safetensors_header
from engine.registry import register
from engine.result import Result
from engine.solver import Limit, Solver
from engine.split import Split, allowed_target
from surrogates.geography import inverse_distance, nearest

CONFIG_FILE = "config.json"
PARAMETERS_FILE = "parameters.safetensors"


def _pastas():
    import pastas as ps

    ps.set_log_level("ERROR")
    logging.getLogger("pastas").setLevel(logging.ERROR)
    return ps


@contextmanager
def _quiet():
    """pastas warns about pandas and solver details the user cannot act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _model(ps, case, cell: int, oseries: pd.Series, max_scale: float):
    """A pastas model of ``cell``: one Gamma-response stress per aquifer, its scale
    parameter a at most ``max_scale`` days."""
    index = pd.DatetimeIndex(case.times.astype("datetime64[ns]"))
    model = ps.Model(oseries, name=f"cell-{case.cells.ids[cell]}", freq="D")
    for aquifer in case.aquifers:
        stress = pd.Series(aquifer.head[cell] - aquifer.head[cell, 0], index, name=aquifer.name)
        ps.StressModel(model, stress, ps.Gamma(), name=aquifer.name, up=True,
                       settings="waterlevel")
        model.set_parameter(f"{aquifer.name}_a", pmax=max_scale,
                            initial=min(model.parameters.loc[f"{aquifer.name}_a", "initial"],
                                        0.5 * max_scale))
    return model


def _spelled(entry) -> str:
    """A safetensors header entry (dtype, shape) as F64[2, 10]."""
    return "missing" if entry is None else f"{entry[0]}{list(entry[1])}"


@register("tfn")
class TFNSolver(Solver):
    name = "tfn"
    kind = "ml"
    stateful = True
    defaults = {"k": 4, "power": 2.0, "noise": True, "min_observations": 12,
                "max_scale_days": 365.0, "max_cells": 100, "seed": 0}
    limits = {"k": Limit(1, 1000), "power": Limit(0.0, 10.0), "min_observations": Limit(2, None),
              "max_scale_days": Limit(1.0, 36525.0), "max_cells": Limit(0, 10_000_000),
              "seed": Limit(0, 2**32 - 1)}

    def __init__(self, **options):
        super().__init__(**options)
        if self.options["max_cells"] < 0:
            raise InputError("solver options", "max_cells",
                             f"{self.options['max_cells']} is not >= 0 (0 = every cell)")
        self.names = self.log = self.x = self.y = self.parameters = None
        self.aquifers = self.split = None

    def fit(self, case, split: Split | None = None) -> dict:
        ps = _pastas()
        split = split or Split("none")
        target, train_mask, _ = allowed_target(case, split)
        index = pd.DatetimeIndex(case.times.astype("datetime64[ns]"))
        fitted, rows = [], []
        started = time.perf_counter()
        cells = np.flatnonzero(train_mask.any(axis=1))
        if 0 < self.options["max_cells"] < len(cells):
            rng = np.random.default_rng(self.options["seed"])
            cells = np.sort(rng.choice(cells, self.options["max_cells"], replace=False))
        for cell in cells:
            keep = train_mask[cell] & np.isfinite(target[cell])
            if keep.sum() < self.options["min_observations"]:
                continue
            oseries = pd.Series(target[cell, keep], index[keep], name="displacement")
            with _quiet():
                model = _model(ps, case, cell, oseries, self.options["max_scale_days"])
                if self.options["noise"]:
                    ps.ArNoiseModel(model)
                model.solve(report=False, warmup=0)
            stress_parameters = model.parameters.loc[
                [n for n in model.parameters.index if not n.startswith("noise")]]
            self.names = list(stress_parameters.index)
            self.log = (stress_parameters["pmin"].to_numpy() > 0)
            rows.append(stress_parameters["optimal"].to_numpy(dtype=np.float64))
            fitted.append(cell)
        if not fitted:
            raise InputError(case.source or case.name, "observations.displacement",
                             f"no training cell has {self.options['min_observations']} "
                             "observations to fit a transfer-function model")
        fitted = np.array(fitted)
        self.x, self.y = case.cells.x[fitted], case.cells.y[fitted]
        self.parameters = np.array(rows)
        self.aquifers, self.split = case.aquifer_names, split.to_dict()
        return {"solver": self.name, "fitted_cells": len(fitted), "parameters": self.names,
                "median_parameters": dict(zip(self.names, np.median(self.parameters, 0))),
                "seconds": time.perf_counter() - started}

    def cell_parameters(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """[n, P] parameters at points x, y (m): a fitted cell's own, else IDW."""
        if self.parameters is None:
            raise SolverError("tfn: predict() before fit() or load()")
        bank, query = np.column_stack([self.x, self.y]), np.column_stack([x, y])
        values = np.where(self.log, np.log(np.where(self.log, self.parameters, 1.0)),
                          self.parameters)
        out = inverse_distance(bank, values, query, self.options["k"], self.options["power"])
        out = np.where(self.log, np.exp(out), out)
        # a fitted cell keeps its own parameters exactly (exp(log p) may differ from p)
        distance, index = nearest(bank, query, 1)
        at_cell = distance[:, 0] == 0.0
        out[at_cell] = self.parameters[index[at_cell, 0]]
        return out

    def predict(self, case) -> Result:
        if case.aquifer_names != self.aquifers:
            raise InputError(case.source or case.name, "aquifers", f"the case has aquifers "
                             f"{case.aquifer_names}; the model was fitted on {self.aquifers}")
        ps = _pastas()
        started = time.perf_counter()
        parameters = self.cell_parameters(case.cells.x, case.cells.y)
        index = pd.DatetimeIndex(case.times.astype("datetime64[ns]"))
        placeholder = pd.Series(np.zeros(case.n_times), index, name="displacement")
        out = np.empty((case.n_cells, case.n_times))
        for cell in range(case.n_cells):
            with _quiet():
                model = _model(ps, case, cell, placeholder, self.options["max_scale_days"])
                p = pd.Series(parameters[cell], self.names).reindex(model.parameters.index)
                simulated = model.simulate(p.to_numpy(), tmin=index[0], tmax=index[-1],
                                           warmup=0)
            values = simulated.reindex(index).to_numpy(dtype=np.float64)
            out[cell] = values - values[0]
        return Result.for_case(case, self.name, self.kind, out, options=self.options,
                               split=self.split, wall_seconds=time.perf_counter() - started)

    def save(self, directory) -> None:
        if self.parameters is None:
            raise SolverError("tfn: nothing to save before fit()")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        config = {"solver": self.name, "options": self.options, "names": self.names,
                  "aquifers": self.aquifers, "split": self.split}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
        save_file({"x": self.x, "y": self.y, "parameters": self.parameters,
                   "log": self.log.astype(np.uint8)}, path / PARAMETERS_FILE)

    @classmethod
    def load(cls, directory) -> "TFNSolver":
        """The solver saved in ``directory``, validated before use: the arrays' names,
        dtypes and shapes those the configuration implies (read from the file's header,
        before the arrays are), their values finite, and positive where the parameter is
        interpolated in log space."""
        path = Path(directory)
        file = path / PARAMETERS_FILE
        try:
            config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
            header = safetensors_header(file)
        except (OSError, ValueError) as exc:
            raise InputError(path, "(folder)", f"not a saved tfn solver ({exc})") from None
        if not isinstance(config, dict) or config.get("solver") != cls.name:
            held = config.get("solver") if isinstance(config, dict) else config
            raise InputError(path / CONFIG_FILE, "solver", f"holds {held!r}, not {cls.name}")
        for key, kind in (("options", dict), ("names", list), ("aquifers", list),
                          ("split", dict)):
            if not isinstance(config.get(key), kind):
                raise InputError(path / CONFIG_FILE, key, f"{config.get(key)!r} is not a "
                                 f"JSON {'object' if kind is dict else 'array'}")
        rows = header.get("parameters", ("", ()))[1]
        n, p = (rows[0] if len(rows) == 2 else 0), len(config["names"])
        expected = {"x": ("F64", (n,)), "y": ("F64", (n,)), "parameters": ("F64", (n, p)),
                    "log": ("U8", (p,))}
        wrong = [k for k in sorted(set(expected) | set(header))
                 if header.get(k) != expected.get(k)] or ([] if n else ["parameters"])
        if wrong:
            raise InputError(file, f'tensor "{wrong[0]}"', f"is {_spelled(header.get(wrong[0]))}; "
                             f"a tfn model of {p} parameters at n > 0 fitted cells stores "
                             + ", ".join(f"{k} {_spelled(e)}" for k, e in expected.items()))
        arrays = load_file(file)
        check_finite(file, arrays)
        log = arrays["log"].astype(bool)
        if not (arrays["parameters"][:, log] > 0).all():
            raise InputError(file, 'tensor "parameters"', "holds a non-positive value of a "
                             "parameter interpolated in log space (gain, shape or scale); "
                             "fit the model again")
        solver = cls(**config["options"])
        solver.names, solver.aquifers, solver.split = (config["names"], config["aquifers"],
                                                       config["split"])
        solver.x, solver.y, solver.parameters = arrays["x"], arrays["y"], arrays["parameters"]
        solver.log = log
        return solver
