"""Several InSAR tracks of the same ground, decomposed into vertical and east-west
displacement.

Each track is a PointSeries along its own line of sight (m, positive toward the
satellite) with the unit vector (e, n, u) from the ground to the satellite at every
point, projected into the case's CRS, on its own acquisition dates. The steps:

1. the tracks' common span (latest first acquisition to earliest last one) on periods
   of the case's frequency; each point's value in a period is the mean of its
   acquisitions inside it (gaps stay gaps), less its value in the first period, the
   common zero (a point without an acquisition there is dropped);
2. groups: every point of the FIRST track is an anchor; its group is the points of
   every track within ``distance`` metres of it (itself included); an anchor whose group
   misses a track is dropped;
3. in each period, least squares on the group's observed values with

       d_los = e * d_east + u * d_up,

   each track weighted equally (each of its points by one over its number of observed
   points in the group), so that a dense track does not outvote a sparse one. A period
   is resolved where the columns (e, u) are independent enough, det(A) / (A_ee A_uu) >=
   MIN_INDEPENDENCE for the normal matrix A (about 1 for an ascending with a descending
   track, near 0 for one track alone or two of the same geometry); elsewhere both parts
   are gaps.

North-south motion is not solved for: near-polar orbits look almost east-west, so the
north component of the line of sight is small (|n| ~ 0.1) and nearly the same on
ascending and descending tracks; whatever moves north-south stays in the fit as
n * d_north, mostly inside d_up. The cells are the anchors (ids and positions of the
first track's points).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cases.readers.points import PointSeries, check_los_vector
from cases.readers.resample import bin_mean, period_axis
from engine.errors import InputError

MIN_INDEPENDENCE = 0.1
#: anchors fitted at once (bounds the [anchor, period] work arrays)
CHUNK = 20_000


@dataclass(frozen=True)
class TrackPair:
    """Agreement of two tracks (indices ``first``, ``second``) over the ``groups`` anchors
    whose group holds both: medians over those groups of each track's mean line-of-sight
    rate (m/yr), of their difference, and of the difference of the rates turned vertical
    as if the ground moved vertically only (rate / u); and the 90th percentile of that
    last difference's size (a median hides motion confined to part of the ground)."""

    first: int
    second: int
    groups: int
    rate_first: float
    rate_second: float
    rate_difference: float
    vertical_only_difference: float
    vertical_only_p90: float


@dataclass(frozen=True)
class Decomposition:
    """The decomposed series (vertical in ``values``, east-west in ``east``, m, on the
    periods of the tracks' common span, zero at the first) at the anchors; per track the
    points dropped without a value in the first period; the anchors dropped for want of
    a point of every track within the distance; the share of resolved anchor-periods
    among those where two tracks or more have a value; the RMS residual (m) over the group
    members' values in resolved periods and their count; the pairs' agreement; the
    largest |north component| of the lines of sight."""

    series: PointSeries
    dropped_no_zero: tuple[int, ...]
    dropped_unpaired: int
    resolved_share: float
    rms_residual: float
    residual_count: int
    pairs: tuple[TrackPair, ...]
    max_north: float


def check_tracks(tracks: list[PointSeries]) -> None:
    """Refuse, before any work, a track that cannot be decomposed: already vertical, or
    without the east and north components of its line of sight."""
    count = len(tracks)
    for track in tracks:
        if track.component != "los":
            raise InputError(track.source, "component",
                             f"values are already vertical; decomposing {count} tracks needs "
                             "every one along its line of sight")
        if not track.has_geometry:
            raise InputError(track.source, "geometry",
                             f"no east and north components of the line of sight, needed to "
                             f"decompose {count} tracks: give los_e, los_n, los_u columns, or "
                             "incidence and heading (columns or # header lines; MintPy: "
                             "azimuthAngle in the geometry file or HEADING; LiCSBAS: E.geo, "
                             "N.geo)")
        check_los_vector(track.source, "geometry", track.ids, track.los_east, track.los_north,
                         track.los_up)


def common_axis(tracks: list[PointSeries], freq: str) -> np.ndarray:
    """Period starts of the tracks' common span; refuses tracks that do not overlap."""
    first, last = tracks[0], tracks[0]
    for track in tracks[1:]:
        first = track if track.dates.min() > first.dates.min() else first
        last = track if track.dates.max() < last.dates.max() else last
    if first.dates.min() > last.dates.max():
        raise InputError(first.source, "dates",
                         f"acquisitions begin {first.dates.min()}, after {last.source} ends "
                         f"({last.dates.max()}): the tracks do not overlap in time")
    return period_axis(first.dates.min(), last.dates.max(), freq)


def on_periods(track: PointSeries, axis: np.ndarray, freq: str) -> tuple[PointSeries, int]:
    """The track on the periods ``axis`` (period means, zero at the first period) and the
    number of points dropped without a value in the first period."""
    binned, _ = bin_mean(track.dates, track.values, axis, freq)
    keep = np.flatnonzero(~np.isnan(binned[:, 0]))
    kept = track.take(keep)
    return replace(kept, dates=axis, values=binned[keep] - binned[keep, :1]), \
        len(track) - len(keep)


def _groups(anchors: PointSeries, track: PointSeries, distance: float):
    """[anchor, point] 0/1 sparse matrix: the track's points within ``distance`` m."""
    from scipy import sparse
    from scipy.spatial import cKDTree

    near = cKDTree(np.column_stack([track.x, track.y])).query_ball_point(
        np.column_stack([anchors.x, anchors.y]), r=distance)
    lengths = np.fromiter((len(n) for n in near), dtype=np.int64, count=len(near))
    columns = np.concatenate([np.asarray(n, dtype=np.int64) for n in near]) \
        if lengths.sum() else np.empty(0, np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return sparse.csr_matrix((np.ones(len(columns)), columns, indptr),
                             shape=(len(anchors), len(track)))


class _Sums:
    """Per track, the sums over each group's observed points that the normal equations
    and the residual need ([anchor, period] each)."""

    def __init__(self, members, track: PointSeries):
        from scipy import sparse

        observed = ~np.isnan(track.values)
        seen = observed.astype(np.float64)
        d = np.where(observed, track.values, 0.0)
        e, u = track.los_east, track.los_up

        def weighted(w, x):
            return np.asarray((members @ sparse.diags(w)) @ x)

        self.count = np.asarray(members @ seen)
        self.ee, self.eu, self.uu = (weighted(w, seen) for w in (e * e, e * u, u * u))
        self.ed, self.ud = weighted(e, d), weighted(u, d)
        self.dd = np.asarray(members @ (d * d))


def _fit(sums: list[_Sums]):
    """(up, east, residual sum of squares, residual count) per anchor and period; NaN up
    and east where unresolved (their residual terms are then 0)."""
    shape = sums[0].count.shape
    a_ee, a_eu, a_uu, b_e, b_u = (np.zeros(shape) for _ in range(5))
    for s in sums:
        # each track counts once: its sums become means over its observed points
        w = np.divide(1.0, s.count, out=np.zeros(shape), where=s.count > 0)
        a_ee += w * s.ee
        a_eu += w * s.eu
        a_uu += w * s.uu
        b_e += w * s.ed
        b_u += w * s.ud
    det = a_ee * a_uu - a_eu ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        resolved = (a_ee > 0) & (a_uu > 0) & (det >= MIN_INDEPENDENCE * a_ee * a_uu)
        east = np.where(resolved, (a_uu * b_e - a_eu * b_u) / det, np.nan)
        up = np.where(resolved, (a_ee * b_u - a_eu * b_e) / det, np.nan)
    e0, u0 = np.where(resolved, east, 0.0), np.where(resolved, up, 0.0)
    squares, count = 0.0, 0
    for s in sums:
        r2 = (s.dd - 2 * e0 * s.ed - 2 * u0 * s.ud + e0 ** 2 * s.ee + 2 * e0 * u0 * s.eu
              + u0 ** 2 * s.uu)
        # an exact fit leaves rounding only, which may come out below zero
        squares += float(np.sum(np.where(resolved, np.maximum(r2, 0.0), 0.0)))
        count += int(np.sum(np.where(resolved, s.count, 0.0)))
    return up, east, squares, count


def _pairs(tracks: list[PointSeries], members: list) -> tuple[TrackPair, ...]:
    """Each pair's agreement in line-of-sight rates over the groups holding both."""
    group_rates = []
    for track, m in zip(tracks, members):
        rates = track.rates()
        known = np.isfinite(rates)
        n = np.asarray(m @ known.astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            los = np.asarray(m @ np.where(known, rates, 0.0)) / n
            vertical = np.asarray(m @ np.where(known, rates / track.los_up, 0.0)) / n
        group_rates.append((los, vertical))
    out = []
    for k in range(len(tracks)):
        for j in range(k + 1, len(tracks)):
            both = np.isfinite(group_rates[k][0]) & np.isfinite(group_rates[j][0])
            if not both.any():
                continue
            (los_k, up_k), (los_j, up_j) = group_rates[k], group_rates[j]
            apart = up_k[both] - up_j[both]
            out.append(TrackPair(k, j, int(both.sum()), float(np.median(los_k[both])),
                                 float(np.median(los_j[both])),
                                 float(np.median(los_k[both] - los_j[both])),
                                 float(np.median(apart)),
                                 float(np.percentile(np.abs(apart), 90))))
    return tuple(out)


def decompose(tracks: list[PointSeries], freq: str, distance: float) -> Decomposition:
    """Vertical and east-west displacement at the first track's points from ``tracks``
    (line of sight, with geometry, projected into one CRS; see the module's docstring)."""
    check_tracks(tracks)
    axis = common_axis(tracks, freq)
    placed = [on_periods(track, axis, freq) for track in tracks]
    tracks = [p[0] for p in placed]
    anchors = tracks[0]
    members = [_groups(anchors, track, distance) for track in tracks]
    paired = np.ones(len(anchors), dtype=bool)
    for m in members:
        paired &= np.asarray(m.sum(axis=1)).ravel() > 0
    keep = np.flatnonzero(paired)
    anchors, members = anchors.take(keep), [m[keep] for m in members]

    up = np.empty((len(anchors), len(axis)))
    east = np.empty_like(up)
    squares, count, covered = 0.0, 0, 0
    for start in range(0, len(anchors), CHUNK):
        rows = slice(start, start + CHUNK)
        sums = [_Sums(m[rows], track) for m, track in zip(members, tracks)]
        up[rows], east[rows], sq, n = _fit(sums)
        squares, count = squares + sq, count + n
        covered += int((sum((s.count > 0).astype(int) for s in sums) >= 2).sum())
    resolved = int(np.isfinite(up).sum())
    if len(anchors) == 0 or not np.isfinite(up[:, 0]).any():
        raise InputError(anchors.source, "x/y",
                         f"no point of this track has a point of every other track within "
                         f"{distance:g} m with values in the first period {axis[0]}: "
                         "nothing to decompose (raise --track-distance?)")
    names = ", ".join(t.source for t in tracks)
    series = replace(anchors, source=names, values=up, east=east, component="up",
                     los_up=None, los_east=None, los_north=None,
                     reference=" / ".join(t.reference for t in tracks),
                     conversions=(f"{len(tracks)} tracks decomposed into vertical and "
                                  f"east-west (least squares on groups within {distance:g} m "
                                  "of the first track's points)",))
    return Decomposition(
        series=series, dropped_no_zero=tuple(p[1] for p in placed),
        dropped_unpaired=int((~paired).sum()), resolved_share=resolved / max(covered, 1),
        rms_residual=float(np.sqrt(squares / count)) if count else float("nan"),
        residual_count=count, pairs=_pairs(tracks, members),
        max_north=float(max(np.abs(t.los_north).max() for t in tracks)))
