"""Re-referencing InSAR series in space (to a reference point or area) and in time (to a
reference date), the two datums every InSAR displacement is relative to."""

from __future__ import annotations

import numpy as np

from cases.readers.points import PointSeries
from engine.errors import InputError


def to_reference_points(series: PointSeries, x: float, y: float, radius: float,
                        source="--params") -> PointSeries:
    """Subtract, at each date, the mean of the points within ``radius`` (m) of (x, y).

    The reference points themselves end at zero; a reference without any point in
    reach, or without a value at some date, is refused."""
    if series.x is None:
        raise ValueError("project the series before referencing it in space")
    near = (series.x - x) ** 2 + (series.y - y) ** 2 <= radius ** 2
    if not near.any():
        nearest = float(np.sqrt(((series.x - x) ** 2 + (series.y - y) ** 2).min()))
        raise InputError(source, "insar.reference",
                         f"no point within {radius:g} m of ({x:.1f}, {y:.1f}); the nearest "
                         f"is {nearest:.1f} m away")
    with np.errstate(all="ignore"):
        datum = np.nanmean(series.values[near], axis=0)
    if np.isnan(datum).any():
        date = series.dates[np.argmax(np.isnan(datum))]
        raise InputError(source, "insar.reference",
                         f"the {int(near.sum())} reference point(s) have no value on {date}")
    return series.with_conversion(
        f"re-referenced in space to the mean of {int(near.sum())} point(s) within {radius:g} m "
        f"of ({x:.1f}, {y:.1f})",
        values=series.values - datum[None, :],
        reference=f"mean of {int(near.sum())} point(s) within {radius:g} m of "
                  f"({x:.1f}, {y:.1f}) {series.crs or ''}".rstrip())


def to_reference_date(series: PointSeries, date=None) -> tuple[PointSeries, int]:
    """Subtract each point's value at ``date`` (default: the first acquisition), so the
    series are zero there; points without a value on that date are dropped. Returns the
    series and how many points were dropped."""
    if date is None:
        k = 0
    else:
        date = np.datetime64(date, "D")
        hits = np.flatnonzero(series.dates == date)
        if len(hits) == 0:
            raise InputError("--params", "insar.reference_date",
                             f"{date} is not an acquisition date ({series.dates[0]} .. "
                             f"{series.dates[-1]}, {len(series.dates)} dates)")
        k = int(hits[0])
    has = ~np.isnan(series.values[:, k])
    kept = series.take(np.flatnonzero(has))
    out = kept.with_conversion(
        f"zero at {series.dates[k]} (each point's value on that date subtracted)",
        values=kept.values - kept.values[:, k:k + 1])
    return out, int((~has).sum())
