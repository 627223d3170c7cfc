"""Scores against a twin's hidden truth (engine.app.truth): what they compute, that
whatif and bench write them, and that no solver can read the truth: it is poisoned
while the solvers fit and predict, and every output stays the same.

The two end-to-end checks (a whatif run twice, with and without the poison; a bench)
are slow (a calibration each). A twin is faked on a small synthetic case: its truth is
the terzaghi solver on the case with other sediments (storage x 1.3), written in the
twin's truth.h5 layout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from cases.synthetic import synthetic_case
from engine.app import truth as t
from engine.app import whatif as wi
from engine.app.whatif.cases import transformed_cases
from engine.app.whatif.ensemble import DEFAULT_SPREAD, SolverOutcome, perturbed
from engine.caseio import load_case, write_case
from engine.registry import make_solver

QUIET = {"progress": False, "log": lambda *args: None}
CALIBRATION = {"calibrated:terzaghi": {"members": "8", "iterations": "2"}}
TRUE_STORAGE = 1.3            # the fake truth's storage, x the case's


def write_truth(manifest: Path, case, world: str = "world") -> None:
    """truth/truth.h5 beside ``manifest`` for ``case`` (the layout of the twin's): a
    shorter "history" world and the world spanning the case."""
    truth_case = perturbed(case, np.tile([1.0, 1.0, TRUE_STORAGE], (len(case.aquifers), 1)))
    run = make_solver("terzaghi").predict(truth_case)
    folder = manifest.parent / "truth"
    folder.mkdir(exist_ok=True)
    params = t.model_parameters(truth_case)
    with h5py.File(folder / "truth.h5", "w") as f:
        f["points/id"] = np.asarray(case.cells.ids).astype(object)
        f["history/displacement"] = run.displacement[:, :12]
        f["history/compaction"] = run.compaction[:, :, :12]
        f[f"{world}/displacement"] = run.displacement
        f[f"{world}/compaction"] = run.compaction
        for a, aquifer in enumerate(truth_case.aquifers):
            bed = aquifer.interbeds[0]
            g = f"parameters/aquifer_{a}"
            f[f"{g}/interbeds_0/thickness"] = np.broadcast_to(bed.thickness, case.n_cells)
            f[f"{g}/interbeds_0/count"] = np.broadcast_to(bed.count, case.n_cells)
            f[f"{g}/lag_days"] = params["lag_time"][a]
            f[f"{g}/sskv0"] = np.broadcast_to(bed.sskv, case.n_cells)


@pytest.fixture(scope="module")
def generic(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    case = synthetic_case(n_cells=24, n_months=48, seed=3)
    # extensometers at two cells, read from the physics itself every month after a year
    compaction = make_solver("terzaghi").predict(case).compaction
    cells, aquifers, times = (g.ravel() for g in np.meshgrid(
        [0, 5], range(len(case.aquifers)), np.arange(12, 48), indexing="ij"))
    ext = {"site": np.array([f"E{c}" for c in cells]), "cell": cells, "aquifer": aquifers,
           "time": case.times[times], "compaction": compaction[aquifers, cells, times]}
    case = replace(case, observations=replace(case.observations, extensometers=ext))
    manifest = write_case(case, root / "case")
    scenario = root / "deep-up.toml"
    scenario.write_text('name = "deep-up"\nuntil = "2010-12"\n[[heads]]\naquifer = '
                        '"confined-3"\nstart = "2009-01"\nend = "2009-12"\noffset = 6.0\n',
                        encoding="utf-8")
    return root, manifest, scenario


@pytest.fixture
def fake_twin(monkeypatch):
    """whatif treats any case as a twin whose re-made cases carry a truth."""
    def twin_cases(manifest, scenario, baseline, until, out, log):
        cases = transformed_cases(manifest, scenario, baseline, until, out, DEFAULT_SPREAD,
                                  log)
        for made in (cases.baseline, cases.scenario):
            write_truth(made, load_case(made))
        return cases

    monkeypatch.setattr(wi, "is_twin", lambda manifest: True)
    monkeypatch.setattr(wi, "twin_cases", twin_cases)


def _poisoned_while_solving(monkeypatch, module, names, truths):
    """Wrap ``module``'s functions ``names`` (the solver phase) so that every truth file
    in ``truths()`` is garbage while they run; returns the calls' log."""
    calls = []
    for name in names:
        original = getattr(module, name)

        def poisoned(*args, original=original, name=name, **kwargs):
            saved = {p: p.read_bytes() for p in truths()}
            for path in saved:
                path.write_bytes(b"poison: a solver read the hidden truth")
            try:
                return original(*args, **kwargs)
            finally:
                for path, data in saved.items():
                    path.write_bytes(data)
                calls.append(name)
        monkeypatch.setattr(module, name, poisoned)
    return calls


@pytest.mark.slow
def test_whatif_scores_the_truth_only_after_every_solver(generic, fake_twin, tmp_path,
                                                         monkeypatch):
    root, manifest, scenario = generic
    kwargs = dict(members=3, options=CALIBRATION, scheduler="serial", seed=0, **QUIET)
    clean = wi.whatif(manifest, scenario, "terzaghi,calibrated:terzaghi", tmp_path / "a",
                      **kwargs)
    out = tmp_path / "b"
    calls = _poisoned_while_solving(
        monkeypatch, wi, ("run_member", "fit_calibration"),
        lambda: sorted((out / "cases").glob("*/truth/truth.h5")))
    read_after = []
    original = wi.true_effect
    monkeypatch.setattr(wi, "true_effect", lambda *a: read_after.append(len(calls))
                        or original(*a))
    poisoned = wi.whatif(manifest, scenario, "terzaghi,calibrated:terzaghi", out, **kwargs)
    assert calls.count("run_member") == 6 and calls.count("fit_calibration") == 1
    assert read_after == [7]                     # one read, after all 7 solver calls
    for a, b in zip(clean["outcomes"], poisoned["outcomes"]):
        np.testing.assert_array_equal(a.baseline, b.baseline)
        np.testing.assert_array_equal(a.scenario, b.scenario)
    scores = pd.read_csv(out / wi.SCORES_FILE)
    pd.testing.assert_frame_equal(scores, pd.read_csv(tmp_path / "a" / wi.SCORES_FILE))
    assert set(scores.solver) == {"terzaghi", "calibrated:terzaghi"}
    assert set(scores.metric) == set(t.WHATIF_METRICS)
    # the truth's effect is the truth's storage run: terzaghi's member 0 (the prior)
    # and the truth differ by the storage factor alone
    until = scores[(scores.month == "2010-12") & (scores.solver == "terzaghi")]
    by = until.set_index("metric").value
    assert by["area_mean_truth_mm"] > 0
    np.testing.assert_allclose(by["area_mean_relative_error"],
                               by["area_mean_mm"] / by["area_mean_truth_mm"] - 1)
    summary = (out / "summary.md").read_text()
    assert "## Against the hidden truth" in summary and "band coverage" in summary
    import xarray as xr
    with xr.open_dataset(out / "whatif.h5", engine="h5netcdf", group="truth") as g:
        np.testing.assert_allclose(g["effect"].values, poisoned["truth"])
        assert np.issubdtype(g.time.dtype, np.datetime64)
        assert g["scores"].shape == (2, len(set(scores.month)), len(t.WHATIF_METRICS))
    assert (out / "figures" / "band-coverage-map.png").stat().st_size > 10_000
    # the calibrated members are the posterior's members, not perturbed priors
    band = xr.open_dataset(out / "whatif.h5", engine="h5netcdf",
                           group="calibrated:terzaghi.band")
    assert (band["multipliers"].values == 1).all() and "posterior" in band.attrs["ensemble"]


def test_whatif_scores_of_a_known_ensemble():
    """Coverage, RMSE, relative errors of a hand-made ensemble."""
    n, t_steps = 10, 3
    truth = np.zeros((n, t_steps))
    truth[:, -1] = np.linspace(0.001, 0.010, n)
    members = np.stack([truth * 0.5, truth * 1.0, truth * 1.5])   # [M, N, T]
    outcome = SolverOutcome("s", "physics", "", [None] * 3, np.zeros_like(members),
                            members, [0.0] * 3, 0.0)
    severe = np.arange(n) >= 5
    scores = t.whatif_scores([outcome], truth * 1.2, severe, [t_steps - 1],
                             np.array(["2030-01-01"] * t_steps, dtype="datetime64[D]"))
    v = scores.set_index("metric").value
    np.testing.assert_allclose(v["area_mean_mm"], 5.5)
    np.testing.assert_allclose(v["area_mean_truth_mm"], 6.6)
    np.testing.assert_allclose(v["area_mean_relative_error"], -1 / 6)
    np.testing.assert_allclose(v["severe_mean_truth_mm"], 1.2 * 8.0)
    np.testing.assert_allclose(v["cell_max_mm"], 10.0)
    np.testing.assert_allclose(v["effect_rmse_mm"],
                               np.sqrt(np.mean((0.2 * truth[:, -1] * 1e3) ** 2)))
    assert v["band_coverage"] == 1.0        # 1.2 x lies within the 0.55-1.45 x band
    np.testing.assert_allclose(v["band_width_mm"], 0.9 * 5.5)


def test_parameters_of_a_one_bed_model_and_the_factor_two():
    case = synthetic_case(n_cells=5, n_months=12, seed=1)
    p = t.model_parameters(case)
    bed = case.aquifers[0].interbeds[0]
    np.testing.assert_allclose(p["lag_time"][0], (bed.thickness / 2) ** 2 * bed.sskv / bed.kv)
    np.testing.assert_allclose(p["storage_thickness"][0],
                               bed.count * bed.thickness * bed.sskv)
    assert list(t.within_factor(np.array([1.0, 2.0, 2.1, 0.5, 0.4, np.nan]),
                                np.ones(6))) == [True, True, False, True, False, False]


@pytest.mark.slow
def test_bench_against_the_truth_never_lets_a_solver_read_it(generic, tmp_path, monkeypatch):
    import engine.app.bench as bench_module

    root, manifest, _ = generic
    folder = tmp_path / "twin"
    case = load_case(manifest)
    made = write_case(case, folder)
    write_truth(made, case)
    truth = made.parent / t.TRUTH_FILE
    calls = _poisoned_while_solving(monkeypatch, bench_module, ("run_solvers",),
                                    lambda: [truth])
    out = tmp_path / "bench"
    report = bench_module.bench(str(made), ["terzaghi", "calibrated:terzaghi", "dpl:terzaghi"],
                                "spatial:0.7", out,
                                options={**CALIBRATION, "dpl:terzaghi": {"epochs": "1"}},
                                log=lambda *a: None)
    assert calls == ["run_solvers"]
    table = report["table"]
    rows = table[table.part.isin(t.TRUTH_PARTS)]
    assert set(rows.series) == {"truth displacement", "truth compaction", "parameters"}
    # the parameters of both fits are scored and mapped; only the calibration has a band
    assert set(rows[rows.series == "parameters"].solver) == {"calibrated:terzaghi",
                                                              "dpl:terzaghi"}
    assert not (out / "figures" / "extensometer-band-dpl_terzaghi.png").exists()
    # terzaghi runs the prior: its S_v is the truth's / 1.3, its lag time / 1.3 too
    prior = rows[(rows.series == "parameters") & (rows.statistic == "prior")]
    assert (prior.value == 1.0).all()
    text = report["report"].read_text()
    assert "## Against the hidden truth" in text and "Parameter recovery" in text
    for name in ("lag-time-confined-1.png", "extensometer-band-calibrated_terzaghi.png"):
        assert (out / "figures" / name).stat().st_size > 10_000


def test_residual_on_a_calibrated_physics_parses():
    from engine.registry import solver_class

    cls = solver_class("residual:calibrated:terzaghi+lstm")
    assert cls.physics_class.name == "calibrated:terzaghi"
    assert cls.neural_class.name == "lstm" and t.estimates_parameters(cls)
    assert not t.estimates_parameters(solver_class("residual:terzaghi+lstm"))



@pytest.mark.slow
def test_residual_on_a_calibrated_physics_fits_and_round_trips(tmp_path):
    from engine.persistence import load_model, save_model
    from engine.split import Split

    case = synthetic_case(n_cells=24, n_months=48, seed=3)
    split = Split.parse("spatial:0.7", case, seed=0, validation_fraction=0.2)
    solver = make_solver("residual:calibrated:terzaghi+lstm", preset="fast",
                         **{"physics.members": 8, "physics.iterations": 2})
    solver.fit(case, split)
    predicted = solver.predict(case).displacement
    save_model(solver, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(case).displacement, predicted)
    assert t.model_parameters(t.estimated_case(loaded, case))["lag_time"].shape == (3, 24)
