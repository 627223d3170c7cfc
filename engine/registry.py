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
}

_registered: dict[str, type] = {}


def register(name: str, cls: type) -> type:
    """Register a solver class under ``name`` (for plug-ins and tests)."""
    _registered[name] = cls
    return cls


def names() -> list[str]:
    return sorted(set(BUILTIN) | set(_registered))


def solver_class(name: str) -> type:
    if name in _registered:
        return _registered[name]
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
