"""Finding outliers in measured series, to report them (and drop them only when asked).

A value is an outlier when it departs from what its neighbours in time predict by more
than ``threshold`` robust standard deviations (1.4826 x the median absolute deviation of
those departures in that series) and by more than ``floor`` (so that a very smooth
series does not flag its noise). The prediction is the median, over every pair of one
measured neighbour before and one after (up to ``half_window`` on each side, as many
before as after), of the straight line through the pair evaluated at the value's time:
a steady trend departs by nothing, and neither does a trend across a gap in the record.
The first and last measured values have no neighbour on one side and are not judged.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


def outliers(values: np.ndarray, times=None, threshold: float = 5.0, floor: float = 0.0,
             half_window: int = 3) -> np.ndarray:
    """[P, D] True where ``values`` [P, D] (NaN = missing) holds an outlier; ``times``
    [D] (datetime64 or numbers; default evenly spaced)."""
    values = np.ascontiguousarray(np.atleast_2d(values), dtype=np.float64)
    if times is None:
        t = np.arange(values.shape[1], dtype=np.float64)
    else:
        times = np.asarray(times)
        t = ((times - times[0]).astype("timedelta64[D]").astype(np.float64)
             if np.issubdtype(times.dtype, np.datetime64) else times.astype(np.float64))
    return _flag(values, t, float(threshold), float(floor), int(half_window))


@njit(cache=True)
def _median(buf, n):
    """Median of buf[:n], sorting buf[:n] in place (n is at most half_window^2)."""
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    mid = n // 2
    return buf[mid] if n % 2 else 0.5 * (buf[mid - 1] + buf[mid])


@njit(parallel=True, cache=True)
def _flag(values, t, threshold, floor, half_window):
    n_points, n_dates = values.shape
    flags = np.zeros((n_points, n_dates), dtype=np.bool_)
    for p in prange(n_points):
        idx = np.flatnonzero(~np.isnan(values[p]))
        m = len(idx)
        if m < 3:
            continue
        series = values[p, idx]
        when = t[idx]
        predictions = np.empty(half_window * half_window)
        departure = np.empty(m - 2)
        for k in range(1, m - 1):
            h = min(half_window, k, m - 1 - k)
            n = 0
            for i in range(k - h, k):
                for j in range(k + 1, k + h + 1):
                    slope = (series[j] - series[i]) / (when[j] - when[i])
                    predictions[n] = series[i] + slope * (when[k] - when[i])
                    n += 1
            departure[k - 1] = series[k] - _median(predictions, n)
        spread = np.abs(departure - np.median(departure))
        limit = max(threshold * 1.4826 * np.median(spread), floor)
        for k in range(1, m - 1):
            if abs(departure[k - 1]) > limit:
                flags[p, idx[k]] = True
    return flags
