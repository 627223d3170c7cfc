"""Management scenarios: the file format every study area reads, and its validation.

A scenario file (TOML):

    name = "deep-pumping-cut-30"
    description = "..."
    until = "2035-12"            # optional: the month the scenario runs to

    [[pumping]]                  # multiply pumping ...
    aquifer = "confined-3"       # ... of one aquifer system (a case's aquifer name) or "all"
    zone = "all"                 # ... inside a zone of the study area, or "all"
    start = "2027-01"            # ... from this month (default: always)
    end = "2035-12"              # ... to this month, inclusive (default: for ever)
    multiplier = 0.7             # >= 0

    [[recharge]]                 # multiply recharge
    kind = "replenishment"       # one of the study area's recharge kinds, or "all"
    start = "2025-01"
    multiplier = 2.0

    [[heads]]                    # offset the heads at the cells:
    aquifer = "confined-2"       #   zero at start, growing linearly to ``offset`` (m) at
    zone = "north"               #   end, held afterwards (a managed-recharge target)
    start = "2026-01"
    end = "2030-12"
    offset = 5.0

Rules combine by multiplication (offsets add). Every value is validated and a bad one is
refused with an InputError naming the file, the field and the value.

Zones and recharge kinds belong to a study area: it passes its ``Zones`` (zone names and
membership of points) and the recharge kinds its flow model knows; an area that passes
none has the whole area as its one zone. Heads rules apply to any case
(``Scenario.head_offsets``); applying pumping and recharge rules needs a flow model, so
that is the business of a study area that has one (a twin re-runs its flow model).
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.errors import InputError, suggest

#: the zone and the recharge kind every study area has: everywhere, every kind
ALL = "all"
RULE_SECTIONS = ("pumping", "recharge", "heads")
_TOP_KEYS = ("name", "description", "until") + RULE_SECTIONS
_RULE_KEYS = {
    "pumping": ("aquifer", "zone", "start", "end", "multiplier"),
    "recharge": ("kind", "start", "end", "multiplier"),
    "heads": ("aquifer", "zone", "start", "end", "offset"),
}
_REQUIRED = {"pumping": ("multiplier",), "recharge": ("multiplier",),
             "heads": ("aquifer", "start", "end", "offset")}


class Zones(Protocol):
    """The zones of a study area that scenario rules may name (besides "all")."""

    @property
    def zone_names(self) -> tuple[str, ...]: ...

    def in_zone(self, zone: str, x, y) -> np.ndarray:
        """bool at points (x, y) (m) inside ``zone`` ("all": everywhere)."""
        ...


class WholeArea:
    """The zones of a study area that defines none: only "all"."""

    zone_names: tuple[str, ...] = ()

    def in_zone(self, zone: str, x, y) -> np.ndarray:
        return np.ones(np.shape(x), dtype=bool)


@dataclass(frozen=True)
class Rule:
    """One change: where (aquifer index or None = all, zone, recharge kind), when
    (datetime64[D] start, end; None = open) and how much (multiplier or offset)."""

    aquifer: int | None = None
    zone: str = ALL
    kind: str = ALL
    start: np.datetime64 | None = None
    end: np.datetime64 | None = None
    value: float = 1.0

    def active(self, date) -> bool:
        date = np.datetime64(date, "D")
        return ((self.start is None or date >= self.start)
                and (self.end is None or date <= self.end))


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario; ``zones`` answers zone membership."""

    name: str
    description: str = ""
    until: np.datetime64 | None = None
    pumping_rules: tuple = ()
    recharge_rules: tuple = ()
    head_rules: tuple = ()
    zones: Zones = field(default_factory=WholeArea, repr=False, compare=False)

    def head_offsets(self, n_aquifers: int, x, y, times: np.ndarray) -> np.ndarray:
        """[A, N, T] m added to the heads at cells (x, y) at ``times``."""
        out = np.zeros((n_aquifers, len(x), len(times)))
        for rule in self.head_rules:
            span = (rule.end - rule.start).astype(np.float64)
            ramp = np.clip((times - rule.start).astype(np.float64) / max(span, 1.0), 0, 1)
            inside = self.zones.in_zone(rule.zone, x, y)
            layers = range(n_aquifers) if rule.aquifer is None else [rule.aquifer]
            for a in layers:
                out[a] += rule.value * inside[:, None] * ramp[None, :]
        return out


def parse_month(value, source, field_name: str, end_of_month: bool = False) -> np.datetime64:
    """A month "YYYY-MM" (or a date) as datetime64[D]: its first day, or its last with
    ``end_of_month``; refused naming ``source`` and ``field_name``."""
    if isinstance(value, _dt.date):
        value = value.isoformat()
    if not isinstance(value, str):
        raise InputError(source, field_name, f"{value!r} should be a month such as "
                                             '"2027-01"')
    try:
        month = np.datetime64(value[:7], "M")
        if len(value) > 7:
            np.datetime64(value, "D")
    except ValueError:
        raise InputError(source, field_name, f'"{value}" is not a month such as '
                                             '"2027-01"') from None
    if end_of_month:
        return (month + 1).astype("datetime64[D]") - 1
    return month.astype("datetime64[D]")


def _number(value, source, field_name: str, low: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise InputError(source, field_name, f"{value!r} is not a finite number")
    if low is not None and value < low:
        raise InputError(source, field_name, f"{value!r} must be >= {low}")
    return float(value)


def _choice(value, choices, source, field_name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InputError(source, field_name, f'{value!r} is not one of {", ".join(choices)}'
                         f"{suggest(str(value), choices)}")
    return value


def _zone(value, zones: Zones, source, field_name: str) -> str:
    names = (ALL,) + tuple(zones.zone_names)
    if len(names) == 1 and value != ALL:
        # a zone of another study area (a twin's) is the likely mistake: say why it is
        # unknown here rather than only listing "all"
        raise InputError(source, field_name, f"{value!r} is not one of {ALL}: this study "
                         f'area defines no zones; use "{ALL}" (the whole area)')
    return _choice(value, names, source, field_name)


def read_scenario_table(path) -> dict:
    """The TOML table of the scenario file at ``path``, not yet validated."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, "(file)", f"cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InputError(path, "(file)", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, "(syntax)", f"not valid TOML: {e}") from None


def load_scenario(path, aquifer_names, zones: Zones | None = None,
                  recharge_kinds=()) -> Scenario:
    """Read and validate the scenario file at ``path`` (see ``parse_scenario``)."""
    return parse_scenario(read_scenario_table(path), Path(path), aquifer_names, zones,
                          recharge_kinds)


def parse_scenario(raw: dict, source, aquifer_names, zones: Zones | None = None,
                   recharge_kinds=()) -> Scenario:
    """The scenario of a parsed TOML table (``source`` names it in errors) for a study
    area with these aquifers (top first), ``zones`` (default: the whole area only) and
    ``recharge_kinds`` (besides "all")."""
    zones = WholeArea() if zones is None else zones
    for key in raw:
        if key not in _TOP_KEYS:
            raise InputError(source, key, f'unknown key "{key}"{suggest(key, _TOP_KEYS)}; '
                                          f"allowed: {', '.join(_TOP_KEYS)}")
    name = raw.get("name", Path(str(source)).stem)
    if not isinstance(name, str) or not name.strip():
        raise InputError(source, "name", f"{name!r} should be a non-empty string")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise InputError(source, "description", f"{description!r} should be a string")
    until = None
    if "until" in raw:
        until = parse_month(raw["until"], source, "until")
    aquifers = [ALL] + list(aquifer_names)
    kinds = (ALL,) + tuple(recharge_kinds)
    rules = {}
    for section, keys in _RULE_KEYS.items():
        entries = raw.get(section, [])
        if not isinstance(entries, list):
            raise InputError(source, section, f"should be an array of tables: write "
                                              f"[[{section}]]")
        parsed = []
        for i, entry in enumerate(entries):
            where = f"{section}[{i}]"
            if not isinstance(entry, dict):
                raise InputError(source, where, f"{entry!r} should be a table")
            for key in entry:
                if key not in keys:
                    raise InputError(source, f"{where}.{key}", f'unknown key "{key}"'
                                     f"{suggest(key, keys)}; allowed: {', '.join(keys)}")
            for key in _REQUIRED[section]:
                if key not in entry:
                    raise InputError(source, f"{where}.{key}", "missing required key")
            aquifer = _choice(entry.get("aquifer", ALL), aquifers, source, f"{where}.aquifer")
            rule = Rule(
                aquifer=None if aquifer == ALL else aquifers.index(aquifer) - 1,
                zone=_zone(entry.get("zone", ALL), zones, source, f"{where}.zone"),
                kind=_choice(entry.get("kind", ALL), kinds, source, f"{where}.kind"),
                start=(parse_month(entry["start"], source, f"{where}.start")
                       if "start" in entry else None),
                end=(parse_month(entry["end"], source, f"{where}.end", end_of_month=True)
                     if "end" in entry else None),
                value=(_number(entry["offset"], source, f"{where}.offset", None)
                       if section == "heads" else
                       _number(entry["multiplier"], source, f"{where}.multiplier", 0.0)))
            if rule.start is not None and rule.end is not None and rule.end < rule.start:
                raise InputError(source, f"{where}.end", f"{entry['end']} is before start "
                                                         f"{entry['start']}")
            parsed.append(rule)
        rules[section] = tuple(parsed)
    return Scenario(name=name, description=description, until=until,
                    pumping_rules=rules["pumping"], recharge_rules=rules["recharge"],
                    head_rules=rules["heads"], zones=zones)
