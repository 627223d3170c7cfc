"""The Beijing Plain twin end to end: the small case, generated once per session, loads,
keeps its truth out of sight, is observed as the settings say, reproduces the seminar's
facts, and the terzaghi solver on its prior parameters is neither perfect nor absurd.
Scenarios run on the tiny size. The full size is behind the slow marker."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from cases.beijing.make import make_twin
from cases.beijing.settings import DEFAULTS, load_settings
from engine.app.cli import main as landsub
from engine.app.make_case import main_make_case
from engine.caseio import load_case
from engine.evaluate import evaluate
from engine.result import read_result

pytestmark = pytest.mark.modflow
SCENARIOS = DEFAULTS.parent / "scenarios"
SILENT = {"log": lambda *args: None}


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("beijing") / "small"
    summary = make_twin(out, size="small", seed=0, **SILENT)
    return out, summary


@pytest.fixture(scope="session")
def small_case(small):
    return load_case(small[0] / "case.toml")


def _truth(out: Path) -> h5py.File:
    return h5py.File(out / "truth" / "truth.h5", "r")


def test_small_case_loads_with_the_promised_shape(small, small_case):
    case = small_case
    settings = load_settings()
    assert case.n_cells == 2000 and case.n_times == 264
    assert case.times[0] == np.datetime64("2003-01-01")
    assert case.times[-1] == np.datetime64("2024-12-01")
    assert case.aquifer_names == settings["domain"]["aquifer_names"]
    for aquifer in case.aquifers:
        assert len(aquifer.interbeds) == 1           # one equivalent bed: the prior
        assert aquifer.interbeds[0].storage == "specific"
        assert aquifer.coarse is not None
    assert (small[0] / "README.md").read_text().startswith(f"# {case.name}")
    for name in ("insar_maps", "prior_lag_time", "extensometers", "ps_points", "heads"):
        assert (small[0] / "figures" / f"{name}.png").stat().st_size > 10_000
    for name in ("truth_maps", "truth_lag_time", "truth_ps_points"):
        assert (small[0] / "truth" / "figures" / f"{name}.png").stat().st_size > 10_000


def test_the_seminar_facts_hold_on_the_small_twin(small):
    table = small[1]["facts"]
    assert len(table) == 13
    failed = table[~table["ok"]]
    assert failed.empty, failed.to_string()
    written = pd.read_csv(small[0] / "truth" / "factcheck.csv")
    assert written["ok"].all()


def test_flow_model_converged_with_a_closed_budget(small):
    listing = (small[0] / "truth" / "flow-model" / "history" / "plain.lst").read_text()
    assert "FAILED TO MEET SOLVER CONVERGENCE" not in listing.upper()
    assert "NORMAL TERMINATION" in (small[0] / "truth" / "flow-model" / "history"
                                    / "mfsim.lst").read_text().upper()
    with _truth(small[0]) as f:
        import json
        budget = json.loads(f.attrs["budgets"])["history"]
    assert budget["periods_reported"] == 566
    assert budget["max_percent_discrepancy"] < 0.01
    assert sum(budget["cumulative_in_m3"].values()) == pytest.approx(
        sum(budget["cumulative_out_m3"].values()), rel=1e-4)


def _visible_numbers(folder: Path):
    """(file, column, float values) of every numeric column or dataset outside truth/."""
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path)
        numeric = frame.apply(pd.to_numeric, errors="coerce")
        for column in numeric.columns:
            values = numeric[column].to_numpy(float)
            if np.isfinite(values).any():
                yield path.name, column, values
    for path in sorted(folder.glob("*.h5")):
        with h5py.File(path) as f:
            for name, node in f.items():
                yield path.name, name, np.asarray(node[()], float).ravel()


def test_no_solver_visible_file_holds_truth_values(small):
    out = small[0]
    public = {"points/id", "points/x", "points/y", "map/x", "map/y", "times/case"}
    hidden = []
    with _truth(out) as f:
        def collect(name, node):
            if isinstance(node, h5py.Dataset) and name not in public \
                    and node.dtype.kind == "f":
                hidden.append(node[()].ravel())
        f.visititems(collect)
    hidden = np.concatenate(hidden)
    # exact float64 equality: a value copied from the truth matches, an independently
    # computed one does not; zeros and whole numbers (reference epochs, depths) are shared
    hidden = np.unique(hidden[np.isfinite(hidden) & (hidden != np.round(hidden))])
    assert len(hidden) > 1_000_000
    checked = 0
    for name, column, values in _visible_numbers(out):
        values = values[np.isfinite(values) & (values != np.round(values))]
        at = np.minimum(np.searchsorted(hidden, values), len(hidden) - 1)
        leaked = hidden[at] == values
        assert not leaked.any(), f"{name} column {column}: {leaked.sum()} truth values"
        checked += len(values)
    assert checked > 2_000_000


def test_interpolated_heads_are_close_to_but_not_the_truth(small, small_case):
    with _truth(small[0]) as f:
        true = f["history/heads"][()]
    heads = np.array([a.head for a in small_case.aquifers])
    error = heads - true
    rms = np.sqrt(np.mean(error**2, axis=(1, 2)))
    assert np.all(rms > 0.3)          # the wells are noisy and sparse...
    assert np.all(rms < 8.0)          # ... but they are the heads of this world
    for a in range(4):
        assert np.corrcoef(heads[a].ravel(), true[a].ravel())[0, 1] > 0.95


def test_insar_is_the_truth_plus_the_settings_noise(small, small_case):
    s = load_settings()["insar"]
    observed = small_case.observations.displacement
    with _truth(small[0]) as f:
        true = f["history/displacement"][()]
    times = small_case.times
    assert np.all(observed[:, 0] == 0.0)
    gap = (times > np.datetime64("2010-09-01")) & (times < np.datetime64("2011-01-01"))
    assert np.isnan(observed[:, gap]).all()
    acquired = ~np.isnan(observed[0])
    assert 0.8 < acquired.mean() < 0.97
    envisat = acquired & (times <= np.datetime64("2010-09-01"))
    envisat[0] = False
    residual = (observed - true)[:, envisat] * 1e3
    # each screen is taken relative to the reference point (a Gaussian covariance of
    # length L): var = noise^2 + 2 atmosphere^2 (1 - exp(-d^2 / 2 L^2)), d to the reference
    x, y = small_case.cells.x, small_case.cells.y
    x0, y0 = load_settings()["domain"]["origin"]
    rx, ry = x0 + 1e3 * s["reference_km"][0], y0 + 1e3 * s["reference_km"][1]
    d2 = (x - rx) ** 2 + (y - ry) ** 2
    expected = np.sqrt(np.mean(s["noise_mm"] ** 2 + 2 * s["atmosphere_mm"] ** 2
                               * (1 - np.exp(-0.5 * d2 / s["atmosphere_length"] ** 2))))
    assert residual.std() == pytest.approx(expected, rel=0.1)
    # one screen per acquisition: away from the reference, two points share the
    # reference's value (covariance atmosphere^2) plus their own screen's correlation
    # (atmosphere^2 when close, none when far apart)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    away = d2 > 45_000.0 ** 2
    variance = s["noise_mm"] ** 2 + 2 * s["atmosphere_mm"] ** 2
    for low, high, shared in ((1.0, 1500.0, 2.0), (60_000.0, np.inf, 1.0)):
        i, j = np.nonzero((d > low) & (d < high) & away[:, None] & away[None, :])
        i, j = i[:20_000], j[:20_000]
        correlation = np.corrcoef(residual[i].ravel(), residual[j].ravel())[0, 1]
        assert correlation == pytest.approx(shared * s["atmosphere_mm"] ** 2 / variance,
                                            abs=0.08)


def test_wells_and_extensometers_as_configured(small, small_case):
    settings = load_settings()
    wells = small_case.observations.wells
    for a, count in enumerate(settings["wells"]["count"]):
        names = set(wells["well"][wells["aquifer"] == a])
        assert len(names) == count
    assert all(30 <= c <= 60 for c in settings["wells"]["count"][1:])
    readings = len(wells["well"]) / sum(settings["wells"]["count"])
    assert 0.6 * 264 < readings < 0.95 * 264          # gappy
    ext = small_case.observations.extensometers
    sites = settings["extensometers"]["sites_km"]
    assert len(set(ext["site"])) == len(sites) >= 7
    with _truth(small[0]) as f:
        compaction = f["history/compaction"][()]
    install = np.datetime64(settings["extensometers"]["install"])
    first = small_case.times.searchsorted(install)
    assert ext["time"].min() == install
    true = compaction[ext["aquifer"], ext["cell"],
                      small_case.times.searchsorted(ext["time"])] \
        - compaction[ext["aquifer"], ext["cell"], first]
    residual = (ext["compaction"] - true) * 1e3
    assert residual.std() == pytest.approx(settings["extensometers"]["noise_mm"], rel=0.15)
    assert np.all(residual[ext["time"] == install] == 0.0)


def test_terzaghi_on_the_prior_is_neither_perfect_nor_absurd(small, small_case, tmp_path):
    out = tmp_path / "terzaghi.h5"
    assert landsub(["run", str(small[0] / "case.toml"), "--solver", "terzaghi",
                    "--out", str(out)]) == 0
    result = read_result(out)
    observed = small_case.observations.displacement
    table = evaluate(result, observed)
    pooled = table[(table.zone == "all") & (table.statistic == "pooled")
                   & (table.series == "cumulative")].set_index("metric")["value"]
    with _truth(small[0]) as f:
        true = f["history/displacement"][()]
    noise_only = np.sqrt(np.nanmean((true - observed) ** 2)) * 1e3
    assert pooled["rmse_mm"] > 2 * noise_only        # the prior is not the truth
    assert pooled["rmse_mm"] < 150.0                 # but it is the same world
    assert 0.5 < pooled["r2"] < 0.99
    assert pooled["pearson_r"] > 0.8


def test_same_seed_gives_byte_identical_case_files(small, tmp_path):
    again = tmp_path / "again"
    assert main_make_case(["--size", "small", "--seed", "0", "--out", str(again)]) == 0
    first = sorted(p.relative_to(small[0]) for p in small[0].rglob("*") if p.is_file()
                   and "truth" not in p.parts)
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file()
                    and "truth" not in p.parts)
    assert first == second and len(first) > 10
    for rel in first:
        assert (small[0] / rel).read_bytes() == (again / rel).read_bytes(), rel
    for rel in ("truth/truth.h5", "truth/factcheck.csv"):
        assert (small[0] / rel).read_bytes() == (again / rel).read_bytes(), rel


@pytest.fixture(scope="module")
def tiny_scenarios(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios")
    out = {}
    for name in ("business-as-usual", "deep-pumping-cut-30"):
        out[name] = make_twin(root / name, size="tiny", seed=0, heads_mode="exact",
                              scenario_path=SCENARIOS / f"{name}.toml", **SILENT)
    return out


def test_scenario_extends_the_case_and_cuts_deep_drawdown(tiny_scenarios):
    bau = load_case(tiny_scenarios["business-as-usual"]["manifest"])
    cut = load_case(tiny_scenarios["deep-pumping-cut-30"]["manifest"])
    assert bau.times[-1] == cut.times[-1] == np.datetime64("2035-12-01")
    assert bau.n_times == 396
    before = cut.times < np.datetime64("2027-01-01")
    for a in range(4):
        np.testing.assert_allclose(cut.aquifers[a].head[:, before],
                                   bau.aquifers[a].head[:, before], atol=1e-6)
    rise = cut.aquifers[3].head[:, -1] - bau.aquifers[3].head[:, -1]
    assert np.all(rise > 0) and rise.max() > 2.0
    # observations stop with the history
    obs = cut.observations.displacement
    assert np.isnan(obs[:, cut.times > np.datetime64("2024-12-01")]).all()
    assert np.array_equal(np.isnan(obs), np.isnan(bau.observations.displacement))
    with h5py.File(Path(tiny_scenarios["deep-pumping-cut-30"]["manifest"]).parent
                   / "truth" / "truth.h5") as f_cut, \
            h5py.File(Path(tiny_scenarios["business-as-usual"]["manifest"]).parent
                      / "truth" / "truth.h5") as f_bau:
        np.testing.assert_array_equal(f_cut["deep-pumping-cut-30/heads"][3],
                                      cut.aquifers[3].head)   # exact heads are the truth's
        less = f_cut["deep-pumping-cut-30/displacement"][:, -1] \
            - f_bau["business-as-usual/displacement"][:, -1]
        assert np.all(less > -1e-9) and less.max() > 0.005


def test_until_without_scenario_and_before_the_history_are_refused(tmp_path, capsys):
    assert main_make_case(["--size", "tiny", "--until", "2030-12", "--out",
                           str(tmp_path / "x")]) == 2
    assert "--until" in capsys.readouterr().err
    assert main_make_case(["--size", "tiny", "--scenario",
                           str(SCENARIOS / "drought.toml"), "--until", "2020-12",
                           "--out", str(tmp_path / "y")]) == 2
    assert "before the end of the history" in capsys.readouterr().err


@pytest.mark.slow
def test_full_twin_facts_and_size(tmp_path):
    started = time.perf_counter()
    summary = make_twin(tmp_path / "full", size="full", seed=0, **SILENT)
    seconds = time.perf_counter() - started
    case = load_case(summary["manifest"])
    assert case.n_cells >= 100_000
    failed = summary["facts"][~summary["facts"]["ok"]]
    assert failed.empty, failed.to_string()
    print(f"full twin generated in {seconds:.0f} s")


@pytest.mark.slow
def test_mf6_csub_runs_on_the_small_case(small, tmp_path):
    out = tmp_path / "csub.h5"
    assert landsub(["run", str(small[0] / "case.toml"), "--solver", "mf6-csub",
                    "--out", str(out)]) == 0
    terzaghi = tmp_path / "terzaghi.h5"
    assert landsub(["run", str(small[0] / "case.toml"), "--solver", "terzaghi",
                    "--out", str(terzaghi)]) == 0
    np.testing.assert_allclose(read_result(out).displacement,
                               read_result(terzaghi).displacement, atol=5e-3)
