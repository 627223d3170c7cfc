"""The twin's generator settings: the shipped ``settings.toml`` merged with a user's file.

A user's file may set any key of the shipped one (tables merge key by key, other values
are replaced); a key the shipped file does not have is refused with a did-you-mean, so a
misspelt setting never passes silently. Every value it sets is checked before any work,
here and nowhere else: its type against the shipped value's (an integer where that is
one, a finite number where it is a float, arrays element by element), its range
(``LIMITS``), the length of arrays (``LENGTHS``: one value per aquifer group, a
position's two coordinates...) and the rules that tie settings together (dates in order,
shares that sum to one, years that increase, grids that fit in memory). A refusal is one
InputError naming the file, the dotted key (``pumping.components.city.layers[2]``) and
the value.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
import tomllib
from pathlib import Path

from engine.errors import InputError, suggest
from engine.manifest import show
from engine.solver import Limit

DEFAULTS = Path(__file__).with_name("settings.toml")
SIZES = ("tiny", "small", "medium", "full")

#: LENGTHS value of the arrays with one value per aquifer group (domain.aquifer_names)
AQUIFERS = "one per aquifer group"
#: the cells a grid of the twin may have: its arrays are held whole, several per group
MAX_GRID_CELLS = 4_000_000


class _Text:
    """A non-empty text (a name)."""

    def problem(self, value) -> str:
        return "" if value.strip() else f"{show(value)} is empty; a name is needed"


class _Date:
    """An ISO date, YYYY-MM-DD."""

    def problem(self, value) -> str:
        # the dates are compared as text, which needs this one spelling of the many
        # that fromisoformat accepts
        try:
            ok = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) \
                and bool(datetime.date.fromisoformat(value))
        except ValueError:
            ok = False
        return "" if ok else f"{show(value)} is not a date YYYY-MM-DD"


class _Terzaghi:
    """The range of an option of the truth's solver, as that solver declares it."""

    def __init__(self, option: str):
        self.option = option

    def problem(self, value) -> str:
        from engine.registry import solver_class

        return solver_class("terzaghi").limits[self.option].problem(value)


TEXT, DATE = _Text(), _Date()
EDGES = Limit(choices=("west", "east", "south", "north"))
#: a length in m: positive, at most 1,000 km (the domain's scale)
LENGTH = Limit(0.0, 1e6, open_low=True)
#: a position in km from the domain's south-west corner
KM = Limit(-1e3, 1e3)
SHARE = Limit(0.0, 1.0)
#: the standard deviation of a log-normal or relative perturbation
SPREAD = Limit(0.0, 5.0)
#: a depth below the land surface or a head difference, m
DEPTH = Limit(0.0, 1e3)
YEAR = Limit(1800, 2200)
MULTIPLIER = Limit(0.0, 100.0)

#: The range of every value (every element of an array) of the shipped settings by its
#: dotted key: "*" stands for any one key of a table (a pumping component, a zone, a
#: size), "[]" for any element of an array. The year columns of the [[year, value], ...]
#: tables are in YEAR_TABLES, their value columns here.
LIMITS = {
    "domain.origin[]": Limit(-1e8, 1e8),
    "domain.width": LENGTH, "domain.height": LENGTH, "domain.field_spacing": LENGTH,
    "domain.mountain_front[]": EDGES,
    "domain.fining_distance": LENGTH, "domain.front_smoothing": LENGTH,
    "domain.fining_noise": SPREAD, "domain.fining_noise_length": LENGTH,
    "domain.fan_lobe_width": LENGTH, "domain.fan_lobe_reach": Limit(0.0, 1.0, open_low=True),
    "domain.fan_lobe_strength": SHARE,
    "domain.land_surface_front": Limit(-500.0, 9000.0),
    "domain.land_surface_far": Limit(-500.0, 9000.0),
    "domain.aquifer_names[]": TEXT,
    "domain.aquifer_bottoms[]": Limit(0.0, 1e4, open_low=True),
    "domain.landmarks_km.*[]": KM,
    "domain.rivers[].name": TEXT, "domain.rivers[].path_km[][]": KM,
    "hydraulics.k_front[]": Limit(0.0, 1e4, open_low=True),
    "hydraulics.k_far[]": Limit(0.0, 1e4, open_low=True),
    "hydraulics.k_noise": SPREAD, "hydraulics.k_noise_length": LENGTH,
    "hydraulics.k33_front[]": Limit(0.0, 1e4, open_low=True),
    "hydraulics.k33_far[]": Limit(0.0, 1e4, open_low=True),
    "hydraulics.k33_fining_power": Limit(0.0, 10.0, open_low=True),
    "hydraulics.ss_front": Limit(0.0, 1.0, open_low=True),
    "hydraulics.ss_far": Limit(0.0, 1.0, open_low=True),
    "hydraulics.sy_front": Limit(0.0, 1.0, open_low=True),
    "hydraulics.sy_far": Limit(0.0, 1.0, open_low=True),
    "hydraulics.initial_depth_to_water": DEPTH,
    "boundaries.lateral_inflow": Limit(0.0, 1e12), "boundaries.lateral_band": LENGTH,
    "boundaries.outflow_edges[]": EDGES, "boundaries.outflow_depth": DEPTH,
    "boundaries.outflow_distance": LENGTH, "boundaries.drain_depth_front": DEPTH,
    "boundaries.drain_depth_far": DEPTH, "boundaries.drain_leakance": Limit(0.0, 1e3),
    "boundaries.regional_decline[][]": Limit(-1e3, 1e3),
    "recharge.areal_front": Limit(0.0, 10.0), "recharge.areal_far": Limit(0.0, 10.0),
    "recharge.river_width": LENGTH, "recharge.river_rate": Limit(0.0, 100.0),
    "recharge.river_flow[][]": MULTIPLIER, "recharge.replenishment[][]": Limit(0.0, 1e12),
    # the released volume is spread over the wetted reach: none would divide by zero
    "recharge.replenishment_reach": Limit(0.0, 1.0, open_low=True),
    "recharge.year_index.*": MULTIPLIER, "recharge.monthly_share.values[]": SHARE,
    "pumping.components.*.volume": Limit(0.0, 1e12),
    "pumping.components.*.centre_km[]": KM,
    "pumping.components.*.radius_km": Limit(0.0, 1e3, open_low=True),
    "pumping.components.*.city_exclusion_km": Limit(0.0, 1e3),
    "pumping.components.*.wells": Limit(1, 1_000_000),
    "pumping.components.*.layers[]": SHARE,
    "pumping.components.*.history[][]": MULTIPLIER,
    "pumping.components.*.monthly[]": MULTIPLIER,
    "zones_km.*.centre[]": KM, "zones_km.*.radius": Limit(0.0, 1e3, open_low=True),
    "time.predevelopment": DATE, "time.monthly_from": DATE, "time.case_start": DATE,
    "time.history_end": DATE, "time.annual_steps": Limit(1, 366),
    "truth.nodes": _Terzaghi("nodes"), "truth.substeps": _Terzaghi("substeps"),
    "truth.chunk": Limit(1, 10_000_000), "truth.sgm": Limit(1.0, 3.0),
    "truth.sgs": Limit(1.0, 3.0),
    # log-normal and log-blended: a zero has no logarithm
    "truth.clay_front[]": Limit(0.0, 1.0, open_low=True),
    "truth.clay_far[]": Limit(0.0, 1.0, open_low=True),
    "truth.clay_noise": SPREAD, "truth.clay_noise_length": LENGTH,
    "truth.b_equiv_front[]": Limit(0.0, 1e3, open_low=True),
    "truth.b_equiv_far[]": Limit(0.0, 1e3, open_low=True),
    "truth.b_equiv_min[]": Limit(0.0, 1e3, open_low=True),
    "truth.b_equiv_max[]": Limit(0.0, 1e3, open_low=True),
    "truth.lag_months_min[]": Limit(0.0, 1e4, open_low=True),
    "truth.lag_months_max[]": Limit(0.0, 1e4, open_low=True),
    "truth.lag_noise_length": LENGTH,
    "truth.bed_ratios[]": Limit(0.0, 100.0, open_low=True), "truth.bed_clay_shares[]": SHARE,
    "truth.aquitard_front[]": Limit(0.0, 1e3), "truth.aquitard_far[]": Limit(0.0, 1e3),
    "truth.aquitard_lag_years_front[]": Limit(0.0, 1e4),
    "truth.aquitard_lag_years_far[]": Limit(0.0, 1e4),
    "truth.cc_front[]": Limit(0.0, 10.0, open_low=True),
    "truth.cc_far[]": Limit(0.0, 10.0, open_low=True),
    "truth.cr_ratio": Limit(0.0, 1.0, open_low=True),
    "truth.void_ratio_front": Limit(0.0, 10.0, open_low=True),
    "truth.void_ratio_far": Limit(0.0, 10.0, open_low=True),
    "truth.coarse_cr": Limit(0.0, 10.0, open_low=True),
    "truth.coarse_void_ratio": Limit(0.0, 10.0, open_low=True),
    "truth.overconsolidation[]": DEPTH,
    "insar.missions[].name": TEXT, "insar.missions[].start": DATE,
    "insar.missions[].end": DATE, "insar.missions[].missing": Limit(0.0, 1.0, open_high=True),
    "insar.noise_mm": Limit(0.0, 1e3), "insar.atmosphere_mm": Limit(0.0, 1e3),
    "insar.atmosphere_length": LENGTH, "insar.atmosphere_spacing": LENGTH,
    "insar.stitch_mm": Limit(0.0, 1e3), "insar.reference_km[]": KM,
    "insar.urban_density": Limit(0.0, 1e3, open_low=True), "insar.urban_radius_km": Limit(0.0, 1e3),
    "tracks.enabled": Limit(choices=(True, False)), "tracks.revisit_days": Limit(1, 366),
    "tracks.missing": Limit(0.0, 1.0, open_high=True), "tracks.noise_mm": Limit(0.0, 1e3),
    # the spread is checked with each track's incidence (_consistent)
    "tracks.incidence_spread": Limit(0.0, 80.0), "tracks.scatter_m": Limit(0.0, 1e4),
    "tracks.*.first": DATE, "tracks.*.heading": Limit(-360.0, 360.0),
    "tracks.*.incidence": Limit(0.0, 84.0, open_low=True),
    "tracks.east_mm_per_year": Limit(-1e3, 1e3),
    "tracks.east_length_km": Limit(0.0, 1e3, open_low=True), "tracks.east_centres[]": TEXT,
    "wells.count[]": Limit(0, 100_000), "wells.noise_m": Limit(0.0, 100.0),
    "wells.missing": Limit(0.0, 1.0, open_high=True), "wells.gaps_per_well": Limit(0.0, 100.0),
    "wells.gap_months[]": Limit(1, 1200), "wells.late_start": SHARE,
    "wells.max_fill_months": Limit(0, 1200), "wells.method": Limit(choices=("idw", "kriging")),
    "extensometers.install": DATE, "extensometers.noise_mm": Limit(0.0, 1e3),
    "extensometers.missing": Limit(0.0, 1.0, open_high=True),
    "extensometers.sites_km[].name": TEXT, "extensometers.sites_km[].at[]": KM,
    "prior.smoothing_length": LENGTH, "prior.elastic_ratio": Limit(0.0, 1.0, open_low=True),
    "prior.thickness_error": SPREAD, "prior.kv_error": SPREAD, "prior.storage_error": SPREAD,
    "prior.error_length": LENGTH,
    "sizes.*.grid_spacing": LENGTH, "sizes.*.map_spacing": LENGTH,
    "sizes.*.points": Limit(1, 10_000_000),
}

#: The length of arrays: a count, or AQUIFERS; arrays not named take any length but 0.
LENGTHS = {
    "domain.origin": 2, "domain.landmarks_km.*": 2, "domain.rivers[].path_km[]": 2,
    "domain.aquifer_bottoms": AQUIFERS,
    "hydraulics.k_front": AQUIFERS, "hydraulics.k_far": AQUIFERS,
    "hydraulics.k33_front": AQUIFERS, "hydraulics.k33_far": AQUIFERS,
    "recharge.monthly_share.values": 12,
    "pumping.components.*.centre_km": 2, "pumping.components.*.layers": AQUIFERS,
    "pumping.components.*.monthly": 12, "zones_km.*.centre": 2,
    **{f"truth.{key}": AQUIFERS for key in (
        "clay_front", "clay_far", "b_equiv_front", "b_equiv_far", "b_equiv_min", "b_equiv_max",
        "lag_months_min", "lag_months_max", "aquitard_front", "aquitard_far",
        "aquitard_lag_years_front", "aquitard_lag_years_far", "cc_front", "cc_far",
        "overconsolidation")},
    "insar.reference_km": 2, "wells.count": AQUIFERS, "wells.gap_months": 2,
    "extensometers.sites_km[].at": 2,
}

#: The [[year, value], ...] tables: two columns, the years increasing.
YEAR_TABLES = ("boundaries.regional_decline", "recharge.river_flow", "recharge.replenishment",
               "pumping.components.*.history")

#: Arrays of shares that sum to one.
SHARES = ("recharge.monthly_share.values", "pumping.components.*.layers",
          "truth.bed_clay_shares")


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, "(file)", f"cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, "(syntax)", f"not valid TOML: {e}") from None


def _merge(base: dict, override: dict, source: Path, prefix: str = "",
           whole: bool = False) -> dict:
    """``base`` with the keys of ``override`` replaced, each checked against the type of
    ``base``'s; ``whole``: ``override`` must have every key (a table in an array, which
    has no shipped value of its own to fall back on)."""
    missing = [key for key in base if key not in override] if whole else []
    if missing:
        raise InputError(source, f"{prefix}{missing[0]}", f'missing; each of these tables '
                         f"has {', '.join(base)}")
    out = copy.deepcopy(base)
    for key, value in override.items():
        field = f"{prefix}{key}"
        if key not in base:
            raise InputError(source, field, f'unknown setting "{key}"{suggest(key, base)}; '
                             f"known here: {', '.join(base)}")
        out[key] = _typed(value, base[key], source, field)
    return out


def _typed(value, default, source: Path, field: str):
    """``value`` checked against the type of the shipped ``default``: a table key by key,
    an array element by element (against the default's first element, or against the
    element in the same place for a row of mixed types such as [year, value])."""
    def refuse(kind: str):
        shipped = show(default)
        raise InputError(source, field, f"{show(value)} is not {kind}" + (
            f" (the type of the shipped value {shipped})" if len(shipped) <= 60 else
            " (as in the shipped settings.toml)"))

    if isinstance(default, dict):
        if not isinstance(value, dict):
            refuse("a table")
        return _merge(default, value, source, field + ".", whole=field.endswith("]"))
    if isinstance(default, list):
        if not isinstance(value, list):
            refuse("an array")
        row = len({type(v) for v in default}) > 1
        if row and len(value) != len(default):
            raise InputError(source, field, f"{show(value)} has {len(value)} values; it needs "
                             f"{len(default)}, like {show(default)}")
        return [_typed(v, default[k] if row else default[0], source, f"{field}[{k}]")
                for k, v in enumerate(value)]
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise InputError(source, field, f"{value!r} is not a finite number")
    else:
        ok = isinstance(value, type(default))
    if not ok:
        refuse({bool: "true or false", int: "an integer", float: "a number",
                str: "a text"}.get(type(default), type(default).__name__))
    return value


def _leaves(value, field: str = "", pattern: str = ""):
    """(dotted key, its pattern with [] for indices, value) of every value and array."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{field}.{key}" if field else str(key),
                               f"{pattern}.{key}" if pattern else str(key))
        return
    yield field, pattern, value
    if isinstance(value, list):
        for k, item in enumerate(value):
            yield from _leaves(item, f"{field}[{k}]", f"{pattern}[]")


def _matches(key: str, pattern: str) -> bool:
    """Whether the rule ``key`` ("*" any one key) covers the value at ``pattern``."""
    keys, parts = key.split("."), pattern.split(".")
    return len(keys) == len(parts) and all(
        k == p or (k.startswith("*") and p.partition("[")[2] == k.partition("[")[2])
        for k, p in zip(keys, parts))


def _rule(table: dict, pattern: str):
    """The entry of ``table`` whose key covers ``pattern``, or None."""
    return next((rule for key, rule in table.items() if _matches(key, pattern)), None)


def check_settings(settings: dict, source) -> dict:
    """Refuse settings whose values are out of range or do not fit together (one
    InputError naming ``source``, the dotted key and the value); returns them."""
    def fail(field, message):
        raise InputError(source, field, message)

    groups = len(settings["domain"]["aquifer_names"])
    year_rows = {}
    for field, pattern, value in _leaves(settings):
        if isinstance(value, list):
            length = _rule(LENGTHS, pattern)
            need = groups if length == AQUIFERS else length
            if (need is not None and len(value) != need) or not value:
                said = (f"{need} ({AQUIFERS}: domain.aquifer_names)" if length == AQUIFERS
                        else need or "at least one")
                fail(field, f"{show(value)} has {len(value)} values; it needs {said}")
            if any(_matches(key, pattern) for key in SHARES) and abs(sum(value) - 1.0) > 1e-6:
                fail(field, f"{show(value)} are shares: they sum to {sum(value):g}, not 1")
            if any(_matches(key, pattern) for key in YEAR_TABLES):
                year_rows[field] = value
            continue
        if pattern.endswith("[][]") and field.endswith("[0]") \
                and any(_matches(key, pattern[:-4]) for key in YEAR_TABLES):
            limit = YEAR
        else:
            limit = _rule(LIMITS, pattern)
        problem = limit.problem(value) if limit is not None else ""
        if problem:
            fail(field, problem)
    for field, rows in year_rows.items():
        years = [row[0] for row in rows]
        if any(b <= a for a, b in zip(years, years[1:])):
            fail(field, f"the years {years} do not increase")
    _consistent(settings, fail, groups)
    return settings


def _consistent(s: dict, fail, groups: int) -> None:
    """The rules that tie settings together."""
    names = s["domain"]["aquifer_names"]
    if len(set(names)) != len(names):
        fail("domain.aquifer_names", f"{show(names)} names a group twice")
    bottoms = s["domain"]["aquifer_bottoms"]
    if any(b <= a for a, b in zip(bottoms, bottoms[1:])):
        fail("domain.aquifer_bottoms", f"{show(bottoms)}: each group's bottom is below the "
                                       "one above (the depths increase)")
    for k, river in enumerate(s["domain"]["rivers"]):
        if len(river["path_km"]) < 2:
            fail(f"domain.rivers[{k}].path_km", f"{show(river['path_km'])}: a river's course "
                                                "needs at least two points")
    t = s["time"]
    order = ("predevelopment", "monthly_from", "case_start", "history_end")
    for a, b in zip(order, order[1:]):
        if not t[a] < t[b]:
            fail(f"time.{b}", f"{show(t[b])} is not after time.{a} {show(t[a])}")
    for kind in ("b_equiv", "lag_months"):
        low, high = s["truth"][f"{kind}_min"], s["truth"][f"{kind}_max"]
        for a in range(groups):
            if low[a] > high[a]:
                fail(f"truth.{kind}_max[{a}]", f"{high[a]!r} is below truth.{kind}_min[{a}] "
                     f"{low[a]!r}")
    if len(s["truth"]["bed_ratios"]) != len(s["truth"]["bed_clay_shares"]):
        fail("truth.bed_clay_shares", f"{show(s['truth']['bed_clay_shares'])}: one share per "
                                      f"bed system of truth.bed_ratios {show(s['truth']['bed_ratios'])}")
    low, high = s["wells"]["gap_months"]
    if low > high:
        fail("wells.gap_months", f"{show([low, high])} is not [shortest, longest]")
    for k, mission in enumerate(s["insar"]["missions"]):
        if not mission["start"] < mission["end"]:
            fail(f"insar.missions[{k}].end", f"{show(mission['end'])} is not after its start "
                                             f"{show(mission['start'])}")
    tracks, landmarks = s["tracks"], list(s["domain"]["landmarks_km"])
    for k, name in enumerate(tracks["east_centres"]):
        if name not in landmarks:
            fail(f"tracks.east_centres[{k}]", f"{show(name)} is not a landmark of "
                 f"domain.landmarks_km ({', '.join(landmarks)})")
    for track in ("ascending", "descending"):
        spec = tracks[track]
        # across the swath the incidence runs over incidence +- spread / 2, and a line of
        # sight within 6 degrees of the horizon is no SAR geometry (check_los_up)
        low, high = (spec["incidence"] + sign * tracks["incidence_spread"] / 2 for sign in (-1, 1))
        if not (0.0 < low and high <= 84.0):
            fail(f"tracks.{track}.incidence", f"{spec['incidence']!r} with tracks."
                 f"incidence_spread {tracks['incidence_spread']!r} spans {low:g}..{high:g} "
                 "degrees; it must stay inside (0, 84]")
        if not spec["first"] < t["history_end"]:
            fail(f"tracks.{track}.first", f"{show(spec['first'])} is not before time."
                 f"history_end {show(t['history_end'])}")
    for name, spec in s["pumping"]["components"].items():
        if max(spec["monthly"]) <= 0:
            fail(f"pumping.components.{name}.monthly", "is zero in every month: the pattern "
                                                       "is normalised to mean 1")
    d = s["domain"]
    grids = {"domain.field_spacing": d["field_spacing"],
             "insar.atmosphere_spacing": s["insar"]["atmosphere_spacing"],
             **{f"sizes.{size}.{key}": v[key] for size, v in s["sizes"].items()
                for key in ("grid_spacing", "map_spacing")}}
    for field, spacing in grids.items():
        cells = math.ceil(d["width"] / spacing) * math.ceil(d["height"] / spacing)
        if cells > MAX_GRID_CELLS:
            fail(field, f"{spacing!r} m over the {d['width']:g} x {d['height']:g} m domain makes "
                 f"{cells:,} cells, more than {MAX_GRID_CELLS:,} (held in memory whole)")


def load_settings(path=None) -> dict:
    """The shipped settings, with those of the file at ``path`` (if any) merged in and
    checked."""
    settings = _read(DEFAULTS)
    if path is not None:
        settings = check_settings(_merge(settings, _read(Path(path)), Path(path)), Path(path))
    return settings


def size_settings(settings: dict, size: str) -> dict:
    """The [sizes.<size>] table."""
    if size not in settings["sizes"]:
        raise InputError("command line", "--size", f'"{size}" is not a size'
                         f"{suggest(size, settings['sizes'])}; sizes: "
                         f"{', '.join(settings['sizes'])}")
    return settings["sizes"][size]
