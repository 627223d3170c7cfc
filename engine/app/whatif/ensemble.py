"""The ensemble members of a what-if: how the members of a solver differ (perturbed
physics, reseeded networks; see the package docstring), one member's run, and a
solver's gathered outcome."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.errors import InputError

PARAMETERS = ("thickness", "kv", "storage")
#: ln-standard deviations of the multipliers for cases without a prior spread (those of
#: the twin generator's [prior]: the errors a modeller's prior typically carries)
DEFAULT_SPREAD = {"thickness": 0.15, "kv": 0.6, "storage": 0.25}
#: solver options that set a task's threads; every member runs single-threaded
_THREAD_OPTIONS = ("threads", "workers", "physics.threads")


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
    model: str | None = None       # a fitted calibration: the member is its posterior member


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


def cached_case(path: str):
    """The case at ``path``, loaded once per process (per file version)."""
    stat = os.stat(path)
    return _load(path, (stat.st_mtime_ns, stat.st_size))


def perturbed(case, multipliers):
    """``case`` with every aquifer's compressible parameters multiplied by its factors
    ``multipliers[a]`` = (thickness, kv, storage) (see the package docstring)."""
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


@functools.lru_cache(maxsize=2)
def _calibration(folder: str):
    from engine.persistence import load_model

    return load_model(folder)


def run_member(member: Member) -> MemberRun:
    """Fit the member's solver on the baseline case's history (split "none"; a no-op for
    uncalibrated physics) and predict both cases; a posterior member runs the physics
    with its parameters from the calibration fitted once (``fit_calibration``)."""
    from engine.registry import make_solver
    from engine.split import Split

    started = time.perf_counter()
    baseline, scenario = cached_case(member.baseline), cached_case(member.scenario)
    if member.model is not None:
        solver = _calibration(member.model)
        runs = [solver.physics_solver.predict(solver.posterior_members(case)[member.index])
                for case in (baseline, scenario)]
        return MemberRun(*(np.asarray(r.displacement, dtype=np.float64) for r in runs),
                         time.perf_counter() - started)
    if member.multipliers is not None:
        baseline = perturbed(baseline, member.multipliers)
        scenario = perturbed(scenario, member.multipliers)
    solver = make_solver(member.solver, **member.options)
    solver.fit(baseline, Split("none"))
    return MemberRun(np.asarray(solver.predict(baseline).displacement, dtype=np.float64),
                     np.asarray(solver.predict(scenario).displacement, dtype=np.float64),
                     time.perf_counter() - started)


def member_options(solver: str, preset: str, given: dict | None = None) -> dict:
    """The options every member of ``solver`` runs with: single-threaded, ``preset`` for
    solvers that have presets, then those ``given`` (typed --option values); bad ones
    are refused here, before any task runs."""
    from engine.registry import solver_class

    given = given or {}
    if "seed" in given:
        raise InputError("--option", f"{solver}:seed", "the ensemble sets the seeds of its "
                         "members: use --seed")
    cls = solver_class(solver)
    options = {key: 1 for key in _THREAD_OPTIONS if key in cls.defaults}
    if "preset" in cls.defaults:
        options["preset"] = preset
    options.update(given)
    cls(**options)
    return options


def calibrates(solver: str) -> bool:
    """Whether ``solver`` fits a posterior ensemble of its parameters (calibrated:*)."""
    from engine.registry import solver_class

    return hasattr(solver_class(solver), "posterior_members")


def calibration_options(solver: str, options: dict, members: int) -> dict:
    """``options`` with a posterior of at least ``members`` members: the members option
    given, else the solver's default, raised to ``members`` (a members option given
    below it is refused)."""
    from engine.registry import solver_class

    if "members" in options and options["members"] < members:
        raise InputError("--option", f"{solver}:members", f"{options['members']} posterior "
                         f"members cannot give the {members} ensemble members asked for "
                         "(--members)")
    posterior = options.get("members", solver_class(solver).defaults["members"])
    return {**options, "members": max(members, posterior)}


def fit_calibration(solver: str, options: dict, cases, folder: Path, seed: int) -> str:
    """Fit ``solver`` (calibrated:*) once on the baseline history (split "none"), save
    it to ``folder`` and return that path: its posterior members are the ensemble."""
    from engine.persistence import save_model
    from engine.registry import make_solver, solver_class
    from engine.split import Split

    # one fit in this process: it may use every thread, unlike the single-threaded members
    threads = {k: v for k, v in solver_class(solver).defaults.items() if k in _THREAD_OPTIONS}
    fitted = make_solver(solver, **{**options, **threads, "seed": seed})
    fitted.fit(cached_case(str(cases.baseline)), Split("none"))
    save_model(fitted, folder)
    return str(folder)


def ensemble(solver: str, options: dict, cases, n_aquifers: int, members: int,
             seed: int, spread: dict, model: str | None = None) -> tuple[list[Member], str]:
    """The members of ``solver`` on ``cases`` (the what-if's Cases) and, in words, how
    they differ; ``model``: the fitted calibration of a solver that ``calibrates``."""
    from engine.registry import solver_class

    cls = solver_class(solver)
    common = {"solver": solver, "baseline": str(cases.baseline),
              "scenario": str(cases.scenario)}
    if model is not None:
        how = (f"the first {members} members of the posterior of a calibration (ES-MDA, "
               f"{options['members']} members, seed {seed}) fitted once on the baseline "
               "history (split none): member m runs the physics with posterior member "
               "m's parameters")
        return [Member(options=options, index=m, seed=seed, model=model, **common)
                for m in range(members)], how
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
