"""engine.scenario: the scenario format for any study area; the area plugs in its zones
(the Beijing twin's are tested in test_beijing_parts)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputError
from engine.scenario import WholeArea, load_scenario, parse_month, parse_scenario

AQUIFERS = ["shallow", "deep"]


class EastHalf:
    """A study area with one zone: x > 0."""

    zone_names = ("east",)

    def in_zone(self, zone, x, y):
        return np.asarray(x) > 0 if zone == "east" else np.ones(np.shape(x), dtype=bool)


def test_months_parse_to_first_or_last_day():
    assert parse_month("2027-02", "f.toml", "start") == np.datetime64("2027-02-01")
    assert parse_month("2028-02", "f.toml", "end", end_of_month=True) == np.datetime64(
        "2028-02-29")
    with pytest.raises(InputError) as err:
        parse_month(202701, "command line", "--until")
    assert (err.value.source, err.value.field) == ("command line", "--until")
    assert "202701" in err.value.detail


def test_heads_rules_of_a_study_area_with_its_own_zones(tmp_path):
    path = tmp_path / "recover.toml"
    path.write_text('until = "2030-12"\n[[heads]]\naquifer = "deep"\nzone = "east"\n'
                    'start = "2026-01"\nend = "2026-03"\noffset = 2.0\n', encoding="utf-8")
    scenario = load_scenario(path, AQUIFERS, EastHalf())
    assert scenario.name == "recover" and scenario.until == np.datetime64("2030-12-01")
    times = np.array(["2025-12-01", "2026-02-14", "2026-03-31", "2027-01-01"],
                     dtype="datetime64[D]")
    offsets = scenario.head_offsets(2, np.array([-1.0, 1.0]), np.zeros(2), times)
    assert (offsets[0] == 0).all() and (offsets[1, 0] == 0).all()
    np.testing.assert_allclose(offsets[1, 1], [0.0, 2.0 * 44 / 89, 2.0, 2.0])


@pytest.mark.parametrize("rule, zones, field, words", [
    ({"heads": [{"aquifer": "deep", "zone": "north", "start": "2026-01", "end": "2026-02",
                 "offset": 1.0}]}, None, "heads[0].zone", "defines no zones"),
    ({"heads": [{"aquifer": "deep", "zone": "eats", "start": "2026-01", "end": "2026-02",
                 "offset": 1.0}]}, EastHalf(), "heads[0].zone", 'did you mean "east"'),
    ({"recharge": [{"kind": "rain", "multiplier": 2.0}]}, None, "recharge[0].kind",
     "'rain' is not one of all"),
    ({"pumping": [{"aquifer": "confined-3", "multiplier": 0.7}]}, None,
     "pumping[0].aquifer", "not one of all, shallow, deep"),
])
def test_what_the_study_area_does_not_know_is_refused(rule, zones, field, words):
    with pytest.raises(InputError) as err:
        parse_scenario(rule, "s.toml", AQUIFERS, zones)
    assert (err.value.source, err.value.field) == ("s.toml", field)
    assert words in err.value.detail


def test_the_whole_area_is_everywhere():
    assert WholeArea().in_zone("all", np.zeros(3), np.zeros(3)).tolist() == [True] * 3
