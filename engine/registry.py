"""Solver names -> classes. Adding a model is one module and one line in ``BUILTIN``.

Classes are imported only when asked for, so ``import engine`` never pulls torch or
flopy. ``residual:<physics>+<ml>`` names are composed on the fly.
"""

from __future__ import annotations

import importlib

from engine.errors import InputError, suggest

# name -> "module:Class"
BUILTIN: dict[str, str] = {
    "terzaghi": "physics.solver:TerzaghiSolver",
    "mf6-csub": "physics.modflow.mf6_csub:Mf6CsubSolver",
    "mf-sub": "physics.modflow.mf_sub:MfSubSolver",
    "zero": "surrogates.baselines:ZeroSolver",
    "trend": "surrogates.baselines:TrendSolver",
    "tfn": "surrogates.tfn:TFNSolver",
    "rnn": "surrogates.neural_solver:RNNSolver",
    "lstm": "surrogates.neural_solver:LSTMSolver",
    "gru": "surrogates.neural_solver:GRUSolver",
    "rnn-cnn": "surrogates.neural_solver:RNNCNNSolver",
    "am-gru": "surrogates.neural_solver:AttentionGRUSolver",
    "lag-am-gru": "surrogates.neural_solver:LagAttentionGRUSolver",
    "mhsa": "surrogates.neural_solver:SelfAttentionSolver",
    "gw-lstm": "surrogates.neural_solver:GeographicLSTMSolver",
    "pc-rnn": "surrogates.neural_solver:PhysicsRNNSolver",
    "pc-rnn-linear": "surrogates.neural_solver:LinearPhysicsRNNSolver",
}

_registered: dict[str, type] = {}


def register(name: str, cls: type) -> type:
    """Register a solver class under ``name`` (for plug-ins and tests)."""
    _registered[name] = cls
    return cls


def names() -> list[str]:
    return sorted(set(BUILTIN) | set(_registered))


#: "module:function" composing residual:<physics>+<ml> from the two classes
RESIDUAL = "surrogates.residual:residual_class"
_RESIDUAL_PREFIX = "residual:"


def solver_class(name: str) -> type:
    if name in _registered:
        return _registered[name]
    if name.startswith(_RESIDUAL_PREFIX):
        physics, plus, ml = name[len(_RESIDUAL_PREFIX):].partition("+")
        if not (physics and plus and ml):
            raise InputError("solver name", "solver", f'"{name}" is not of the form '
                             '"residual:<physics>+<ml>", e.g. "residual:terzaghi+gru"')
        module, factory = RESIDUAL.split(":")
        return getattr(importlib.import_module(module), factory)(
            solver_class(physics), solver_class(ml), name)
    if name not in BUILTIN:
        raise InputError("solver name", "solver",
                         f'unknown solver "{name}"{suggest(name, names())}; '
                         f"known: {', '.join(names())}")
    module, cls = BUILTIN[name].split(":")
    return getattr(importlib.import_module(module), cls)


def parse_option(solver_cls: type, key: str, text: str):
    """Turn the command-line string of option ``key`` into the type of its default."""
    if key not in solver_cls.defaults:
        raise InputError("--option", key,
                         f'unknown option "{key}" for solver "{solver_cls.name}"'
                         f"{suggest(key, solver_cls.defaults)}; options are: "
                         f"{', '.join(sorted(solver_cls.defaults)) or 'none'}")
    default = solver_cls.defaults[key]
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise InputError("--option", key,
                         f'value "{text}" is not a {type(default).__name__}') from None
    return text


def make_solver(name: str, **options):
    """Instantiate the solver registered as ``name`` with keyword options."""
    return solver_class(name)(**options)
