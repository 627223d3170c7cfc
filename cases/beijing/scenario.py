"""Management scenarios of the twin: what-if changes of pumping, recharge and heads.

A scenario file (TOML):

    name = "deep-pumping-cut-30"
    description = "..."
    until = "2035-12"            # optional: the month the scenario runs to

    [[pumping]]                  # multiply pumping (all components) ...
    aquifer = "confined-3"       # ... of one aquifer group or "all"
    zone = "all"                 # ... inside a zone of the settings' [zones_km] or "all"
    start = "2027-01"            # ... from this month (default: always)
    end = "2035-12"              # ... to this month, inclusive (default: for ever)
    multiplier = 0.7             # >= 0

    [[recharge]]                 # multiply recharge
    kind = "replenishment"       # "rain", "rivers", "replenishment" or "all"
    start = "2025-01"
    multiplier = 2.0

    [[heads]]                    # offset the heads at the cells (after the flow model):
    aquifer = "confined-2"       #   zero at start, growing linearly to ``offset`` (m) at
    zone = "north"               #   end, held afterwards (a managed-recharge target)
    start = "2026-01"
    end = "2030-12"
    offset = 5.0

Rules combine by multiplication (offsets add). Every value is validated and a bad one is
refused with an InputError naming the file, the field and the value.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError, suggest
from cases.beijing.stresses import RECHARGE_KINDS

_TOP_KEYS = ("name", "description", "until", "pumping", "recharge", "heads")
_RULE_KEYS = {
    "pumping": ("aquifer", "zone", "start", "end", "multiplier"),
    "recharge": ("kind", "start", "end", "multiplier"),
    "heads": ("aquifer", "zone", "start", "end", "offset"),
}
_REQUIRED = {"pumping": ("multiplier",), "recharge": ("multiplier",),
             "heads": ("aquifer", "start", "end", "offset")}


@dataclass(frozen=True)
class Rule:
    """One change: where (aquifer index or None = all, zone, recharge kind), when
    (datetime64[D] start, end; None = open) and how much (multiplier or offset)."""

    aquifer: int | None = None
    zone: str = "all"
    kind: str = "all"
    start: np.datetime64 | None = None
    end: np.datetime64 | None = None
    value: float = 1.0

    def active(self, date) -> bool:
        date = np.datetime64(date, "D")
        return ((self.start is None or date >= self.start)
                and (self.end is None or date <= self.end))


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario; ``domain`` answers zone membership."""

    name: str
    description: str = ""
    until: np.datetime64 | None = None
    pumping_rules: tuple = ()
    recharge_rules: tuple = ()
    head_rules: tuple = ()
    domain: object = field(default=None, repr=False, compare=False)

    # -- the ``adjust`` protocol of cases.beijing.stresses -----------------------------
    def pumping(self, date, layer: int, x, y):
        factor = np.ones(np.shape(x))
        for rule in self.pumping_rules:
            if rule.active(date) and rule.aquifer in (None, layer):
                factor = np.where(self.domain.in_zone(rule.zone, x, y),
                                  factor * rule.value, factor)
        return factor

    def recharge(self, date, kind: str, x, y):
        factor = 1.0
        for rule in self.recharge_rules:
            if rule.active(date) and rule.kind in ("all", kind):
                factor *= rule.value
        return factor

    def head_offsets(self, n_aquifers: int, x, y, times: np.ndarray) -> np.ndarray:
        """[A, N, T] m added to the heads at cells (x, y) at ``times``."""
        out = np.zeros((n_aquifers, len(x), len(times)))
        for rule in self.head_rules:
            span = (rule.end - rule.start).astype(np.float64)
            ramp = np.clip((times - rule.start).astype(np.float64) / max(span, 1.0), 0, 1)
            inside = self.domain.in_zone(rule.zone, x, y)
            layers = range(n_aquifers) if rule.aquifer is None else [rule.aquifer]
            for a in layers:
                out[a] += rule.value * inside[:, None] * ramp[None, :]
        return out


def _month(value, source, field_name: str, end_of_month: bool = False) -> np.datetime64:
    """A month "YYYY-MM" (or a date) as datetime64[D]: its first day, or its last with
    ``end_of_month``."""
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


def load_scenario(path, domain) -> Scenario:
    """Read and validate the scenario file at ``path`` for the twin's ``domain``."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, "(file)", f"cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InputError(path, "(file)", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, "(syntax)", f"not valid TOML: {e}") from None
    return parse_scenario(raw, path, domain)


def parse_scenario(raw: dict, source, domain) -> Scenario:
    """The scenario of a parsed TOML table (``source`` names it in errors)."""
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
        until = _month(raw["until"], source, "until")
    aquifers = ["all"] + list(domain.aquifer_names)
    zones = ["all"] + list(domain.settings["zones_km"])
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
            aquifer = _choice(entry.get("aquifer", "all"), aquifers, source, f"{where}.aquifer")
            rule = Rule(
                aquifer=None if aquifer == "all" else aquifers.index(aquifer) - 1,
                zone=_choice(entry.get("zone", "all"), zones, source, f"{where}.zone"),
                kind=_choice(entry.get("kind", "all"), ("all",) + RECHARGE_KINDS, source,
                             f"{where}.kind"),
                start=(_month(entry["start"], source, f"{where}.start")
                       if "start" in entry else None),
                end=(_month(entry["end"], source, f"{where}.end", end_of_month=True)
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
                    head_rules=rules["heads"], domain=domain)
