"""Well heads: long and wide tables, aquifer assignment, gaps, interpolation to cells."""

import numpy as np
import pytest
import readers_fixtures as fx

from cases.readers.interpolation import (
    Variogram,
    fit_variogram,
    idw_weights,
    interpolate,
    kriging_weights,
)
from cases.readers.params import read_params
from cases.readers.resample import period_axis
from cases.readers.wells import heads_on_axis, read_wells


@pytest.fixture(scope="module")
def truth():
    return fx.truth(n_dates=10)


@pytest.fixture
def params(tmp_path):
    return read_params(fx.write_params(tmp_path))


def test_long_table_positions_aquifers_and_heads(tmp_path, truth, params):
    wells = read_wells(fx.write_wells(tmp_path, truth), params.aquifers, params.wells)
    assert wells.aquifer_names == ("confined-1", "confined-2")
    assert list(wells.names) == list(fx.WELLS)
    assert list(wells.aquifer) == [0, 0, 0, 0, 1, 1, 1]
    w3 = list(wells.names).index("W3")
    mine = wells.record_well == w3
    expected = [fx.well_head("W3", d) for d in wells.record_time[mine]]
    np.testing.assert_allclose(wells.record_head[mine], expected, atol=1e-4)


def test_lonlat_positions_are_projected(tmp_path, truth, params):
    a = read_wells(fx.write_wells(tmp_path, truth), params.aquifers, params.wells)
    b = read_wells(fx.write_wells(tmp_path, truth, lonlat=True), params.aquifers, params.wells,
                   crs=fx.CRS)
    np.testing.assert_allclose(b.x, a.x, atol=0.1)
    np.testing.assert_allclose(b.y, a.y, atol=0.1)


def test_feet_are_converted(tmp_path, truth, params):
    wells = read_wells(fx.write_wells(tmp_path, truth, unit_suffix="_ft"), params.aquifers,
                       params.wells)
    np.testing.assert_allclose(wells.record_head[0], fx.well_head("W1", "2015-06-15") * 0.3048,
                               atol=1e-4)


def test_wide_table_with_metadata_and_screen_depths(tmp_path, params):
    fx.write_csv(tmp_path / "meta.csv", ["well", "x", "y", "screen_top", "screen_bottom"],
                 [["A", 0, 0, 50, 100], ["B", 1000, 0, 100, 135], ["C", 0, 1000, 150, 200]])
    heads = fx.write_csv(tmp_path / "wide.csv", ["time", "A", "B", "C"],
                         [["2016-01-10", -5, -6, ""], ["2016-02-10", -5.5, -6.5, -20]],
                         comments=["unit: m"])
    wells = read_wells(heads, params.aquifers, params.wells, metadata_path=tmp_path / "meta.csv")
    assert list(wells.aquifer) == [0, 1, 1]
    assert any("B" in n and "43%" in n for n in wells.notes)  # 15 of its 35 m
    assert any("1 empty head" in n for n in wells.notes)
    assert len(wells.record_head) == 5


def test_gaps_are_reported_short_ones_filled_in_time(tmp_path, truth, params):
    path = fx.write_wells(tmp_path, truth, gap=("W2", "2016-03", "2016-04"))
    wells = read_wells(path, params.aquifers, params.wells)
    axis = period_axis("2016-01-01", "2016-12-01", "MS")
    on = heads_on_axis(wells, axis, "MS", max_gap=2)
    w2 = list(wells.names).index("W2")
    assert on.gaps == (("W2", np.datetime64("2016-03-01"), np.datetime64("2016-04-01"), True),)
    assert np.isnan(on.measured[w2, 2:4]).all() and on.filled[w2, 2:4].all()
    # linear in time between Feb and May: the record is linear, so the truth comes back
    np.testing.assert_allclose(on.heads[w2, 2:4], [fx.well_head("W2", "2016-03-15"),
                                                   fx.well_head("W2", "2016-04-15")], atol=0.01)
    on = heads_on_axis(wells, axis, "MS", max_gap=1)
    assert on.gaps[0][3] is False and np.isnan(on.heads[w2, 2:4]).all()


def test_exact_duplicates_are_dropped_and_reported(tmp_path, truth, params):
    path = fx.write_wells(tmp_path, truth)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[1]]) + "\n")
    wells = read_wells(path, params.aquifers, params.wells)
    assert any("1 repeated record" in n for n in wells.notes)


def _brute_loo(xs, ys, values, weights):
    res = []
    for s in range(len(xs)):
        others = np.delete(np.arange(len(xs)), s)
        w = weights(xs[[s]], ys[[s]], xs[others], ys[others])
        res.append(w @ values[others] - values[s])
    return np.sqrt(np.mean(np.concatenate(res) ** 2))


@pytest.mark.parametrize("method", ["idw", "kriging"])
def test_interpolation_honours_wells_and_loo_matches_brute_force(method):
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(0, 10000, 9), rng.uniform(0, 10000, 9)
    values = (-10 - 0.001 * xs[:, None] + rng.normal(0, 0.5, (9, 6))
              - 0.2 * np.arange(6)[None, :])
    out = interpolate(np.r_[xs, 5000.0], np.r_[ys, 5000.0], xs, ys, values, method)
    np.testing.assert_allclose(out.values[:9], values, atol=1e-9)
    assert np.all(np.isfinite(out.values[9]))
    v = out.variogram
    weights = ((lambda a, b, c, d: idw_weights(a, b, c, d, 2.0)) if method == "idw"
               else (lambda a, b, c, d: kriging_weights(a, b, c, d, v)))
    assert out.loo_rmse == pytest.approx(_brute_loo(xs, ys, values, weights), rel=1e-10)
    assert out.loo_count == 9 * 6


def test_interpolation_uses_the_wells_measured_in_each_period():
    xs, ys = np.array([0.0, 100.0, 200.0]), np.array([0.0, 0.0, 0.0])
    values = np.array([[1.0, 1.0], [2.0, np.nan], [3.0, 3.0]])
    out = interpolate(np.array([100.0]), np.array([0.0]), xs, ys, values, "idw")
    np.testing.assert_allclose(out.values, [[2.0, 2.0]])   # period 2: mean of 1 and 3


def test_kriging_weights_sum_to_one_and_variogram_fit_recovers_the_range():
    rng = np.random.default_rng(11)
    xs, ys = rng.uniform(0, 20000, 150), rng.uniform(0, 20000, 150)
    truth = Variogram(nugget=0.0, partial_sill=4.0, range=3000.0)
    d = np.hypot(xs[:, None] - xs, ys[:, None] - ys)
    cov = truth.partial_sill * np.exp(-d / truth.range)
    fields = np.linalg.cholesky(cov + 1e-9 * np.eye(150)) @ rng.normal(size=(150, 60))
    fitted = fit_variogram(xs, ys, fields + rng.normal(size=60)[None, :])  # per-period means
    assert fitted.range == pytest.approx(truth.range, rel=0.3)
    assert fitted.partial_sill + fitted.nugget == pytest.approx(4.0, rel=0.3)
    w = kriging_weights(rng.uniform(0, 20000, 5), rng.uniform(0, 20000, 5), xs, ys, fitted)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
