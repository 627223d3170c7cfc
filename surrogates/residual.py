"""``residual:<physics>+<ml>``: a network that learns the correction of a physics solver.

The physics solver runs first (fitted, if it calibrates, on the same split); the network
is then trained on observed minus physics displacement, with the physics displacement
as one more input (feature ``baseline``), and the prediction is physics + network.
The physics solver's options are given with a ``physics.`` prefix (``physics.nodes=20``),
the network's as they are.

A saved residual solver is a folder: ``config.json`` (solver name and options),
``network/`` (the neural solver) and, when the physics solver is stateful, ``physics/``.
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
from engine.solver import Solver
from surrogates.neural_solver import NeuralSolver

PREFIX = "physics."
CONFIG_FILE = "config.json"


class ResidualSolver(Solver):
    """Base of the composed classes made by ``residual_class``."""

    kind = "hybrid"
    stateful = True
    physics_class: ClassVar[type] = Solver
    neural_class: ClassVar[type] = NeuralSolver

    def __init__(self, **options):
        super().__init__(**options)
        physics = {k[len(PREFIX):]: v for k, v in options.items() if k.startswith(PREFIX)}
        # only the options given go to the network, so that its preset still applies
        network = {"features": self.defaults["features"],
                   **{k: v for k, v in options.items() if not k.startswith(PREFIX)}}
        self.physics = self.physics_class(**physics)
        self.neural = self.neural_class(**network)
        self.options = {**{PREFIX + k: v for k, v in self.physics.options.items()},
                        **self.neural.config}

    def _baseline(self, case):
        return self.physics.predict(case).displacement

    def fit(self, case, split=None) -> dict:
        physics_report = self.physics.fit(case, split)
        baseline = self._baseline(case)
        report = self.neural.fit(case, split, extra={"baseline": baseline}, offset=baseline)
        return {**report, "solver": self.name, "physics": physics_report}

    def predict(self, case) -> Result:
        started = time.perf_counter()
        baseline = self._baseline(case)
        displacement = baseline + self.neural.predict_array(case, extra={"baseline": baseline})
        return Result.for_case(case, self.name, self.kind, displacement, options=self.options,
                               split=self.neural.split,
                               wall_seconds=time.perf_counter() - started)

    def save(self, directory) -> None:
        if self.neural.model is None:
            raise SolverError(f"{self.name}: nothing to save before fit()")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.neural.save(path / "network")
        if self.physics.stateful:
            self.physics.save(path / "physics")
        physics = {PREFIX + k: v for k, v in self.physics.options.items()}
        (path / CONFIG_FILE).write_text(json.dumps({"solver": self.name, "options": physics}),
                                        encoding="utf-8")

    @classmethod
    def load(cls, directory) -> "ResidualSolver":
        path = Path(directory)
        saved = saved_config(path / CONFIG_FILE, cls.name)
        neural = cls.neural_class.load(path / "network")
        solver = cls(**saved["options"], **{k: v for k, v in neural.config.items()
                                           if k in cls.neural_class.defaults})
        solver.neural = neural
        if cls.physics_class.stateful:
            solver.physics = cls.physics_class.load(path / "physics")
        return solver


@functools.cache
def residual_class(physics: type, network: type, name: str) -> type:
    """The solver class ``name`` = "residual:<physics>+<ml>" for the two given classes."""
    if physics.kind != "physics":
        raise InputError("solver name", "solver", f'"{name}": {physics.name} is a '
                         f"{physics.kind} solver, not a physics solver")
    if not issubclass(network, NeuralSolver):
        raise InputError("solver name", "solver", f'"{name}": {network.name} is not a '
                         "neural solver (residual models train a network)")
    features = network.defaults["features"]
    defaults = {**{PREFIX + k: v for k, v in physics.defaults.items()},
                **network.defaults,
                "features": features if "baseline" in features.split(",")
                else features + ",baseline"}
    return type(f"Residual[{physics.name}+{network.name}]", (ResidualSolver,),
                {"name": name, "physics_class": physics, "neural_class": network,
                 "defaults": defaults, "__module__": __name__,
                 "limits": {**{PREFIX + k: v for k, v in physics.limits.items()},
                            **network.limits},
                 "cellwise": physics.cellwise and network.cellwise})


def _compose(rest: str, name: str) -> type:
    from engine.registry import solver_class

    physics, plus, network = rest.partition("+")
    if not (physics and plus and network):
        raise InputError("solver name", "solver", f'"{name}" is not of the form '
                         '"residual:<physics>+<ml>", e.g. "residual:terzaghi+gru"')
    return residual_class(solver_class(physics), solver_class(network), name)


register_composition("residual", "residual:<physics>+<ml>",
                     "a network learns the correction to a physics solver",
                     "residual:terzaghi+lstm", _compose)
