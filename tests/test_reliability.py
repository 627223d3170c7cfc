"""Reliability (issue 13): case files read only inside their folder, results finite or
refused, sizes and option values bounded before any work, output paths checked up front,
model folders whole or refused, and the small crashes of the hostile-input run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.atomic import check_output
from engine.caseio import load_case
from engine.errors import InputError, SolverError
from engine.registry import make_solver
from engine.result import Result, read_result, write_result
from engine.tables import outside_case
from tests.case_files import MANIFEST, write_base_case

SECRET = "root:x:0:0:secret-first-line"


@pytest.fixture
def case_dir(tmp_path):
    """The base case in tmp_path/case, and a foreign file beside (outside) it."""
    manifest = write_base_case(tmp_path / "case")
    (tmp_path / "foreign.csv").write_text(SECRET + "\n")
    return manifest


def _with(manifest: Path, old: str, new: str) -> Path:
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new))
    return manifest


def _refused(manifest: Path, *words: str) -> str:
    with pytest.raises(InputError) as caught:
        load_case(manifest)
    message = str(caught.value)
    assert SECRET not in message and "\n" not in message
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("name, why", [("../foreign.csv", 'climbs out with ".."'),
                                       ("sub/../../foreign.csv", 'climbs out with ".."')])
def test_dot_dot_paths_are_refused(case_dir, name, why):
    _refused(_with(case_dir, '"params.csv"', f'"{name}"'), why, "--allow-outside-case")


def test_absolute_paths_are_refused(case_dir):
    foreign = case_dir.parent.parent / "foreign.csv"
    _refused(_with(case_dir, '"params.csv"', f'"{foreign}"'), "absolute path")
    _refused(_with(case_dir, f'"{foreign}"', '"/etc/passwd"'), "absolute path")


def test_symbolic_links_out_of_the_folder_are_refused(case_dir):
    folder = case_dir.parent
    (folder / "params.csv").rename(folder.parent / "params.csv")
    (folder / "params.csv").symlink_to(folder.parent / "params.csv")
    _refused(case_dir, "symbolic link")
    assert load_case(case_dir, allow_outside_case=True).n_cells == 3
    with outside_case():
        assert load_case(case_dir).n_cells == 3


def test_symbolic_links_inside_the_folder_are_read(case_dir):
    folder = case_dir.parent
    (folder / "data").mkdir()
    (folder / "params.csv").rename(folder / "data" / "params.csv")
    (folder / "params.csv").symlink_to(Path("data") / "params.csv")
    assert load_case(case_dir).n_cells == 3


def test_allowed_outside_files_are_read(case_dir):
    folder = case_dir.parent
    (folder / "params.csv").rename(folder.parent / "params.csv")
    _with(case_dir, '"params.csv"', '"../params.csv"')
    assert load_case(case_dir, allow_outside_case=True).n_cells == 3


def _hdf5_case(case_dir: Path, build) -> Path:
    """The base case with the lower aquifer's interbed thickness read from arrays.h5,
    whose dataset ``build(file, folder)`` makes."""
    folder = case_dir.parent
    with h5py.File(folder / "arrays.h5", "w") as f:
        build(f, folder)
    return _with(case_dir, '{ file = "params.csv", column = "b_lower" }',
                 '{ file = "arrays.h5", dataset = "b" }')


def test_hdf5_external_links_are_refused(case_dir):
    outside = case_dir.parent.parent / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["b"] = np.array([1.0, 2.0, 3.0])

    def build(f, folder):
        f["b"] = h5py.ExternalLink(str(outside), "/b")
    manifest = _hdf5_case(case_dir, build)
    _refused(manifest, "external link")
    assert load_case(manifest, allow_outside_case=True).n_cells == 3


def test_hdf5_groups_behind_soft_and_external_links_are_refused(case_dir):
    outside = case_dir.parent.parent / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["g/b"] = np.array([1.0, 2.0, 3.0])

    def build(f, folder):
        f["ext"] = h5py.ExternalLink(str(outside), "/g")
        f["soft"] = h5py.SoftLink("/ext")
    manifest = _hdf5_case(case_dir, build)
    _with(manifest, 'dataset = "b"', 'dataset = "soft/b"')
    _refused(manifest, "external link")


def test_hdf5_external_raw_storage_is_refused(case_dir):
    raw = case_dir.parent.parent / "raw.bin"
    np.array([1.0, 2.0, 3.0]).tofile(raw)

    def build(f, folder):
        f.create_dataset("b", shape=(3,), dtype="<f8", external=[(str(raw), 0, 24)])
    _refused(_hdf5_case(case_dir, build), "stored in another file")


def test_devices_and_pipes_are_refused_as_such(case_dir, tmp_path):
    _refused(_with(case_dir, '"params.csv"', '"/dev/zero"'), "absolute path")
    with outside_case(), pytest.raises(InputError, match="character device, not a regular"):
        load_case(case_dir)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        load_case(fifo)


def test_a_byte_order_mark_is_accepted(case_dir):
    case_dir.write_bytes(b"\xef\xbb\xbf" + MANIFEST.encode())
    assert load_case(case_dir).n_cells == 3


@pytest.mark.parametrize("old, new, field", [
    ('periods = 4', 'periods = 1000000000000', "time.periods"),
    ('file = "cells.csv"', 'count = 1000000000000', "cells.count")])
def test_sizes_beyond_memory_are_refused_before_allocation(case_dir, old, new, field):
    message = _refused(_with(case_dir, old, new), field, "needs about", "--max-memory")
    assert "TiB" in message or "PiB" in message


def _result(values) -> Result:
    values = np.asarray(values, dtype=float)
    n, t = values.shape
    return Result("zero", "physics", "c", np.arange(t).astype("datetime64[D]"),
                  np.array([f"c{i}" for i in range(n)]), np.zeros(n), np.zeros(n), values)


@pytest.mark.parametrize("bad, words", [(np.nan, "not finite"), (-np.inf, "not finite"),
                                        (7e295, "beyond 1000 m")])
def test_the_result_writer_refuses_absurd_values_naming_cells_and_times(tmp_path, bad, words):
    values = np.zeros((2, 3))
    values[1, 2] = bad
    path = tmp_path / "r.h5"
    with pytest.raises(SolverError, match=words) as caught:
        write_result(_result(values), path)
    assert 'cell "c1" at 1970-01-03' in str(caught.value)
    assert not path.exists() and not list(tmp_path.iterdir())
    write_result(_result(np.zeros((2, 3))), path)
    assert read_result(path).displacement.shape == (2, 3)


@pytest.mark.parametrize("solver, options, words", [
    ("terzaghi", {"nodes": 10**10}, "out of range"),
    ("terzaghi", {"substeps": 10**12}, "out of range"),
    ("terzaghi", {"scheme": "fast"}, "not one of"),
    ("terzaghi", {"nodes": 19.5}, "not an integer"),
    ("trend", {"power": float("nan")}, "not a finite number"),
])
def test_option_values_are_checked_by_type_and_declared_range(solver, options, words):
    with pytest.raises(InputError, match=words):
        make_solver(solver, **options)


@pytest.mark.parametrize("option, words", [
    ("device=tpu", "not a device"), ("seed=-1", "out of range"), ("dropout=2.0", "out of range"),
    ("clip=nan", "finite"), ("lr=inf", "finite"), ("hidden=100000", "out of range"),
    ("epochs=1e3", "not an integer")])
def test_network_options_are_refused_before_training(option, words):
    pytest.importorskip("torch")
    from engine.app.options import options_per_solver, parse_solver_options

    with pytest.raises(InputError, match=words):
        options = options_per_solver(["lstm"], parse_solver_options([f"lstm:{option}"]))
        make_solver("lstm", **options["lstm"])


@pytest.mark.parametrize("script", ["calibration_cost", "calibration_heads"])
def test_benchmark_scripts_take_options_spelled_as_the_commands(script, tmp_path, capsys):
    """A one-solver script reads ``--option SOLVER:KEY=VALUE`` like every command and
    refuses the bare ``KEY=VALUE`` or another solver's option in one line, exit 2."""
    import importlib

    from engine.app.options import options_of

    assert options_of("calibrated:terzaghi", ["calibrated:terzaghi:threads=1"]) == {"threads": 1}
    main = importlib.import_module(f"benchmarks.{script}").main
    for bad, words in [("threads=1", "expected SOLVER:KEY=VALUE"),
                       ("lstm:hidden=3", "does not run")]:
        with pytest.raises(SystemExit) as stop:
            main([str(tmp_path / "case.toml"), str(tmp_path), "--option", bad])
        assert stop.value.code == 2
        assert words in capsys.readouterr().err


def test_output_paths_are_checked_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    for path, kind, words in [("", "file", "not a path"),
                              (tmp_path / "folder", "file", "existing folder"),
                              (tmp_path / "file", "folder", "existing file"),
                              (tmp_path / "file" / "below", "folder", "which is a file")]:
        with pytest.raises(InputError, match=words):
            check_output(path, kind)
    assert check_output(tmp_path / "new" / "deeper", "folder") == tmp_path / "new" / "deeper"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]


def test_a_model_folder_must_match_its_manifest(tmp_path):
    from cases.synthetic import synthetic_case
    from engine.persistence import load_model, save_model

    case = synthetic_case(n_cells=6, n_months=24, seed=1)
    solver = make_solver("trend")
    solver.fit(case)
    folder = tmp_path / "model"
    save_model(solver, folder)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]   # no temporary left
    manifest = json.loads((folder / "solver.json").read_text())
    assert set(manifest["files"]) and all(len(h) == 64 for h in manifest["files"].values())
    np.testing.assert_array_equal(load_model(folder).predict(case).displacement,
                                  solver.predict(case).displacement)
    first = sorted(manifest["files"])[0]
    (folder / first).write_bytes((folder / first).read_bytes() + b" ")
    with pytest.raises(InputError, match="does not match the manifest"):
        load_model(folder)
    (folder / first).unlink()
    with pytest.raises(InputError, match="missing from the model folder"):
        load_model(folder)


def test_pinned_threads_leave_numba_usable_after_a_first_compilation(tmp_path):
    """A first compilation under the pin (empty cache) once made every later one fail:
    "Cannot set NUMBA_NUM_THREADS ... (currently have 1, trying to set 2)"."""
    script = """
import numba, numpy as np
from engine.app.distributed import pinned_threads

@numba.njit(parallel=True)
def first(x):
    s = 0.0
    for i in numba.prange(len(x)):
        s += x[i]
    return s

with pinned_threads(1):
    first(np.ones(10))

@numba.njit
def second(x):
    return x.sum()

print(second(np.ones(3)) + first(np.ones(4)))
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "7.0"


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_the_old_result(tmp_path, capsys,
                                                                          monkeypatch):
    import errno

    from engine.app.cli import main

    manifest = write_base_case(tmp_path / "case")
    out = tmp_path / "r.h5"
    assert main(["run", str(manifest), "--solver", "zero", "--out", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()

    def full(source, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))
    monkeypatch.setattr(os, "replace", full)
    assert main(["run", str(manifest), "--solver", "zero", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and str(out) in err[0]
    assert "written when it failed" in err[0] and "free there" in err[0]
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "r.h5"]


CTRL_C_CHILD = """
import sys, time
import numpy as np
from engine.case import build_case
from engine.errors import run_command
from physics.solver import TerzaghiSolver

def bed_case(cells, times):
    days = np.arange(times) * 30.4375
    head = -np.outer(np.linspace(0.5, 2.0, cells), days / 365.25)
    return build_case("long", days, [{"head": head, "interbeds": [{
        "thickness": 5.0, "count": 2.0, "kv": 1e-5, "sske": 1e-5, "sskv": 1e-3}]}])

solver = TerzaghiSolver(nodes=1001, substeps=1000)
solver.predict(bed_case(1, 2))              # compiled, or loaded from Numba's cache
case = bed_case(64, 241)                    # minutes of kernel work
print("ready", flush=True)
sys.exit(run_command("landsub run", lambda: solver.predict(case)))
"""


def test_ctrl_c_stops_a_long_kernel_run_within_a_second():
    import signal
    import time

    child = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()[-2000:]
        time.sleep(1.0)            # well inside the run's kernel calls
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=30)
        stopped = time.perf_counter() - sent
    finally:
        child.kill()
    assert code == 130, child.stderr.read()[-2000:]
    # within a second on an idle machine; the margin is for a loaded CI runner
    assert stopped < 2.0, f"stopped {stopped:.2f} s after Ctrl-C"


FILE_SIZE_LIMIT_CHILD = """
import resource, signal, sys
from engine.app.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # an EFBIG error instead of a kill
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
sys.exit(main(["run", sys.argv[1], "--solver", "zero", "--out", sys.argv[2]]))
"""


def test_a_real_failed_write_names_the_target_and_the_bytes(tmp_path):
    """A write that the system stops (here the file-size limit, as a full disk or a
    quota would) is one line naming the result file and what was written; no
    temporary is left."""
    from engine.case import build_case
    from engine.casewrite import write_case

    days = np.arange(120) * 30.4375
    head = -np.outer(np.linspace(0.5, 2.0, 400), days / 365.25)
    case = build_case("big", days, [{"head": head, "interbeds": [{
        "thickness": 5.0, "count": 2.0, "kv": 1e-5, "sske": 1e-5, "sskv": 1e-3}]}])
    manifest = write_case(case, tmp_path / "case", arrays="hdf5")
    out = tmp_path / "out" / "r.h5"             # 400 x 120 x 2 x 8 bytes > the limit
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT_CHILD, str(manifest),
                           str(out)], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert f"cannot write {out}: File too large" in lines[0]
    assert "written when it failed" in lines[0]
    assert list((tmp_path / "out").iterdir()) == []


def test_too_little_free_disk_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from engine.app.cli import main

    manifest = write_base_case(tmp_path / "case")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 100, 100))
    for argv in (["run", str(manifest), "--solver", "zero", "--out", str(tmp_path / "r.h5")],
                 ["bench", str(manifest), "--solvers", "zero", "--split", "spatial:0.7",
                  "--scheduler", "serial", "--out", str(tmp_path / "bench")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "of disk, but only 100 B is free there" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]
