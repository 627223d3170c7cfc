"""Prediction horizon: how many time steps ahead a simulation keeps forecast skill,
scored by rolling origin (DESIGN.md, "Metrics").

A forecast made at origin t0 for t0 + h anchors on the last observation known at the
origin and takes the change from the model:

    forecast[t0 + h] = observed[t0] + (simulated[t0 + h] - simulated[t0])

so a model is judged on the h-step CHANGE it predicts, not on an offset it may carry
from the start. Pooled over cells and origins, per h: R² = 1 - SSE/SST of the change
(SST about the mean observed change; not the squared correlation), RMSE (mm) and the
number of (cell, origin) pairs.

Two horizons:

* the skill horizon (``skill_horizon``, the one reports and claims use): the longest
  lead h at which the forecast keeps a stated skill 1 - SSE / SSE_ref over two
  reference forecasts made from the same origins: persistence (the last observation
  carried forward: zero change) and, when given, a reference simulation anchored the
  same way (the bench's per-cell linear trend). It discriminates: a model no better
  than extrapolating the trend has none, however large the change grows against the
  noise. (Not "every lead up to h": at a lead of a month or two the monthly noise
  dominates every forecast's error, so no model beats the trend there by much.)
* the R² horizon (``prediction_horizon``): the largest h whose R² is at least a
  threshold. R² of the change rises with h for nearly every model, because the change
  outgrows the monthly noise, so it hardly separates models; kept as a column.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InputError

_SOURCE = "horizon"
#: values per [cells, times] array of one chunk of cells: bounds the memory used and
#: keeps the arrays of a chunk in the CPU caches (~1.6 MB each)
CHUNK_VALUES = 200_000


def horizon_scores(simulated, observed, mask, max_horizon: int = 36,
                   reference=None) -> dict:
    """Rolling-origin forecast skill of a simulation at h = 1..max_horizon time steps ahead.

    simulated, observed : [N, T] displacement (m, up positive; observed NaN = missing).
    mask : [N, T] bool, the entries that may be forecast targets (e.g.
        ``split.test_mask(case)``).

    Pairs (n, t0, h): observed finite at t0 and t0 + h, mask[n, t0 + h] True, and the
    origin t0 either a target entry itself or the cell's last time before its first
    target entry (the last time a forecaster knows only non-target data). For a
    temporal split the origins run from the last training time on; for a spatial split
    every time of a held-out cell is an origin.

    reference : [N, T] or None, a reference simulation (m) forecast from the same origins.

    Returns {"h": [H] int, "r2": [H], "rmse_mm": [H], "n_pairs": [H] int,
    "skill_persistence": [H], "skill_reference": [H]}, scores of the h-step change
    pooled over pairs; skill = 1 - SSE / SSE of the reference forecast (persistence:
    zero change); every score is NaN with fewer than 2 pairs, r2 also where the observed
    changes do not vary (SST = 0), skill_reference without a reference.
    """
    simulated, observed, mask = _check(simulated, observed, mask, max_horizon)
    if reference is not None:
        reference, _, _ = _check(reference, observed, mask, max_horizon, "reference")
    # per h: pairs, their mean observed change, its sum of squared deviations (SST) and
    # the SSE, merged chunk by chunk with Chan's update
    n = np.zeros(max_horizon)
    mean = np.zeros(max_horizon)
    sst = np.zeros(max_horizon)
    sse = np.zeros(max_horizon)
    sse_persistence = np.zeros(max_horizon)
    sse_reference = np.zeros(max_horizon)
    cells = np.flatnonzero(mask.any(axis=1))
    if cells.size:
        first_target = np.argmax(mask[cells], axis=1)
        start = max(int(first_target.min()) - 1, 0)     # no origin is earlier
        width = observed.shape[1] - start
        step = max(1, CHUNK_VALUES // width)
        for lo in range(0, cells.size, step):
            rows = cells[lo:lo + step]
            forecasts = [(simulated[rows, start:], sse)]
            if reference is not None:
                forecasts.append((reference[rows, start:], sse_reference))
            _add_chunk(forecasts, observed[rows, start:], mask[rows, start:],
                       first_target[lo:lo + step] - start, n, mean, sst, sse_persistence)
    enough = n >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(enough & (sst > 0), 1.0 - sse / sst, np.nan)
        rmse_mm = np.where(enough, 1e3 * np.sqrt(sse / n), np.nan)
        persistence = np.where(enough & (sse_persistence > 0), 1.0 - sse / sse_persistence,
                               np.nan)
        versus_reference = np.where(enough & (sse_reference > 0) & (reference is not None),
                                    1.0 - sse / sse_reference, np.nan)
    return {"h": np.arange(1, len(n) + 1), "r2": r2, "rmse_mm": rmse_mm,
            "n_pairs": n.astype(np.int64), "skill_persistence": persistence,
            "skill_reference": versus_reference}


def _add_chunk(forecasts, observed, mask, first_target, n, mean, sst, sse_zero):
    """Add the pairs of some cells ([c, W] arrays, first_target [c]) to the sums [H]:
    ``forecasts`` is a list of (simulated [c, W], its SSE sums [H]), all scored on the
    same pairs in one pass; ``sse_zero``: the SSE of a forecast of zero change
    (persistence).

    Each h is a few whole-array passes over shifted views; entries that are not pairs
    are zeroed by multiplying with the pair mask rather than selected, which would copy.
    """
    cells, width = observed.shape
    known = np.isfinite(observed)
    last_before = (np.arange(width)[None, :] == (first_target - 1)[:, None])
    origin = (mask | last_before) & known
    target = mask & known
    level = np.where(known, observed, 0.0)
    # the error of the forecast change is the change of (simulated - observed)
    residuals = [(np.where(known, simulated - level, 0.0), sums) for simulated, sums in forecasts]
    pairs_buffer = np.empty((cells, width), dtype=bool)
    change_buffer = np.empty((cells, width))
    error_buffer = np.empty((cells, width))
    for h in range(1, min(len(n), width - 1) + 1):
        k, w = h - 1, width - h
        pairs = np.logical_and(origin[:, :w], target[:, h:], out=pairs_buffer[:, :w])
        count = np.count_nonzero(pairs)
        if not count:
            continue
        change = np.subtract(level[:, h:], level[:, :w], out=change_buffer[:, :w])
        change *= pairs
        chunk_mean = change.sum() / count
        chunk_m2 = max(np.einsum("ij,ij->", change, change) - chunk_mean * chunk_mean * count,
                       0.0)
        delta = chunk_mean - mean[k]
        total = n[k] + count
        sst[k] += chunk_m2 + delta * delta * n[k] * count / total
        mean[k] += delta * count / total
        for residual, sums in residuals:
            error = np.subtract(residual[:, h:], residual[:, :w], out=error_buffer[:, :w])
            error *= pairs
            sums[k] += np.einsum("ij,ij->", error, error)
        sse_zero[k] += np.einsum("ij,ij->", change, change)
        n[k] = total


def skill_horizon(scores: dict, skill: float) -> int:
    """The largest h at which the skill over persistence and, where scored, over the
    reference are both >= ``skill`` (0 when none)."""
    kept = np.asarray(scores["skill_persistence"], dtype=np.float64) >= skill
    reference = np.asarray(scores["skill_reference"], dtype=np.float64)
    if np.isfinite(reference).any():
        kept &= reference >= skill
    h = np.asarray(scores["h"])
    return int(h[kept].max()) if kept.any() else 0


def prediction_horizon(scores: dict, threshold: float) -> int:
    """The largest h whose r2 is >= threshold (0 when none): the R² horizon."""
    r2 = np.asarray(scores["r2"], dtype=np.float64)
    h = np.asarray(scores["h"])
    skilled = np.flatnonzero(r2 >= threshold)
    return int(h[skilled].max()) if skilled.size else 0


def _check(simulated, observed, mask, max_horizon, name="simulated"):
    observed = np.asarray(observed, dtype=np.float64)
    simulated = np.asarray(simulated, dtype=np.float64)
    mask = np.asarray(mask)
    if observed.ndim != 2:
        raise InputError(_SOURCE, "observed", f"shape {observed.shape} is not (cells, times)")
    for label, array in ((name, simulated), ("mask", mask)):
        if array.shape != observed.shape:
            raise InputError(_SOURCE, label, f"shape {array.shape} does not match the "
                             f"observations {observed.shape} (cells, times)")
    if mask.dtype != bool:
        raise InputError(_SOURCE, "mask", f"must be boolean, got {mask.dtype}")
    if not np.all(np.isfinite(simulated)):
        raise InputError(_SOURCE, name, f"has {int(np.sum(~np.isfinite(simulated)))} "
                         "missing or infinite values")
    if (isinstance(max_horizon, bool) or not isinstance(max_horizon, (int, np.integer))
            or max_horizon < 1):
        raise InputError(_SOURCE, "max_horizon", f"must be an integer >= 1, got {max_horizon!r}")
    return simulated, observed, mask
