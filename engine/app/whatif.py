"""`landsub whatif`: a management scenario against a baseline, per solver, with a band.

    landsub whatif CASE --scenario S.toml --solvers terzaghi,lstm [--until 2035-12]
        [--baseline B.toml] [--members 8] [--preset default|fast|seminar]
        [--spread thickness=0.15,kv=0.6,storage=0.25]
        [--scheduler local|serial|tcp://...] [--workers N] [--seed 0] --out DIR

Scenario files are those of ``cases.beijing.scenario`` (read and checked by its
``load_scenario``).

Heads under the scenario
------------------------
- CASE a Beijing twin (its folder holds ``generator.json``, written by ``make_twin``):
  the twin is made again, with the same size, seed, heads and settings, twice: under the
  baseline (default ``cases/beijing/scenarios/business-as-usual.toml``) into
  DIR/cases/baseline and under the scenario into DIR/cases/scenario, both to --until.
  The flow model is re-run, so pumping, recharge and head rules all apply. Solvers read
  only those two case.toml files (never truth/).
- Any other case: no flow model, so only [[heads]] rules (zone "all") can apply. Both
  cases are continued from the case's last month to --until by repeating the last 12
  months of heads of every aquifer (a seasonal continuation: month k after the end takes
  the heads of month T - 12 + (k - 1) mod 12); then the baseline file's head offsets (if
  --baseline is given; none by default) and the scenario's are added. The case must have
  a monthly axis of month starts and at least 12 months. Observed displacement is
  carried over, NaN after the last case month. The two cases are written to
  DIR/cases/baseline and DIR/cases/scenario as well.

The ensemble (--members M, seeded by --seed)
--------------------------------------------
- physics solvers (kind "physics", e.g. terzaghi, mf6-csub): member m runs the cases
  with the compressible parameters of every aquifer a multiplied by log-normal factors
  exp(s_p z) (z standard normal, one per member, aquifer and parameter p, drawn from
  ``numpy.random.default_rng([seed, m])``): "thickness" multiplies the thickness of the
  interbeds (delay and no-delay), "kv" the vertical conductivity of the delay
  interbeds, "storage" every skeletal storage (sske and sskv together, so their ratio
  is kept; cc and cr for stress-dependent storage; the coarse skeleton's sske). The
  same factors apply to baseline and scenario. s_p are the twin's prior spread (the
  generator's [prior] thickness_error, kv_error, storage_error) or, for other cases,
  DEFAULT_SPREAD; --spread overrides either. Member 0 is the unperturbed prior.
- trained solvers (stateful: the networks, residual:..., tfn): member m is the solver
  fitted with seed (--seed + m) on every history observation of the BASELINE case
  (split "none"), then predicting both cases.
- any other solver (e.g. zero) gives M identical members.
Every member is one task of ``engine.app.distributed.run_tasks`` (single-threaded), so
the results do not depend on the number of workers.

Outputs in DIR (each written to a temporary name and renamed; a run replaces them)
---------------------------------------------------------------------------------
whatif.h5 (netCDF4-compatible HDF5; ``xarray.open_dataset(path, engine="h5netcdf",
group=...)``). Root attributes: case, scenario, baseline (names and files), heads
("flow model" or "head transforms"), scenario_start, until, members, seed, solvers,
wall_seconds, created. Per solver S:
- group "S.baseline", "S.scenario": ``engine.result`` Results, displacement (cell,
  time) = the ensemble mean, m, up positive.
- group "S.band": the ensemble spread. Coordinates time, cell (ids), x, y (m), member
  (0..M-1), aquifer, parameter ("thickness", "kv", "storage"). Variables, m, where the
  difference is scenario - baseline displacement (positive: less subsidence):
  p05, p50, p95 (cell, time): percentiles over the members of the difference;
  mean (cell, time): the ensemble-mean difference;
  baseline_p05, baseline_p95, scenario_p05, scenario_p95 (cell, time): percentiles of
  the displacement of each case;
  difference_at_until (member, cell): each member's difference at --until;
  area_mean, severe_mean, cell_min, cell_max (member, time): each member's
  difference averaged over all cells, over the severe zone (observed rate < -30
  mm/yr; NaN without observations), and its minimum and maximum over the cells;
  member_seed (member), member_wall_seconds (member) (s);
  multipliers (member, aquifer, parameter): the factors of physics members (1 for
  others). Attributes: solver, kind, ensemble (how members differ), spread (JSON),
  severe_cells.
summary.md: per solver, at milestones every 2 years from the scenario start and at
--until, the difference in mm (area mean, severe-zone mean, min, max over the cells):
each the ensemble mean of the member's statistic with its 5-95 % band over members.
figures/: difference-map.png and band-width-map.png (at --until, one panel per
solver, each on its own colour scale), series-<solver>.png (baseline and scenario, each
with its 5-95 % band, and the observations) and difference-series-<solver>.png (the
difference with its band) at the 3 cells of most baseline subsidence and at an
extensometer site, the scenario start marked.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import os
import re
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.errors import InputError, LandsubError
from engine.evaluate import SEVERE_RATE_MM_PER_YEAR

PARAMETERS = ("thickness", "kv", "storage")
#: ln-standard deviations of the multipliers for cases without a prior spread (those of
#: the twin generator's [prior]: the errors a modeller's prior typically carries)
DEFAULT_SPREAD = {"thickness": 0.15, "kv": 0.6, "storage": 0.25}
BAND = (5.0, 95.0)                  # % of the members: the band's low and high edges
PERCENTILES = (BAND[0], 50.0, BAND[1])
MILESTONE_MONTHS = 24
SERIES_CELLS = 3
GENERATOR_RECORD = "generator.json"
#: solver options that set a task's threads; every member runs single-threaded
_THREAD_OPTIONS = ("threads", "workers", "physics.threads")


# -- the two cases ----------------------------------------------------------------------

@dataclass(frozen=True)
class Cases:
    """The baseline and scenario case files and what the summary says about them."""

    case_name: str                # the case CASE names
    baseline: Path                # manifests
    scenario: Path
    baseline_name: str
    scenario_name: str
    baseline_file: str | None
    scenario_file: str
    description: str
    heads: str                    # "flow model" | "head transforms"
    start: np.datetime64          # the scenario start (datetime64[D], a month start)
    spread: dict                  # the case's prior spread (ln-standard deviations)
    seconds: float


def default_baseline() -> Path:
    import cases.beijing

    return Path(cases.beijing.__file__).parent / "scenarios" / "business-as-usual.toml"


def case_manifest(path) -> Path:
    """CASE as given on the command line: a folder with case.toml, a manifest, or a
    built-in twin ``beijing:<size>[:<seed>]`` (made once, see ``engine.app.bench``)."""
    if str(path).startswith("beijing:"):
        from engine.app.bench import resolve_case

        return resolve_case(str(path))
    path = Path(path)
    manifest = path / "case.toml" if path.is_dir() else path
    if not manifest.is_file():
        raise InputError(path, "(file)", "no such case: give a case folder (with "
                                         "case.toml) or a case manifest")
    return manifest


def scenario_start(scenario, after: np.datetime64) -> np.datetime64:
    """The month the scenario begins: its earliest rule start; a rule without a start
    (or a scenario without rules) counts from ``after``, the month after the history."""
    rules = scenario.pumping_rules + scenario.recharge_rules + scenario.head_rules
    return min([after if r.start is None else r.start for r in rules] or [after])


def _month(text, field: str) -> np.datetime64:
    from cases.beijing.scenario import _month as month

    return month(text, "command line", field)


def twin_cases(manifest: Path, scenario_path, baseline_path, until, out: Path,
               log) -> Cases:
    """The twin of ``manifest`` made again under the baseline and the scenario."""
    from cases.beijing.domain import Domain
    from cases.beijing.make import make_twin
    from cases.beijing.scenario import load_scenario
    from cases.beijing.settings import load_settings

    started = time.perf_counter()
    record_path = manifest.parent / GENERATOR_RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        size, seed, heads = record["size"], record["seed"], record["heads"]
        settings_path, spread = record["settings"], dict(record["prior_spread"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(record_path, "(file)", f"not a twin generator record ({exc})") \
            from None
    if record.get("generator") != "beijing":
        raise InputError(record_path, "generator", f'"{record.get("generator")}" is not a '
                         'generator whatif can re-run (known: "beijing")')
    settings = load_settings(settings_path)
    history_end = np.datetime64(settings["time"]["history_end"], "M")
    baseline_path = Path(baseline_path) if baseline_path else default_baseline()
    # read both files before the first (slow) twin, so that a bad one fails at once
    domain = Domain.create(settings, seed)
    scenario = load_scenario(scenario_path, domain)
    baseline = load_scenario(baseline_path, domain)
    end = _until(until, scenario, scenario_path, history_end, "the history of the twin")
    made = {}
    for role, path, parsed in (("baseline", baseline_path, baseline),
                               ("scenario", scenario_path, scenario)):
        log(f"making the {role} twin ({parsed.name}, {size}, seed {seed}) to {end}")
        made[role] = _fresh_folder(out / "cases" / role, lambda folder, p=path: make_twin(
            folder, size, seed, heads, p, str(end), settings_path, log=lambda _: None))
    return Cases(_case_name(manifest), made["baseline"], made["scenario"], baseline.name,
                 scenario.name, str(baseline_path), str(scenario_path), scenario.description,
                 "flow model", scenario_start(scenario, (history_end + 1)
                                              .astype("datetime64[D]")),
                 spread, time.perf_counter() - started)


def _case_name(manifest: Path) -> str:
    """The name in a case manifest (without loading its arrays)."""
    try:
        return str(tomllib.loads(manifest.read_text(encoding="utf-8"))["name"])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise InputError(manifest, "name", f"cannot be read ({exc})") from None


def _until(until, scenario, scenario_path, last: np.datetime64, what: str) -> np.datetime64:
    """The month to run to: --until, else the scenario file's ``until``; after ``last``."""
    if until is not None:
        end, source, field = np.datetime64(_month(until, "--until"), "M"), "command line", \
            "--until"
    elif scenario.until is not None:
        end, source, field = np.datetime64(scenario.until, "M"), scenario_path, "until"
    else:
        raise InputError("command line", "--until", f"missing: {scenario_path} has no "
                         "until either; give the month to run to, e.g. --until 2035-12")
    if end <= last:
        raise InputError(source, field, f"{end} is not after the last month of {what} "
                         f"({last})")
    return end


def _fresh_folder(folder: Path, make) -> Path:
    """Run ``make(partial folder)`` (returns a manifest in it) and move the folder into
    place, so an interrupted run never leaves a half-written case where a whole one
    was; returns the manifest's final path."""
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        made = make(partial)
        manifest = Path(made["manifest"] if isinstance(made, dict) else made)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder / manifest.name


@dataclass(frozen=True)
class _CaseArea:
    """What ``load_scenario`` asks of the twin's Domain, for a case without one: its
    aquifer names, and the twin's zone names (so that a zone is refused below with the
    reason rather than as unknown); only "all" is ever located."""

    aquifer_names: list
    settings: dict

    def in_zone(self, zone, x, y):
        return np.ones(np.shape(x), dtype=bool)


def read_head_scenario(path, case):
    """The scenario file at ``path`` for a case without a flow model: [[heads]] rules
    over zone "all" only."""
    from cases.beijing.scenario import load_scenario
    from cases.beijing.settings import load_settings

    area = _CaseArea(case.aquifer_names, {"zones_km": load_settings()["zones_km"]})
    scenario = load_scenario(path, area)
    for section, rules in (("pumping", scenario.pumping_rules),
                           ("recharge", scenario.recharge_rules)):
        if rules:
            raise InputError(path, f"{section}[0]", f"case {case.name} has no flow model, "
                             f"so a [[{section}]] rule cannot be applied; only [[heads]] "
                             "rules (head transforms) apply to it (pumping and recharge "
                             "rules need a Beijing twin, whose flow model is re-run)")
    for i, rule in enumerate(scenario.head_rules):
        if rule.zone != "all":
            raise InputError(path, f"heads[{i}].zone", f'"{rule.zone}" is a zone of the '
                             f"Beijing twin; case {case.name} is not a twin: use "
                             '"all"')
    return scenario


def continued(case, until: np.datetime64):
    """``case`` continued to the month ``until``: the heads of every aquifer repeat its
    last 12 months (month k after the end takes month T - 12 + (k - 1) mod 12); observed
    displacement is NaN after the end. Needs a monthly axis of month starts."""
    from cases.beijing.make import month_axis

    source = case.source or case.name
    months = case.times.astype("datetime64[M]")
    if (months.astype("datetime64[D]") != case.times).any() or (np.diff(months) != 1).any():
        raise InputError(source, "time", "the what-if continuation needs a monthly axis "
                         "of month starts (freq = \"MS\"); this case's runs "
                         f"{case.times[0]}, {case.times[1] if case.n_times > 1 else ''}...")
    if case.n_times < 12:
        raise InputError(source, "time.periods", f"{case.n_times} months: the seasonal "
                         "continuation repeats the last 12 months; the case needs >= 12")
    extra = month_axis(months[-1] + 1, until)
    repeat = case.n_times - 12 + np.arange(len(extra)) % 12
    aquifers = tuple(replace(a, head=np.concatenate([a.head, a.head[:, repeat]], axis=1))
                     for a in case.aquifers)
    observed = case.observations.displacement
    if observed is not None:
        observed = np.concatenate([observed, np.full((case.n_cells, len(extra)), np.nan)],
                                  axis=1)
    return replace(case, times=np.concatenate([case.times, extra]), aquifers=aquifers,
                   observations=replace(case.observations, displacement=observed))


def with_head_offsets(case, scenario, name: str):
    """``case`` with the scenario's head offsets added (m) and the given name."""
    if scenario is None:
        return replace(case, name=name)
    offsets = scenario.head_offsets(len(case.aquifers), case.cells.x, case.cells.y,
                                    case.times)
    return replace(case, name=name, aquifers=tuple(
        replace(a, head=a.head + offsets[i]) for i, a in enumerate(case.aquifers)))


def transformed_cases(manifest: Path, scenario_path, baseline_path, until, out: Path,
                      spread: dict, log) -> Cases:
    """Head transforms of a case without a flow model (see the module docstring)."""
    from cases.beijing.store import write_case_files
    from engine.caseio import load_case

    started = time.perf_counter()
    case = load_case(manifest)
    scenario = read_head_scenario(scenario_path, case)
    baseline = None if baseline_path is None else read_head_scenario(baseline_path, case)
    last = np.datetime64(case.times[-1], "M")
    end = _until(until, scenario, scenario_path, last, f"case {case.name}")
    longer = continued(case, end)
    made = {}
    for role, parsed in (("baseline", baseline), ("scenario", scenario)):
        label = parsed.name if parsed is not None else "continued"
        log(f"writing the {role} case ({label}) to {end}")
        changed = with_head_offsets(longer, parsed, f"{case.name}-{label}")
        made[role] = _fresh_folder(out / "cases" / role,
                                   lambda folder, c=changed: write_case_files(c, folder))
    return Cases(case.name, made["baseline"], made["scenario"],
                 baseline.name if baseline else "seasonal continuation", scenario.name,
                 None if baseline_path is None else str(baseline_path), str(scenario_path),
                 scenario.description, "head transforms",
                 scenario_start(scenario, (last + 1).astype("datetime64[D]")), spread,
                 time.perf_counter() - started)


# -- ensemble members -------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    """One ensemble member of one solver: a run_tasks item."""

    solver: str
    options: dict
    index: int
    seed: int                      # the solver's seed, or that of default_rng([seed, index])
    baseline: str                  # case manifests
    scenario: str
    multipliers: np.ndarray | None = None   # [A, 3] (PARAMETERS) for physics members


@dataclass(frozen=True)
class MemberRun:
    """A member's displacement [N, T] (m, up positive) on both cases and its wall time."""

    baseline: np.ndarray
    scenario: np.ndarray
    seconds: float


@functools.lru_cache(maxsize=2)
def _load(path: str, stamp: tuple):
    from engine.caseio import load_case

    return load_case(path)


def _case(path: str):
    """The case at ``path``, loaded once per process (per file version)."""
    stat = os.stat(path)
    return _load(path, (stat.st_mtime_ns, stat.st_size))


def perturbed(case, multipliers):
    """``case`` with every aquifer's compressible parameters multiplied by its factors
    ``multipliers[a]`` = (thickness, kv, storage) (see the module docstring)."""
    def scaled(material, thickness, kv, storage):
        changes = {name: getattr(material, name) * storage
                   for name in ("sske", "sskv", "cc", "cr")
                   if getattr(material, name) is not None}
        if material.kind in ("interbeds", "nodelay"):
            changes["thickness"] = material.thickness * thickness
        if material.kind == "interbeds":
            changes["kv"] = material.kv * kv
        return replace(material, **changes)

    aquifers = []
    for aquifer, factors in zip(case.aquifers, np.asarray(multipliers, dtype=np.float64)):
        aquifers.append(replace(
            aquifer,
            interbeds=tuple(scaled(ib, *factors) for ib in aquifer.interbeds),
            nodelay=None if aquifer.nodelay is None else scaled(aquifer.nodelay, *factors),
            coarse=None if aquifer.coarse is None else scaled(aquifer.coarse, *factors)))
    return replace(case, aquifers=tuple(aquifers))


def run_member(member: Member) -> MemberRun:
    """Fit the member's solver on the baseline case's history (split "none"; a no-op for
    uncalibrated physics) and predict both cases."""
    from engine.registry import make_solver
    from engine.split import Split

    started = time.perf_counter()
    baseline, scenario = _case(member.baseline), _case(member.scenario)
    if member.multipliers is not None:
        baseline = perturbed(baseline, member.multipliers)
        scenario = perturbed(scenario, member.multipliers)
    solver = make_solver(member.solver, **member.options)
    solver.fit(baseline, Split("none"))
    return MemberRun(np.asarray(solver.predict(baseline).displacement, dtype=np.float64),
                     np.asarray(solver.predict(scenario).displacement, dtype=np.float64),
                     time.perf_counter() - started)


def member_options(solver: str, preset: str) -> dict:
    """The options every member of ``solver`` runs with: single-threaded, ``preset`` for
    solvers that have presets; a bad preset is refused here, before any task runs."""
    from engine.registry import solver_class

    cls = solver_class(solver)
    options = {key: 1 for key in _THREAD_OPTIONS if key in cls.defaults}
    if "preset" in cls.defaults:
        options["preset"] = preset
    cls(**options)
    return options


def ensemble(solver: str, options: dict, cases: Cases, n_aquifers: int, members: int,
             seed: int, spread: dict) -> tuple[list[Member], str]:
    """The members of ``solver`` and, in words, how they differ."""
    from engine.registry import solver_class

    cls = solver_class(solver)
    common = {"solver": solver, "baseline": str(cases.baseline),
              "scenario": str(cases.scenario)}
    if cls.kind == "physics":
        sigma = np.array([spread[p] for p in PARAMETERS])
        shape = (n_aquifers, len(PARAMETERS))
        factors = [np.ones(shape)] + [
            np.exp(sigma * np.random.default_rng([seed, m]).standard_normal(shape))
            for m in range(1, members)]
        how = ("log-normal multipliers of thickness, kv and storage per aquifer, drawn by "
               f"numpy default_rng([{seed}, m]); member 0 = the unperturbed prior")
        return [Member(options=options, index=m, seed=seed, multipliers=factors[m], **common)
                for m in range(members)], how
    if "seed" in cls.defaults:
        how = f"fitted on the baseline history (split none) with seed {seed} + m"
        return [Member(options={**options, "seed": seed + m}, index=m, seed=seed + m,
                       **common) for m in range(members)], how
    return ([Member(options=options, index=m, seed=seed, **common) for m in range(members)],
            "a deterministic solver: identical members")


# -- statistics ---------------------------------------------------------------------------

def severe_cells(case) -> np.ndarray | None:
    """bool [N]: the cells whose observed rate (least squares over every observation) is
    below SEVERE_RATE_MM_PER_YEAR; None without observed displacement."""
    from engine.evaluate import DAYS_PER_YEAR, linear_rate, subsidence_zone

    observed = case.observations.displacement
    if observed is None or not np.isfinite(observed).any():
        return None
    rate = linear_rate(case.days, observed, np.isfinite(observed)) * 1e3 * DAYS_PER_YEAR
    return subsidence_zone(rate) == "severe"


def member_statistics(difference: np.ndarray, severe: np.ndarray | None) -> dict:
    """Per member and time [M, T] (m): area mean, severe-zone mean (NaN without a zone),
    min and max over the cells of ``difference`` [M, N, T]."""
    if severe is not None and severe.any():
        severe_mean = difference[:, severe].mean(axis=1)
    else:
        severe_mean = np.full((len(difference), difference.shape[2]), np.nan)
    return {"area_mean": difference.mean(axis=1), "severe_mean": severe_mean,
            "cell_min": difference.min(axis=1), "cell_max": difference.max(axis=1)}


def milestones(times: np.ndarray, start: np.datetime64, until: np.datetime64) -> list[int]:
    """Indices of the months every MILESTONE_MONTHS from ``start`` (excluded) and of
    ``until``."""
    months = times.astype("datetime64[M]")
    first = np.datetime64(start, "M")
    wanted = [first + k for k in range(MILESTONE_MONTHS, int(until - first),
                                       MILESTONE_MONTHS)] + [until]
    return [int(np.searchsorted(months, m)) for m in wanted]


@dataclass
class SolverOutcome:
    """One solver's ensemble: displacement [M, N, T] (m, up positive) of every member on
    both cases, the members' wall times (s) and the whole ensemble's."""

    solver: str
    kind: str
    how: str
    members: list
    baseline: np.ndarray
    scenario: np.ndarray
    member_seconds: list
    seconds: float

    @classmethod
    def of(cls, solver, kind, how, members, runs, seconds) -> "SolverOutcome":
        return cls(solver, kind, how, members, np.stack([r.baseline for r in runs]),
                   np.stack([r.scenario for r in runs]), [r.seconds for r in runs], seconds)

    @property
    def difference(self) -> np.ndarray:
        """[M, N, T] m, scenario - baseline (positive: less subsidence)."""
        return self.scenario - self.baseline


# -- writing ---------------------------------------------------------------------------

def _temporary_text(path: Path, text: str) -> Path:
    """``text`` written beside ``path`` under a temporary name, for os.replace."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    return tmp


def write_store(path: Path, outcomes, baseline, scenario, severe, about) -> None:
    """whatif.h5 at ``path`` (see the module docstring)."""
    import h5netcdf
    import h5py

    from engine.registry import solver_class
    from engine.result import Result, write_result
    from engine.split import Split

    string = h5py.string_dtype()
    until_index = baseline.n_times - 1
    for o in outcomes:
        b, s = o.baseline, o.scenario
        # the members' common options (a trained member's seed is in S.band/member_seed)
        options = {k: v for k, v in o.members[0].options.items() if k != "seed"}
        common = {"options": options, "wall_seconds": o.seconds,
                  "split": (Split("none").to_dict() if solver_class(o.solver).stateful
                            else None)}
        write_result(Result.for_case(baseline, o.solver, o.kind, b.mean(axis=0), **common),
                     path, group=f"{o.solver}.baseline")
        write_result(Result.for_case(scenario, o.solver, o.kind, s.mean(axis=0), **common),
                     path, group=f"{o.solver}.scenario")
        difference = o.difference
        with h5netcdf.File(path, "a") as f:
            g = f.create_group(f"{o.solver}.band")
            g.dimensions.update(time=baseline.n_times, cell=baseline.n_cells,
                                member=len(o.members), aquifer=len(baseline.aquifers),
                                parameter=len(PARAMETERS))
            for name, dim, values in (
                    ("time", "time", [str(t) for t in baseline.times]),
                    ("cell", "cell", [str(c) for c in baseline.cells.ids]),
                    ("aquifer", "aquifer", baseline.aquifer_names),
                    ("parameter", "parameter", list(PARAMETERS))):
                g.create_variable(name, (dim,), dtype=string,
                                  data=np.array(values, dtype=object))
            g.create_variable("member", ("member",), data=np.arange(len(o.members)))

            def variable(name, dims, values, units="m", **attrs):
                v = g.create_variable(name, dims, data=np.asarray(values, dtype=np.float64))
                v.attrs.update(units=units, **attrs)

            variable("x", ("cell",), baseline.cells.x)
            variable("y", ("cell",), baseline.cells.y)
            up = {"positive": "up", "coordinates": "x y"}
            for q, value in zip(PERCENTILES, np.percentile(difference, PERCENTILES, axis=0)):
                variable(f"p{q:02.0f}", ("cell", "time"), value,
                         long_name=f"{q:g} % of the members' scenario - baseline", **up)
            variable("mean", ("cell", "time"), difference.mean(axis=0),
                     long_name="ensemble-mean scenario - baseline", **up)
            for label, values in (("baseline", b), ("scenario", s)):
                low, high = np.percentile(values, BAND, axis=0)
                variable(f"{label}_p05", ("cell", "time"), low, **up)
                variable(f"{label}_p95", ("cell", "time"), high, **up)
            variable("difference_at_until", ("member", "cell"),
                     difference[:, :, until_index], **up)
            for name, values in member_statistics(difference, severe).items():
                variable(name, ("member", "time"), values, positive="up")
            g.create_variable("member_seed", ("member",),
                              data=np.array([m.seed for m in o.members], dtype=np.int64))
            variable("member_wall_seconds", ("member",), o.member_seconds, "s")
            variable("multipliers", ("member", "aquifer", "parameter"),
                     [m.multipliers if m.multipliers is not None
                      else np.ones((len(baseline.aquifers), len(PARAMETERS)))
                      for m in o.members], "1")
            g.attrs.update(solver=o.solver, kind=o.kind, ensemble=o.how,
                           spread=json.dumps(about["spread"], sort_keys=True),
                           severe_cells=int(0 if severe is None else severe.sum()),
                           difference="scenario - baseline displacement, m, positive = "
                                      "less subsidence")
    with h5netcdf.File(path, "a") as f:
        f.attrs.update({key: (json.dumps(value) if isinstance(value, (dict, list))
                              else value) for key, value in about.items()})


def _band(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, 5 %, 95 %) over members, mm."""
    low, high = np.percentile(values, BAND)
    return 1e3 * float(np.mean(values)), 1e3 * float(low), 1e3 * float(high)


def summary_markdown(outcomes, baseline, cases: Cases, severe, about) -> str:
    until = baseline.times[-1]
    rows = milestones(baseline.times, cases.start, np.datetime64(until, "M"))
    n_severe = 0 if severe is None else int(severe.sum())
    lines = [f"# What-if: {cases.scenario_name} vs {cases.baseline_name}", "",
             f"- case: {about['case']} ({about['case_file']}), {baseline.n_cells} cells, "
             f"{baseline.times[0]} to {until}",
             f"- scenario: {cases.scenario_name} ({cases.scenario_file})"
             + (f": {cases.description}" if cases.description else ""),
             f"- baseline: {cases.baseline_name} ({cases.baseline_file or 'no file'})",
             f"- heads: {cases.heads}"
             + (" (the twin made again under each; cases in cases/)"
                if cases.heads == "flow model" else
                " (seasonal continuation: the last 12 months repeated, plus offsets)"),
             f"- scenario start {str(cases.start)[:7]}, until {str(until)[:7]}",
             f"- ensemble: {about['members']} members per solver, seed {about['seed']}; "
             f"physics spread (ln-standard deviations) {about['spread']}",
             f"- severe zone: {n_severe} cells with observed rate < "
             f"{SEVERE_RATE_MM_PER_YEAR:g} mm/yr" if severe is not None else
             "- severe zone: no observed displacement, not computed",
             f"- wall time: {about['wall_seconds']:.1f} s (cases {cases.seconds:.1f} s)", "",
             "Difference = scenario - baseline displacement, mm, positive = less "
             "subsidence. Each value is the ensemble mean of the members' statistic, "
             "with its 5-95 % range over the members in brackets.", ""]
    headers = ("month", "area mean", f"severe zone ({n_severe} cells)", "min over cells",
               "max over cells")
    for o in outcomes:
        stats = member_statistics(o.difference, severe)
        walls = o.member_seconds
        lines += [f"## {o.solver} ({o.kind})", "",
                  f"{len(o.members)} members: {o.how}. Wall {o.seconds:.1f} s; per member "
                  f"{min(walls):.1f}-{max(walls):.1f} s.", "",
                  "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for t in rows:
            cells = []
            for key in ("area_mean", "severe_mean", "cell_min", "cell_max"):
                values = stats[key][:, t]
                cells.append("n/a" if not np.isfinite(values).all()
                             else "{:.1f} [{:.1f}, {:.1f}]".format(*_band(values)))
            lines.append(f"| {str(baseline.times[t])[:7]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _file_name(solver: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", solver)


def series_cells(outcomes, baseline) -> list[tuple[int, str]]:
    """(cell index, why) for the time series: the SERIES_CELLS cells of most subsidence
    at the end (mean over the solvers' baselines), then an extensometer site."""
    last = np.mean([o.baseline[:, :, -1].mean(axis=0) for o in outcomes], axis=0)
    chosen = [(int(c), "most baseline subsidence") for c in np.argsort(last)[:SERIES_CELLS]]
    sites = baseline.observations.extensometers
    if sites is not None and len(sites["cell"]):
        taken = {c for c, _ in chosen}
        cells, first = np.unique(sites["cell"], return_index=True)
        for cell, k in sorted(zip(cells, first), key=lambda p: last[p[0]]):
            if int(cell) not in taken:
                chosen.append((int(cell), f"extensometer {sites['site'][k]}"))
                break
    return chosen


def write_figures(folder: Path, outcomes, baseline, cases: Cases) -> None:
    from engine.app import plots

    x, y = baseline.cells.x, baseline.cells.y
    picked = series_cells(outcomes, baseline)
    marked = np.zeros(baseline.n_cells, dtype=bool)
    marked[[c for c, _ in picked]] = True
    until = str(baseline.times[-1])[:7]
    differences = {o.solver: (o.scenario[:, :, -1] - o.baseline[:, :, -1]) * 1e3
                   for o in outcomes}
    plots.map_panels(folder / "difference-map.png", x, y,
                     {f"{s}: ensemble mean": d.mean(axis=0) for s, d in differences.items()},
                     title=f"{cases.scenario_name} - {cases.baseline_name}\nat {until} "
                           "(mm, + = less subsidence)",
                     diverging=True, marked=marked, marked_label="time-series cells",
                     shared_scale=False)
    plots.map_panels(folder / "band-width-map.png", x, y,
                     {f"{s}: 5-95 % width": np.subtract(*np.percentile(d, BAND[::-1], axis=0))
                      for s, d in differences.items()},
                     title=f"5-95 % band width of the difference\nat {until} (mm)",
                     marked=marked, marked_label="time-series cells", shared_scale=False)
    observed = baseline.observations.displacement
    for o in outcomes:
        runs = {"baseline": o.baseline * 1e3, "scenario": o.scenario * 1e3,
                "scenario - baseline": o.difference * 1e3}

        def panel(cell, why, labels):
            return {"title": f"{baseline.cells.ids[cell]} ({why})",
                    "observed": (observed[cell] * 1e3 if observed is not None
                                 and "baseline" in labels else None),
                    "lines": {k: runs[k][:, cell].mean(axis=0) for k in labels},
                    "bands": {k: tuple(np.percentile(runs[k][:, cell], BAND, axis=0))
                              for k in labels},
                    "mark": cases.start}

        # the difference is small beside the displacement: it gets its own figure
        for name, labels, ylabel in (
                ("series", ("baseline", "scenario"), "displacement (mm, up positive)"),
                ("difference-series", ("scenario - baseline",),
                 "difference (mm, + = less subsidence)")):
            plots.series_panels(
                folder / f"{name}-{_file_name(o.solver)}.png", baseline.times,
                [panel(cell, why, labels) for cell, why in picked],
                title=f"{o.solver}: {cases.scenario_name} (scenario) vs "
                      f"{cases.baseline_name} (baseline), ensemble mean and 5-95 %",
                ylabel=ylabel)


# -- the command ---------------------------------------------------------------------------

def parse_spread(text: str | None, base: dict) -> dict:
    """``thickness=0.15,kv=0.6,storage=0.25`` (any subset) over ``base``."""
    spread = dict(base)
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = (part.strip() for part in pair.partition("="))
        if key not in PARAMETERS or not sep:
            raise InputError("command line", "--spread", f'"{pair}" is not '
                             f"<parameter>=<ln-standard deviation> with a parameter among "
                             f"{', '.join(PARAMETERS)}")
        try:
            spread[key] = float(value)
        except ValueError:
            spread[key] = float("nan")
        if not np.isfinite(spread[key]) or spread[key] < 0:
            raise InputError("command line", f"--spread {key}", f'"{value}" is not a '
                             "finite number >= 0")
    return spread


def whatif(case, scenario, solvers, out, *, until=None, baseline=None, members: int = 8,
           preset: str = "default", spread: str | None = None, scheduler: str = "local",
           workers: int | None = None, seed: int = 0, progress: bool = True,
           log=print) -> dict:
    """Run the what-if (see the module docstring); returns {"cases": Cases, "outcomes":
    [SolverOutcome], "seconds": float, "out": Path}."""
    from engine.app.distributed import run_tasks
    from engine.registry import solver_class

    started = time.perf_counter()
    out = Path(out)
    solvers = [s.strip() for s in (solvers.split(",") if isinstance(solvers, str)
                                   else solvers) if s.strip()]
    if not solvers:
        raise InputError("command line", "--solvers", "no solver given, e.g. terzaghi,lstm")
    repeated = sorted({s for s in solvers if solvers.count(s) > 1})
    if repeated:
        raise InputError("command line", "--solvers", f'"{repeated[0]}" is given twice')
    kinds = {s: solver_class(s).kind for s in solvers}
    options = {s: member_options(s, preset) for s in solvers}
    if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or members < 1:
        raise InputError("command line", "--members", f"{members} is not an integer >= 1")
    if workers is not None and scheduler != "local":
        # run_tasks refuses it too, but only after the (slow) cases are made
        raise InputError("command line", "--workers", f"sets the size of a local cluster; "
                         f'scheduler "{scheduler}" has its own workers')
    manifest = case_manifest(case)
    out.mkdir(parents=True, exist_ok=True)
    if (manifest.parent / GENERATOR_RECORD).is_file():
        cases = twin_cases(manifest, scenario, baseline, until, out, log)
    else:
        cases = transformed_cases(manifest, scenario, baseline, until, out, DEFAULT_SPREAD,
                                  log)
    used_spread = parse_spread(spread, cases.spread)
    base_case, scen_case = _case(str(cases.baseline)), _case(str(cases.scenario))
    outcomes = []
    for solver in solvers:
        items, how = ensemble(solver, options[solver], cases, len(base_case.aquifers),
                              members, seed, used_spread)
        log(f"{solver}: {members} members ({how})")
        begun = time.perf_counter()
        runs = run_tasks(run_member, items, scheduler=scheduler, workers=workers,
                         threads=1, progress=progress, label=f"{solver} members")
        outcomes.append(SolverOutcome.of(solver, kinds[solver], how, items, runs,
                                         time.perf_counter() - begun))
    severe = severe_cells(base_case)
    seconds = time.perf_counter() - started
    about = {"case": cases.case_name,
             "case_file": str(manifest), "scenario": cases.scenario_name,
             "scenario_file": cases.scenario_file, "baseline": cases.baseline_name,
             "baseline_file": cases.baseline_file or "", "heads": cases.heads,
             "scenario_start": str(cases.start), "until": str(base_case.times[-1]),
             "members": int(members), "seed": int(seed), "spread": used_spread,
             "solvers": solvers, "preset": preset, "wall_seconds": round(seconds, 2),
             "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    publish(out, outcomes, base_case, scen_case, cases, severe, about)
    log(f"wrote {out / 'whatif.h5'}, {out / 'summary.md'} and {out / 'figures'} in "
        f"{time.perf_counter() - started:.1f} s")
    return {"cases": cases, "outcomes": outcomes, "seconds": seconds, "out": out}


def publish(out: Path, outcomes, baseline, scenario, cases: Cases, severe, about) -> None:
    """Write the store, the summary and the figures under temporary names, then move
    them into place (an interruption leaves the previous outputs, not half of new ones)."""
    store = out / f".whatif.h5.{os.getpid()}.tmp"
    figures = out / f".figures.{os.getpid()}.partial"
    summary = None
    try:
        store.unlink(missing_ok=True)
        shutil.rmtree(figures, ignore_errors=True)
        write_store(store, outcomes, baseline, scenario, severe, about)
        write_figures(figures, outcomes, baseline, cases)
        summary = _temporary_text(out / "summary.md",
                               summary_markdown(outcomes, baseline, cases, severe, about))
        os.replace(store, out / "whatif.h5")
        shutil.rmtree(out / "figures", ignore_errors=True)
        figures.rename(out / "figures")
        os.replace(summary, out / "summary.md")
    finally:
        store.unlink(missing_ok=True)
        shutil.rmtree(figures, ignore_errors=True)
        if summary is not None:
            summary.unlink(missing_ok=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="landsub whatif",
        description="Difference maps and series of a management scenario against a "
                    "baseline, per solver, with an ensemble band (see engine/app/whatif.py).")
    p.add_argument("case", help="case folder or manifest, or beijing:<size>[:<seed>]; a "
                                "Beijing twin (with generator.json) is made again under "
                                "each scenario")
    p.add_argument("--scenario", required=True, help="scenario file (TOML), e.g. "
                   "cases/beijing/scenarios/deep-pumping-cut-30.toml")
    p.add_argument("--solvers", required=True, help="comma-separated solver names, e.g. "
                                                    "terzaghi,lstm")
    p.add_argument("--until", help="last month, e.g. 2035-12 (default: the scenario's "
                                   "until)")
    p.add_argument("--baseline", help="baseline scenario file (twin default: "
                   "business-as-usual; other cases: the seasonal continuation alone)")
    p.add_argument("--members", type=int, default=8, help="ensemble members per solver")
    p.add_argument("--preset", choices=("default", "fast", "seminar"), default="default",
                   help="hyperparameters of trained solvers")
    p.add_argument("--spread", help="ln-standard deviations of the physics multipliers, "
                   "e.g. thickness=0.15,kv=0.6,storage=0.25 (default: the twin's prior "
                   "spread, else those)")
    p.add_argument("--scheduler", default="local", help='"local" (a Dask cluster on this '
                   'machine), "serial" or a scheduler address tcp://host:port')
    p.add_argument("--workers", type=int, help="worker processes of the local cluster "
                                               "(default: the CPU count)")
    p.add_argument("--seed", type=int, default=0, help="seed of the ensemble")
    p.add_argument("--out", required=True, help="output folder")
    return p


def main_whatif(argv) -> int:
    """Entry point of `landsub whatif` (argv: its arguments)."""
    args = build_parser().parse_args(argv)
    try:
        whatif(args.case, args.scenario, args.solvers, args.out, until=args.until,
               baseline=args.baseline, members=args.members, preset=args.preset,
               spread=args.spread, scheduler=args.scheduler, workers=args.workers,
               seed=args.seed)
    except LandsubError as err:
        print(f"landsub whatif: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("landsub whatif: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main_whatif(sys.argv[1:]))
