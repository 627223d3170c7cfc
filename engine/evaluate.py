"""The one evaluator: metrics of a Result against observed displacement.

Solvers never compute metrics. Every metric is computed on two series:

- ``cumulative``: displacement relative to the first time, as stored (m, up positive);
- ``increment``: the change between consecutive evaluated observations of a cell
  (monthly on a monthly case). Cumulative R² is flattered by the long-term trend;
  increments show whether the month-to-month behaviour is right.

and reported per cell (then the median and the interquartile range over cells) and
pooled over every (cell, time) pair, for all cells and per subsidence zone. Metrics:

- ``rmse_mm``: root mean square error, mm;
- ``r2``: coefficient of determination, 1 - SSE/SST with SST about the mean of the
  observations compared (NOT the squared correlation; negative when worse than that mean);
- ``pearson_r``: Pearson correlation coefficient;
- ``bias_mm``: mean of simulated minus observed, mm (negative: too much subsidence).

Zones are rate classes, from a least-squares linear rate fitted to ALL the observed
series of a cell (not only the evaluated part, so a cell keeps its zone across splits),
split by two limits (mm/yr, ``ZONE_LIMITS``: the seminar's by default, ``--zones`` on the
commands): severe (rate < the first), moderate (between the two, both included) and
rebound (rate > the second).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import InputError
from engine.units import DAYS_PER_YEAR, M_TO_MM

METRICS = ("rmse_mm", "r2", "pearson_r", "bias_mm")
SERIES = ("cumulative", "increment")
ZONES = ("rebound", "moderate", "severe")
#: mm/yr: below the first limit a cell is "severe", above the second "rebound"; the
#: seminar's zoning of the Beijing Plain, the default of every command's --zones
ZONE_LIMITS = (-30.0, 0.0)
_CONSTANT_RTOL = 1e-10   # spread / root-mean-square below which a series counts as constant

_HEADINGS = {"rmse_mm": "RMSE (mm)", "r2": "R² (1-SSE/SST)", "pearson_r": "Pearson r",
             "bias_mm": "bias (mm)"}


def linear_rate(days: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares slope (with intercept) of each row of ``values`` [N, T] against
    ``days`` [T], using only the entries where ``mask`` [N, T] is True.

    Returns [N] in units of ``values`` per day; NaN for a row with fewer than two
    distinct masked times.
    """
    w = mask & np.isfinite(values)
    v = np.where(w, values, 0.0)
    t = np.where(w, days[None, :], 0.0)
    n = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = t.sum(axis=1) / n
        v_mean = v.sum(axis=1) / n
        dt = np.where(w, days[None, :] - t_mean[:, None], 0.0)
        dv = np.where(w, values - v_mean[:, None], 0.0)
        sxx = (dt * dt).sum(axis=1)
        rate = (dt * dv).sum(axis=1) / sxx
    return np.where((n >= 2) & (sxx > 0), rate, np.nan)


def parse_zone_limits(text: str, flag: str = "--zones") -> tuple[float, float]:
    """The two zone limits (mm/yr) of ``text`` ("-30,0"), refused naming ``flag`` unless
    finite with the severe limit below 0 and the rebound limit at or above it: "severe"
    and "rebound" would otherwise name cells that do not subside or do not rise."""
    parts = str(text).split(",")
    try:
        limits = tuple(float(part) for part in parts)
    except ValueError:
        limits = ()
    if len(parts) != 2 or len(limits) != 2 or not all(np.isfinite(limits)):
        raise InputError(flag, str(text), "give two finite rates in mm/yr, SEVERE,REBOUND "
                         f"(default {zones_text()})")
    severe, rebound = limits
    if severe >= 0:
        raise InputError(flag, str(text), f"the severe limit {severe:g} mm/yr must be below 0: "
                         "severe cells subside faster than it")
    if rebound < 0:
        raise InputError(flag, str(text), f"the rebound limit {rebound:g} mm/yr must be >= 0: "
                         "rebound cells rise faster than it")
    return limits


def zones_text(limits=ZONE_LIMITS) -> str:
    """The zoning in words, for reports."""
    severe, rebound = limits
    return (f"rebound > {rebound:g}, moderate {severe:g} to {rebound:g}, severe < {severe:g} "
            "mm/yr")


def subsidence_zone(rate_mm_per_year: np.ndarray, limits=ZONE_LIMITS) -> np.ndarray:
    """Zone name per cell from its rate (mm/yr) and the zone ``limits``; "" where the rate
    is unknown (NaN)."""
    rate = np.asarray(rate_mm_per_year, dtype=np.float64)
    severe, rebound = limits
    zone = np.full(rate.shape, "", dtype=object)
    zone[rate > rebound] = "rebound"
    zone[(rate <= rebound) & (rate >= severe)] = "moderate"
    zone[rate < severe] = "severe"
    return zone


def increments(values: np.ndarray, mask: np.ndarray):
    """Differences between consecutive masked entries of each row: the increment at t is
    values[t] - values[previous masked time]; the first masked entry of a row has none."""
    t = values.shape[1]
    index = np.where(mask, np.arange(t)[None, :], -1)
    last = np.maximum.accumulate(index, axis=1)
    previous = np.concatenate([np.full((len(values), 1), -1), last[:, :-1]], axis=1)
    has_previous = mask & (previous >= 0)
    before = np.take_along_axis(values, np.maximum(previous, 0), axis=1)
    return values - before, has_previous


def _row_metrics(sim: np.ndarray, obs: np.ndarray, mask: np.ndarray) -> dict:
    """Each metric of every row of sim vs obs [R, T] over the masked entries; [R] arrays."""
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(mask, sim, 0.0)
        o = np.where(mask, obs, 0.0)
        err = s - o
        sse = (err * err).sum(axis=1)
        ds = np.where(mask, s - (s.sum(axis=1) / n)[:, None], 0.0)
        do = np.where(mask, o - (o.sum(axis=1) / n)[:, None], 0.0)
        sst = (do * do).sum(axis=1)
        sss = (ds * ds).sum(axis=1)
        # a series constant up to rounding has no variance to explain or correlate
        varies_o = sst > _CONSTANT_RTOL**2 * (o * o).sum(axis=1)
        varies_s = sss > _CONSTANT_RTOL**2 * (s * s).sum(axis=1)
        r2 = np.where(varies_o, 1.0 - sse / sst, np.nan)
        r = np.where(varies_o & varies_s, (ds * do).sum(axis=1) / np.sqrt(sst * sss), np.nan)
        return {
            "n": n,
            "rmse_mm": M_TO_MM * np.sqrt(sse / n),
            "r2": np.where(n >= 2, r2, np.nan),
            "pearson_r": np.where(n >= 2, r, np.nan),
            "bias_mm": M_TO_MM * err.sum(axis=1) / n,
        }


def _check(result, observed, mask):
    observed = np.asarray(observed, dtype=np.float64)
    if observed.shape != result.displacement.shape:
        raise InputError("observations", "displacement",
                         f"shape {observed.shape} does not match the result of "
                         f"{result.solver} {result.displacement.shape} (cells, times)")
    if mask is None:
        mask = np.ones(observed.shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != observed.shape:
        raise InputError("evaluation", "mask", f"shape {mask.shape} does not match the "
                         f"observations {observed.shape}")
    return observed, mask & np.isfinite(observed)


def _series(result, observed, mask):
    """(name, sim, obs, mask) for the cumulative and the increment series."""
    sim = np.asarray(result.displacement, dtype=np.float64)
    d_sim, _ = increments(sim, mask)
    d_obs, d_mask = increments(observed, mask)
    return (("cumulative", sim, observed, mask), ("increment", d_sim, d_obs, d_mask))


def pooled_metrics(simulated, observed) -> dict:
    """Each metric over every finite (simulated, observed) pair of two equal-shaped
    arrays, pooled: {"n", "rmse_mm", "r2", "pearson_r", "bias_mm"} as floats."""
    sim = np.asarray(simulated, dtype=np.float64).reshape(1, -1)
    obs = np.asarray(observed, dtype=np.float64).reshape(1, -1)
    usable = np.isfinite(sim) & np.isfinite(obs)
    return {k: float(v[0]) for k, v in _row_metrics(sim, obs, usable).items()}


def cell_metrics(result, observed, mask=None, zones=ZONE_LIMITS) -> pd.DataFrame:
    """One row per cell and series: cell id, observed rate (mm/yr), zone (by the limits
    ``zones``), number of evaluated values and each metric (NaN where a cell has too few
    values)."""
    observed, mask = _check(result, observed, mask)
    days = (np.asarray(result.times, dtype="datetime64[D]")
            - np.datetime64(result.times[0], "D")).astype(np.float64)
    rate = linear_rate(days, observed, np.isfinite(observed)) * M_TO_MM * DAYS_PER_YEAR
    zone = subsidence_zone(rate, zones)
    frames = []
    for name, sim, obs, m in _series(result, observed, mask):
        frames.append(pd.DataFrame({
            "solver": result.solver, "series": name,
            "cell": np.asarray(result.cell_ids).astype(str),
            "rate_mm_per_year": rate, "zone": zone, **_row_metrics(sim, obs, m)}))
    return pd.concat(frames, ignore_index=True)


def evaluate(result, observed, mask=None, part: str = "all",
             zones=ZONE_LIMITS) -> pd.DataFrame:
    """Tidy metrics table of ``result`` against ``observed`` [N, T] (m, NaN = missing).

    ``mask`` [N, T] selects the observations to evaluate (e.g. ``split.test_mask(case)``;
    None = all). Rows: solver, part (the label given), series, zone ("all" or a zone
    name, by the limits ``zones``), statistic ("pooled": all pairs together; "median"
    and "iqr": over the per-cell values), metric, value, n_cells (cells contributing),
    n_values (pairs contributing).
    """
    observed, mask = _check(result, observed, mask)
    per_cell = cell_metrics(result, observed, mask, zones)
    rows = []
    for name, sim, obs, m in _series(result, observed, mask):
        cells = per_cell[per_cell["series"] == name]
        for zone in ("all",) + ZONES:
            in_zone = (np.ones(len(m), bool) if zone == "all"
                       else (cells["zone"] == zone).to_numpy())
            pooled = _row_metrics(sim[in_zone].reshape(1, -1), obs[in_zone].reshape(1, -1),
                                  m[in_zone].reshape(1, -1))
            zone_cells = cells[in_zone]
            for metric in METRICS:
                values = zone_cells[metric].to_numpy()
                finite = np.isfinite(values)
                n_values = int(zone_cells["n"].to_numpy()[finite].sum())
                q25, q50, q75 = (np.percentile(values[finite], [25, 50, 75])
                                 if finite.any() else (np.nan,) * 3)
                common = {"solver": result.solver, "part": part, "series": name,
                          "zone": zone, "metric": metric}
                rows.append({**common, "statistic": "pooled",
                             "value": float(pooled[metric][0]),
                             "n_cells": int(m[in_zone].any(axis=1).sum()),
                             "n_values": int(pooled["n"][0])})
                rows.append({**common, "statistic": "median", "value": float(q50),
                             "n_cells": int(finite.sum()), "n_values": n_values})
                rows.append({**common, "statistic": "iqr", "value": float(q75 - q25),
                             "n_cells": int(finite.sum()), "n_values": n_values})
    return pd.DataFrame(rows, columns=["solver", "part", "series", "zone", "statistic",
                                       "metric", "value", "n_cells", "n_values"])


def write_csv(table: pd.DataFrame, path) -> None:
    """The tidy table as CSV (one metric value per row)."""
    table.to_csv(Path(path), index=False, float_format="%.6g")


def markdown(table: pd.DataFrame, zones=ZONE_LIMITS) -> str:
    """The table as Markdown, one row per solver/part/series/zone/statistic and one
    column per metric; rows without any data are left out; ``zones``: the limits the
    table was made with."""
    keys = ["solver", "part", "series", "zone", "statistic"]
    order = pd.MultiIndex.from_frame(table[keys].drop_duplicates())
    wide = table.set_index(keys + ["metric"])["value"].unstack("metric").reindex(order)
    counts = table.groupby(keys, sort=False)["n_cells"].max()
    metrics = [m for m in METRICS if m in wide.columns]
    lines = ["| " + " | ".join(keys + [_HEADINGS[m] for m in metrics] + ["cells"]) + " |",
             "|" + "---|" * (len(keys) + len(metrics) + 1)]
    for index, row in wide.iterrows():
        if counts[index] == 0:
            continue
        cells = [f"{row[m]:.2f}" if m.endswith("_mm") else f"{row[m]:.3f}" for m in metrics]
        lines.append("| " + " | ".join([*map(str, index), *cells, str(counts[index])]) + " |")
    lines += ["", "R² = 1 - SSE/SST about the observed mean (not the squared correlation). "
              "pooled: every (cell, time) pair together; median, iqr: over per-cell values. "
              "increment: change between consecutive evaluated observations of a cell. "
              f"Zones by observed rate: {zones_text(zones)}."]
    return "\n".join(lines) + "\n"


def write_markdown(table: pd.DataFrame, path, zones=ZONE_LIMITS) -> None:
    Path(path).write_text(markdown(table, zones), encoding="utf-8")
