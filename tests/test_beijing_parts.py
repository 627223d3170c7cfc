"""The pieces of the Beijing Plain twin against independent truths: random-field
statistics, bilinear interpolation, geometry, bed systems, lag times, stress periods,
volumes of pumping and replenishment, scenario files."""

from __future__ import annotations

import numpy as np
import pytest

from cases.beijing import settings as settings_module
from cases.beijing.domain import Domain, polyline_distance
from cases.beijing.fields import Grid, bilinear, random_fields
from cases.beijing.scenario import load_scenario, parse_scenario
from cases.beijing.settings import DEFAULTS, load_settings, size_settings
from cases.beijing.stresses import DAYS_PER_YEAR, Periods, Stresses, history
from cases.beijing.truth import TruthFields, bed_systems, equivalent_thickness
from engine.errors import InputError
from physics.analytical import equivalent_thickness as terzaghi_equivalent
from physics.analytical import lag_time

SCENARIOS = DEFAULTS.parent / "scenarios"


@pytest.fixture(scope="module")
def settings():
    return load_settings()


@pytest.fixture(scope="module")
def domain(settings):
    return Domain.create(settings, seed=3)


def test_the_seed_decides_the_world(settings):
    same = Domain.create(settings, seed=5), Domain.create(settings, seed=5)
    other = Domain.create(settings, seed=6)
    np.testing.assert_array_equal(same[0].fining_field, same[1].fining_field)
    assert np.abs(same[0].fining_field - other.fining_field).max() > 0.05
    grid = same[0].grid_of(5000.0)
    periods = Periods.build(settings["time"], "1990-01-01")
    wells = [Stresses(d, grid, periods, seed).pumping()[0]
             for d, seed in ((same[0], 5), (same[1], 5), (other, 6))]
    np.testing.assert_array_equal(wells[0], wells[1])
    assert not np.array_equal(wells[0], wells[2])


def test_random_fields_have_unit_variance_and_gaussian_covariance():
    grid = Grid(0.0, 0.0, 500.0, 120, 100)
    length = 5000.0
    fields = random_fields(np.random.default_rng(0), grid, length, count=60)
    assert abs(fields.mean()) < 0.1
    assert fields.var() == pytest.approx(1.0, rel=0.1)
    lag = int(length / grid.spacing)    # 10 cells = one correlation length
    corr = np.mean(fields[:, :, :-lag] * fields[:, :, lag:])
    assert corr == pytest.approx(np.exp(-0.5), abs=0.08)


def test_bilinear_reproduces_a_plane_and_clamps_outside():
    grid = Grid(100.0, 200.0, 50.0, 7, 5)
    gx, gy = grid.mesh()
    plane = 2.0 + 0.3 * gx - 0.1 * gy
    rng = np.random.default_rng(1)
    x = rng.uniform(grid.x[0], grid.x[-1], 200)
    y = rng.uniform(grid.y[0], grid.y[-1], 200)
    np.testing.assert_allclose(bilinear(grid, plane, x, y), 2.0 + 0.3 * x - 0.1 * y,
                               rtol=1e-12)
    far = bilinear(grid, plane, [grid.x[-1] + 1e4], [grid.y[0] - 1e4])
    assert far[0] == pytest.approx(plane[0, -1])
    stacked = bilinear(grid, np.stack([plane, 2 * plane]), x, y)
    np.testing.assert_allclose(stacked[1], 2 * stacked[0])


def test_polyline_distance_against_brute_force():
    path = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    x = np.array([5.0, 12.0, 11.0, -3.0])
    y = np.array([2.0, 5.0, 12.0, -4.0])
    dist, along = polyline_distance(x, y, path)
    dense = np.concatenate([np.linspace(path[i], path[i + 1], 20001) for i in range(2)])
    brute = np.min(np.hypot(x[:, None] - dense[:, 0], y[:, None] - dense[:, 1]), axis=1)
    np.testing.assert_allclose(dist, brute, atol=1e-3)
    np.testing.assert_allclose(along, [0.25, 0.75, 1.0, 0.0])


def test_bed_systems_keep_the_equivalent_thickness_and_the_clay_budget():
    rng = np.random.default_rng(2)
    b = rng.uniform(6.0, 30.0, 500)
    clay = rng.uniform(20.0, 90.0, 500)
    ratios = np.array([1.25, 0.8, 0.4])[:, None]
    shares = np.array([0.35, 0.4, 0.25])[:, None]
    most = np.maximum(clay, 2.8 * b)
    thickness, count = bed_systems(b, clay, ratios, shares, most)
    assert np.all(count >= 1.0)
    assert np.all((count * thickness).sum(axis=0) <= most * (1 + 1e-9))
    np.testing.assert_allclose(thickness / thickness[0], np.broadcast_to(
        ratios / ratios[0], thickness.shape), rtol=1e-12)
    np.testing.assert_allclose(equivalent_thickness(thickness, count), b, rtol=1e-12)
    # MODFLOW's b_equiv of an explicit list of beds (physics.analytical) agrees
    k = 7
    beds = np.repeat(thickness[:, k], np.round(count[:, k] * 1000).astype(int))
    assert terzaghi_equivalent(beds) == pytest.approx(
        equivalent_thickness(thickness[:, [k]], np.round(count[:, [k]] * 1000) / 1000)[0])


def test_truth_sediments_lag_times_and_geometry(domain):
    x, y = domain.grid_of(4000.0).points()
    heads = np.tile(domain.land_surface(x, y) - 5.0, (4, 1))
    sed = TruthFields.create(domain, seed=3).sediments(x, y, heads)
    t = domain.settings["truth"]
    for a in range(4):
        systems = sed.interbeds[a]
        kv = systems[0].kv
        # the lag time of the equivalent bed, recomputed independently
        np.testing.assert_allclose(lag_time(sed.b_equiv[a], kv, sed.sskv0[a]),
                                   sed.lag_days[a], rtol=1e-10)
        months = sed.lag_days[a] / (365.25 / 12)
        assert months.min() >= t["lag_months_min"][a] - 1e-9
        assert months.max() <= t["lag_months_max"][a] + 1e-9
        assert sed.b_equiv[a].min() >= t["b_equiv_min"][a] - 1e-9
        thickness = np.array([s.thickness for s in systems])
        count = np.array([s.count for s in systems])
        np.testing.assert_allclose(equivalent_thickness(thickness, count), sed.b_equiv[a])
        height = sed.bottom[a] - sed.top[a]
        np.testing.assert_allclose(sed.clay[a] + sed.coarse[a].thickness, height)
        assert np.all(sed.coarse[a].thickness > 0)
        if sed.aquitards[a] is not None:   # years, not months
            assert lag_time(sed.aquitards[a].thickness, sed.aquitards[a].kv,
                            sed.sskv0[a]).min() > 300.0
    # finer sediments, thicker equivalent beds: the plain's far side beats the fans
    fining = domain.fining(x, y)
    assert sed.b_equiv[3][fining > 0.8].mean() > 2 * sed.b_equiv[3][fining < 0.2].mean()


def test_periods_are_contiguous_annual_then_monthly(settings):
    periods = Periods.build(settings["time"], "2025-01-01")
    assert periods.end[0] == np.datetime64("1955-01-01")
    np.testing.assert_array_equal(periods.start[1:], periods.end[:-1])
    days = periods.length_days[1:]
    annual = ~periods.monthly[1:]
    assert set(days[annual]) == {365.0, 366.0} and annual.sum() == 1980 - 1955
    assert set(days[~annual]) == {28.0, 29.0, 30.0, 31.0}
    assert periods.start[1:][~annual][0] == np.datetime64("1980-01-01")
    assert periods.end[-1] == np.datetime64("2025-01-01")


def test_history_interpolates_by_mid_year_and_holds_the_ends():
    table = [[2000, 1.0], [2010, 2.0]]
    assert history(table, 2000.5) == 1.0
    assert history(table, 2005.5) == pytest.approx(1.5)
    assert history(table, 1990.0) == 1.0 and history(table, 2030.0) == 2.0


def test_pumping_and_replenishment_volumes_follow_the_settings(domain, settings):
    grid = domain.grid_of(5000.0)
    periods = Periods.build(settings["time"], "2025-01-01")
    stresses = Stresses(domain, grid, periods, seed=3)
    cells, rates = stresses.pumping()
    year = periods.start.astype("datetime64[Y]").astype(int) + 1970
    in_2010 = (year == 2010) & periods.monthly
    pumped = (rates[in_2010] * periods.length_days[in_2010, None]).sum()
    expected = 0.0
    for spec in settings["pumping"]["components"].values():
        pattern = np.asarray(spec["monthly"]) / np.mean(spec["monthly"])
        mid = periods.middle_year[in_2010]
        expected += np.sum(history(spec["history"], mid) * spec["volume"] / DAYS_PER_YEAR
                           * pattern[periods.month[in_2010]] * periods.length_days[in_2010])
    assert pumped == pytest.approx(expected, rel=1e-9)
    assert np.all(rates[0] == 0)     # the natural steady state
    # shares per aquifer group: the first confined group of the irrigation only
    assert set(np.unique(cells[:, 0])) <= {0, 1, 2, 3}

    recharge = stresses.recharge()
    replenished = stresses.river_corridors(settings["recharge"]["replenishment_reach"])
    p = np.flatnonzero(year == 2022)[0]
    r = settings["recharge"]
    rain_and_rivers = Stresses(domain, grid, periods, seed=3,
                               adjust=_Only(("rain", "rivers"))).recharge()
    volume = ((recharge[p] - rain_and_rivers[p]) * grid.spacing**2).sum() * DAYS_PER_YEAR
    assert volume == pytest.approx(history(r["replenishment"], periods.middle_year[p]),
                                   rel=1e-9)
    assert replenished.max() <= 1.0


class _Only:
    """Keeps only the named recharge kinds (pumping untouched)."""

    def __init__(self, kinds):
        self.kinds = kinds

    def pumping(self, date, layer, x, y):
        return 1.0

    def recharge(self, date, kind, x, y):
        return 1.0 if kind in self.kinds else 0.0


def test_size_settings_refuse_an_unknown_size(settings):
    assert size_settings(settings, "small")["points"] == 2000
    assert size_settings(settings, "full")["points"] >= 100_000
    with pytest.raises(InputError, match="--size.*smal"):
        size_settings(settings, "smal")


def test_every_shipped_setting_has_a_range_and_the_shipped_file_keeps_to_them():
    shipped = settings_module._read(DEFAULTS)
    assert settings_module.check_settings(shipped, DEFAULTS) == load_settings()
    for field, pattern, value in settings_module._leaves(shipped):
        year = field.endswith("[0]") and any(settings_module._matches(k, pattern[:-4])
                                             for k in settings_module.YEAR_TABLES)
        assert isinstance(value, list) or year or settings_module._rule(
            settings_module.LIMITS, pattern) is not None, field


#: settings file text -> the dotted key and the value its refusal names
BAD_SETTINGS = {
    '[domain]\nwidth = "wide"': ("domain.width", '"wide" is not a number'),
    "[domain]\nwidth = -5.0": ("domain.width", "-5.0 is out of range: need 0 < value"),
    "[domain]\nwidth = 0": ("domain.width", "0 is out of range: need 0 < value"),
    "[domain]\nheight = nan": ("domain.height", "nan is not a finite number"),
    "[domain]\nheigth = 1.0": ("domain.heigth", 'did you mean "height"'),
    "[sizes.tiny]\npoints = 2.5": ("sizes.tiny.points", "2.5 is not an integer"),
    "[sizes.tiny]\npoints = -3": ("sizes.tiny.points", "-3 is out of range"),
    "[sizes.tiny]\ngrid_spacing = 1.0": ("sizes.tiny.grid_spacing", "8,000,000,000 cells"),
    "[hydraulics]\nk_front = [1.0, 2.0]": ("hydraulics.k_front", "[1.0, 2.0] has 2 values"),
    "[hydraulics]\nk_far = [3.0, 4.0, inf, 4.0]": ("hydraulics.k_far[2]", "inf is not a finite"),
    '[hydraulics]\nk_far = [3.0, 4.0, "a", 4.0]': ("hydraulics.k_far[2]", '"a" is not a number'),
    "[hydraulics]\nk_noise = true": ("hydraulics.k_noise", "true is not a number"),
    '[domain]\naquifer_names = ["a", "b", "c"]': ("domain.aquifer_bottoms", "it needs 3"),
    "[pumping.components.city]\nlayers = [0.5, 0.5, 0.5, 0.5]":
        ("pumping.components.city.layers", "sum to 2, not 1"),
    "[pumping.components.city]\nwells = 0": ("pumping.components.city.wells", "0 is out of"),
    '[time]\ncase_start = "1950-01-01"': ("time.case_start", '"1950-01-01" is not after'),
    '[time]\nhistory_end = "2024-13-01"': ("time.history_end", '"2024-13-01" is not a date'),
    "[time]\nhistory_end = 2024-12-01": ("time.history_end", "is not a text"),
    '[wells]\nmethod = "krigin"': ("wells.method", '"krigin" is not one of idw, kriging'),
    "[recharge]\nriver_flow = [[2000, 1.0], [1990, 0.5]]":
        ("recharge.river_flow", "the years [2000, 1990] do not increase"),
    "[recharge]\nriver_flow = [[2000.5, 1.0]]": ("recharge.river_flow[0][0]", "2000.5 is not an"),
    "[recharge]\nriver_flow = [[1000, 1.0]]": ("recharge.river_flow[0][0]", "1000 is out of"),
    '[insar]\nmissions = [{ name = "S1", start = "2016-01-01", end = "2024-12-01" }]':
        ("insar.missions[0].missing", "missing"),
    "[domain]\nrivers = 3": ("domain.rivers", "3 is not an array"),
    "[truth]\nnodes = 2": ("truth.nodes", "2 is out of range: need 3 <= value"),
    '[domain]\nmountain_front = ["west", "up"]': ("domain.mountain_front[1]", '"up" is not one'),
    "[wells]\ngap_months = [18, 3]": ("wells.gap_months", "[18, 3] is not [shortest, longest]"),
    "domain = 5": ("domain", "5 is not a table"),
}


@pytest.mark.parametrize("text", list(BAD_SETTINGS))
def test_bad_settings_are_refused_in_one_line_before_any_work(tmp_path, capsys, text):
    from engine.app.cli import main

    path = tmp_path / "mine.toml"
    path.write_text(text + "\n")
    out = tmp_path / "twin"
    assert main(["make-case", "beijing", "--size", "tiny", "--settings", str(path),
                 "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    key, words = BAD_SETTINGS[text]
    assert len(lines) == 1 and f"{path}: {key}: " in lines[0] and words in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]   # nothing made


def test_a_good_settings_file_is_merged(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[domain]\nwidth = 90000\nrivers = [{ name = "Wenyu", path_km = [[30.0, 80.0], '
                    '[60.0, 0.0]] }]\n[time]\ncase_start = "2005-01-01"\n'
                    '[pumping.components.city]\nlayers = [0.25, 0.25, 0.25, 0.25]\n'
                    'history = [[1960, 0.5], [2000, 1.0]]\n[wells]\nmethod = "idw"\n'
                    "count = [1, 2, 3, 4]\n[sizes.tiny]\npoints = 50\n")
    settings = load_settings(path)
    shipped = load_settings()
    assert settings["domain"]["width"] == 90000
    assert settings["domain"]["height"] == shipped["domain"]["height"]
    assert [r["name"] for r in settings["domain"]["rivers"]] == ["Wenyu"]
    assert settings["pumping"]["components"]["city"]["volume"] == \
        shipped["pumping"]["components"]["city"]["volume"]
    assert settings["wells"] == {**shipped["wells"], "method": "idw", "count": [1, 2, 3, 4]}
    assert size_settings(settings, "tiny")["points"] == 50
    assert Domain.create(settings, seed=1).extent == (90000, shipped["domain"]["height"])


def test_settings_file_overrides_and_refuses_misspelt_keys(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text("[insar]\nnoise_mm = 1.0\n")
    assert load_settings(good)["insar"]["noise_mm"] == 1.0
    assert load_settings(good)["insar"]["atmosphere_mm"] == load_settings()["insar"][
        "atmosphere_mm"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[insar]\nnoise_m = 1.0\n")
    with pytest.raises(InputError, match='insar.noise_m.*did you mean "noise_mm"'):
        load_settings(bad)


@pytest.mark.parametrize("name", ["business-as-usual", "deep-pumping-cut-30",
                                  "double-replenishment", "drought"])
def test_shipped_scenarios_load(domain, name):
    scenario = load_scenario(SCENARIOS / f"{name}.toml", domain)
    assert scenario.name == name
    assert scenario.until == np.datetime64("2035-12-01")


def test_scenario_rules_act_where_and_when_they_say(domain):
    scenario = parse_scenario({
        "pumping": [{"aquifer": "confined-3", "zone": "north", "start": "2027-01",
                     "end": "2029-12", "multiplier": 0.5}],
        "recharge": [{"kind": "rain", "start": "2025-01", "multiplier": 0.6}],
        "heads": [{"aquifer": "confined-2", "zone": "all", "start": "2026-01",
                   "end": "2026-11", "offset": 3.0}]}, "test.toml", domain)
    north = domain.landmark("north_centre")
    south = domain.landmark("south_centre")
    x, y = np.array([north[0], south[0]]), np.array([north[1], south[1]])
    np.testing.assert_array_equal(scenario.pumping("2028-06-01", 3, x, y), [0.5, 1.0])
    np.testing.assert_array_equal(scenario.pumping("2028-06-01", 2, x, y), [1.0, 1.0])
    np.testing.assert_array_equal(scenario.pumping("2030-01-01", 3, x, y), [1.0, 1.0])
    assert scenario.recharge("2030-01-01", "rain", x, y) == 0.6
    assert scenario.recharge("2030-01-01", "rivers", x, y) == 1.0
    times = np.array(["2025-12-01", "2026-01-01", "2026-06-01", "2026-11-30", "2027-05-01"],
                     dtype="datetime64[D]")
    offsets = scenario.head_offsets(4, x, y, times)
    assert np.all(offsets[[0, 1, 3]] == 0)
    np.testing.assert_allclose(offsets[2, 0], [0, 0, 3 * 151 / 333, 3.0, 3.0])


@pytest.mark.parametrize("raw, field, words", [
    ({"pumpin": []}, "pumpin", 'did you mean "pumping"'),
    ({"pumping": [{"aquifer": "confined-4", "multiplier": 1.0}]}, "pumping[0].aquifer",
     "'confined-4' is not one of"),
    ({"pumping": [{"multiplier": -0.5}]}, "pumping[0].multiplier", "-0.5 must be >= 0"),
    ({"pumping": [{"multiplier": 1.0, "start": "2027-13"}]}, "pumping[0].start",
     '"2027-13" is not a month'),
    ({"pumping": [{"multiplier": 1.0, "start": "2027-05", "end": "2027-01"}]},
     "pumping[0].end", "before start"),
    ({"recharge": [{"kind": "snow", "multiplier": 1.0}]}, "recharge[0].kind", "'snow'"),
    ({"heads": [{"aquifer": "confined-1", "start": "2026-01", "end": "2027-01"}]},
     "heads[0].offset", "missing"),
    ({"pumping": {"multiplier": 1.0}}, "pumping", "[[pumping]]"),
    ({"pumping": [{"zone": "east", "multiplier": 1.0}]}, "pumping[0].zone", "'east'"),
])
def test_bad_scenarios_name_file_field_and_value(domain, raw, field, words):
    with pytest.raises(InputError) as err:
        parse_scenario(raw, "my-scenario.toml", domain)
    assert err.value.source == "my-scenario.toml"
    assert err.value.field == field
    assert words in str(err.value)


def test_scenario_file_errors(tmp_path, domain):
    broken = tmp_path / "broken.toml"
    broken.write_text("pumping = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_scenario(broken, domain)
    with pytest.raises(InputError, match="cannot be read"):
        load_scenario(tmp_path / "missing.toml", domain)


def test_case_arrays_in_hdf5_load_as_the_csv_ones(tmp_path):
    from cases.beijing.store import write_case_files
    from engine.case import Aquifer, Case, Cells, Compressible, Observations
    from engine.caseio import load_case

    rng = np.random.default_rng(4)
    n, t = 6, 5
    times = np.arange(np.datetime64("2003-01"), np.datetime64("2003-06")).astype(
        "datetime64[D]")
    beds = Compressible(kind="interbeds", thickness=rng.uniform(2, 5, n),
                        count=np.ones(n), kv=np.full(n, 1e-4), sske=np.full(n, 1e-5),
                        sskv=np.full(n, 1e-4))
    aquifers = tuple(Aquifer(name=f"a{a}", head=rng.normal(10, 2, (n, t)),
                             interbeds=(beds,)) for a in range(2))
    observed = rng.normal(0, 0.01, (n, t))
    observed[:, 0] = 0.0
    observed[2, 3] = np.nan
    wells = {"well": np.array(["w1", "w1"]), "x": np.array([1.5, 1.5]),
             "y": np.array([2.5, 2.5]), "aquifer": np.array([0, 0]),
             "time": times[:2], "head": np.array([9.5, 9.25])}
    case = Case(name="store", times=times,
                cells=Cells(np.array([f"c{i}" for i in range(n)]), rng.uniform(0, 9, n),
                            rng.uniform(0, 9, n)),
                aquifers=aquifers, observations=Observations(displacement=observed,
                                                             wells=wells))
    as_csv = load_case(write_case_files(case, tmp_path / "csv", arrays="csv"))
    as_h5 = load_case(write_case_files(case, tmp_path / "h5", arrays="hdf5"))
    assert (tmp_path / "h5" / "arrays.h5").exists()
    assert not list((tmp_path / "h5").glob("heads_*.csv"))
    for a in range(2):
        np.testing.assert_array_equal(as_h5.aquifers[a].head, case.aquifers[a].head)
        np.testing.assert_array_equal(as_h5.aquifers[a].head, as_csv.aquifers[a].head)
    np.testing.assert_array_equal(as_h5.observations.displacement, observed)
    np.testing.assert_array_equal(as_h5.observations.wells["head"], wells["head"])


def test_scenario_heads_carry_the_observed_picture_forward():
    from cases.beijing.prior import carried_forward

    rng = np.random.default_rng(6)
    history = rng.normal(20, 5, (2, 3, 4))
    observed = history + rng.normal(0, 0.5, history.shape)
    world = np.concatenate([history, history[:, :, -1:] + [[[1.0, 2.5]]]], axis=2)
    world[:, :, 1] += 0.75          # a scenario may change the past too
    heads = carried_forward(observed, world, history)
    expected = np.concatenate([observed, observed[:, :, -1:] + [[[1.0, 2.5]]]], axis=2)
    expected[:, :, 1] += 0.75
    np.testing.assert_allclose(heads, expected, rtol=1e-12)
