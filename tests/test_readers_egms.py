"""EGMS L2a / L2b / L3 CSV fixtures built from the product's documented column layout."""

import numpy as np
import pyproj
import pytest
import readers_fixtures as fx

from cases.readers import detect_insar_format, read_insar
from cases.readers.egms import read_egms
from cases.readers.geodesy import los_to_vertical, project


@pytest.fixture(scope="module")
def truth():
    return fx.truth(n_dates=30)


def _write(folder, truth, level, name=None, sep=","):
    header, rows = fx.egms_rows(truth, level)
    name = name or f"EGMS_{level}_050A_0123_IW2_VV_2016_2017_1.csv"
    return fx.write_csv(folder / name, header, rows, sep=sep)


@pytest.mark.parametrize("level,sep", [("L2a", ","), ("L2b", ";")])
def test_l2_line_of_sight_millimetres_to_vertical_metres(tmp_path, truth, level, sep):
    path = _write(tmp_path, truth, level, sep=sep)
    assert detect_insar_format(path) == "egms"
    series = read_insar(path, crs=fx.CRS)
    assert series.component == "los" and f"EGMS {level}" in series.reference
    np.testing.assert_array_equal(series.dates, truth.dates)
    up = project(los_to_vertical(series), fx.CRS)
    # values were written with 0.01 mm resolution and the geometry with 1e-6
    np.testing.assert_allclose(up.values, truth.up.reshape(30, -1).T, atol=2e-5)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", fx.CRS, always_xy=True).transform(
        truth.lon.ravel(), truth.lat.ravel())
    np.testing.assert_allclose(up.x, x, atol=0.01)
    np.testing.assert_allclose(up.y, y, atol=0.01)


def test_without_crs_the_points_stay_in_etrs_laea(tmp_path, truth):
    series = read_egms(_write(tmp_path, truth, "L2b"))
    assert series.crs == "EPSG:3035" and series.lon is None


def test_l3_vertical_is_already_up(tmp_path, truth):
    path = _write(tmp_path, truth, "L3", name="EGMS_L3_E40N24_100km_U_2016_2017_1.csv")
    series = read_egms(path, crs=fx.CRS)
    assert series.component == "up" and series.los_up is None
    np.testing.assert_allclose(series.values, truth.up.reshape(30, -1).T, atol=6e-6)
    # only easting/northing in EPSG:3035: transformed to the case CRS through pyproj
    projected = project(series, fx.CRS)
    x, _ = pyproj.Transformer.from_crs("EPSG:4326", fx.CRS, always_xy=True).transform(
        truth.lon.ravel(), truth.lat.ravel())
    np.testing.assert_allclose(projected.x, x, atol=0.2)   # easting written to 0.1 m


def test_flags_that_agree_with_the_product_are_accepted(tmp_path, truth):
    path = _write(tmp_path, truth, "L2a")
    series = read_egms(path, unit="mm", los_sign="toward")
    assert series.values.shape == (fx.ROWS * fx.COLS, 30)
