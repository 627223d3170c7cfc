"""The solver protocol every physics, neural and hybrid model implements.

A solver is constructed with keyword options (``Solver(**options)``), may be fitted on
the training part of a case (``fit(case, split)``), and predicts a Result for any case
with the same kind of inputs (``predict(case)``), never reading its observations.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from engine.errors import InputError, suggest


@dataclass(frozen=True)
class Limit:
    """The values an option may take, declared next to a solver's ``defaults``: a closed
    range ``low`` .. ``high`` (either may be None: unbounded), with ``open_low`` or
    ``open_high`` that end excluded, or ``choices`` for a text option. ``why`` is said when
    refused (e.g. the memory a larger value would take)."""

    low: float | None = None
    high: float | None = None
    open_high: bool = False
    choices: tuple[str, ...] = ()
    why: str = ""
    open_low: bool = False

    def problem(self, value) -> str:
        """What is wrong with ``value``, or "" when it is allowed."""
        if self.choices:
            if value in self.choices:
                return ""
            return (f'"{value}" is not one of {", ".join(self.choices)}'
                    f"{suggest(str(value), self.choices)}")
        too_high = self.high is not None and (value >= self.high if self.open_high
                                              else value > self.high)
        too_low = self.low is not None and (value <= self.low if self.open_low
                                            else value < self.low)
        if too_low or too_high:
            low = "" if self.low is None else f"{_number(self.low)} {'<' if self.open_low else '<='} "
            high = ("" if self.high is None
                    else f" {'<' if self.open_high else '<='} {_number(self.high)}")
            return f"{value!r} is out of range: need {low}{'value' if low or high else ''}{high}" \
                + (f" ({self.why})" if self.why else "")
        return ""


def _number(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def check_option(cls: type, key: str, value, source: str = "solver options"):
    """``value`` of option ``key`` of solver class ``cls`` checked against the type of its
    default and its declared ``limits`` (text from the command line is parsed first);
    returns the typed value or raises InputError naming ``source``, the key and the value.
    Every way of building a solver passes here, so no solver starts on a value it cannot
    use (an infinite learning rate, a negative seed, a billion nodes)."""
    default = cls.defaults[key]
    if isinstance(value, str) and default is not None and not isinstance(default, str):
        from engine.registry import parse_option

        value = parse_option(cls, key, value)
    kind = {bool: "true or false", int: "an integer", float: "a number",
            str: "a text"}.get(type(default), type(default).__name__)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise InputError(source, key, f"{value!r} is not a finite number")
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise InputError(source, key, f"{value!r} is not {kind} (the type of the default "
                         f"{default!r})")
    limit = cls.limits.get(key)
    problem = limit.problem(value) if limit is not None else ""
    if problem:
        raise InputError(source, key, problem)
    return float(value) if isinstance(default, float) else value


class Solver:
    """Base class. Subclasses set ``name``, ``kind``, ``defaults`` (option name ->
    default value; the default's type is used to parse command-line strings and to
    check values) and ``limits`` (option name -> Limit: its range or choices)."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "physics"          # "physics" | "ml" | "hybrid"
    uses_target_history: ClassVar[bool] = False
    stateful: ClassVar[bool] = False         # True when fit() learns something to save
    # True when a cell's prediction depends on that cell's inputs only (tiles may split it)
    cellwise: ClassVar[bool] = True
    defaults: ClassVar[dict] = {}
    # option -> Limit; options without one are checked by the type of their default only
    limits: ClassVar[dict] = {}

    def __init__(self, **options):
        unknown = [k for k in options if k not in self.defaults]
        if unknown:
            k = unknown[0]
            raise InputError("solver options", k,
                             f'unknown option "{k}" for solver "{self.name}"'
                             f"{suggest(k, self.defaults)}; options are: "
                             f"{', '.join(sorted(self.defaults)) or 'none'}")
        options = {k: check_option(type(self), k, v) for k, v in options.items()}
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
