"""Projection and line-of-sight conversion against independent truth: published
coordinates, the WGS 84 meridian arc, pyproj (a dependency)."""

import numpy as np
import pyproj
import pytest

from cases.readers.geodesy import (
    check_crs,
    lonlat_to_projected,
    los_to_vertical,
    project,
    utm_zone_of,
)
from cases.readers.points import PointSeries
from engine.errors import InputError

# WGS 84 meridian arc from the equator (m): 45 degrees and the quarter meridian
ARC_45 = 4984944.378
ARC_90 = 10001965.729


def test_utm_published_point():
    # CN Tower, Toronto: 43.642567 N, 79.387139 W -> UTM 17N 630084 E, 4833439 N
    x, y = lonlat_to_projected(-79.387139, 43.642567, "EPSG:32617")
    assert x == pytest.approx(630084, abs=1.0)
    assert y == pytest.approx(4833439, abs=1.0)


def test_utm_central_meridian_is_the_scaled_meridian_arc():
    x, y = lonlat_to_projected([117.0, 117.0, 117.0], [0.0, 45.0, 90.0], "EPSG:32650")
    np.testing.assert_allclose(x, 500000.0, atol=1e-6)
    np.testing.assert_allclose(y, 0.9996 * np.array([0.0, ARC_45, ARC_90]), atol=1e-3)


def test_utm_south_false_northing_and_symmetry():
    xn, yn = lonlat_to_projected(118.3, 30.0, "EPSG:32650")
    xs, ys = lonlat_to_projected(118.3, -30.0, "EPSG:32750")
    assert xs == pytest.approx(xn, abs=1e-6)
    assert ys == pytest.approx(10000000.0 - yn, abs=1e-6)
    # east-west mirror about the central meridian
    xw, _ = lonlat_to_projected(115.7, 30.0, "EPSG:32650")
    assert xw == pytest.approx(1000000.0 - xn, abs=1e-6)


def test_utm_matches_pyproj_across_the_zone():
    rng = np.random.default_rng(3)
    lon = 117.0 + rng.uniform(-3.5, 3.5, 500)
    lat = rng.uniform(0.0, 80.0, 500)
    x, y = lonlat_to_projected(lon, lat, "EPSG:32650")
    xr, yr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True).transform(lon, lat)
    np.testing.assert_allclose(x, xr, atol=1e-4)
    np.testing.assert_allclose(y, yr, atol=1e-4)


def test_other_crs_goes_through_pyproj():
    # CGCS2000 / 3-degree Gauss-Kruger CM 117E, used for Beijing
    x, y = lonlat_to_projected(116.4, 39.9, "EPSG:4548")
    xr, yr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(116.4, 39.9)
    assert (x, y) == pytest.approx((xr, yr), abs=1e-6)


def test_crs_spelling():
    assert check_crs("epsg:32650") == "EPSG:32650"
    assert utm_zone_of("EPSG:32750") == (50, False)
    assert utm_zone_of("EPSG:4548") is None
    with pytest.raises(InputError, match="--crs.*UTM50"):
        check_crs("UTM50")


def _series(values, los_up=None, component="los", **kw):
    values = np.asarray(values, float)
    return PointSeries(source="s.csv", ids=np.array([f"p{i}" for i in range(len(values))]),
                       dates=np.array(["2020-01-01", "2020-01-13"], dtype="datetime64[D]"),
                       values=values, component=component, los_up=los_up, **kw)


def test_los_to_vertical_divides_by_the_up_component():
    inc = np.radians([30.0, 45.0])
    up = np.array([[0.0, -0.02], [0.0, 0.01]])            # true vertical motion, m
    los = up * np.cos(inc)[:, None]                        # what the satellite sees
    out = los_to_vertical(_series(los, los_up=np.cos(inc)))
    assert out.component == "up"
    np.testing.assert_allclose(out.values, up)
    assert "vertical" in out.conversions[-1]


def test_los_to_vertical_refuses_grazing_geometry():
    with pytest.raises(InputError, match=r"s\.csv: los_up: point p1: .*0\.05"):
        los_to_vertical(_series([[0, 1], [0, 1]], los_up=np.array([0.8, 0.05])))


def test_project_needs_a_crs_for_lonlat():
    s = _series([[0, 1]], lon=np.array([116.4]), lat=np.array([39.9]))
    with pytest.raises(InputError, match="--crs"):
        project(s, None)
    out = project(s, "EPSG:32650")
    assert out.crs == "EPSG:32650" and out.x[0] == pytest.approx(448709.38, abs=0.01)
