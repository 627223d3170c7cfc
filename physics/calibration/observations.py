"""The part of the record a calibration may learn from, with its noise.

Only the (cell, time) entries the split lets fit() read are taken: the training part,
and the validation part when ``validation`` is True (the smoother has no early stopping
to spend it on, and it is never the test part). Everything else is dropped before any
arithmetic, so a poisoned or missing test observation cannot reach the fit.

- InSAR displacement (m, up positive, relative to the first case time, as the model's);
- extensometer compaction per aquifer (m, shortening positive), relative to the
  installation reading: each (site, aquifer) series is compared as its change since its
  first readable record, the model's the same way.

Noise (one standard deviation, m), when not given: from the data, as the robust spread
of second differences of consecutive monthly readings (a smooth signal cancels there,
white noise of sd s gives sd sqrt(6) s): 1.4826 MAD / sqrt(6).

The model's own error (``model_error``), when not given: from the residual a pilot
calibration leaves (``solver.py``), as its autocovariance at lags of one reading and
more, where white noise has none: the sd is the square root of the lag-1
autocovariance, the correlation time (months) the lag at which the autocovariance falls
to 1/e of it (interpolated in log; the longest lag counted, a third of the record, if it
never does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAD_TO_SD = 1.4826
#: m; no noise estimate falls below this (a perfectly smooth record would weigh infinitely).
NOISE_FLOOR_M = 1.0e-4


@dataclass(frozen=True)
class TrainingData:
    """cells [C]: case indices of the cells with a readable observation (they are
    calibrated); n_times: the forward runs need times [0, n_times) only.
    displacement [C, n_times] (m, NaN where not readable); displacement_noise (m).
    Extensometer records [R]: ext_cell (index into ``cells``), ext_aquifer, ext_time,
    ext_reference (time index of the series' first record), ext_change (m, since it),
    ext_noise [R] (m)."""

    cells: np.ndarray
    n_times: int
    displacement: np.ndarray
    displacement_noise: float
    ext_cell: np.ndarray
    ext_aquifer: np.ndarray
    ext_time: np.ndarray
    ext_reference: np.ndarray
    ext_change: np.ndarray
    ext_noise: np.ndarray

    @property
    def n_values(self) -> int:
        return int(np.isfinite(self.displacement).sum()) + len(self.ext_change)


def readable_mask(case, split, validation: bool = True) -> np.ndarray:
    """bool [N, T]: the entries fit() may read."""
    if split is None:
        return np.ones((case.n_cells, case.n_times), dtype=bool)
    mask = split.train_mask(case)
    if validation:
        mask |= split.validation_mask(case)
    return mask


def training_data(case, mask: np.ndarray, insar_noise: float = 0.0,
                  extensometer_noise: float = 0.0) -> TrainingData:
    """The readable observations of ``case`` under ``mask`` [N, T]; a noise of 0 is
    estimated from the data."""
    obs = case.observations
    n, t = case.n_cells, case.n_times
    displacement = np.full((n, t), np.nan)
    if obs.displacement is not None:
        d = np.asarray(obs.displacement, dtype=np.float64)
        displacement = np.where(mask & np.isfinite(d), d, np.nan)
    records = _extensometer_records(case, mask)
    observed = np.isfinite(displacement).any(axis=1)
    observed[records["cell"]] = True
    cells = np.flatnonzero(observed)
    if not len(cells):
        raise ValueError("no readable observation: nothing to calibrate against")
    last = np.flatnonzero(mask[cells].any(axis=0))
    n_times = int(last[-1]) + 1
    local = np.full(n, -1)
    local[cells] = np.arange(len(cells))
    sd_insar = insar_noise or _second_difference_sd([displacement[cells]])
    ext_noise = np.full(len(records["cell"]), extensometer_noise or np.nan)
    if not extensometer_noise and len(ext_noise):
        ext_noise[:] = _second_difference_sd(records["series"])
    return TrainingData(
        cells=cells, n_times=n_times, displacement=displacement[cells, :n_times],
        displacement_noise=float(sd_insar), ext_cell=local[records["cell"]],
        ext_aquifer=records["aquifer"], ext_time=records["time"],
        ext_reference=records["reference"], ext_change=records["change"],
        ext_noise=ext_noise)


def _extensometer_records(case, mask) -> dict:
    """Readable extensometer records as changes since each series' first readable one
    (that first one is dropped: it is 0 by construction). ``series``: one monthly array
    per series (NaN gaps) for the noise estimate."""
    e = case.observations.extensometers
    empty = {k: np.zeros(0, dtype=np.int64) for k in ("cell", "aquifer", "time", "reference")}
    empty.update(change=np.zeros(0), series=[])
    if not e or not len(e["cell"]):
        return empty
    t = np.searchsorted(case.times, np.asarray(e["time"]).astype("datetime64[D]"))
    on_axis = t < case.n_times
    on_axis[on_axis] &= case.times[t[on_axis]] == np.asarray(e["time"])[on_axis]
    cell = np.asarray(e["cell"], dtype=np.int64)
    aquifer = np.asarray(e["aquifer"], dtype=np.int64)
    value = np.asarray(e["compaction"], dtype=np.float64)
    readable = on_axis.copy()
    readable[on_axis] = mask[cell[on_axis], t[on_axis]]
    readable &= np.isfinite(np.where(readable, value, 0.0))
    out = {k: [] for k in ("cell", "aquifer", "time", "reference", "change")}
    series = []
    sites = np.asarray(e["site"])
    for key in sorted(set(zip(sites[readable], aquifer[readable]))):
        rows = np.flatnonzero(readable & (sites == key[0]) & (aquifer == key[1]))
        rows = rows[np.argsort(t[rows], kind="stable")]
        first, rest = rows[0], rows[1:]
        out["cell"].append(cell[rest])
        out["aquifer"].append(aquifer[rest])
        out["time"].append(t[rest])
        out["reference"].append(np.full(len(rest), t[first]))
        out["change"].append(value[rest] - value[first])
        monthly = np.full(case.n_times, np.nan)
        monthly[t[rows]] = value[rows]
        series.append(monthly[None, :])
    if not series:
        return empty
    records = {k: np.concatenate(v) for k, v in out.items()}
    records["series"] = series
    return records


def _second_difference_sd(blocks) -> float:
    """Robust sd (m) of white noise on series [.., T] (NaN gaps) from their second
    differences over three consecutive readings."""
    values = np.concatenate([
        (b[:, 2:] - 2.0 * b[:, 1:-1] + b[:, :-2]).ravel() for b in blocks if b.shape[1] > 2])
    values = values[np.isfinite(values)]
    if not len(values):
        return NOISE_FLOOR_M
    mad = np.median(np.abs(values - np.median(values)))
    return max(MAD_TO_SD * mad / np.sqrt(6.0), NOISE_FLOOR_M)


def model_error(residual: np.ndarray, months_per_step: float) -> tuple[float, float]:
    """(sd m, correlation time months) of the correlated part of ``residual`` [K, T]
    (model - observed on a regular time axis, NaN where missing); (0, 1) when no
    positive lag-1 autocovariance is found."""
    seen = np.isfinite(residual)
    r = np.where(seen, residual, 0.0)
    lags = np.arange(1, max(2, residual.shape[1] // 3) + 1)
    cov = []
    for k in lags:
        pairs = seen[:, k:] & seen[:, :-k]
        if not pairs.any():
            break
        cov.append(float(np.sum((r[:, k:] * r[:, :-k])[pairs]) / pairs.sum()))
    if not cov or cov[0] <= 0.0:
        return 0.0, 1.0
    cov = np.array(cov)
    below = np.flatnonzero(cov < cov[0] / np.e)
    if not len(below):
        return float(np.sqrt(cov[0])), float(lags[len(cov) - 1] * months_per_step)
    k = below[0]
    # between lags k and k + 1 (1-based): log-linear to the 1/e crossing
    upper = np.log(max(cov[k - 1], 1e-300)) - np.log(cov[0] / np.e)
    lower = np.log(cov[0] / np.e) - np.log(max(cov[k], 1e-300))
    step = upper / (upper + lower) if upper + lower > 0 else 0.0
    return float(np.sqrt(cov[0])), float((lags[k - 1] + step) * months_per_step)
