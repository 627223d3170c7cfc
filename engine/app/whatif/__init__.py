"""`landsub whatif`: a management scenario against a baseline, per solver, with a band.

    landsub whatif CASE --scenario S.toml --solvers terzaghi,lstm [--until 2035-12]
        [--baseline B.toml] [--members 8] [--preset default|fast|seminar]
        [--spread thickness=0.15,kv=0.6,storage=0.25] [--option SOLVER:KEY=VALUE ...]
        [--scheduler local|serial|tcp://...] [--workers N] [--seed 0] --out DIR

Scenario files are in the format of ``engine.scenario``; a twin reads them with its
zones and recharge kinds (``cases.beijing.scenario``), any other case with none.
--option sets a solver's option for every one of its members, as in ``landsub bench``
(``engine.app.options``); the ensemble sets the members' seeds (--seed).

Modules: ``cases`` (the baseline and scenario cases), ``ensemble`` (the members),
``store`` (statistics, whatif.h5, summary.md), ``figures``.

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
- calibrated physics (calibrated:*): the solver is fitted once on every history
  observation of the BASELINE case (split "none", seed --seed; saved in
  DIR/models/<solver>), with a posterior of at least M members (its members option,
  default 64, raised to M; a smaller one given is refused); member m runs the physics
  with posterior member m's parameters (``posterior_members``) on both cases.
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
- group "S.band": the ensemble spread. Coordinates time (CF dates, as in the results),
  cell (ids), x, y (m), member
  (0..M-1), aquifer, parameter ("thickness", "kv", "storage"). Variables, m, where the
  difference is scenario - baseline displacement (positive: less subsidence):
  p05, p50, p95 (cell, time): percentiles over the members of the difference;
  mean (cell, time): the ensemble-mean difference;
  baseline_p05, baseline_p95, scenario_p05, scenario_p95 (cell, time): percentiles of
  the displacement of each case;
  difference_at_until (member, cell): each member's difference at --until;
  area_mean, severe_mean, cell_min, cell_max (member, time): each member's
  difference averaged over all cells, over the severe zone (observed rate below the
  severe limit of --zones, -30 mm/yr by default; NaN without observations), and its
  minimum and maximum over the cells;
  member_seed (member), member_wall_seconds (member) (s);
  multipliers (member, aquifer, parameter): the factors of physics members (1 for
  others). Attributes: solver, kind, ensemble (how members differ), spread (JSON),
  severe_cells.
On a twin (both cases re-made, each with its truth/), after every solver predicted,
``engine.app.truth`` scores each solver's effect against the true effect at the
milestones (area mean, severe-zone mean and maximum with their relative errors, per-cell
RMSE, band coverage and mean width): group "truth" (effect (cell, time), scores
(solver, month, metric)) and truth-scores.csv (tidy: solver, month, metric, value;
only its header for other cases).
summary.md: per solver, at milestones every 2 years from the scenario start and at
--until, the difference in mm (area mean, severe-zone mean, min, max over the cells):
each the ensemble mean of the member's statistic with its 5-95 % band over members;
then the table against the truth (or why there is none).
figures/: difference-map.png (the truth's panel first on a twin) and band-width-map.png
(at --until, one panel per solver, one colour scale per figure), band-coverage-map.png
(twins: where the true effect lies below, inside or above each band),
series-<solver>.png (baseline and scenario, each with its 5-95 % band, and the
observations) and difference-series-<solver>.png (the
difference with its band; on a twin the true effect, dashed) at the 3 cells of most
baseline subsidence and at an extensometer site, the scenario start marked.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time
from pathlib import Path

import numpy as np

from engine import atomic
from engine.app.options import options_per_solver, parse_solver_options, signed_values
from engine.app.truth import true_effect, whatif_scores
from engine.app.whatif.cases import (
    Cases,
    case_manifest,
    continued,
    is_twin,
    transformed_cases,
    twin_cases,
)
from engine.app.whatif.ensemble import (
    DEFAULT_SPREAD,
    PARAMETERS,
    SolverOutcome,
    cached_case,
    calibrates,
    calibration_options,
    ensemble,
    fit_calibration,
    member_options,
    parse_spread,
    perturbed,
    run_member,
)
from engine.app.whatif.figures import file_name, write_figures
from engine.app.whatif.store import (
    BAND,
    SCORES_FILE,
    severe_cells,
    summary_markdown,
    summary_months,
    write_store,
)
from engine.atomic import check_output
from engine.errors import InputError, run_command
from engine.evaluate import ZONE_LIMITS, parse_zone_limits

#: what callers and tests use from the package
__all__ = ["whatif", "main_whatif", "build_parser", "publish", "Cases", "continued",
           "perturbed", "run_member", "ensemble", "DEFAULT_SPREAD", "PARAMETERS",
           "write_figures"]


def whatif(case, scenario, solvers, out, *, until=None, baseline=None, members: int = 8,
           preset: str = "default", spread: str | None = None, options: dict | None = None,
           scheduler: str = "local", workers: int | None = None, seed: int = 0,
           progress: bool = True, log=print, zones: str | None = None) -> dict:
    """Run the what-if (see the package docstring); ``options``: solver name -> {key:
    value text} (``parse_solver_options`` of --option); ``zones``: the --zones text (rate
    limits in mm/yr, ``engine.evaluate.parse_zone_limits``; None: the default). Returns
    {"cases": Cases, "outcomes": [SolverOutcome], "seconds": float, "out": Path}."""
    from engine.app.distributed import run_tasks
    from engine.registry import solver_class

    started = time.perf_counter()
    out = check_output(out, "folder")   # before any case is made or solver runs
    limits = ZONE_LIMITS if zones is None else parse_zone_limits(zones)
    solvers = [s.strip() for s in (solvers.split(",") if isinstance(solvers, str)
                                   else solvers) if s.strip()]
    if not solvers:
        raise InputError("command line", "--solvers", "no solver given, e.g. terzaghi,lstm")
    repeated = sorted({s for s in solvers if solvers.count(s) > 1})
    if repeated:
        raise InputError("command line", "--solvers", f'"{repeated[0]}" is given twice')
    kinds = {s: solver_class(s).kind for s in solvers}
    given = options_per_solver(solvers, options or {})
    options = {s: member_options(s, preset, given[s]) for s in solvers}
    options.update({s: calibration_options(s, options[s], members) for s in solvers
                    if calibrates(s)})
    if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or members < 1:
        raise InputError("command line", "--members", f"{members} is not an integer >= 1")
    if workers is not None and scheduler != "local":
        # run_tasks refuses it too, but only after the (slow) cases are made
        raise InputError("command line", "--workers", f"sets the size of a local cluster; "
                         f'scheduler "{scheduler}" has its own workers')
    manifest = case_manifest(case)
    out.mkdir(parents=True, exist_ok=True)
    if is_twin(manifest):
        cases = twin_cases(manifest, scenario, baseline, until, out, log)
    else:
        cases = transformed_cases(manifest, scenario, baseline, until, out, DEFAULT_SPREAD,
                                  log)
    used_spread = parse_spread(spread, cases.spread)
    base_case, scen_case = cached_case(str(cases.baseline)), cached_case(str(cases.scenario))
    outcomes = []
    for solver in solvers:
        begun = time.perf_counter()
        model = None
        if calibrates(solver):
            log(f"{solver}: calibrating on the baseline history")
            model = fit_calibration(solver, options[solver], cases,
                                    out / "models" / file_name(solver), seed)
        items, how = ensemble(solver, options[solver], cases, len(base_case.aquifers),
                              members, seed, used_spread, model)
        log(f"{solver}: {members} members ({how})")
        runs = run_tasks(run_member, items, scheduler=scheduler, workers=workers,
                         threads=1, progress=progress, label=f"{solver} members")
        outcomes.append(SolverOutcome.of(solver, kinds[solver], how, items, runs,
                                         time.perf_counter() - begun))
    severe = severe_cells(base_case, limits)
    # every solver has predicted: only now may the hidden truth be read (twins only)
    truth = true_effect(cases.baseline, cases.scenario, base_case, scen_case)
    seconds = time.perf_counter() - started
    about = {"case": cases.case_name,
             "case_file": str(manifest), "scenario": cases.scenario_name,
             "scenario_file": cases.scenario_file, "baseline": cases.baseline_name,
             "baseline_file": cases.baseline_file or "", "heads": cases.heads,
             "scenario_start": str(cases.start), "until": str(base_case.times[-1]),
             "members": int(members), "seed": int(seed), "spread": used_spread,
             "solvers": solvers, "preset": preset, "zones": list(limits),
             "wall_seconds": round(seconds, 2),
             "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    publish(out, outcomes, base_case, scen_case, cases, severe, about, truth)
    log(f"wrote {out / 'whatif.h5'}, {out / 'summary.md'}, {out / SCORES_FILE} and "
        f"{out / 'figures'} in "
        f"{time.perf_counter() - started:.1f} s")
    return {"cases": cases, "outcomes": outcomes, "seconds": seconds, "out": out,
            "truth": truth}


def publish(out: Path, outcomes, baseline, scenario, cases: Cases, severe, about,
            truth=None) -> None:
    """Write the store, the figures, the summary and the scores against ``truth`` (the
    true effect [N, T], m, or None) under temporary names and move them into place only
    once all are written (an interruption leaves the previous outputs, not half of new
    ones)."""
    scores = None
    if truth is not None:
        scores = whatif_scores(outcomes, truth, severe, summary_months(baseline, cases),
                               baseline.times, BAND)
    with (atomic.replacing(out / "whatif.h5") as store,
          atomic.replacing_folder(out / "figures") as figures,
          atomic.replacing(out / "summary.md") as summary,
          atomic.replacing(out / SCORES_FILE) as table):
        write_store(store, outcomes, baseline, scenario, severe, about, truth, scores)
        write_figures(figures, outcomes, baseline, cases, truth)
        summary.write_text(summary_markdown(outcomes, baseline, cases, severe, about,
                                            scores), encoding="utf-8")
        table.write_text("solver,month,metric,value\n" if scores is None else
                         scores.to_csv(index=False, float_format="%.6g"), encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="landsub whatif",
        description="Difference maps and series of a management scenario against a "
                    "baseline, per solver, with an ensemble band (see engine/app/whatif/).")
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
    p.add_argument("--option", action="append", metavar="SOLVER:KEY=VALUE",
                   help="a solver option for every member of that solver, repeatable, "
                        "e.g. lstm:hidden=32 (as in landsub bench)")
    p.add_argument("--scheduler", default="local", help='"local" (a Dask cluster on this '
                   'machine), "serial" or a scheduler address tcp://host:port')
    p.add_argument("--workers", type=int, help="worker processes of the local cluster "
                                               "(default: the CPU count)")
    p.add_argument("--seed", type=int, default=0, help="seed of the ensemble")
    p.add_argument("--zones", help="rate-zone limits SEVERE,REBOUND in mm/yr: the severe "
                   f"zone is the cells whose observed rate is below SEVERE (default "
                   f"{','.join(f'{v:g}' for v in ZONE_LIMITS)})")
    p.add_argument("--out", required=True, help="output folder")
    return p


def main_whatif(argv) -> int:
    """Entry point of `landsub whatif` (argv: its arguments)."""
    args = build_parser().parse_args(signed_values(argv))
    return run_command("landsub whatif", lambda: whatif(
        args.case, args.scenario, args.solvers, args.out, until=args.until,
        baseline=args.baseline, members=args.members, preset=args.preset,
        spread=args.spread, options=parse_solver_options(args.option),
        scheduler=args.scheduler, workers=args.workers, seed=args.seed, zones=args.zones))
