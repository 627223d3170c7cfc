"""`landsub bench`: every solver on the same case and split, the metrics, figures and
the report a hydrogeologist reads.

    landsub bench [CASE] [--solvers a,b,...] [--split spatial:0.7|temporal:DATE|both:F:DATE]
                  [--preset P] [--seed S] [--option SOLVER:KEY=VALUE] [--force]
                  [--zones SEVERE,REBOUND] [--scheduler local|serial|tcp://...]
                  [--workers N] --out DIR
    landsub bench beijing:SIZE --protocol NAME|all [--preset fast] [--seed S] --out DIR

CASE is a case manifest (TOML) or a built-in twin, ``beijing:<size>[:<seed>]`` (made
once into the cache folder, ~30 s for small). Modules: ``runner`` (fit, predict,
commit, resume), ``metrics`` (the tidy table), ``figures``, ``claims`` (the seminar's
claims), ``protocols`` (the seminar's case studies as runs: period, inputs, split,
preset, metric, claims with evidence), ``report``. The solvers run as Dask tasks
(``--scheduler``, ``--workers``, as in ``landsub whatif``); the results do not depend on
either.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from pathlib import Path

from engine.app.bench.runner import (
    BASELINE,
    Plan,
    load_runs,
    run_solvers,
    write_json_atomic,
    write_text_atomic,
)
from engine.app.options import options_per_solver, parse_solver_options, signed_values
from engine.errors import InputError, run_command
from engine.evaluate import ZONE_LIMITS, parse_zone_limits
from engine.split import Split

#: room kept for figures, metrics and reports (an allowance, not a measurement)
FIGURES_BYTES = 20 * 2**20
#: The quick start's solvers: about 15 minutes on 2 cores on the small twin.
QUICK_SOLVERS = ("terzaghi,lstm,pc-rnn,pc-rnn-linear,rnn-cnn,"
                 "residual:terzaghi+lstm")
DEFAULT_CASE = "beijing:small"
HORIZON_THRESHOLD = 0.5
#: the share of the training cells (or times) a bench holds out to stop a fit early
VALIDATION_FRACTION = 0.2
#: skill over persistence and over the trend that the skill horizon keeps (engine.horizon)
HORIZON_SKILL = 0.1
MAX_HORIZON = 36


def cache_folder() -> Path:
    """Where built-in cases are made: $LANDSUB_CACHE, else ~/.cache/landsub."""
    return Path(os.environ.get("LANDSUB_CACHE", Path.home() / ".cache" / "landsub"))


def resolve_case(spec: str, log=print) -> Path:
    """The manifest of ``spec``: a path, or ``beijing:<size>[:<seed>]`` (built once, and
    again when the cached one was made by an older twin generator)."""
    if not spec.startswith("beijing:"):
        return Path(spec)
    import json

    from cases.beijing.make import GENERATOR_RECORD, TWIN_VERSION
    from cases.beijing.settings import SIZES
    from engine.app.make_case import make_twin_whole
    from engine.atomic import sweep

    parts = spec.split(":")
    size, seed = parts[1], parts[2] if len(parts) > 2 else "0"
    if size not in SIZES or not seed.isdigit() or len(parts) > 3:
        raise InputError("command line", "CASE", f'"{spec}" is not beijing:<size>[:<seed>] '
                         f"with size one of {', '.join(SIZES)}")
    folder = cache_folder() / f"beijing-{size}-seed{seed}"
    manifest = folder / "case.toml"
    # what a killed run left (dot-named, its process gone) goes even when none is made
    sweep(folder.parent)
    try:
        version = json.loads((folder / GENERATOR_RECORD).read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        version = None
    if manifest.exists() and version == TWIN_VERSION:
        return manifest
    log(f"making the built-in twin {spec} in {folder} "
        + ("(once)" if not folder.exists() else "(again: an older generator made the cached one)"))
    return make_twin_whole(folder, size, int(seed), log=log, source="LANDSUB_CACHE")


def check_arguments(out, split_text: str, threshold, max_horizon, seed,
                    skill=HORIZON_SKILL) -> Path:
    """Refuse, before the case is read or any solver runs, what the end of a bench could
    not use: an R² threshold or a horizon skill outside (0, 1) (neither exceeds 1), a
    horizon under one month, a negative seed, a split without a test part, an --out that
    is not a folder this process can write."""
    import math

    from engine.atomic import check_output

    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)
            and 0 < threshold < 1):
        raise InputError("--threshold", str(threshold), "the R² threshold must be a number "
                         "between 0 and 1 (R² is at most 1)")
    if not (isinstance(skill, (int, float)) and not isinstance(skill, bool)
            and math.isfinite(skill) and 0 < skill < 1):
        raise InputError("--skill", str(skill), "the horizon's skill over persistence and "
                         "the trend must be a number between 0 and 1 (1 = perfect)")
    if isinstance(max_horizon, bool) or not isinstance(max_horizon, int) or max_horizon < 1:
        raise InputError("--max-horizon", str(max_horizon), "must be a whole number of months "
                         ">= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("--seed", str(seed), "must be a whole number >= 0")
    if str(split_text).strip().lower() == "none":
        raise InputError("--split", str(split_text), "a bench scores predictions on held-out "
                         "cells or times: use spatial:F, temporal:DATE or both:F:DATE")
    return check_output(out, "folder")


def bench(case_spec: str, solvers: list[str] | None, split_text: str | None, out, preset=None,
          seed=0, options: dict | None = None, force=False, threshold=HORIZON_THRESHOLD,
          max_horizon=MAX_HORIZON, command="landsub bench", log=print, scheduler="local",
          workers=None, progress=True, skill=HORIZON_SKILL, zones: str | None = None,
          protocol: str | None = None) -> dict:
    """Run the bench and write every output; returns {"table", "runs", "claims", "report"}
    (and "section", the protocol's report section, with a protocol).
    ``scheduler``, ``workers``: where the solvers run (``runner.run_solvers``); ``zones``:
    the --zones text, rate-zone limits in mm/yr (None: ``engine.evaluate.ZONE_LIMITS``).
    ``protocol``: a seminar protocol (``protocols.PROTOCOLS``) or "all" (each in its own
    folder under ``out``, ``bench_protocols``): it fixes the solvers, split, options and
    zones (give None for them) and the preset (None, or "fast" for a quick check)."""
    import pandas as pd

    from engine.app.bench import protocols as pr

    if protocol == pr.ALL:
        pr.check_flags(protocol, solvers, split_text, options, preset, zones)
        return bench_protocols(case_spec, out, preset, seed, force, threshold, max_horizon,
                               command, log, scheduler, workers, progress, skill)
    spec = None
    if protocol is not None:
        spec = pr.protocol(protocol)
        pr.check_flags(protocol, solvers, split_text, options, preset, zones)

    from engine.app.bench.claims import requested, seminar_claims
    from engine.app.bench.figures import bench_figures, calibration_figures
    from engine.app.bench.metrics import (
        Horizon,
        bench_table,
        headline_markdown,
        metrics_markdown,
    )
    from engine.app.bench.report import write_report
    from engine.app.bench.runner import solver_options
    from engine.app.truth import bench_rows, truth_path, truth_result
    from engine.caseio import load_case
    from engine.horizon import horizon_scores, prediction_horizon, skill_horizon
    from engine.registry import solver_class
    from engine.resources import check_disk, result_bytes

    started = time.perf_counter()
    out = check_arguments(out, split_text if spec is None else spec.split, threshold,
                          max_horizon, seed, skill)
    limits = ZONE_LIMITS if zones is None else parse_zone_limits(zones)
    manifest = resolve_case(case_spec, log)
    case = whole = load_case(manifest)
    if case.observations.displacement is None:
        raise InputError(manifest, "observations.displacement", "a bench needs observed "
                         "displacement to evaluate against")
    requested(case)   # an unknown claims set is refused before any solver runs
    resolved = None
    if spec is None:
        split = Split.parse(split_text, case, seed=seed,
                            validation_fraction=VALIDATION_FRACTION)
    else:
        resolved = pr.resolve(spec, whole, manifest, preset, seed)
        case, split, solvers = resolved.case, resolved.split, resolved.solvers
        preset, options = resolved.preset, resolved.options
        log(f"protocol {spec.name}: {case.n_cells} cells x {case.n_times} months "
            f"{str(case.times[0])[:7]} .. {str(case.times[-1])[:7]}; "
            + "; ".join(resolved.notes or ["split " + spec.split]))
    names = list(dict.fromkeys([BASELINE] + [s.strip() for s in solvers if s.strip()]))
    for name in names:
        solver_class(name)   # unknown names fail before anything runs
    check_disk(out, len(names) * result_bytes(case.n_cells, case.n_times, len(case.aquifers))
               + FIGURES_BYTES, f"{len(names)} results and the figures")
    given = options_per_solver(names, options or {})
    plan = Plan(case=str(manifest), case_name=case.name, split=split.to_dict(), solvers=names,
                preset=preset, seed=seed, zones=list(limits), protocol=protocol,
                options={n: solver_options(n, preset, seed, given[n]) for n in names})
    run_solvers(case, split, plan, out, force=force, log=log, scheduler=scheduler,
                workers=workers, progress=progress)

    runs = load_runs(out, plan.solvers)
    observed = case.observations.displacement
    test = split.test_mask(case)
    horizons = {}
    trend = runs[BASELINE][0].displacement
    for name, (result, _) in runs.items():
        scores = horizon_scores(result.displacement, observed, test, max_horizon,
                                reference=trend)
        horizons[name] = Horizon(scores, skill_horizon(scores, skill),
                                 prediction_horizon(scores, threshold))
    table = bench_table(case, split, runs, horizons, BASELINE, zones=limits)
    # every solver has predicted: only now may a twin's hidden truth be read
    truth = truth_path(manifest)
    models = estimating_models(out, runs)
    if truth is not None:
        table = pd.concat([table, pd.DataFrame(bench_rows(truth, case, split, runs, models),
                                               columns=table.columns)], ignore_index=True)
    write_text_atomic(out / "metrics.csv", table.to_csv(index=False, float_format="%.6g"))
    kinds = {n: r.kind for n, (r, _) in runs.items()}
    write_text_atomic(out / "metrics.md", metrics_markdown(table, kinds, horizons, threshold,
                                                           skill))
    section = None
    if resolved is None:
        claims = seminar_claims(case, split, table, runs, threshold, skill)
    else:
        scored = pr.Scored(spec, case, split, runs, table, horizons, threshold, skill,
                           max_horizon, truth=None if truth is None
                           else truth_result(truth, case))
        if spec.ablation:
            scored.ablation, scored.ablation_note = exact_heads_ablation(
                resolved, whole, truth, plan, out, force, log, scheduler, workers, progress)
        rows = spec.table(scored)
        write_text_atomic(out / pr.TABLE_FILE, pd.DataFrame(rows, columns=pr.COLUMNS)
                          .to_csv(index=False, float_format="%.6g"))
        claims = pr.claims(scored)
        section = pr.section(resolved, rows)
    write_json_atomic(out / "claims.json", claims)
    log("drawing figures")
    figures = bench_figures(out, case, split, runs, table, horizons, threshold, skill,
                            zones=limits)
    figures += calibration_figures(out / "figures", case, models, truth)
    report = write_report(out, case, split, plan, table, runs, horizons, claims, figures,
                          threshold, command, time.perf_counter() - started, skill, section)
    log(headline_markdown(table, kinds))
    log(f"wrote {report}, {out / 'metrics.csv'}, {out / 'results.h5'} and "
        f"{len(figures)} figures in {time.perf_counter() - started:.0f} s")
    return {"table": table, "runs": runs, "claims": claims, "report": report,
            "section": section, "seconds": time.perf_counter() - started}


def exact_heads_ablation(resolved, whole, truth, plan: Plan, out: Path, force: bool, log,
                         scheduler, workers, progress) -> tuple[dict, str]:
    """(name -> (Result, record), a note when there is none) of the protocol's ablation:
    its networks fitted again, same split, options and seed, on the twin with the truth's
    exact heads (``truth.exact_heads_case``), in ``out``/ablation-exact-heads. Called
    after every solver of the bench predicted: the truth is scoring material here."""
    from engine.app.bench.protocols import ABLATION_FOLDER
    from engine.app.truth import exact_heads_case

    if truth is None:
        return {}, "no ablation: the case has no truth beside it"
    try:
        exact = resolved.prepare(exact_heads_case(truth, whole))
    except (ValueError, KeyError) as exc:
        return {}, f"no ablation: {exc}"
    names = list(resolved.protocol.ablation)
    folder = out / ABLATION_FOLDER
    ablation = Plan(case=f"{plan.case} (the truth's heads)", case_name=f"{plan.case_name} "
                    "(the truth's heads)", split=plan.split, solvers=names, preset=plan.preset,
                    seed=plan.seed, zones=plan.zones, protocol=plan.protocol,
                    options={n: plan.options[n] for n in names})
    log(f"ablation: {', '.join(names)} on the truth's exact heads")
    run_solvers(exact, resolved.split, ablation, folder, force=force, log=log,
                scheduler=scheduler, workers=workers, progress=progress)
    return load_runs(folder, names), ""


def bench_protocols(case_spec: str, out, preset, seed, force, threshold, max_horizon,
                    command, log, scheduler, workers, progress, skill) -> dict:
    """Every seminar protocol on ``case_spec``, each a bench in ``out``/NAME, then
    ``out``/report.md (each protocol's section, the claims table merged from their runs
    with its evidence) and ``out``/claims.json."""
    from engine.app.bench import protocols as pr
    from engine.app.bench.claims import claims_markdown, merge_claims

    started = time.perf_counter()
    out = check_arguments(out, "protocols", threshold, max_horizon, seed, skill)
    outcomes = {}
    for name in pr.PROTOCOLS:
        log(f"== protocol {name}")
        outcomes[name] = bench(case_spec, None, None, out / name, preset, seed, None, force,
                               threshold, max_horizon, command, log, scheduler, workers,
                               progress, skill, None, protocol=name)
    claims = merge_claims([o["claims"] for o in outcomes.values()])
    write_json_atomic(out / "claims.json", claims)
    parts = [f"# landsub bench: the seminar's case studies on {case_spec}", "",
             f"- command: `{command}`",
             *[f"- {name}: [{name}/report.md]({name}/report.md), {o['seconds']:.0f} s"
               for name, o in outcomes.items()],
             f"- written after {time.perf_counter() - started:.0f} s", "",
             *[o["section"] for o in outcomes.values()],
             "## Seminar claims from the protocols' runs", "",
             "Each claim judged on the protocol of its case study.", "",
             claims_markdown(claims)]
    report = write_text_atomic(out / "report.md", "\n".join(parts) + "\n")
    log(f"wrote {report} and {out / 'claims.json'} in {time.perf_counter() - started:.0f} s")
    return {"outcomes": outcomes, "claims": claims, "report": report}


def estimating_models(out: Path, runs: dict) -> dict:
    """name -> the fitted solver, for the solvers of ``runs`` that estimate physics
    parameters (a calibrated physics, alone or inside a composition)."""
    from engine.app.bench.runner import folder_name
    from engine.app.truth import estimates_parameters
    from engine.persistence import load_model
    from engine.registry import solver_class

    return {name: load_model(out / "solvers" / folder_name(name) / "model")
            for name in runs if estimates_parameters(solver_class(name))}


def main_bench(argv) -> int:
    p = argparse.ArgumentParser(prog="landsub bench", description=__doc__.split("\n\n")[0])
    p.add_argument("case", nargs="?", default=DEFAULT_CASE,
                   help=f"case manifest or beijing:<size>[:<seed>] (default {DEFAULT_CASE})")
    p.add_argument("--solvers",
                   help=f"comma-separated solver names (default: {QUICK_SOLVERS}); "
                        f"{BASELINE} is always added")
    p.add_argument("--split", help="spatial:0.7 (default) | temporal:2015-01 | "
                                   "both:0.7:2015-01 | blocks:0.7:10000 | cells:ID+ID")
    p.add_argument("--protocol", help="a seminar case study as a run, which fixes the "
                   "period, solvers, inputs, split, preset and metric: "
                   "seminar-1-gw-lstm, seminar-2-am-gru, seminar-3-pc-rnn, or all")
    p.add_argument("--preset", help="neural presets: fast, default, seminar")
    p.add_argument("--seed", type=int, default=0, help="split and training seed")
    p.add_argument("--option", action="append", metavar="SOLVER:KEY=VALUE")
    p.add_argument("--threshold", type=float, default=HORIZON_THRESHOLD,
                   help="R² threshold of the prediction horizon")
    p.add_argument("--skill", type=float, default=HORIZON_SKILL,
                   help="skill over persistence and over the trend the horizon keeps")
    p.add_argument("--max-horizon", type=int, default=MAX_HORIZON, help="months")
    p.add_argument("--zones", help="rate-zone limits SEVERE,REBOUND in mm/yr: severe below "
                   "the first, rebound above the second, moderate between (default "
                   f"{','.join(f'{v:g}' for v in ZONE_LIMITS)}, the seminar's)")
    p.add_argument("--force", action="store_true", help="start afresh instead of resuming")
    p.add_argument("--scheduler", default="local", help='"local" (a Dask cluster on this '
                   'machine), "serial" (one solver after the other, here) or a scheduler '
                   "address tcp://host:port")
    p.add_argument("--workers", type=int, help="worker processes of the local cluster "
                                               "(default: the CPU count, at most one per "
                                               "solver)")
    p.add_argument("--out", default="bench-out", help="output folder")
    args = p.parse_args(signed_values(argv))
    if args.protocol is None:
        args.solvers = args.solvers or QUICK_SOLVERS
        args.split = args.split or "spatial:0.7"
    return run_command("landsub bench", lambda: bench(
        args.case, None if args.solvers is None else args.solvers.split(","), args.split,
        args.out, args.preset, args.seed, parse_solver_options(args.option), args.force,
        args.threshold, args.max_horizon, command="landsub bench " + shlex.join(argv),
        scheduler=args.scheduler, workers=args.workers, skill=args.skill, zones=args.zones,
        protocol=args.protocol), on_interrupt="run the same command again to resume")

