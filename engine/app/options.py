"""``--option SOLVER:KEY=VALUE`` of the commands that run several solvers at once
(``landsub bench``, ``landsub whatif``): one parser, so the same text means the same
options everywhere; values are typed by the registry after the default of their key."""

from __future__ import annotations

from engine.errors import InputError


def parse_solver_options(pairs: list[str] | None) -> dict:
    """["lstm:hidden=64", ...] -> {"lstm": {"hidden": "64"}} (typed later per solver)."""
    options: dict = {}
    for pair in pairs or []:
        target, eq, text = pair.partition("=")
        solver, sep, key = target.rpartition(":")   # a solver name may hold ":" itself
        if not (sep and solver and eq and key):
            raise InputError("--option", pair, 'expected SOLVER:KEY=VALUE, e.g. "lstm:hidden=32"')
        options.setdefault(solver, {})[key] = text
    return options


def typed_options(name: str, given: dict) -> dict:
    """The option texts ``given`` for solver ``name`` as the types of its defaults."""
    from engine.registry import solver_class, typed_option

    cls = solver_class(name)
    return {k: typed_option(cls, k, v) for k, v in given.items()}


def options_per_solver(names, given: dict) -> dict:
    """{name: typed options} for every solver of ``names`` from parsed ``given``; an
    option for a solver that is not run is refused rather than ignored, and each solver
    is built once with its options, so that rules between options (a solver's
    ``__init__``) refuse them here, before any work."""
    unknown = set(given) - set(names)
    if unknown:
        raise InputError("--option", sorted(unknown)[0], "options for a solver that this "
                         f"command does not run (it runs {', '.join(names)})")
    from engine.registry import solver_class

    typed = {name: typed_options(name, given.get(name, {})) for name in names}
    for name, options in typed.items():
        solver_class(name)(**options)
    return typed


def options_of(name: str, pairs: list[str] | None) -> dict:
    """Typed options of the one solver ``name`` from ``SOLVER:KEY=VALUE`` texts: a script
    that runs one solver takes ``--option`` spelled as the commands take it."""
    return options_per_solver([name], parse_solver_options(pairs))[name]


def script_options(parser, name: str, pairs: list[str] | None) -> dict:
    """``options_of`` for a script's argparse ``parser``: a bad option ends the script as
    argparse ends it (one line, exit 2)."""
    try:
        return options_of(name, pairs)
    except InputError as exc:
        parser.error(str(exc))


#: options whose values may start with "-" (negative rates: ``--zones -30,0``)
SIGNED_OPTIONS = ("--zones",)


def signed_values(argv: list[str]) -> list[str]:
    """``argv`` with each option of SIGNED_OPTIONS joined to the value after it
    (``--zones=-30,0``): argparse reads a separate value starting with "-" as an option."""
    out, items = [], iter(argv)
    for item in items:
        if item in SIGNED_OPTIONS:
            value = next(items, None)
            out.append(item if value is None else f"{item}={value}")
        else:
            out.append(item)
    return out
