"""``make-case from-data``: cases assembled from real-format files, checked against the
synthetic truth the files were made from, written, loaded and run."""

import numpy as np
import pandas as pd
import pytest
import readers_fixtures as fx

from cases.from_data import FromData, build_case, make_case_from_data
from cases.readers.stratigraphy import equivalent_bed
from engine import caseio
from engine.app.make_case import main_from_data
from engine.registry import make_solver

# the InSAR fixture is written by MintPy's own writer
pytestmark = pytest.mark.needs("mintpy.utils.writefile")
TRUTH = fx.truth(n_dates=100)       # 2016-01-05 .. 2019-04-07


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return {
        "insar": str(fx.write_mintpy(d / "mintpy", TRUTH)),
        "wells": str(fx.write_wells(d, TRUTH, gap=("W2", "2017-03", "2017-04"))),
        "params": str(fx.write_params(d)),
        "stratigraphy": str(fx.write_stratigraphy(d, TRUTH)),
        "extensometers": str(fx.write_extensometers(d, TRUTH)),
        "crs": fx.CRS,
    }


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory):
    return build_case(FromData(out=str(tmp_path_factory.mktemp("out")), **inputs))


def _monthly_truth():
    """Monthly mean of the true vertical displacement, zero at the first month (pandas,
    independently of the readers)."""
    frame = pd.DataFrame(TRUTH.up.reshape(len(TRUTH.dates), -1), index=pd.DatetimeIndex(TRUTH.dates))
    monthly = frame.resample("MS").mean()
    return (monthly - monthly.iloc[0]).to_numpy().T, monthly.index.to_numpy().astype("datetime64[D]")


def test_displacement_is_the_monthly_truth(built):
    case = built.case
    expected, months = _monthly_truth()
    np.testing.assert_array_equal(case.times, months)
    assert case.n_cells == fx.ROWS * fx.COLS
    np.testing.assert_allclose(case.observations.displacement, expected, atol=1e-6)
    assert np.all(case.observations.displacement[:, 0] == 0)


def test_heads_honour_the_wells_and_fill_the_short_gap(built):
    case = built.case
    ids = list(case.cells.ids)
    for name, (r, c, aquifer, _, _) in fx.WELLS.items():
        a = case.aquifer_names.index(aquifer)
        heads = case.aquifers[a].head[ids.index(f"r{r}c{c}")]
        # records on the 15th of each month: the period mean is that record
        expected = [fx.well_head(name, t + 14) for t in case.times]
        np.testing.assert_allclose(heads, expected, atol=2e-4)   # W2's gap: linear in time
    assert "well W2: no head 2017-03-01..2017-04-01 (filled linearly in time)" in \
        built.summary.markdown()


def test_interbeds_from_boreholes_and_params(built):
    case = built.case
    ids = list(case.cells.ids)
    b2 = ids.index("r9c11")
    bed = case.aquifers[1].interbeds[0]
    b, n = equivalent_bed([12.0, 3.0, 9.0, 6.0])
    assert bed.thickness[b2] == pytest.approx(b) and bed.count[b2] == pytest.approx(n)
    np.testing.assert_allclose(bed.kv, 5e-5, rtol=1e-12)   # both boreholes use --params
    assert case.aquifers[0].coarse.thickness[0] == 50.0 and case.aquifers[1].nodelay is not None
    assert case.aquifers[1].top[0] == 120.0 and case.aquifers[1].bottom[0] == 250.0


def test_extensometer_at_its_cell_per_aquifer(built):
    ext = built.case.observations.extensometers
    assert set(built.case.cells.ids[ext["cell"]]) == {"r5c9"}
    feb = ext["time"] == np.datetime64("2016-02-01")
    # written in mm with three decimals
    np.testing.assert_allclose(ext["compaction"][feb & (ext["aquifer"] == 0)], [8e-3 / 12], atol=1e-6)
    np.testing.assert_allclose(ext["compaction"][feb & (ext["aquifer"] == 1)], [10e-3 / 12], atol=1e-6)
    assert ext["time"].max() < np.datetime64("2019-05-01")


def test_summary_says_what_was_done(built):
    text = built.summary.markdown()
    for needle in ("180 points x 100 acquisitions 2016-01-05..2019-04-07",
                   "line of sight to vertical", "MintPy: reference pixel row 5, col 0",
                   "leave-one-out RMSE", "lag time tau", "E1 layer 40..80 m -> confined-1",
                   "the ground moved vertically only", "periods without any acquisition"):
        assert needle in text, needle


def test_formats_agree_on_the_same_ground(inputs, built, tmp_path):
    header, rows = fx.egms_rows(TRUTH, "L2b")
    egms = fx.write_csv(tmp_path / "EGMS_L2b_050A_0123_IW2_VV_2016_2019_1.csv", header, rows)
    other = build_case(FromData(out=str(tmp_path / "o"), **{**inputs, "insar": str(egms)}))
    np.testing.assert_allclose(other.case.observations.displacement,
                               built.case.observations.displacement, atol=3e-5)
    np.testing.assert_allclose(other.case.cells.x, built.case.cells.x, atol=0.01)


def test_licsbas_builds_too(inputs, tmp_path):
    path = fx.write_licsbas(tmp_path, TRUTH, refarea="0:1/0:1")
    case = build_case(FromData(out=str(tmp_path / "o"), **{**inputs, "insar": str(path)})).case
    assert case.n_cells == fx.ROWS * fx.COLS and case.n_times == 40


def test_thinning_and_clipping_to_the_heads(inputs, tmp_path):
    extra = '\n[insar]\nthinning = { method = "min-distance", spacing = 450.0, seed = 3 }\n'
    params = fx.write_params(tmp_path, extra)
    wells = fx.write_wells(tmp_path, TRUTH)
    lines = wells.read_text().splitlines()
    # confined-2 records begin in 2016-06: the case must start there
    keep = [ln for ln in lines if "confined-2" not in ln or ln.split(",")[1] >= "2016-06"]
    wells.write_text("\n".join(keep) + "\n")
    req = FromData(out=str(tmp_path / "o"), **{**inputs, "params": str(params),
                                               "wells": str(wells)})
    a, b = build_case(req), build_case(req)
    assert 20 < a.case.n_cells < 90
    np.testing.assert_array_equal(a.case.cells.ids, b.case.cells.ids)
    assert a.case.times[0] == np.datetime64("2016-06-01")
    assert np.all(a.case.observations.displacement[:, 0] == 0)
    assert "clipped to 2016-06-01..2019-04-01" in a.summary.markdown()


def test_command_line_refuses_with_one_message(inputs, tmp_path, capsys):
    argv = ["--insar", inputs["insar"], "--wells", inputs["wells"], "--out", str(tmp_path / "o")]
    assert main_from_data(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "coordinates" in err[0] and "--crs" in err[0]
    with pytest.raises(SystemExit) as info:
        main_from_data(argv + ["--insar-unit", "inch"])
    assert info.value.code == 2


def test_written_case_loads_and_runs(inputs, tmp_path, capsys):
    argv = ["--out", str(tmp_path / "case")]
    for key in ("insar", "wells", "params", "stratigraphy", "extensometers", "crs"):
        argv += [f"--{key}", inputs[key]]
    assert main_from_data(argv) == 0
    assert (tmp_path / "case" / "summary.md").is_file()
    assert (tmp_path / "case" / "map.png").stat().st_size > 10_000
    case = caseio.load_case(tmp_path / "case" / "case.toml")
    expected, _ = _monthly_truth()
    np.testing.assert_allclose(case.observations.displacement, expected, atol=1e-6)
    _run_physics(case.take_cells([0, 84, 179]), "terzaghi")


def _ultimate_bound(case):
    """[N] largest compaction the final heads can cause: every material on its virgin
    (or elastic, for the skeleton) curve, fully drained."""
    total = np.zeros(case.n_cells)
    for a in case.aquifers:
        drop = np.maximum(a.head[:, 0] - a.head.min(axis=1), 0.0)
        for ib in a.interbeds:
            total += ib.count * ib.thickness * ib.sskv * drop
        if a.nodelay is not None:
            total += a.nodelay.thickness * a.nodelay.sskv * drop
        if a.coarse is not None:
            total += a.coarse.thickness * a.coarse.sske * drop
    return total


def _run_physics(case, name):
    result = make_solver(name).predict(case)
    d = result.displacement
    assert d.shape == (case.n_cells, case.n_times) and np.all(np.isfinite(d))
    assert np.all(d[:, 0] == 0)
    # heads only fall here: the ground only goes down, never below the drained bound
    assert np.all(np.diff(d, axis=1) <= 1e-9)
    assert np.all(-d[:, -1] <= _ultimate_bound(case) + 1e-9)
    assert np.all(d[:, -1] < 0)
    return result


@pytest.mark.modflow
def test_written_case_runs_through_mf6_csub(inputs, tmp_path):
    req = FromData(out=str(tmp_path / "case"), **inputs)
    case = caseio.load_case(make_case_from_data(req)).take_cells([0, 84])
    _run_physics(case, "mf6-csub")
