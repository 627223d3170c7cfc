"""Layered extensometers mapped to aquifers by depth."""

import numpy as np
import pytest
import readers_fixtures as fx

from cases.readers.extensometers import read_extensometers
from cases.readers.params import read_params
from engine.errors import InputError


@pytest.fixture
def params(tmp_path):
    return read_params(fx.write_params(tmp_path))


def test_layers_of_one_aquifer_add_up(tmp_path, params):
    path = fx.write_extensometers(tmp_path, fx.truth(n_dates=5))
    ext = read_extensometers(path, params.aquifers, params.extensometers)
    assert list(ext.sites) == ["E1"]
    k = 6  # seventh month: layers 40-80 (5 mm/yr) and 80-110 (3 mm/yr) are confined-1
    when = np.datetime64("2016-07-01")
    c1 = ext.record_compaction[(ext.record_aquifer == 0) & (ext.record_time == when)]
    c2 = ext.record_compaction[(ext.record_aquifer == 1) & (ext.record_time == when)]
    assert c1 == pytest.approx([(5.0 + 3.0) * k / 12 * 1e-3], abs=1e-6)
    assert c2 == pytest.approx([10.0 * k / 12 * 1e-3], abs=1e-6)
    assert any("40..80 m -> confined-1" in n for n in ext.notes)


def test_partial_overlap_and_missing_layer_readings_are_reported(tmp_path, params):
    rows = [["S", 0, 0, "2016-01-01", 30, 70, 1.0], ["S", 0, 0, "2016-01-01", 80, 110, 2.0],
            ["S", 0, 0, "2016-02-01", 30, 70, 1.5]]
    path = fx.write_csv(tmp_path / "e.csv", ["site", "x", "y", "date", "layer_top",
                                             "layer_bottom", "compaction"], rows,
                        comments=["unit: mm"])
    ext = read_extensometers(path, params.aquifers, params.extensometers)
    assert any("30..70 m -> confined-1 (75% of the layer inside)" in n for n in ext.notes)
    assert any("1 reading(s) dropped" in n for n in ext.notes)
    assert list(ext.record_compaction) == pytest.approx([3.0e-3])


def test_unit_declared_in_params(tmp_path):
    params = read_params(fx.write_params(tmp_path, '\n[extensometers]\nunit = "m"\n'))
    path = fx.write_csv(tmp_path / "e.csv", ["site", "x", "y", "time", "top", "bottom",
                                             "compaction"],
                        [["S", 0, 0, "2016-01-01", 50, 60, 0.002]])
    ext = read_extensometers(path, params.aquifers, params.extensometers)
    assert ext.record_compaction[0] == pytest.approx(0.002)
    with pytest.raises(InputError, match=r"compaction: the unit of \"compaction\""):
        read_extensometers(path, params.aquifers, {"unit": None})
