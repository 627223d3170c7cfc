"""The generic persistent-scatterer table."""

import numpy as np
import readers_fixtures as fx

from cases.readers import detect_insar_format, read_insar
from cases.readers.geodesy import los_to_vertical, project
from cases.readers.ps_csv import read_ps_csv

DATES = ["20160105", "20160117", "20160210"]


def _rows(values, extra):
    return [[f"P{i}", *extra[i], *[str(v) for v in row]] for i, row in enumerate(values)]


def test_vertical_positive_down_in_centimetres(tmp_path):
    path = fx.write_csv(tmp_path / "ps.csv", ["id", "x", "y", *DATES],
                        _rows([[0, 1.5, 3.0], [0, -0.5, ""]], [[1, 2], [3, 4]]),
                        comments=["unit: cm", "positive: down"])
    assert detect_insar_format(path) == "csv"
    s = read_insar(path)
    assert s.component == "up"
    np.testing.assert_allclose(s.values[0], [0, -0.015, -0.03])
    assert np.isnan(s.values[1, 2])             # an empty cell stays a gap
    assert any("positive down" in c for c in s.conversions)


def test_line_of_sight_with_incidence_and_d_prefixed_dates(tmp_path):
    header = ["pid", "lon", "lat", "incidence", *[f"D{d}" for d in DATES]]
    path = fx.write_csv(tmp_path / "ps.csv", header,
                        _rows([[0, -8.0, -16.0]], [[116.4, 39.9, 60.0]]))
    s = read_ps_csv(path, unit="mm", los_sign="away")
    up = project(los_to_vertical(s), "EPSG:32650")
    # away-positive -8 mm at 60 degrees = 8 mm toward = 16 mm up
    np.testing.assert_allclose(up.values[0], [0, 0.016, 0.032])
    np.testing.assert_array_equal(up.dates, np.array(["2016-01-05", "2016-01-17", "2016-02-10"],
                                                      dtype="datetime64[D]"))


def test_unit_vector_columns_and_file_crs(tmp_path):
    header = ["id", "easting", "northing", "los_east", "los_north", "los_up", *DATES]
    path = fx.write_csv(tmp_path / "ps.csv", header,
                        _rows([[0, 4.0, 8.0]], [[448709.38, 4416830.56, 0.6, -0.1, 0.8]]),
                        comments=["unit: mm", "positive: toward", "crs: EPSG:32650"])
    s = los_to_vertical(read_ps_csv(path))
    assert s.crs == "EPSG:32650"
    np.testing.assert_allclose(s.values[0], [0, 0.005, 0.010])


def test_columns_in_any_case_and_extra_columns_ignored(tmp_path):
    header = ["ID", "X", "Y", "Coherence", "Velocity", *DATES]
    path = fx.write_csv(tmp_path / "ps.csv", header, _rows([[0, 1, 2]], [[1, 2, 0.9, -3]]),
                        comments=["unit: m", "positive: up"])
    s = read_ps_csv(path)
    np.testing.assert_allclose(s.values, [[0, 1, 2]])
