"""The `landsub` command line end to end: run, info, solvers, verify, and bad input
exiting with status 2 and one message (never a traceback)."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from cases import VERIFICATION_DIR
from engine.app.cli import main
from engine.result import read_result


def landsub(*args):
    return subprocess.run([sys.executable, "-m", "engine.app.cli", *args],
                          capture_output=True, text=True)


def test_run_writes_a_result_that_info_and_xarray_read(tmp_path, capsys):
    out = tmp_path / "step.h5"
    assert main(["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzaghi",
                 "--option", "terzaghi:nodes=39", "--option", "terzaghi:substeps=2", "--out", str(out)]) == 0
    result = read_result(out)
    assert result.options["nodes"] == 39 and result.options["substeps"] == 2
    assert result.displacement.shape == (1, 2001)
    assert result.displacement[0, 0] == 0.0
    assert -0.0101 < result.displacement[0, -1] < -0.0098   # close to ultimate 10 mm, down
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["displacement"].attrs["positive"] == "up"
        np.testing.assert_array_equal(ds["displacement"].values, result.displacement)
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "terzaghi (physics) on case terzaghi-step" in text and "2001 times" in text


def test_info_describes_a_case_manifest(capsys):
    assert main(["info", str(VERIFICATION_DIR / "three-aquifer-column.toml")]) == 0
    text = capsys.readouterr().out
    assert "3 cells, 240 times" in text and "aquifer deep" in text and "interbeds x2" in text


def test_solvers_lists_the_registry_the_composed_forms_and_what_is_unavailable(
        capsys, monkeypatch):
    from engine import registry

    registry.load_providers()
    monkeypatch.setattr(registry, "_unavailable",
                        {"radar": "radar.solvers: No module named 'radar'"})
    assert main(["solvers"]) == 0
    registered, composed, unavailable = capsys.readouterr().out.split("\n\n")
    lines = {line.split()[0]: line.split()[1] for line in registered.splitlines()}
    assert lines["terzaghi"] == "physics" and lines["trend"] == "ml"
    assert lines["pc-rnn"] == "hybrid" and {"mf6-csub", "mf-sub", "zero", "lstm"} <= set(lines)
    assert "nodes=19" in registered
    assert "residual:<physics>+<ml>" in composed and "residual:terzaghi+lstm" in composed
    assert "radar" in unavailable and "No module named 'radar'" in unavailable


@pytest.mark.parametrize("args, words", [
    (["run", "missing.toml", "--solver", "terzaghi", "--out", "x.h5"], ["missing.toml"]),
    (["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzagi",
      "--out", "x.h5"], ["terzagi", 'did you mean "terzaghi"']),
    (["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzaghi",
      "--option", "terzaghi:node=3", "--out", "x.h5"], ["node", 'did you mean "nodes"']),
    (["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzaghi",
      "--option", "terzaghi:nodes=many", "--out", "x.h5"], ["nodes", "many"]),
    (["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzaghi",
      "--option", "nodes", "--out", "x.h5"], ["SOLVER:KEY=VALUE"]),
    # the one spelling of every command: a bare key=value names no solver
    (["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzaghi",
      "--option", "nodes=39", "--out", "x.h5"], ["SOLVER:KEY=VALUE"]),
    (["run", str(VERIFICATION_DIR / "terzaghi-step.toml"), "--solver", "terzaghi",
      "--option", "lstm:hidden=8", "--out", "x.h5"], ["lstm", "not"]),
    (["info", str(VERIFICATION_DIR / "column-cells.csv")], ["column-cells.csv"]),
])
def test_bad_input_exits_2_with_one_message(tmp_path, args, words):
    proc = subprocess.run([sys.executable, "-m", "engine.app.cli", *args], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    for word in words:
        assert word in proc.stderr


def test_verify_passes_every_case_and_writes_its_table_and_figures(tmp_path):
    from engine.app.verify import run_verification

    assert run_verification(out_dir=tmp_path, refinement=False)
    assert (tmp_path / "verification.md").read_text().count("True") == 6
    for name in ("terzaghi-step", "elastic-cycle", "overconsolidated", "three-aquifer-column"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_fit_then_run_with_the_saved_model(tmp_path):
    from cases.synthetic import synthetic_case
    from engine.caseio import write_case

    manifest = write_case(synthetic_case(40, 48, seed=3), tmp_path / "case")
    assert main(["fit", str(manifest), "--solver", "gru", "--preset", "fast",
                 "--split", "spatial:0.7", "--out", str(tmp_path / "gru")]) == 0
    assert (tmp_path / "gru" / "metrics.csv").exists()
    assert main(["run", str(manifest), "--model", str(tmp_path / "gru" / "model"),
                 "--out", str(tmp_path / "pred.h5")]) == 0
    assert main(["run", str(manifest), "--model", str(tmp_path / "gru" / "model"),
                 "--option", "gru:hidden=8", "--out", str(tmp_path / "x.h5")]) == 2
    fitted = read_result(tmp_path / "gru" / "result.h5")
    again = read_result(tmp_path / "pred.h5")
    assert again.solver == "gru"
    np.testing.assert_array_equal(again.displacement, fitted.displacement)


def test_taking_no_cells_keeps_no_extensometer_records():
    from engine.case import Observations

    obs = Observations(extensometers={"site": np.array(["s1", "s2"]), "cell": np.array([0, 4]),
                                      "aquifer": np.array([0, 1]),
                                      "time": np.array(["2000-01-01"] * 2, "datetime64[D]"),
                                      "compaction": np.array([0.1, 0.2])})
    assert len(obs.take(np.array([], dtype=np.int64)).extensometers["cell"]) == 0
    kept = obs.take(np.array([4, 2]))
    assert kept.extensometers["cell"].tolist() == [0]
    assert kept.extensometers["site"].tolist() == ["s2"]
