"""`landsub bench`: one run's outputs agree with the evaluator, resume after a kill gives
the same files, a folder of another run is refused, the compaction metric and the
seminar-claims table measure what they say."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cases.synthetic import synthetic_case
from engine.app.bench import bench, main_bench
from engine.app.bench.metrics import compaction_rows, value
from engine.app.bench.runner import finished
from engine.case import Study
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.evaluate import evaluate
from engine.registry import make_solver
from engine.result import read_result
from engine.split import Split

SOLVERS = ["zero", "terzaghi", "lstm"]


def with_extensometers(case, sites, first: int):
    """``case`` with extensometers at the cells ``sites`` from time index ``first`` on,
    reading the physics' own compaction, so the truth is known."""
    compaction = make_solver("terzaghi").predict(case).compaction
    cells, aquifers, times = np.meshgrid(sites, range(3), np.arange(first, case.n_times),
                                         indexing="ij")
    cells, aquifers, times = cells.ravel(), aquifers.ravel(), times.ravel()
    readings = compaction[aquifers, cells, times]
    ext = {"site": np.array([f"E{c}" for c in cells]), "cell": cells, "aquifer": aquifers,
           "time": case.times[times], "compaction": readings + 0.002}  # installation offset
    return replace(case, observations=replace(case.observations, extensometers=ext))


@pytest.fixture(scope="module")
def case_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    case = with_extensometers(synthetic_case(n_cells=60, n_months=72, seed=3), [0, 5], 12)
    # asks for the seminar's claims, as the twin does (test_claims_name_what_is_missing)
    return write_case(replace(case, study=Study("zhu-beijing-seminar")), folder)


@pytest.fixture(scope="module")
def done(case_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    outcome = bench(str(case_path), SOLVERS, "spatial:0.7", out, preset="fast", log=lambda *a: None)
    return out, outcome


def test_outputs_agree_with_the_evaluator(case_path, done):
    out, outcome = done
    case = load_case(case_path)
    split = Split.parse("spatial:0.7", case, seed=0, validation_fraction=0.2)
    assert set(finished(out)) == {"trend", *SOLVERS}
    table = pd.read_csv(out / "metrics.csv")
    for name in ("trend", *SOLVERS):
        with xr.open_dataset(out / "results.h5", engine="h5netcdf", group=name) as ds:
            assert ds.displacement.shape == (case.n_cells, case.n_times)
            assert json.loads(ds.attrs["split"]) == split.to_dict()
            assert np.issubdtype(ds.time.dtype, np.datetime64)      # CF dates, decoded
        result = read_result(out / "results.h5", group=name)
        direct = evaluate(result, case.observations.displacement, split.test_mask(case))
        rmse = direct[(direct.series == "cumulative") & (direct.zone == "all")
                      & (direct.statistic == "pooled") & (direct.metric == "rmse_mm")].value
        assert value(table, name, "cumulative", "rmse_mm") == pytest.approx(float(rmse.iloc[0]),
                                                                             rel=1e-5)
    # skill against the trend baseline: the baseline itself scores exactly 0
    assert value(table, "trend", "cumulative", "skill_vs_trend") == pytest.approx(0.0, abs=1e-12)
    assert value(table, "zero", "cumulative", "skill_vs_trend") < 0
    assert value(table, "lstm", "cumulative", "skill_vs_trend") > 0
    # the skill horizon: the trend cannot beat its own forecast, so it has none
    assert value(table, "trend", "horizon", "skill_trend", statistic="h=12") == 0.0
    assert value(table, "trend", "horizon", "horizon_months") == 0
    for name in SOLVERS:
        assert 0 <= value(table, name, "horizon", "horizon_r2_months") <= 36
    report = (out / "report.md").read_text()
    assert "Seminar claim vs this run" in report and "| lstm |" in report
    for name in ("maps", "errors", "series", "scatter", "zones", "horizon", "lag_time",
                 "extensometers"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 5000, name


def test_compaction_metric_against_known_extensometers(case_path, done):
    out, _ = done
    case = load_case(case_path)
    truth = compaction_rows(case, read_result(out / "results.h5", group="terzaghi"))
    assert {r["zone"] for r in truth} == set(case.aquifer_names)
    assert max(r["value"] for r in truth if r["metric"] == "rmse_mm") < 1e-9
    off = read_result(out / "results.h5", group="terzaghi")
    off.compaction = off.compaction * 1.1
    worse = compaction_rows(case, off)
    assert min(r["value"] for r in worse if r["metric"] == "rmse_mm") > 0.01


def test_claims_name_what_is_missing(case_path, done):
    out, outcome = done
    rows = {r["claim"]: r for r in outcome["claims"]}
    assert rows["GW-LSTM fits cumulative subsidence"]["verdict"] == \
        "not tested: add gw-lstm to --solvers"
    lag = rows["lag times of the confined aquifers (months)"]
    assert lag["verdict"].startswith("reproduced")   # the synthetic case spans the table


def test_resume_skips_committed_solvers_and_refuses_another_run(case_path, done, tmp_path):
    out, _ = done
    before = {n: os.stat(out / "solvers" / n / "run.json").st_mtime_ns for n in SOLVERS}
    started = time.perf_counter()
    bench(str(case_path), SOLVERS, "spatial:0.7", out, preset="fast", log=lambda *a: None)
    assert {n: os.stat(out / "solvers" / n / "run.json").st_mtime_ns for n in SOLVERS} == before
    assert time.perf_counter() - started < 60
    with pytest.raises(InputError, match="split"):
        bench(str(case_path), SOLVERS, "spatial:0.5", out, preset="fast", log=lambda *a: None)
    with pytest.raises(InputError, match="does not run"):
        bench(str(case_path), ["zero"], "spatial:0.7", tmp_path / "b", options={"lstm": {}})


def test_bad_arguments_exit_2_with_one_line(case_path, tmp_path, capsys):
    assert main_bench([str(case_path), "--solvers", "zero,lstmm", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lstmm" in err[0] and "lstm" in err[0]
    assert main_bench([str(case_path), "--option", "lstm-hidden", "--out", str(tmp_path)]) == 2
    assert main_bench([str(case_path), "--skill", "1.5", "--out", str(tmp_path)]) == 2
    assert "--skill" in capsys.readouterr().err


def test_sigkill_midway_then_resume_gives_the_same_files(case_path, done, tmp_path):
    reference, _ = done
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "engine.app.cli", "bench", str(case_path), "--solvers",
               ",".join(SOLVERS), "--preset", "fast", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(finished(out)) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(finished(out)) < 4, "killed too late to test resuming"
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert sorted(finished(out)) == sorted(finished(reference))
    for name in finished(reference):
        a, b = (read_result(folder / "results.h5", group=name) for folder in (reference, out))
        np.testing.assert_array_equal(a.displacement, b.displacement)
    ours = pd.read_csv(out / "metrics.csv")
    theirs = pd.read_csv(reference / "metrics.csv")
    skip = ours.series == "wall"
    pd.testing.assert_frame_equal(ours[~skip].reset_index(drop=True),
                                  theirs[~skip].reset_index(drop=True))


def test_a_both_split_separates_its_two_holdouts(case_path):
    from engine.app.bench.metrics import holdout_masks

    case = load_case(case_path)
    split = Split.parse("both:0.7:2006-01", case, seed=1, validation_fraction=0.2)
    masks = holdout_masks(case, split)
    cells, future = masks["held-out cells"], masks["forecast"]
    b = split.time_boundary(case)
    unseen = ~(split.train_mask(case) | split.validation_mask(case)).any(axis=1)
    assert not (cells & future).any()
    assert cells.any() and future.any()
    assert np.array_equal(cells.any(axis=1), unseen) and not cells[:, b:].any()
    assert not future[:, :b].any() and not future[unseen].any()
    both_unseen_and_future = np.zeros_like(cells)
    both_unseen_and_future[np.ix_(unseen, np.arange(b, case.n_times))] = True
    assert np.array_equal(cells | future | both_unseen_and_future, masks["test"])
    assert list(holdout_masks(case, Split.parse("spatial:0.7", case))) == ["test"]


def test_solvers_as_dask_tasks_equal_a_serial_run_to_the_digit(case_path, tmp_path):
    """Two workers fitting at once give the files one process gives, solver by solver."""
    outs = {}
    for scheduler, workers in (("serial", None), ("local", 2)):
        outs[scheduler] = tmp_path / scheduler
        bench(str(case_path), SOLVERS + ["residual:terzaghi+lstm"], "spatial:0.7",
              outs[scheduler], preset="fast", scheduler=scheduler, workers=workers,
              progress=False, log=lambda *a: None)
    serial, tasks = outs["serial"], outs["local"]
    assert sorted(finished(serial)) == sorted(finished(tasks))
    for name in finished(serial):
        a, b = (read_result(folder / "results.h5", group=name) for folder in (serial, tasks))
        np.testing.assert_array_equal(a.displacement, b.displacement)
        if a.compaction is not None:
            np.testing.assert_array_equal(a.compaction, b.compaction)
    ours, theirs = (pd.read_csv(folder / "metrics.csv") for folder in (tasks, serial))
    assert (ours.series == "wall").any()
    pd.testing.assert_frame_equal(ours[ours.series != "wall"].reset_index(drop=True),
                                  theirs[theirs.series != "wall"].reset_index(drop=True))


@pytest.mark.parametrize("n_cells, split", [(4, "spatial:0.7"), (1, "temporal:2007-01")])
def test_a_single_test_cell_gets_every_figure(tmp_path, n_cells, split):
    """A tiny case whose split holds one test cell: the command finishes and draws every
    figure (the series figure used to index a second test cell that is not there)."""
    case = with_extensometers(synthetic_case(n_cells=n_cells, n_months=36, seed=3), [0], 6)
    manifest = write_case(case, tmp_path / "case")
    assert len(Split.parse(split, load_case(manifest)).test_cells(case)) == 1
    out = tmp_path / "bench"
    assert main_bench([str(manifest), "--solvers", "terzaghi,am-gru", "--preset", "fast",
                       "--split", split, "--scheduler", "serial", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    for name in ("maps", "errors", "series", "scatter", "zones", "zone_rmse", "horizon",
                 "lag_time", "extensometers", "attention"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 5000, name
        assert f"(figures/{name}.png)" in report, name
    assert "Time series at 1 test cell" in report
