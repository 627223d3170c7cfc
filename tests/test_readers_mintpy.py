"""MintPy time series written by MintPy's own writer, read back."""

import h5py
import numpy as np
import pytest
import readers_fixtures as fx

from cases.readers import detect_insar_format, read_insar
from cases.readers.geodesy import los_to_vertical, project
from cases.readers.mintpy import read_mintpy
from engine.errors import InputError

# the fixtures are written by MintPy's own writer
pytestmark = pytest.mark.needs("mintpy.utils.writefile")


@pytest.fixture(scope="module")
def truth():
    return fx.truth(n_dates=40)


@pytest.mark.parametrize("geocoded", [True, False])
def test_values_dates_sign_units_and_coordinates(tmp_path, truth, geocoded):
    path = fx.write_mintpy(tmp_path / "mintpy", truth, geocoded=geocoded)
    assert detect_insar_format(path) == "mintpy"
    series = read_insar(path)
    assert series.component == "los"
    np.testing.assert_array_equal(series.dates, truth.dates)
    rows, cols = np.divmod(np.arange(fx.ROWS * fx.COLS), fx.COLS)
    assert list(series.ids[:2]) == ["r0c0", "r0c1"]
    np.testing.assert_allclose(series.lon, truth.lon[rows, cols], atol=1e-5)
    np.testing.assert_allclose(series.lat, truth.lat[rows, cols], atol=1e-5)
    # LOS toward the satellite, in metres, as the truth seen from the satellite
    np.testing.assert_allclose(series.values, fx.los_toward(truth)[:, rows, cols].T, atol=1e-7)
    up = los_to_vertical(series)
    np.testing.assert_allclose(up.values, truth.up[:, rows, cols].T, atol=1e-6)
    # a subsiding pixel stays negative: the sign survives
    assert up.values[5 * fx.COLS + 9, -1] < -0.05
    assert "date 20160105" in series.reference


def test_geocoded_pixel_centres_are_half_a_step_in(tmp_path, truth):
    path = fx.write_mintpy(tmp_path, truth)
    series = project(read_mintpy(path), fx.CRS)
    assert series.lon[0] == pytest.approx(fx.LON0 + fx.STEP / 2)
    assert series.lat[0] == pytest.approx(fx.LAT0 - fx.STEP / 2)
    assert series.crs == fx.CRS


def test_mask_and_empty_pixels_are_dropped(tmp_path, truth):
    from mintpy.utils import writefile

    path = fx.write_mintpy(tmp_path, truth)
    with h5py.File(path, "a") as f:
        data = f["timeseries"][()]
        data[:, 0, 0] = np.nan
        f["timeseries"][...] = data
    mask = np.ones((fx.ROWS, fx.COLS), dtype=bool)
    mask[3, 4] = False
    writefile.write({"mask": mask}, str(tmp_path / "maskTempCoh.h5"),
                    metadata={"FILE_TYPE": "mask", "LENGTH": fx.ROWS, "WIDTH": fx.COLS},
                    print_msg=False)
    series = read_mintpy(path)
    assert len(series) == fx.ROWS * fx.COLS - 2
    assert "r0c0" not in series.ids and "r3c4" not in series.ids
    assert any("maskTempCoh" in c for c in series.conversions)


def test_unit_from_the_flag_when_the_file_is_silent(tmp_path, truth):
    path = fx.write_mintpy(tmp_path, truth, drop=("UNIT",))
    with pytest.raises(InputError, match="--insar-unit"):
        read_mintpy(path)
    series = read_mintpy(path, unit="m")
    np.testing.assert_allclose(series.values[:, -1],
                               fx.los_toward(truth)[-1].ravel(), atol=1e-7)


def test_unsorted_dates_are_sorted(tmp_path, truth):
    path = fx.write_mintpy(tmp_path, truth)
    with h5py.File(path, "a") as f:
        dates, data = f["date"][()], f["timeseries"][()]
        f["date"][...] = dates[::-1]
        f["timeseries"][...] = data[::-1]
    series = read_mintpy(path)
    np.testing.assert_array_equal(series.dates, truth.dates)
    np.testing.assert_allclose(series.values, fx.los_toward(truth).reshape(40, -1).T, atol=1e-7)
