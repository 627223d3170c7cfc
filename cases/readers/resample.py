"""Putting irregular acquisitions on the case's regular time axis without inventing data.

A period of the axis (a day, a month starting on its 1st, a year starting on 1 January)
gets the mean of the measurements taken inside it, and NaN when there are none: gaps
stay gaps, nothing is interpolated.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InputError

FREQS = {"D": "D", "MS": "M", "YS": "Y"}


def _unit(freq: str) -> str:
    if freq not in FREQS:
        raise InputError("command line", "--freq", f'"{freq}" is not one of '
                                                   f"{', '.join(FREQS)}")
    return FREQS[freq]


def period_start(dates: np.ndarray, freq: str) -> np.ndarray:
    """datetime64[D] start of the period (of ``freq``) containing each date."""
    return np.asarray(dates, dtype="datetime64[D]").astype(
        f"datetime64[{_unit(freq)}]").astype("datetime64[D]")


def period_axis(first, last, freq: str) -> np.ndarray:
    """Period starts (datetime64[D]) from the period of ``first`` to that of ``last``."""
    unit = _unit(freq)
    start = np.datetime64(first, "D").astype(f"datetime64[{unit}]")
    stop = np.datetime64(last, "D").astype(f"datetime64[{unit}]")
    return np.arange(start, stop + 1).astype("datetime64[D]")


def period_index(dates: np.ndarray, axis: np.ndarray, freq: str) -> np.ndarray:
    """Index into ``axis`` of each date's period; -1 where it falls outside the axis."""
    starts = period_start(dates, freq)
    index = np.searchsorted(axis, starts)
    inside = (index < len(axis)) & (axis[np.minimum(index, len(axis) - 1)] == starts)
    return np.where(inside, index, -1)


def bin_mean(dates: np.ndarray, values: np.ndarray, axis: np.ndarray, freq: str):
    """[P, T] mean of ``values`` [P, D] over the dates in each period of ``axis``, NaN
    where a period has no measurement; also [P, T] counts of measurements averaged."""
    values = np.atleast_2d(values)
    index = period_index(dates, axis, freq)
    inside = index >= 0
    ok = ~np.isnan(values) & inside[None, :]
    shape = (values.shape[0], len(axis))
    rows, cols = np.nonzero(ok)
    flat = rows * len(axis) + index[cols]
    total = np.bincount(flat, values[rows, cols], minlength=shape[0] * shape[1]).reshape(shape)
    count = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


def runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], np.asarray(missing, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]
