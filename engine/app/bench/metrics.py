"""The metrics of a bench: one tidy table over every solver, and its Markdown views.

Rows (columns as ``engine.evaluate.evaluate``: solver, part, series, zone, statistic,
metric, value, n_cells, n_values):

- the evaluator's rows on the split's test part (series "cumulative" and "increment",
  zone "all" and each rate zone; pooled, per-cell median and IQR);
- series "compaction", zone = aquifer name: simulated compaction against the
  extensometers, as the change since each instrument's first reading (solvers that
  resolve compaction per aquifer only; every extensometer record, whatever the split);
- metric "skill_vs_trend" = 1 - MSE / MSE of the ``trend`` baseline (pooled; > 0 beats
  it, 1 is perfect), per series and zone;
- series "horizon": metric "horizon_months" (the skill horizon: the longest lead at which
  the forecast keeps the stated skill over persistence and over the trend,
  ``engine.horizon``), "horizon_r2_months" (the largest lead with R² of the h-month
  change above the threshold) and, statistic "h=<k>", the curves' r2, rmse_mm,
  skill_persistence and skill_trend;
- series "wall": metrics "fit_seconds" and "predict_seconds".

With a "both" split the evaluator's rows are repeated for the two holdouts the test
part joins: part "held-out cells" (test cells before the split date: interpolation in
space) and part "forecast" (training cells after it: extrapolation in time).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from engine.evaluate import ZONE_LIMITS, ZONES, evaluate, pooled_metrics

COLUMNS = ["solver", "part", "series", "zone", "statistic", "metric", "value", "n_cells",
           "n_values"]


def _row(solver, series, zone, statistic, metric, value, n_cells=0, n_values=0,
         part="test") -> dict:
    return {"solver": solver, "part": part, "series": series, "zone": zone,
            "statistic": statistic, "metric": metric, "value": float(value),
            "n_cells": int(n_cells), "n_values": int(n_values)}


def compaction_rows(case, result) -> list[dict]:
    """Rows of ``result``'s compaction against the case's extensometers, per aquifer."""
    ext = case.observations.extensometers
    if result.compaction is None or not ext or not len(ext["cell"]):
        return []
    t_index = np.searchsorted(case.times, ext["time"].astype("datetime64[D]"))
    inside = (t_index < case.n_times)
    t_index = np.minimum(t_index, case.n_times - 1)
    inside &= case.times[t_index] == ext["time"].astype("datetime64[D]")
    simulated = result.compaction[ext["aquifer"], ext["cell"], t_index]
    observed = np.asarray(ext["compaction"], dtype=np.float64).copy()
    # readings are relative to installation: compare changes since each first reading
    for key in set(zip(ext["site"], ext["aquifer"])):
        series = (ext["site"] == key[0]) & (ext["aquifer"] == key[1]) & inside
        if series.any():
            first = np.flatnonzero(series)[np.argmin(t_index[series])]
            simulated[series] -= simulated[first]
            observed[series] -= observed[first]
    rows = []
    for a, name in enumerate(result.aquifers or case.aquifer_names):
        pick = inside & (ext["aquifer"] == a)
        if not pick.any():
            continue
        scores = pooled_metrics(simulated[pick], observed[pick])
        sites = len(np.unique(ext["site"][pick]))
        for metric in ("rmse_mm", "r2", "pearson_r", "bias_mm"):
            rows.append(_row(result.solver, "compaction", name, "pooled", metric,
                             scores[metric], sites, scores["n"], part="extensometers"))
    return rows


def skill_rows(table: pd.DataFrame, baseline: str) -> list[dict]:
    """1 - MSE / MSE(baseline) per solver, series and zone (pooled RMSE rows)."""
    rmse = table[(table.metric == "rmse_mm") & (table.statistic == "pooled")
                 & table.series.isin(["cumulative", "increment"])]
    reference = rmse[rmse.solver == baseline].set_index(["series", "zone"])["value"]
    rows = []
    for r in rmse.itertuples():
        base = reference.get((r.series, r.zone), np.nan)
        value = 1.0 - (r.value / base) ** 2 if base and np.isfinite(base) else np.nan
        rows.append(_row(r.solver, r.series, r.zone, "pooled", "skill_vs_trend", value,
                         r.n_cells, r.n_values))
    return rows


class Horizon(NamedTuple):
    """A solver's rolling-origin curves (``engine.horizon.horizon_scores``) and its two
    horizons in months: by skill over persistence and the trend, and by R²."""
    scores: dict
    months: int
    r2_months: int


#: the curves of a Horizon's scores, as metric names of the table
_CURVES = {"r2": "r2", "rmse_mm": "rmse_mm", "skill_persistence": "skill_persistence",
           "skill_reference": "skill_trend"}


def horizon_rows(solver: str, horizon: Horizon) -> list[dict]:
    rows = [_row(solver, "horizon", "all", "pooled", "horizon_months", horizon.months),
            _row(solver, "horizon", "all", "pooled", "horizon_r2_months", horizon.r2_months)]
    scores = horizon.scores
    for k, (h, n) in enumerate(zip(scores["h"], scores["n_pairs"])):
        rows += [_row(solver, "horizon", "all", f"h={h}", metric, scores[key][k], 0, n)
                 for key, metric in _CURVES.items()]
    return rows


def wall_rows(solver: str, record: dict) -> list[dict]:
    return [_row(solver, "wall", "all", "seconds", key, record[key], part="run")
            for key in ("fit_seconds", "predict_seconds")]


HOLDOUT_PARTS = ("held-out cells", "forecast")


def holdout_masks(case, split) -> dict:
    """part name -> [N, T] mask: "test", and for a "both" split its two holdouts."""
    test = split.test_mask(case)
    masks = {"test": test}
    if split.kind == "both":
        before = np.arange(case.n_times) < split.time_boundary(case)
        test_cells = np.zeros(case.n_cells, dtype=bool)
        test_cells[split.test_cells(case)] = True
        test_cells &= ~(split.train_mask(case) | split.validation_mask(case)).any(axis=1)
        masks[HOLDOUT_PARTS[0]] = test & test_cells[:, None] & before[None, :]
        masks[HOLDOUT_PARTS[1]] = test & ~test_cells[:, None] & ~before[None, :]
    return masks


def bench_table(case, split, runs: dict, horizons: dict, baseline: str,
                zones=ZONE_LIMITS) -> pd.DataFrame:
    """The tidy table of every solver in ``runs`` (name -> (Result, run record));
    ``horizons``: name -> Horizon; ``zones``: the rate-zone limits (mm/yr)."""
    observed = case.observations.displacement
    masks = holdout_masks(case, split)
    frames = []
    extra = []
    for name, (result, record) in runs.items():
        frames += [evaluate(result, observed, mask, part=part, zones=zones)
                   for part, mask in masks.items()]
        extra += compaction_rows(case, result) + wall_rows(name, record)
        if name in horizons:
            extra += horizon_rows(name, horizons[name])
    table = pd.concat(frames, ignore_index=True)
    extra += skill_rows(table[table.part == "test"], baseline)
    return pd.concat([table, pd.DataFrame(extra, columns=COLUMNS)], ignore_index=True)


def value(table: pd.DataFrame, solver, series, metric, zone="all", statistic="pooled",
          part=None):
    """One value of the tidy table (NaN when absent); ``part`` None: the test part (or
    the part a series has only one of: extensometers, run)."""
    parts = table.part.isin(HOLDOUT_PARTS) if part is None else table.part != part
    hit = table[~parts & (table.solver == solver) & (table.series == series)
                & (table.zone == zone) & (table.metric == metric)
                & (table.statistic == statistic)]
    return float(hit.value.iloc[0]) if len(hit) else np.nan


def _fmt(x, digits=2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def headline_markdown(table: pd.DataFrame, kinds: dict) -> str:
    """One row per solver: the numbers a reader compares first."""
    head = ("| solver | kind | cumulative RMSE (mm) | cumulative R² | monthly RMSE (mm) | "
            "monthly R² | per-cell RMSE median [IQR] (mm) | skill vs trend (cum. / monthly) "
            "| horizon (months) | fit (s) | predict (s) |")
    lines = [head, "|" + "---|" * 11]
    for solver in dict.fromkeys(table.solver):
        v = lambda *a, **k: value(table, solver, *a, **k)  # noqa: E731, B023 (used in this iteration)
        lines.append(
            f"| {solver} | {kinds.get(solver, '')} | {_fmt(v('cumulative', 'rmse_mm'))} | "
            f"{_fmt(v('cumulative', 'r2'), 3)} | {_fmt(v('increment', 'rmse_mm'))} | "
            f"{_fmt(v('increment', 'r2'), 3)} | "
            f"{_fmt(v('cumulative', 'rmse_mm', statistic='median'))} "
            f"[{_fmt(v('cumulative', 'rmse_mm', statistic='iqr'))}] | "
            f"{_fmt(v('cumulative', 'skill_vs_trend'), 3)} / "
            f"{_fmt(v('increment', 'skill_vs_trend'), 3)} | "
            f"{_fmt(v('horizon', 'horizon_months'), 0)} | "
            f"{_fmt(v('wall', 'fit_seconds', statistic='seconds'), 1)} | "
            f"{_fmt(v('wall', 'predict_seconds', statistic='seconds'), 2)} |")
    return "\n".join(lines) + "\n"


def holdout_markdown(table: pd.DataFrame) -> str:
    """For a "both" split: cumulative RMSE / R² and monthly RMSE per holdout kind ("" if
    the table has no such parts)."""
    if not table.part.isin(HOLDOUT_PARTS).any():
        return ""
    lines = ["| solver | " + " | ".join(f"{p}: cum. RMSE (mm) / R² / monthly RMSE (mm)"
                                         for p in HOLDOUT_PARTS) + " |", "|---|---|---|"]
    for solver in dict.fromkeys(table.solver):
        parts = [f"{_fmt(value(table, solver, 'cumulative', 'rmse_mm', part=p))} / "
                 f"{_fmt(value(table, solver, 'cumulative', 'r2', part=p), 3)} / "
                 f"{_fmt(value(table, solver, 'increment', 'rmse_mm', part=p))}"
                 for p in HOLDOUT_PARTS]
        lines.append(f"| {solver} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def zone_markdown(table: pd.DataFrame) -> str:
    """Per rate zone: cumulative RMSE / R² and monthly RMSE of every solver."""
    solvers = list(dict.fromkeys(table.solver))
    cells = {z: int(table[(table.zone == z) & (table.series == "cumulative")
                          & (table.statistic == "pooled") & (table.part == "test")]
                    .n_cells.max()) for z in ZONES}
    lines = ["| solver | " + " | ".join(f"{z} ({cells[z]} cells): cum. RMSE / R² / monthly RMSE"
                                         for z in ZONES) + " |", "|" + "---|" * (1 + len(ZONES))]
    for solver in solvers:
        parts = [f"{_fmt(value(table, solver, 'cumulative', 'rmse_mm', z))} / "
                 f"{_fmt(value(table, solver, 'cumulative', 'r2', z), 3)} / "
                 f"{_fmt(value(table, solver, 'increment', 'rmse_mm', z))}" for z in ZONES]
        lines.append(f"| {solver} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def aquifer_markdown(table: pd.DataFrame) -> str:
    """Compaction per aquifer against the extensometers ("" when no solver has any)."""
    rows = table[table.series == "compaction"]
    if rows.empty:
        return ""
    aquifers = list(dict.fromkeys(rows.zone))
    lines = ["| solver | " + " | ".join(f"{a}: RMSE (mm) / R²" for a in aquifers) + " |",
             "|" + "---|" * (1 + len(aquifers))]
    for solver in dict.fromkeys(rows.solver):
        parts = [f"{_fmt(value(table, solver, 'compaction', 'rmse_mm', a))} / "
                 f"{_fmt(value(table, solver, 'compaction', 'r2', a), 3)}" for a in aquifers]
        lines.append(f"| {solver} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def horizon_markdown(horizons: dict, threshold: float, skill: float) -> str:
    lines = [f"| solver | horizon (months, skill >= {skill:g} over persistence and trend) | "
             f"skill over the trend at 1 / 12 / 24 / 36 months | horizon (months, R² >= "
             f"{threshold:g}) | R² at 1 / 12 / 24 / 36 months |", "|---|---|---|---|---|"]

    def at(curve: Horizon, key: str) -> str:
        picked = []
        for h in (1, 12, 24, 36):
            k = np.flatnonzero(curve.scores["h"] == h)
            v = curve.scores[key][k[0]] if len(k) else np.nan
            picked.append(f"{v:.2f}" if np.isfinite(v) else "—")
        return " / ".join(picked)

    for name, curve in horizons.items():
        lines.append(f"| {name} | {curve.months} | {at(curve, 'skill_reference')} | "
                     f"{curve.r2_months} | {at(curve, 'r2')} |")
    return "\n".join(lines) + "\n"


def metrics_markdown(table: pd.DataFrame, kinds: dict, horizons: dict, threshold: float,
                     skill: float) -> str:
    """metrics.md: every table of the report, without the prose."""
    from engine.app.truth import bench_markdown

    sections = [("Test part", headline_markdown(table, kinds)),
                ("Holdouts", holdout_markdown(table)),
                ("Per rate zone", zone_markdown(table)),
                ("Per aquifer (extensometers)", aquifer_markdown(table)),
                ("Prediction horizon", horizon_markdown(horizons, threshold, skill)),
                ("Against the hidden truth", bench_markdown(table))]
    return "\n".join(f"## {title}\n\n{text}" for title, text in sections if text)
