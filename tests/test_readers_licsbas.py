"""LiCSBAS cum.h5 fixtures in LiCSBAS' folder layout (TS_GEOCml*/cum.h5, GEOCml*/U.geo)."""

import h5py
import numpy as np
import pytest
import readers_fixtures as fx

from cases.readers import detect_insar_format, read_insar
from cases.readers.geodesy import los_to_vertical
from cases.readers.licsbas import read_licsbas
from cases.readers.reference import to_reference_date


@pytest.fixture(scope="module")
def truth():
    return fx.truth(n_dates=25)


def test_values_dates_sign_units_coordinates(tmp_path, truth):
    path = fx.write_licsbas(tmp_path, truth, refarea="0:1/0:1")
    assert detect_insar_format(path) == "licsbas"
    series = read_insar(path)
    np.testing.assert_array_equal(series.dates, truth.dates)
    np.testing.assert_allclose(series.lon, truth.lon.ravel(), atol=1e-9)
    np.testing.assert_allclose(series.lat, truth.lat.ravel(), atol=1e-9)
    up = los_to_vertical(series)
    # the reference pixel (0, 0) moves too: its line-of-sight motion is removed from
    # every pixel before the division by that pixel's own up component
    u = np.cos(np.radians(truth.incidence)).ravel()
    expected = truth.up.reshape(25, -1).T - np.outer(u[0] / u, truth.up[:, 0, 0])
    np.testing.assert_allclose(up.values, expected, atol=1e-6)
    assert "GEOCml1/U.geo" in " ".join(series.conversions)


def test_reference_window_mean_is_removed(tmp_path, truth):
    path = fx.write_licsbas(tmp_path, truth, refarea="0:3/5:7")
    with h5py.File(path, "a") as f:
        cum = f["cum"][()]
        f["cum"][...] = cum + 7.5 * np.arange(25, dtype=np.float32)[:, None, None]
    series = read_licsbas(path)
    window = series.values.reshape(fx.ROWS, fx.COLS, 25)[5:7, 0:3]
    np.testing.assert_allclose(window.mean(axis=(0, 1)), 0.0, atol=1e-7)  # float32 mm


def test_mask_of_step_15_is_applied(tmp_path, truth):
    path = fx.write_licsbas(tmp_path, truth)
    mask = np.ones((fx.ROWS, fx.COLS), np.float32)
    mask[4, 4] = 0
    (path.parent / "results").mkdir()
    mask.astype("<f4").tofile(path.parent / "results" / "mask")
    series = read_licsbas(path)
    assert "r4c4" not in series.ids and len(series) == fx.ROWS * fx.COLS - 1


def test_first_date_becomes_zero(tmp_path, truth):
    path = fx.write_licsbas(tmp_path, truth)
    with h5py.File(path, "a") as f:
        f["cum"][...] = f["cum"][()] + 3.0
    series, dropped = to_reference_date(read_licsbas(path))
    assert dropped == 0
    np.testing.assert_allclose(series.values[:, 0], 0.0)
