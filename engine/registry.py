"""Solver names -> classes.

Every solver registers itself in its own module (``@register("name")`` on its class);
the modules that hold solvers are found through the ``landsub.solvers`` entry points of
the installed packages (landsub's own are in setup.cfg), and imported only when a name
is asked for, so ``import engine`` pulls neither torch nor flopy. A provider that cannot
be imported (the networks without the ``ml`` extra) is reported, not fatal: the other
solvers keep working.

Composed names (``residual:<physics>+<ml>``, ...) come from ``register_composition``:
a prefix, its syntax for users, and a factory that builds the class from the rest of
the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

from engine.errors import InputError, suggest

ENTRY_POINT_GROUP = "landsub.solvers"

_registered: dict[str, type] = {}


@dataclass(frozen=True)
class Composition:
    """A family of composed solver names: ``prefix:<rest>`` -> ``factory(rest, name)``."""

    prefix: str
    syntax: str                       # e.g. "residual:<physics>+<ml>"
    summary: str                      # one line for `landsub solvers`
    example: str
    factory: Callable[[str, str], type]


_compositions: dict[str, Composition] = {}
_unavailable: dict[str, str] = {}     # provider -> why it could not be imported
_providers_loaded = False


def register(name: str, cls: type | None = None):
    """Register a solver class under ``name``; used as ``@register("name")`` on the
    class in its own module, or called as ``register(name, cls)`` (plug-ins, tests)."""
    def add(klass: type) -> type:
        _registered[name] = klass
        return klass

    return add if cls is None else add(cls)


def register_composition(prefix: str, syntax: str, summary: str, example: str,
                         factory: Callable[[str, str], type]) -> None:
    """Register a composed form: names ``prefix:<rest>`` are built by
    ``factory(rest, full_name)`` (which may look up its parts with ``solver_class``)."""
    _compositions[prefix] = Composition(prefix, syntax, summary, example, factory)


_composed: dict[str, type] = {}


def composed_class(base: type, name: str, class_name: str, **attributes) -> type:
    """The subclass of ``base`` that serves the composed solver ``name`` (e.g.
    "calibrated:terzaghi"), made once per name: the same name always gives the same
    class, so that instances compare, resume and travel to Dask workers alike."""
    if name not in _composed:
        _composed[name] = type(class_name, (base,), {"name": name,
                                                     "__module__": base.__module__,
                                                     **attributes})
    return _composed[name]


def load_providers() -> dict[str, str]:
    """Import every module declared under the ``landsub.solvers`` entry points (once).
    Returns the providers that could not be imported, with the reason."""
    global _providers_loaded
    if not _providers_loaded:
        _providers_loaded = True
        for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
            try:
                point.load()
            except ImportError as err:
                _unavailable[point.name] = f"{point.value}: {err}"
    return dict(_unavailable)


def names() -> list[str]:
    """Every registered solver name (composed forms are in ``compositions()``)."""
    load_providers()
    return sorted(_registered)


def compositions() -> list[Composition]:
    load_providers()
    return [_compositions[p] for p in sorted(_compositions)]


def _unknown(name: str) -> InputError:
    missing = "".join(f"; provider {p} is not available ({why})"
                      for p, why in _unavailable.items())
    forms = ", ".join(c.syntax for c in _compositions.values())
    return InputError("solver name", "solver",
                      f'unknown solver "{name}"{suggest(name, names())}; known: '
                      f"{', '.join(names())}" + (f"; composed: {forms}" if forms else "")
                      + missing)


def solver_class(name: str) -> type:
    if name in _registered:
        return _registered[name]
    load_providers()
    if name in _registered:
        return _registered[name]
    prefix, colon, rest = name.partition(":")
    if colon and prefix in _compositions:
        return _compositions[prefix].factory(rest, name)
    raise _unknown(name)


_KINDS = {bool: "true or false", int: "an integer", float: "a number"}


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
                         f'value "{text}" is not {_KINDS[type(default)]}') from None
    return text


def typed_option(solver_cls: type, key: str, text: str):
    """``parse_option`` and then the checks of type and declared range
    (``engine.solver.check_option``), so that a command refuses a bad value before it
    starts any work."""
    from engine.solver import check_option

    return check_option(solver_cls, key, parse_option(solver_cls, key, text), "--option")


def make_solver(name: str, **options):
    """Instantiate the solver registered as ``name`` with keyword options."""
    return solver_class(name)(**options)
