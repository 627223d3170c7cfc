"""Equivalent interbeds and lag times from borehole beds."""

import numpy as np
import pytest
import readers_fixtures as fx

from cases.readers.params import read_params
from cases.readers.stratigraphy import equivalent_bed, read_stratigraphy


def test_equivalent_bed_by_hand():
    # beds 4, 8, 2 m: b_equiv = sqrt((16 + 64 + 4) / 3) = sqrt(28); n = 14 / sqrt(28)
    b, n = equivalent_bed([4.0, 8.0, 2.0])
    assert b == pytest.approx(28 ** 0.5)
    assert n == pytest.approx(14 / 28 ** 0.5)
    # identical beds are their own equivalent
    assert equivalent_bed([3.0] * 5) == pytest.approx((3.0, 5.0))


def test_sites_lag_times_and_defaults(tmp_path):
    params = read_params(fx.write_params(tmp_path))
    beds = read_stratigraphy(fx.write_stratigraphy(tmp_path, fx.truth(n_dates=3)), params.aquifers)
    rows = {(s, a): k for k, (s, a) in enumerate(zip(beds.site, beds.aquifer))}
    assert set(rows) == {("B1", 0), ("B1", 1), ("B2", 0), ("B2", 1), ("B3", 1)}
    k = rows[("B2", 1)]                           # beds 12, 3, 9, 6 m in confined-2
    b_equiv = np.sqrt(np.mean(np.square([12.0, 3.0, 9.0, 6.0])))
    assert beds.b_equiv[k] == pytest.approx(b_equiv)
    assert beds.n_equiv[k] == pytest.approx(30.0 / b_equiv)
    assert beds.beds[k] == 4
    # Kv and Sskv from --params (5e-5 m/d, 5e-4 1/m): tau = (b/2)^2 Sskv / Kv days
    assert beds.tau[k] == pytest.approx((b_equiv / 2) ** 2 * 5e-4 / 5e-5)


def test_beds_by_depth_with_their_own_properties(tmp_path):
    params = read_params(fx.write_params(tmp_path))
    path = fx.write_csv(tmp_path / "s.csv", ["borehole", "x", "y", "top", "bottom", "kv", "sskv"],
                        [["H", 0, 0, 50, 54, 1e-5, 1e-3], ["H", 0, 0, 60, 72, 3e-5, 2e-3],
                         ["H", 0, 0, 130, 140, "", ""]])
    beds = read_stratigraphy(path, params.aquifers)
    assert list(beds.aquifer) == [0, 1]
    assert beds.kv[0] == pytest.approx((4 * 1e-5 + 12 * 3e-5) / 16)   # thickness-weighted
    assert beds.sskv[0] == pytest.approx((4 * 1e-3 + 12 * 2e-3) / 16)
    assert beds.kv[1] == pytest.approx(5e-5)                           # empty: --params
    assert beds.sske[0] == pytest.approx(1e-5)
