"""The ``--params`` file of ``landsub make-case from-data``: what the data files do not
say. Every value here is an assumption, and the case summary lists them.

Format (TOML; every table and key is optional unless marked)::

    name = "beijing-plain"            # case name (default: the --out folder name)
    description = "..."

    [[aquifers]]                      # one table per aquifer system, TOP FIRST (required
    name = "confined-1"               #   when the wells name more than one aquifer)
    top = 50.0                        # m below land surface, top of the aquifer system
    bottom = 120.0                    # m below land surface (> top; <= next aquifer's top)
      [aquifers.interbeds]            # delay interbeds where --stratigraphy is silent
      thickness = 6.0                 #   m, equivalent bed thickness b_equiv
      count = 5.0                     #   number of equivalent beds (>= 1)
      kv = 1.0e-5                     #   m/d, vertical hydraulic conductivity
      sske = 1.0e-5                   #   1/m, elastic skeletal specific storage
      sskv = 5.0e-4                   #   1/m, inelastic skeletal specific storage
      [aquifers.nodelay]              # optional no-delay beds: thickness (m), sske, sskv
      [aquifers.coarse]               # optional coarse-grained skeleton: thickness, sske

    [insar]
    reference = { x = 450000.0, y = 4420000.0, radius = 300.0 }  # re-reference in space
                                      #   to the mean of the points within radius (m)
    reference_date = "2015-06-14"     # an acquisition date (default: the first)
    thinning = { method = "grid", spacing = 500.0, seed = 0 }  # or "min-distance"
    outlier_threshold = 5.0           # robust standard deviations (reported)
    outlier_floor = 0.01              # m: smaller departures are never outliers
    drop_outliers = false             # true: outliers become gaps (reported either way)

    [wells]
    metadata = "wells-meta.csv"       # well,x,y (or lon,lat),aquifer or screen_top,
                                      #   screen_bottom (m below land surface); path
                                      #   relative to this file
    unit = "m"                        # unit of a bare "head" column (m or ft)
    interpolation = "idw"             # "idw" or "kriging" (ordinary, exponential variogram)
    idw_power = 2.0
    max_gap = 3                       # interior gaps up to this many periods are filled
                                      #   linearly in time (reported); longer ones stay gaps
    max_distance = 20000.0            # m: a well farther from every InSAR point is refused
    outlier_threshold = 5.0
    outlier_floor = 0.5               # m

    [extensometers]
    unit = "mm"                       # unit of a bare "compaction" column
    max_distance = 2000.0             # m: farther from every InSAR point is refused

    [stratigraphy]
    idw_power = 2.0
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError, suggest
from engine.schema import disorder, violation

MATERIAL_KEYS = {
    "interbeds": ("thickness", "count", "kv", "sske", "sskv"),
    "nodelay": ("thickness", "sske", "sskv"),
    "coarse": ("thickness", "sske"),
}
MATERIAL_REQUIRED = {"interbeds": (), "nodelay": ("thickness", "sske", "sskv"),
                     "coarse": ("thickness", "sske")}

SECTION_DEFAULTS = {
    "insar": {"reference": None, "reference_date": None, "thinning": None,
              "outlier_threshold": 5.0, "outlier_floor": 0.01, "drop_outliers": False},
    "wells": {"metadata": None, "unit": None, "interpolation": "idw", "idw_power": 2.0,
              "max_gap": 3, "max_distance": 20000.0, "outlier_threshold": 5.0,
              "outlier_floor": 0.5},
    "extensometers": {"unit": None, "max_distance": 2000.0},
    "stratigraphy": {"idw_power": 2.0},
}


@dataclass(frozen=True)
class AquiferParams:
    """One aquifer system: depths (m below land surface) and material defaults."""

    name: str
    top: float | None = None
    bottom: float | None = None
    interbeds: dict = field(default_factory=dict)
    nodelay: dict | None = None
    coarse: dict | None = None


@dataclass(frozen=True)
class Params:
    source: str
    name: str | None = None
    description: str = ""
    aquifers: tuple[AquiferParams, ...] = ()
    insar: dict = field(default_factory=lambda: dict(SECTION_DEFAULTS["insar"]))
    wells: dict = field(default_factory=lambda: dict(SECTION_DEFAULTS["wells"]))
    extensometers: dict = field(default_factory=lambda: dict(SECTION_DEFAULTS["extensometers"]))
    stratigraphy: dict = field(default_factory=lambda: dict(SECTION_DEFAULTS["stratigraphy"]))
    given: tuple[str, ...] = ()   # dotted keys the user set, for the summary

    @property
    def aquifer_names(self) -> list[str]:
        return [a.name for a in self.aquifers]

    def relative(self, name: str) -> Path:
        """A path written in the params file, relative to that file."""
        return Path(self.source).parent / name


def _number(source, key, value, positive=True):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(source, key, f"{value!r} is not a number")
    if positive and not value > 0:
        raise InputError(source, key, f"{value} must be > 0")
    return float(value)


def _check_keys(source, prefix, table, allowed):
    for key in table:
        if key not in allowed:
            raise InputError(source, f"{prefix}{key}",
                             f'unknown key "{key}"{suggest(key, allowed)}; keys: '
                             f"{', '.join(allowed)}")


def _material(source, prefix, kind, table) -> dict:
    if not isinstance(table, dict):
        raise InputError(source, prefix.rstrip("."), "must be a table")
    _check_keys(source, prefix, table, MATERIAL_KEYS[kind])
    for key in MATERIAL_REQUIRED[kind]:
        if key not in table:
            raise InputError(source, f"{prefix}{key}", f"{kind} needs {key}")
    out = {k: _number(source, f"{prefix}{k}", v, positive=False) for k, v in table.items()}
    # the case schema's rules, so that a params file accepts exactly what a case file does
    for key, value in out.items():
        broken = violation(key, np.array([value]))
        if broken is not None:
            raise InputError(source, f"{prefix}{key}", broken[1])
    unordered = disorder({k: np.array([v]) for k, v in out.items()})
    if unordered is not None:
        raise InputError(source, f"{prefix}{unordered[0]}", unordered[2])
    return out


def _aquifer(source, i, table) -> AquiferParams:
    prefix = f"aquifers[{i}]."
    _check_keys(source, prefix, table, ("name", "top", "bottom", "interbeds", "nodelay",
                                        "coarse"))
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(source, f"{prefix}name", "every aquifer needs a name")
    top = table.get("top")
    bottom = table.get("bottom")
    if (top is None) != (bottom is None):
        raise InputError(source, f"{prefix}top", "give both top and bottom, or neither")
    if top is not None:
        top = _number(source, f"{prefix}top", top, positive=False)
        bottom = _number(source, f"{prefix}bottom", bottom, positive=False)
        if not 0 <= top < bottom:
            raise InputError(source, f"{prefix}bottom",
                             f"top {top} m and bottom {bottom} m: need 0 <= top < bottom "
                             "(depths below land surface)")
    return AquiferParams(
        name=name.strip(), top=top, bottom=bottom,
        interbeds=_material(source, f"{prefix}interbeds.", "interbeds",
                            table.get("interbeds", {})),
        nodelay=None if "nodelay" not in table else
        _material(source, f"{prefix}nodelay.", "nodelay", table["nodelay"]),
        coarse=None if "coarse" not in table else
        _material(source, f"{prefix}coarse.", "coarse", table["coarse"]))


def _describe(a: AquiferParams) -> str:
    depth = "" if a.top is None else f" {a.top:g}..{a.bottom:g} m deep"
    parts = [f"{kind} {table}" for kind, table in (("interbeds", a.interbeds),
                                                   ("nodelay", a.nodelay),
                                                   ("coarse", a.coarse)) if table]
    return f"aquifer {a.name}{depth}" + (f": {'; '.join(parts)}" if parts else "")


def read_params(path) -> Params:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "file", "no such file") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, "toml", str(err)) from None
    _check_keys(path, "", doc, ("name", "description", "aquifers", *SECTION_DEFAULTS))
    aquifers = tuple(_aquifer(path, i, t) for i, t in enumerate(doc.get("aquifers", [])))
    names = [a.name for a in aquifers]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(path, "aquifers", f'aquifer "{dup}" is defined twice')
    for i in range(1, len(aquifers)):
        above, below = aquifers[i - 1], aquifers[i]
        if above.bottom is not None and below.top is not None and below.top < above.bottom:
            raise InputError(path, f"aquifers[{i}].top",
                             f"{below.name} starts at {below.top} m, above the bottom of "
                             f"{above.name} ({above.bottom} m): aquifers go top first and "
                             "do not overlap")
    sections, given = {}, [_describe(a) for a in aquifers]
    for name, defaults in SECTION_DEFAULTS.items():
        table = doc.get(name, {})
        if not isinstance(table, dict):
            raise InputError(path, name, "must be a table")
        _check_keys(path, f"{name}.", table, tuple(defaults))
        sections[name] = {**defaults, **table}
        given += [f"{name}.{k} = {v!r}" for k, v in table.items()]
    _check_sections(path, sections)
    return Params(source=str(path), name=doc.get("name"),
                  description=str(doc.get("description", "")), aquifers=aquifers,
                  given=tuple(given), **sections)


def _check_sections(path, s) -> None:
    wells = s["wells"]
    if wells["interpolation"] not in ("idw", "kriging"):
        raise InputError(path, "wells.interpolation",
                         f'"{wells["interpolation"]}" is not "idw" or "kriging"')
    for section, key in (("wells", "idw_power"), ("wells", "max_distance"),
                         ("wells", "outlier_threshold"), ("insar", "outlier_threshold"),
                         ("extensometers", "max_distance"), ("stratigraphy", "idw_power")):
        _number(path, f"{section}.{key}", s[section][key])
    for section, key in (("wells", "outlier_floor"), ("insar", "outlier_floor")):
        _number(path, f"{section}.{key}", s[section][key], positive=False)
    gap = wells["max_gap"]
    if isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
        raise InputError(path, "wells.max_gap", f"{gap!r} is not a whole number >= 0")
    ref = s["insar"]["reference"]
    if ref is not None:
        if not isinstance(ref, dict) or set(ref) != {"x", "y", "radius"}:
            raise InputError(path, "insar.reference", f"{ref!r}: give {{ x = .., y = .., "
                                                      "radius = .. }} (projected m)")
        for key in ("x", "y"):
            _number(path, f"insar.reference.{key}", ref[key], positive=False)
        _number(path, "insar.reference.radius", ref["radius"])
    thinning = s["insar"]["thinning"]
    if thinning is not None:
        if not isinstance(thinning, dict):
            raise InputError(path, "insar.thinning", "must be a table")
        _check_keys(path, "insar.thinning.", thinning, ("method", "spacing", "seed"))
        if "spacing" not in thinning:
            raise InputError(path, "insar.thinning.spacing", "thinning needs a spacing (m)")
        _number(path, "insar.thinning.spacing", thinning["spacing"])
    if not isinstance(s["insar"]["drop_outliers"], bool):
        raise InputError(path, "insar.drop_outliers", "must be true or false")
