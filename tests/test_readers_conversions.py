"""Resampling to the case axis, re-referencing, thinning and outlier detection, against
independent references (pandas resampling, brute-force geometry, a plain-Python greedy)."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from cases.readers.points import PointSeries
from cases.readers.quality import outliers
from cases.readers.reference import to_reference_date, to_reference_points
from cases.readers.resample import bin_mean, period_axis, period_index
from cases.readers.thinning import thin
from engine.errors import InputError


def test_monthly_means_match_pandas_and_gaps_stay_gaps():
    rng = np.random.default_rng(1)
    dates = np.datetime64("2016-01-03") + np.cumsum(rng.integers(5, 40, 60))
    dates = dates[(dates < np.datetime64("2017-03-01")) | (dates >= np.datetime64("2017-07-01"))]
    values = rng.normal(size=(3, len(dates)))
    values[1, ::4] = np.nan
    axis = period_axis(dates.min(), dates.max(), "MS")
    mean, count = bin_mean(dates, values, axis, "MS")
    for p in range(3):
        ref = pd.Series(values[p], index=pd.DatetimeIndex(dates)).resample("MS").mean()
        ref = ref.reindex(pd.DatetimeIndex(axis))
        np.testing.assert_allclose(mean[p], ref.to_numpy(), equal_nan=True)
    # March..June 2017 had no acquisition: nothing is invented there
    gap = (axis >= np.datetime64("2017-03-01")) & (axis < np.datetime64("2017-07-01"))
    assert np.isnan(mean[:, gap]).all() and (count[:, gap] == 0).all()


def test_yearly_and_daily_axes():
    dates = np.array(["2016-05-02", "2016-12-31", "2018-01-01"], dtype="datetime64[D]")
    axis = period_axis(dates[0], dates[-1], "YS")
    np.testing.assert_array_equal(axis, np.array(["2016-01-01", "2017-01-01", "2018-01-01"],
                                                 dtype="datetime64[D]"))
    mean, _ = bin_mean(dates, np.array([[1.0, 3.0, 5.0]]), axis, "YS")
    np.testing.assert_allclose(mean, [[2.0, np.nan, 5.0]])
    days = period_axis("2016-01-30", "2016-02-02", "D")
    assert len(days) == 4
    assert list(period_index(np.array(["2016-02-01", "2016-03-01"], dtype="datetime64[D]"),
                             days, "D")) == [2, -1]
    with pytest.raises(InputError, match="--freq"):
        period_axis("2016-01-01", "2016-02-01", "W")


def _series(x, y, values, dates=None):
    n = len(x)
    dates = dates if dates is not None else np.datetime64("2016-01-01") + 12 * np.arange(values.shape[1])
    return PointSeries(source="t", ids=np.array([f"p{i}" for i in range(n)]), dates=dates,
                       values=np.asarray(values, float), component="up",
                       x=np.asarray(x, float), y=np.asarray(y, float), crs="EPSG:32650")


def test_reference_points_end_at_zero_and_differences_are_kept():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 1000, 50), rng.uniform(0, 1000, 50)
    x[:3], y[:3] = [500, 510, 490], [500, 495, 505]
    values = rng.normal(size=(50, 8))
    out = to_reference_points(_series(x, y, values), 500.0, 500.0, 20.0)
    near = np.hypot(x - 500, y - 500) <= 20
    np.testing.assert_allclose(out.values[near].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.values[7] - out.values[9], values[7] - values[9])
    with pytest.raises(InputError, match=r"insar\.reference: no point within 1 m"):
        to_reference_points(_series(x, y, values), -400.0, 0.0, 1.0)


def test_reference_date_zeroes_and_drops_points_without_it():
    values = np.array([[1.0, 2.0, 4.0], [np.nan, 1.0, 1.0], [3.0, 3.0, np.nan]])
    s = _series([0, 1, 2], [0, 1, 2], values)
    out, dropped = to_reference_date(s)
    assert dropped == 1 and list(out.ids) == ["p0", "p2"]
    np.testing.assert_allclose(out.values, [[0, 1, 3], [0, 0, np.nan]])
    out, dropped = to_reference_date(s, s.dates[1])
    np.testing.assert_allclose(out.values[0], [-1, 0, 2])
    with pytest.raises(InputError, match="reference_date: 2016-01-02 is not an acquisition"):
        to_reference_date(s, "2016-01-02")


def _greedy(x, y, order, d):
    kept = []
    for i in order:
        if all((x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 >= d * d for j in kept):
            kept.append(i)
    return np.sort(kept)


def test_min_distance_thinning_equals_plain_greedy_and_is_maximal():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 5000, 3000), rng.uniform(0, 5000, 3000)
    kept = thin(x, y, "min-distance", 300.0, seed=7)
    order = np.random.default_rng(7).permutation(len(x))
    np.testing.assert_array_equal(kept, _greedy(x, y, order, 300.0))
    tree = cKDTree(np.column_stack([x[kept], y[kept]]))
    assert not tree.query_pairs(300.0 - 1e-9)            # kept points are >= 300 m apart
    dist, _ = tree.query(np.column_stack([x, y]))
    assert dist.max() < 300.0                             # every point has a kept one near
    assert not np.array_equal(kept, thin(x, y, "min-distance", 300.0, seed=8))


def test_grid_thinning_one_point_per_square_seeded():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 2000, 5000), rng.uniform(0, 2000, 5000)
    kept = thin(x, y, "grid", 250.0, seed=1)
    squares = {(int(a // 250), int(b // 250)) for a, b in zip(x, y)}
    kept_squares = [(int(a // 250), int(b // 250)) for a, b in zip(x[kept], y[kept])]
    assert len(kept_squares) == len(set(kept_squares)) == len(squares) == 64
    np.testing.assert_array_equal(kept, thin(x, y, "grid", 250.0, seed=1))
    assert not np.array_equal(kept, thin(x, y, "grid", 250.0, seed=2))


def test_outliers_find_spikes_not_trends_or_seasons():
    rng = np.random.default_rng(6)
    t = np.arange(120)
    clean = -0.002 * t + 0.01 * np.sin(2 * np.pi * t / 30) + rng.normal(0, 0.001, (20, 120))
    spiky = clean.copy()
    spikes = [(3, 40), (7, 41), (15, 90)]
    for p, k in spikes:
        spiky[p, k] += 0.03
    spiky[5, 10:20] = np.nan
    flags = outliers(spiky, t, threshold=5.0)
    assert sorted(zip(*np.nonzero(flags))) == spikes
    assert not outliers(clean, t, threshold=5.0).any()
    # a perfectly straight series is never flagged, even with a zero spread
    assert not outliers(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])).any()
