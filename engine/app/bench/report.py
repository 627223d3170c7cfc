"""report.md of a bench: the tables, the regime-shift reading, the seminar's claims (when
the case asks for them) and the figures, with how the run was made."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from engine import __version__
from engine.app.bench.claims import claims_markdown
from engine.app.bench.figures import test_rates
from engine.app.bench.metrics import (
    aquifer_markdown,
    headline_markdown,
    holdout_markdown,
    horizon_markdown,
    value,
    zone_markdown,
)
from engine.app.bench.runner import write_text_atomic
from engine.app.truth import bench_markdown
from engine.evaluate import zones_text

DEFINITIONS = (
    "Metrics on the split's test part. R² = 1 - SSE/SST about the observed mean (not the "
    "squared correlation). Cumulative: displacement since the first case month; monthly: "
    "the change between consecutive observations of a cell. Skill vs trend = 1 - MSE / "
    "MSE(trend): above 0 a solver beats a per-cell linear rate fitted to the training "
    "observations. Horizon: forecasts from every origin are the last observation plus the "
    "simulated change; the horizon is the longest lead h (months) at which they keep the "
    "stated skill (1 - SSE / SSE of the reference) over persistence (no change) and over "
    "the trend solver's forecast from the same origins. The R² horizon (largest h whose "
    "R² of the h-month change is above the threshold) is kept as a column: it rises with "
    "h for nearly every solver, as the change outgrows the monthly noise, so it hardly "
    "separates them.")


def rebound_capture(case, split, displacement) -> tuple[float, int]:
    """(fraction, count) of test cells rising over their test entries (observed) whose
    simulated rate there is also > 0."""
    observed = test_rates(case, split, case.observations.displacement)
    rising = observed > 0
    if not rising.any():
        return np.nan, 0
    simulated = test_rates(case, split, displacement)
    return float((simulated[rising] > 0).mean()), int(rising.sum())


def regime_shift_markdown(case, split, table, runs) -> str:
    """Which solvers survive training on one regime and testing on another."""
    lines = [f"Trained up to {split.train_until}, tested after it. A solver *survives* "
             "when it beats the trend baseline on the test period (cumulative skill > 0) "
             "and gets the sign of rising cells right (rebound capture >= 0.5).", "",
             "| solver | cumulative RMSE (mm) | monthly R² | skill vs trend (cum. / monthly) "
             "| rebound capture | survives |", "|---|---|---|---|---|---|"]
    survivors, fallen = [], []
    for name, (result, _) in runs.items():
        skill = value(table, name, "cumulative", "skill_vs_trend")
        capture, rising = rebound_capture(case, split, result.displacement)
        ok = skill > 0 and (not np.isfinite(capture) or capture >= 0.5)
        (survivors if ok else fallen).append(name)
        lines.append(f"| {name} | {value(table, name, 'cumulative', 'rmse_mm'):.2f} | "
                     f"{value(table, name, 'increment', 'r2'):.3f} | {skill:.3f} / "
                     f"{value(table, name, 'increment', 'skill_vs_trend'):.3f} | "
                     + (f"{capture:.2f} of {rising}" if rising else "no rising cell")
                     + f" | {'yes' if ok else 'no'} |")
    lines += ["", f"Survive: {', '.join(survivors) or 'none'}. "
              f"Fall: {', '.join(fallen) or 'none'}."]
    return "\n".join(lines) + "\n"


def correction_markdown(table) -> str:
    """Whether the learned correction of each residual:<physics>+<ml> in ``table`` still
    helps over its physics run alone (when the bench ran both): test cumulative RMSE
    against the observations and against the truth."""
    from engine.app.truth import TRUTH_PARTS

    solvers = list(dict.fromkeys(table.solver))
    lines = []
    for name in solvers:
        physics = name.partition(":")[2].rpartition("+")[0]
        if not name.startswith("residual:") or physics not in solvers:
            continue
        pairs = [(value(table, s, "cumulative", "rmse_mm"),
                  value(table, s, "truth displacement", "rmse_mm", part=TRUTH_PARTS[0]))
                 for s in (physics, name)]
        helps = pairs[1][0] < pairs[0][0]
        lines.append(f"- {name} vs {physics} alone: test cumulative RMSE {pairs[1][0]:.2f} "
                     f"vs {pairs[0][0]:.2f} mm against the observations, {pairs[1][1]:.2f} "
                     f"vs {pairs[0][1]:.2f} mm against the truth: the learned correction "
                     + ("still helps" if helps else "does not help") + " on top of "
                     + physics + ".")
    return "\n".join(lines) + "\n" if lines else ""


def write_report(out: Path, case, split, plan, table, runs, horizons, claims, figures,
                 threshold: float, command: str, seconds: float, skill: float,
                 protocol: str | None = None) -> Path:
    """report.md; ``protocol``: the section of the seminar protocol the run follows
    (``engine.app.bench.protocols.section``), None for a plain bench."""
    kinds = {name: result.kind for name, (result, _) in runs.items()}
    test = split.test_mask(case) & np.isfinite(case.observations.displacement)
    # how far the held-out cells are from what trained: near neighbours flatter a
    # spatial score (a per-cell trend "predicts" a cell beside a training cell)
    distance = split.median_holdout_distance(case)
    parts = [
        f"# landsub bench: {case.name}", "",
        f"- command: `{command}`",
        f"- case: {plan.case} ({case.n_cells} cells x {case.n_times} months, "
        f"{case.times[0]} .. {case.times[-1]})",
        f"- split: {split.to_dict()} -> {int(test.sum())} test observations at "
        f"{int(test.any(axis=1).sum())} cells",
        *([f"- median distance from a held-out cell to its nearest training cell: "
           f"{distance:.0f} m"] if distance is not None else []),
        f"- preset: {plan.preset or 'each solver default'}; seed {plan.seed}; solvers in "
        f"run order: {', '.join(runs)}",
        f"- landsub {__version__}, Python {platform.python_version()}, {os.cpu_count()} "
        f"CPUs, load average at the end {os.getloadavg()[0]:.2f}; report written after "
        f"{seconds:.0f} s of this invocation (fit and predict times per solver in the table)",
        "", *([protocol] if protocol else []),
        "## Results on the test part", "", headline_markdown(table, kinds),
        "", DEFINITIONS, ""]
    holdouts = holdout_markdown(table)
    if holdouts:
        parts += ["## The two holdouts of the split", "",
                  "The test part of a \"both\" split joins cells never seen in training "
                  "(before the split date: interpolation in space) and the training cells "
                  "after the split date (extrapolation in time):", "", holdouts]
    parts += ["## Per rate zone", "", f"Zones by observed rate (--zones): "
              f"{zones_text(plan.zones)}.", "", zone_markdown(table)]
    aquifers = aquifer_markdown(table)
    if aquifers:
        parts += ["## Per aquifer: compaction against the extensometers", "",
                  "Change since each instrument's first reading, every record (the "
                  "extensometer cells may be training cells).", "", aquifers]
    truth = bench_markdown(table)
    if truth:
        parts += ["## Against the hidden truth", "",
                  "The twin's noise-free truth (truth/truth.h5 beside the case), read by "
                  "the scoring code after every solver predicted; no solver reads it. "
                  "\"test\": the split's test cell-times (every one, observed or not); "
                  "\"all\": every cell and time.", "", truth]
        correction = correction_markdown(table)
        if correction:
            parts += [correction]
    if horizons:
        parts += ["## Prediction horizon (rolling origin)", "",
                  horizon_markdown(horizons, threshold, skill)]
    if split.train_until is not None:
        parts += ["## Regime shift", "", regime_shift_markdown(case, split, table, runs)]
    if claims:
        parts += ["## Seminar claim vs this run", "",
                  f"Judged on the seminar's protocol {plan.protocol} for its own claims; the "
                  "others name the protocol that tests them." if plan.protocol else
                  "Judged on this bench's split and metrics, not on the seminar's protocols "
                  "(`landsub bench beijing:SIZE --protocol all` runs those).", "",
                  claims_markdown(claims), ""]
    else:
        parts += ["No claims set requested: a case names one in its [study] table "
                  '(claims = "zhu-beijing-seminar" sets the seminar\'s claims against the run).',
                  ""]
    parts += ["## Figures", ""]
    for caption, path in figures:
        parts += [f"**{caption}**", "", f"![{caption}]({Path(path).relative_to(out)})", ""]
    parts += ["## Files", "",
              "- `results.h5`: one group per solver (xarray: `xr.open_dataset(path, "
              "engine=\"h5netcdf\", group=NAME)`), displacement [cell, time] m up positive",
              "- `metrics.csv`: every number, tidy (solver, part, series, zone, statistic, "
              "metric, value, n_cells, n_values); `metrics.md`: the tables above",
              "- `solvers/<name>/`: run.json (fit report, seconds), model/ (trained solvers)",
              f"- `figures/`: {len(figures)} PNG"]
    return write_text_atomic(out / "report.md", "\n".join(parts) + "\n")

