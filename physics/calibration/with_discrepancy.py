"""``discrepancy:<physics>``: a physics solver and the model's discrepancy it leaves.

The physics solver is fitted first (if it calibrates, on the same split); the InSAR
readings that split lets a fit read, minus its displacement, then condition the
discrepancy of ``discrepancy.py`` (the calibration's error model as its prior:
``insar_model_error`` m, ``error_months``; their defaults are the calibration's). The
prediction is the physics' displacement plus the discrepancy; the compaction per
aquifer is the physics' alone (the record does not say which aquifer falls short), so
a hybrid. A scenario and its baseline get the same discrepancy: a what-if's effect is
the physics'. ``dpl:<physics>`` carries the same discrepancy itself (its option
``discrepancy``); this composition gives it to any physics solver, calibrated or not:
``discrepancy:calibrated:terzaghi``, ``discrepancy:terzaghi``, ``discrepancy:mf6-csub``.

The physics solver's options are given with a ``physics.`` prefix. A saved model is a
folder: ``config.json`` (name, options, the discrepancy's ids, prior and variogram),
``discrepancy.safetensors`` (its arrays) and, when the physics solver is stateful,
``physics/``.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import ClassVar

from engine.errors import InputError, SolverError
from engine.persistence import saved_config
from engine.registry import register_composition
from engine.result import Result
from engine.solver import Limit, Solver
from physics.calibration.discrepancy import Discrepancy
from physics.calibration.observations import readable_mask
from physics.calibration.solver import CalibratedSolver

PREFIX = "physics."
CONFIG_FILE = "config.json"
DISCREPANCY_FILE = "discrepancy.safetensors"
OWN_OPTIONS = {k: CalibratedSolver.defaults[k] for k in ("insar_model_error", "error_months")}
#: the discrepancy's prior needs an sd (m) and a correlation time (months) above 0
OWN_LIMITS = {k: Limit(low=0.0, open_low=True) for k in OWN_OPTIONS}
#: the variogram's sample of pairs; no seed option: the composition adds nothing random,
#: so a what-if's members are identical (its band is the physics solver's own)
VARIOGRAM_SEED = 0


class DiscrepancySolver(Solver):
    """Base of the composed classes made by ``discrepancy_class``."""

    kind = "hybrid"
    stateful = True
    physics_class: ClassVar[type] = Solver

    def __init__(self, **options):
        super().__init__(**options)
        self.physics = self.physics_class(**{k[len(PREFIX):]: v
                                             for k, v in self.options.items()
                                             if k.startswith(PREFIX)})
        self.discrepancy = None

    def fit(self, case, split=None) -> dict:
        started = time.perf_counter()
        o = self.options
        physics_report = self.physics.fit(case, split)
        simulated = self.physics.predict(case).displacement
        self.discrepancy = Discrepancy.of_record(case, readable_mask(case, split), simulated,
                                                 o["insar_model_error"], o["error_months"],
                                                 VARIOGRAM_SEED)
        return {"solver": self.name, "physics": physics_report,
                "discrepancy": self.discrepancy.summary(),
                "fit_seconds": time.perf_counter() - started}

    def predict(self, case) -> Result:
        if self.discrepancy is None:
            raise SolverError(f"{self.name}: predict() before fit() or load()")
        started = time.perf_counter()
        physics = self.physics.predict(case)
        displacement = physics.displacement + self.discrepancy.at(
            case.cells.ids, case.cells.x, case.cells.y, case.times)
        return Result.for_case(case, self.name, self.kind, displacement,
                               compaction=physics.compaction, options=dict(self.options),
                               wall_seconds=time.perf_counter() - started)

    def save(self, directory) -> None:
        if self.discrepancy is None:
            raise SolverError(f"{self.name}: nothing to save before fit()")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        if self.physics.stateful:
            self.physics.save(path / "physics")
        (path / CONFIG_FILE).write_text(json.dumps(
            {"solver": self.name, "options": self.options,
             "discrepancy": self.discrepancy.write(path / DISCREPANCY_FILE)}),
            encoding="utf-8")

    @classmethod
    def load(cls, directory) -> "DiscrepancySolver":
        path = Path(directory)
        saved = saved_config(path / CONFIG_FILE, cls.name)
        solver = cls(**saved["options"])
        if cls.physics_class.stateful:
            solver.physics = cls.physics_class.load(path / "physics")
        solver.discrepancy = Discrepancy.read(path / DISCREPANCY_FILE, saved["discrepancy"])
        return solver


@functools.cache
def discrepancy_class(physics: type, name: str) -> type:
    """The solver class ``name`` = "discrepancy:<physics>" for the physics class."""
    if physics.kind != "physics":
        raise InputError("solver name", "solver", f'"{name}": {physics.name} is a '
                         f"{physics.kind} solver, not a physics solver (dpl:<physics> "
                         "carries its own discrepancy)")
    return type(f"Discrepancy[{physics.name}]", (DiscrepancySolver,),
                {"name": name, "physics_class": physics, "__module__": __name__,
                 "defaults": {**{PREFIX + k: v for k, v in physics.defaults.items()},
                              **OWN_OPTIONS},
                 "limits": {**{PREFIX + k: v for k, v in physics.limits.items()},
                            **OWN_LIMITS},
                 # the kriging reads the stored cells only: a tile predicts as the whole
                 "cellwise": physics.cellwise})


def _compose(rest: str, name: str) -> type:
    from engine.registry import solver_class

    if not rest:
        raise InputError("solver name", "solver", f'"{name}" is not of the form '
                         '"discrepancy:<physics>", e.g. "discrepancy:calibrated:terzaghi"')
    return discrepancy_class(solver_class(rest), name)


register_composition(
    "discrepancy", "discrepancy:<physics>",
    "a physics solver plus the model's discrepancy (its error model conditioned on the "
    "training record, kriged to unseen cells, held after the record)",
    "discrepancy:calibrated:terzaghi", _compose)
