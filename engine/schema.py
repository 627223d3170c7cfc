"""The case schema's rules, in one place: which parameters each kind of compressible
material takes, the bound every value must respect, and the orderings between them.

``engine.caseio`` applies them while reading a case file (errors name the file and the
column); ``validate_case`` applies the same rules to a Case however it was made (a
file, ``build_case``, a generator), and solvers call it instead of checks of their own.

Confinement (``confinement``): an aquifer is confined when its head stays above its top,
so that a change of head changes pore pressure only (d sigma' = -gamma_w dh, DESIGN.md),
and unconfined when its head is a water table inside it. A case declares it per aquifer
(``confined``); otherwise it is derived from the stratigraphy where that settles it:
  * an aquifer below another aquifer of the case is confined (aquifer systems are
    stacked, each under the one above and what lies between);
  * the top aquifer, given its top depth and a land surface ([geostatic]), is confined
    when every head (spin-up included) is above its top, and unconfined when some head
    is at or below it: there the head is a water table inside the aquifer;
  * the top aquifer without a top depth or a land surface: nothing places a water table
    in it, so its heads are taken as pressure heads (confined), the law every solver
    applies.
A [study] names the claims set of the reports; its aquifers, when given, are distinct
names of the case's aquifers.

Bounds, as a hydrogeologist reads them:
  * thickness > 0 and kv > 0: a bed of no thickness does not exist, one with kv = 0
    never drains (its lag time is infinite);
  * count >= 1: a system holds at least one equivalent bed (fractions above one are
    allowed, for an equivalent-bed count);
  * sske >= 0, cr >= 0: zero elastic storage is a rigid skeleton under unloading and
    reloading (no rebound); the consolidation kernels and CSUB handle it;
  * sskv > 0, cc > 0: a compressible bed compacts when loaded past its preconsolidation
    stress; with zero virgin storage it would not be compressible at all;
  * void_ratio > 0, sgm > 0, sgs > 0: physical ratios of solids and voids, and weights;
  * top >= 0, bottom > top: depths below land surface, an aquifer having some height;
  * sskv >= sske and cc >= cr: virgin compression exceeds recompression;
  * preconsolidation_offset >= 0: a bed cannot start beyond its preconsolidation
    state; it and preconsolidation_head are two spellings of one state, so at most one;
  * a spin-up (``Case.spinup_times`` with every aquifer's ``spinup_head``) ends before
    the first case time, so that the record it makes with the case is increasing;
  * some aquifer holds compressible material (interbeds, no-delay beds, or a coarse
    skeleton with storage above zero): without any, every solver predicts exactly no
    displacement, which is never what a case is made for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.case import STORAGE_KINDS
from engine.errors import InputError

SCHEMA = 1
FREQS = ("D", "MS", "YS")  # days, month starts, year starts


@dataclass(frozen=True)
class Rule:
    """A parameter's unit and bound: every value finite and, unless ``low`` is None,
    above ``low`` (or equal to it when not ``strict``)."""

    name: str
    unit: str
    low: float | None = None
    strict: bool = True

    def passes(self, values: np.ndarray) -> np.ndarray:
        ok = np.isfinite(values)
        if self.low is not None:
            ok &= values > self.low if self.strict else values >= self.low
        return ok

    @property
    def demand(self) -> str:
        if self.low is None:
            return f"must be a finite number ({self.unit})"
        return f"must be {'>' if self.strict else '>='} {self.low:g} ({self.unit})"


RULES = {rule.name: rule for rule in (
    Rule("thickness", "m", 0.0),
    Rule("count", "number of equivalent beds", 1.0, strict=False),
    Rule("kv", "m/d", 0.0),
    Rule("sske", "1/m", 0.0, strict=False),
    Rule("sskv", "1/m", 0.0),
    Rule("cc", "compression index", 0.0),
    Rule("cr", "recompression index", 0.0, strict=False),
    Rule("void_ratio", "void ratio", 0.0),
    Rule("preconsolidation_head", "m above datum"),
    Rule("preconsolidation_offset", "m below the initial head", 0.0, strict=False),
    Rule("top", "m below land surface", 0.0, strict=False),
    Rule("bottom", "m below land surface", 0.0),
    Rule("land_surface", "m above datum"),
    Rule("sgm", "specific gravity", 0.0),
    Rule("sgs", "specific gravity", 0.0),
)}

# per kind: parameters always taken, those of storage "specific", those of storage "indices"
MATERIAL_PARAMETERS = {
    "interbeds": (("thickness", "count", "kv", "preconsolidation_head",
                   "preconsolidation_offset"), ("sske", "sskv"), ("cc", "cr", "void_ratio")),
    "nodelay": (("thickness", "preconsolidation_head", "preconsolidation_offset"),
                ("sske", "sskv"), ("cc", "cr", "void_ratio")),
    "coarse": (("thickness",), ("sske",), ("cr", "void_ratio")),
}
#: The initial state's two spellings: both optional (neither = normally consolidated).
PRECONSOLIDATION = ("preconsolidation_head", "preconsolidation_offset")
OPTIONAL_PARAMETERS = ("count",) + PRECONSOLIDATION

# (larger, smaller, strictly, why): cell by cell, larger >= smaller (> when strictly)
ORDERED_PAIRS = (
    ("sskv", "sske", False, "virgin (inelastic) storage below elastic storage is unphysical"),
    ("cc", "cr", False, "a compression index below the recompression index is unphysical"),
    ("bottom", "top", True, "an aquifer's bottom must lie deeper than its top"),
)


def regular_times(start: np.datetime64, periods: int, freq: str) -> np.ndarray:
    """``periods`` datetime64[D] times from ``start`` every day ("D"), month start ("MS")
    or year start ("YS"); with "MS"/"YS" a ``start`` inside a month/year counts from the
    start of that month/year."""
    steps = np.arange(periods)
    start = np.datetime64(start, "D")
    if freq == "D":
        return start + steps
    unit = {"MS": "M", "YS": "Y"}[freq]
    return (np.datetime64(start, unit) + steps).astype("datetime64[D]")


def used_parameters(kind: str, storage: str) -> tuple[str, ...]:
    """The parameters a material of ``kind`` with ``storage`` takes."""
    always, specific, indices = MATERIAL_PARAMETERS[kind]
    return always + (specific if storage == "specific" else indices)


def violation(name: str, values: np.ndarray) -> tuple[int, str] | None:
    """(first cell, "name = value must be ...") where ``values`` break the rule of
    ``name``; None when they all pass."""
    bad = ~RULES[name].passes(values)
    if not bad.any():
        return None
    cell = int(np.argmax(bad))
    value = float(values[cell])
    demand = RULES[name].demand if np.isfinite(value) else "must be a finite number"
    return cell, f"{name} = {value!r} {demand}"


def disorder(values: dict[str, np.ndarray]) -> tuple[str, int, str] | None:
    """(larger parameter, first cell, message) of the first ordered pair that ``values``
    (name -> [N]) break; None when every pair present holds."""
    for larger, smaller, strictly, why in ORDERED_PAIRS:
        if larger in values and smaller in values:
            ok = (values[larger] > values[smaller] if strictly
                  else values[larger] >= values[smaller])
            if not ok.all():
                cell = int(np.argmin(ok))
                return larger, cell, (f"{larger} = {float(values[larger][cell])!r} must be "
                                      f"{'>' if strictly else '>='} {smaller} = "
                                      f"{float(values[smaller][cell])!r}: {why}")
    return None


def both_preconsolidations(present) -> str | None:
    """The refusal when ``present`` (names given for one material) holds both spellings
    of the initial preconsolidation state; None otherwise."""
    if all(key in present for key in PRECONSOLIDATION):
        return ("give preconsolidation_head (m above datum) or preconsolidation_offset "
                "(m below the initial head), not both: they state the same thing")
    return None


def study_refusal(study, aquifer_names) -> tuple[str, str] | None:
    """(field, refusal) when ``study`` (an engine.case.Study, or None) breaks the schema
    for a case with ``aquifer_names``; None otherwise."""
    if study is None:
        return None
    if not isinstance(study.claims, str) or not study.claims.strip():
        return "study.claims", f"{study.claims!r} should be the name of a claims set"
    for k, name in enumerate(study.aquifers or ()):
        if name not in aquifer_names:
            return (f"study.aquifers[{k}]", f'"{name}" is not an aquifer of the case '
                    f"({', '.join(aquifer_names)})")
        if list(study.aquifers).index(name) != k:
            return f"study.aquifers[{k}]", f'"{name}" is named twice'
    return None


def confinement(case) -> list[tuple[bool, str]]:
    """(confined, why) of every aquifer of ``case``, top first: as declared, else derived
    by the rules of the module docstring."""
    out = []
    for a, aquifer in enumerate(case.aquifers):
        if aquifer.confined is not None and not isinstance(aquifer.confined, (bool, np.bool_)):
            raise InputError(case.source or f'case "{case.name}"', f"aquifers[{a}].confined",
                             f"{aquifer.confined!r} should be true or false")
        if aquifer.confined is not None:
            out.append((bool(aquifer.confined), "declared"))
        elif a > 0:
            out.append((True, f'below aquifer "{case.aquifers[a - 1].name}"'))
        else:
            out.append(_top_confinement(case, aquifer))
    return out


def _top_confinement(case, aquifer) -> tuple[bool, str]:
    if aquifer.top is None or case.geostatic is None:
        return True, "not declared; no top depth and land surface place a water table in it"
    top = np.asarray(case.geostatic.land_surface, float) - np.asarray(aquifer.top, float)
    heads = aquifer.head if aquifer.spinup_head is None else np.concatenate(
        [aquifer.spinup_head, aquifer.head], axis=1)
    below = heads <= top[:, None]
    if not below.any():
        return True, "its head stays above its top"
    cell, step = np.unravel_index(int(np.argmax(below)), below.shape)
    times = case.times if aquifer.spinup_head is None else np.concatenate(
        [case.spinup_times, case.times])
    return False, (f'its head is a water table inside it at {int(below.sum())} of '
                   f'{below.size} cell-times (first: cell "{case.cells.ids[cell]}", '
                   f"{times[step]}, head {float(heads[cell, step]):.6g} m, top "
                   f"{float(top[cell]):.6g} m above datum)")


def spinup_overlap(spinup_times: np.ndarray, first_time) -> str | None:
    """The refusal when the spin-up does not end before the first case time."""
    if len(spinup_times) and spinup_times[-1] >= first_time:
        return (f"the last spin-up time {spinup_times[-1]} is not before the first case "
                f"time {first_time}: a spin-up is the history before the case")
    return None


def compressible(material) -> bool:
    """Whether ``material`` can compact at some cell: a storage above zero there (a
    coarse skeleton with sske = 0 everywhere is rigid)."""
    keys = ("sske", "sskv") if material.storage == "specific" else ("cr", "cc")
    return any(getattr(material, key) is not None and bool(np.any(np.asarray(
        getattr(material, key), dtype=np.float64) > 0)) for key in keys)


def nothing_compressible(name: str | None, aquifers) -> str | None:
    """The refusal when no aquifer of case ``name`` (None: not named) holds compressible
    material; None otherwise."""
    if any(compressible(m) for aquifer in aquifers for _, m in _labelled(aquifer)):
        return None
    return (("" if name is None else f'case "{name}": ')
            + f'no aquifer ({", ".join(a.name for a in aquifers)}) has '
            "compressible material, so every solver would predict no displacement at all; "
            "give at least one aquifer [aquifers.interbeds], [aquifers.nodelay] or "
            "[aquifers.coarse] with a storage above zero")


def validate_case(case) -> None:
    """Refuse a Case that breaks the schema, naming the field, the cell and the value:
    the rules ``load_case`` applies to files, for a Case built in any way."""
    _CaseCheck(case).run()
    confinement(case)   # refuses a declaration that is not true or false
    broken = study_refusal(case.study, case.aquifer_names)
    if broken:
        raise InputError(case.source or f'case "{case.name}"', *broken)


def validate_physics_case(case, solver: str) -> None:
    """``validate_case``, then what the physics solvers (``solver`` names the one asking)
    cannot represent: an unconfined aquifer holding compressible material. As its water
    table moves, sediment between the old and the new level turns from saturated to
    moist unit weight (sgs vs sgm), which changes the geostatic stress on its beds, as
    MODFLOW 6 CSUB computes it; the solvers hold that load constant (d sigma' = -dh)."""
    validate_case(case)
    for a, (aquifer, (confined, why)) in enumerate(zip(case.aquifers, confinement(case))):
        materials = [label for label, _ in _labelled(aquifer)]
        if not confined and materials:
            raise InputError(case.source or f'case "{case.name}"', f"aquifers[{a}].confined",
                             f'aquifer "{aquifer.name}" is unconfined ({why}) and holds '
                             f"compressible material ({', '.join(materials)}): its water "
                             "table changes the geostatic stress on it as it moves (moist vs "
                             f"saturated unit weight, as MODFLOW 6 CSUB has it), which {solver} "
                             "does not model; declare confined = true only where a confining "
                             "layer keeps its head above its top")


def _labelled(aquifer) -> list[tuple[str, object]]:
    """(label as in a field name, material) of every compressible system of ``aquifer``."""
    out = [(f"interbeds[{j}]", m) for j, m in enumerate(aquifer.interbeds)]
    return out + [(kind, getattr(aquifer, kind)) for kind in ("nodelay", "coarse")
                  if getattr(aquifer, kind) is not None]


class _CaseCheck:
    def __init__(self, case):
        self.case = case
        self.source = case.source or f'case "{case.name}"'

    def fail(self, field: str, message: str):
        raise InputError(self.source, field, message)

    def run(self) -> None:
        case = self.case
        days = np.asarray(case.times, dtype="datetime64[D]")
        if len(days) < 1 or not np.all(np.diff(days) > np.timedelta64(0, "D")):
            self.fail("time", "times must be strictly increasing (and at least one)")
        labelled = [[(f"aquifers[{a}].{label}", material) for label, material in _labelled(aq)]
                    for a, aq in enumerate(case.aquifers)]
        users = [[field for field, m in materials if m.storage == "indices"]
                 for materials in labelled]
        self.spinup()
        if case.geostatic is None and any(users):
            self.fail("geostatic", f'missing; storage = "indices" (in {sum(users, [])[0]}) '
                      "needs the geostatic load: sgm, sgs and the land surface")
        for a, aquifer in enumerate(case.aquifers):
            field = f"aquifers[{a}]"
            self.head(aquifer.head, f"{field}.head")
            for material_field, material in labelled[a]:
                self.material(material, material_field)
            depths = {key: getattr(aquifer, key) for key in ("top", "bottom")
                      if getattr(aquifer, key) is not None}
            for key in ("top", "bottom"):
                if users[a] and key not in depths:
                    self.fail(f"{field}.{key}", f'missing; storage = "indices" (in '
                              f"{users[a][0]}) needs the aquifer's top and bottom depths "
                              "below land surface (m)")
            self.parameters(depths, field)
        nothing = nothing_compressible(case.name, case.aquifers)
        if nothing:
            self.fail("aquifers", nothing)
        if case.geostatic is not None:
            self.parameters({"sgm": np.atleast_1d(case.geostatic.sgm),
                             "sgs": np.atleast_1d(case.geostatic.sgs)}, "geostatic",
                            per_cell=False)
            self.parameters({"land_surface": case.geostatic.land_surface}, "geostatic")

    def spinup(self) -> None:
        """Spin-up times before the case, and heads on them in every aquifer or none."""
        case = self.case
        given = [a.spinup_head is not None for a in case.aquifers]
        if case.spinup_times is None:
            if any(given):
                self.fail(f"aquifers[{given.index(True)}].spinup_head",
                          "given without spin-up times ([spinup] time axis)")
            return
        times = np.asarray(case.spinup_times, dtype="datetime64[D]")
        if len(times) < 1 or not np.all(np.diff(times) > np.timedelta64(0, "D")):
            self.fail("spinup.time", "spin-up times must be strictly increasing (and at "
                      "least one)")
        overlap = spinup_overlap(times, np.asarray(case.times, dtype="datetime64[D]")[0])
        if overlap:
            self.fail("spinup.time", overlap)
        for a, aquifer in enumerate(case.aquifers):
            if aquifer.spinup_head is None:
                self.fail(f"aquifers[{a}].spinup_head", "missing; the case has a spin-up, "
                          "so every aquifer needs its heads on the spin-up times")
            self.head(aquifer.spinup_head, f"aquifers[{a}].spinup_head", times)

    def head(self, head, field: str, times=None) -> None:
        times = self.case.times if times is None else times
        shape = (self.case.n_cells, len(times))
        if np.shape(head) != shape:
            self.fail(field, f"shape {np.shape(head)} is not (cells, times) = {shape}")
        bad = ~np.isfinite(head)
        if bad.any():
            cell, step = np.unravel_index(int(np.argmax(bad)), shape)
            self.fail(field, f'cell "{self.case.cells.ids[cell]}", time {times[step]}: '
                      f"head {float(head[cell, step])!r} is not a finite number (m above datum); "
                      f"{int(bad.sum())} such values")

    def material(self, material, field: str) -> None:
        if material.kind not in MATERIAL_PARAMETERS:
            self.fail(field, f'unknown kind "{material.kind}"; kinds are: '
                      f"{', '.join(MATERIAL_PARAMETERS)}")
        if material.storage not in STORAGE_KINDS:
            self.fail(f"{field}.storage", f'unknown storage "{material.storage}"; use one of '
                      f"{', '.join(STORAGE_KINDS)}")
        values = {}
        for key in used_parameters(material.kind, material.storage):
            if getattr(material, key) is not None:
                values[key] = getattr(material, key)
            # the loader gives count its default, so only these may be absent in a Case
            elif key not in PRECONSOLIDATION:
                self.fail(f"{field}.{key}", f'missing; {material.kind} with storage = '
                          f'"{material.storage}" take {key}')
        both = both_preconsolidations(values)
        if both:
            self.fail(f"{field}.preconsolidation_offset", both)
        self.parameters(values, field)

    def parameters(self, values: dict, field: str, per_cell: bool = True) -> None:
        """Per-cell [N] arrays (scalars when not ``per_cell``) checked by RULES and
        ORDERED_PAIRS."""
        ids = self.case.cells.ids
        arrays = {}
        for key, value in values.items():
            arrays[key] = np.asarray(value, dtype=np.float64)
            if per_cell and arrays[key].shape != (len(ids),):
                self.fail(f"{field}.{key}", f"shape {arrays[key].shape} is not (cells,) = "
                          f"({len(ids)},)")
            broken = violation(key, arrays[key])
            if broken:
                self.fail(f"{field}.{key}", self.at(broken[0], per_cell) + broken[1])
        broken = disorder(arrays)
        if broken:
            self.fail(f"{field}.{broken[0]}", self.at(broken[1], per_cell) + broken[2])

    def at(self, cell: int, per_cell: bool) -> str:
        return f'cell "{self.case.cells.ids[cell]}": ' if per_cell else ""
