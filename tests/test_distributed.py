"""engine.app.distributed: work as Dask tasks on spawned local workers, a remote scheduler or
in this process; thread pools pinned inside the workers; errors and Ctrl-C reach the
caller; tiles of a case stitched back equal the whole-case prediction bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.app import distributed
from engine.app.distributed import local_cluster, predict_tiles, run_tasks
from engine.case import build_case
from engine.caseio import load_case
from engine.errors import InputError
from engine.solver import Solver
from physics.solver import TerzaghiSolver

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def address():
    """A 2-worker local cluster shared by the tests of this module."""
    with local_cluster(2, threads=1) as cluster:
        yield cluster.scheduler_address


def _late_square(item):
    # the first items finish last, so completion order differs from item order
    index, value = item
    time.sleep(0.05 * (5 - index))
    return index, float(np.sum(np.arange(value) ** 2)), os.getpid()


def test_cluster_and_serial_give_the_same_results_in_item_order(address):
    items = [(i, 10 * i + 3) for i in range(6)]
    serial = run_tasks(_late_square, items, scheduler="serial", progress=False)
    tasks = run_tasks(_late_square, items, scheduler=address, progress=False)
    expected = [(i, float(sum(k * k for k in range(v)))) for i, v in items]
    assert [r[:2] for r in serial] == expected
    assert [r[:2] for r in tasks] == expected
    assert {r[2] for r in serial} == {os.getpid()}
    # processes, not threads of this one
    assert len({r[2] for r in tasks}) == 2 and os.getpid() not in {r[2] for r in tasks}


def _thread_settings(_):
    import numba

    time.sleep(0.1)
    return (numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS,
            os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"],
            os.environ.get("MALLOC_TRIM_THRESHOLD_"))


def test_threads_are_pinned_inside_the_workers(address):
    before = os.environ.get("OMP_NUM_THREADS")
    # NUMBA_NUM_THREADS is read when Numba loads: 1 proves the worker started pinned;
    # no MALLOC_TRIM_THRESHOLD_ (distributed's default would make glibc return and
    # re-fault memory at every training step)
    assert run_tasks(_thread_settings, range(4), scheduler=address, progress=False) \
        == [(1, 1, "1", "1", None)] * 4
    # distributed's own default is one OpenMP thread; 2 must come from us
    assert run_tasks(_thread_settings, range(2), scheduler="local", workers=1, threads=2,
                     progress=False) == [(2, 2, "2", "2", None)] * 2
    assert os.environ.get("OMP_NUM_THREADS") == before     # this process keeps its own


def _fails_on_three(item):
    if item == 3:
        raise InputError("case.toml", "aquifers[0].kv", f"value {item} is bad")
    if item == 4:
        raise ZeroDivisionError("not a LandsubError")
    return item


@pytest.mark.parametrize("scheduler", ["serial", "cluster"])
def test_a_task_error_is_raised_in_the_caller(address, scheduler):
    where = address if scheduler == "cluster" else "serial"
    with pytest.raises(InputError) as caught:
        run_tasks(_fails_on_three, [0, 1, 3], scheduler=where, progress=False)
    assert (caught.value.source, caught.value.field) == ("case.toml", "aquifers[0].kv")
    assert str(caught.value) == "case.toml: aquifers[0].kv: value 3 is bad"
    with pytest.raises(ZeroDivisionError, match="not a LandsubError"):
        run_tasks(_fails_on_three, [4, 0], scheduler=where, progress=False)


@pytest.mark.parametrize("kwargs, option", [
    ({"workers": 0}, "--workers"), ({"workers": -2}, "--workers"),
    ({"workers": 1.5}, "--workers"), ({"workers": True}, "--workers"),
    ({"threads": 0}, "--threads"), ({"threads": "2"}, "--threads"),
    ({"workers": 2, "scheduler": "serial"}, "--workers"),
])
def test_bad_counts_are_refused(kwargs, option):
    with pytest.raises(InputError) as caught:
        run_tasks(abs, [1], progress=False, **kwargs)
    assert caught.value.source == option


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "no-port-here"])
def test_an_unreachable_scheduler_is_refused(monkeypatch, address):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1.0)
    start = time.perf_counter()
    with pytest.raises(InputError, match="cannot connect to a Dask scheduler") as caught:
        run_tasks(abs, [1], scheduler=address, progress=False)
    assert (caught.value.source, caught.value.field) == ("--scheduler", address)
    assert time.perf_counter() - start < 10


def test_too_many_threads_for_the_process_are_refused():
    import numba

    with pytest.raises(InputError, match="threads Numba can use"):
        run_tasks(abs, [1], scheduler="serial", threads=numba.config.NUMBA_NUM_THREADS + 1,
                  progress=False)


_INTERRUPTED = """
import sys, time
from pathlib import Path
from engine.app.distributed import run_tasks

def wait(marker):
    Path(marker).touch()
    time.sleep(60)

if __name__ == "__main__":
    start = time.perf_counter()
    try:
        run_tasks(wait, [sys.argv[1] + "-a", sys.argv[1] + "-b", sys.argv[1] + "-c"],
                  scheduler="local", workers=2, progress=False)
    except KeyboardInterrupt:
        print(f"interrupted after {time.perf_counter() - start:.1f} s")
"""


def test_ctrl_c_cancels_the_tasks_and_closes_the_cluster(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(_INTERRUPTED)
    marker = tmp_path / "started"
    child = subprocess.Popen([sys.executable, str(script), str(marker)], cwd=ROOT,
                             start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started-a").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(child.pid, signal.SIGINT)      # what the terminal does on Ctrl-C
    # under 60 s, the tasks' sleep: a cluster that waited for them fails; the margin
    # above the reaction time is for closing spawned workers on a loaded CI runner
    out, err = child.communicate(timeout=55)
    assert child.returncode == 0, err
    assert out.startswith("interrupted after"), (out, err)
    assert float(out.split()[2]) < 30                  # did not wait for the tasks
    assert "Traceback" not in err, err                 # no worker died noisily
    assert not (tmp_path / "started-c").exists()       # the queued task never ran


# -- tiles ------------------------------------------------------------------------------

def _assert_same_prediction(tiled, whole, case):
    assert np.array_equal(tiled.displacement, whole.displacement)
    assert np.array_equal(tiled.compaction, whole.compaction)
    assert (tiled.solver, tiled.kind, tiled.case, tiled.options, tiled.aquifers) == \
        (whole.solver, whole.kind, whole.case, whole.options, whole.aquifers)
    assert np.array_equal(tiled.cell_ids, case.cells.ids)
    assert np.array_equal(tiled.times, case.times)


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    from cases.beijing.make import make_twin

    out = tmp_path_factory.mktemp("tiny")
    make_twin(out, size="tiny", seed=0, log=lambda *args: None)
    return load_case(out / "case.toml")


@pytest.mark.modflow
def test_tiles_of_the_tiny_twin_equal_the_whole_prediction(address, tiny_twin):
    solver = TerzaghiSolver()
    whole = solver.predict(tiny_twin)
    tiled = predict_tiles(solver, tiny_twin, tile_cells=-(-tiny_twin.n_cells // 2),
                          scheduler=address, progress=False)
    _assert_same_prediction(tiled, whole, tiny_twin)


def test_uneven_tiles_equal_the_whole_prediction(address):
    rng = np.random.default_rng(7)
    n, t = 17, 40
    days = np.arange(t) * 30
    head = -np.cumsum(rng.uniform(0.0, 1.0, (n, t)), axis=1)
    case = build_case("uneven", days, [{"head": head, "interbeds": [{
        "thickness": rng.uniform(1, 8, n), "count": rng.uniform(1, 4, n),
        "kv": 10 ** rng.uniform(-6, -4, n), "sske": 1e-5, "sskv": rng.uniform(1e-4, 1e-3, n)}],
        "coarse": {"thickness": 50.0, "sske": 1e-6}}])
    solver = TerzaghiSolver(nodes=9)
    tiled = predict_tiles(solver, case, tile_cells=7, scheduler=address, progress=False)
    _assert_same_prediction(tiled, solver.predict(case), case)
    assert tiled.wall_seconds > 0


class _Neighbourly(Solver):
    name = "neighbourly"
    cellwise = False


def test_solvers_that_mix_cells_are_not_tiled():
    with pytest.raises(InputError, match="mixes neighbouring cells"):
        predict_tiles(_Neighbourly(), None, scheduler="serial")


def test_a_solver_wanting_more_threads_than_a_task_has_is_refused():
    with pytest.raises(InputError) as caught:
        predict_tiles(TerzaghiSolver(threads=2), None, threads=1, scheduler="serial")
    assert caught.value.field == "threads"


@pytest.mark.parametrize("scheduler", ["serial", "cluster"])
def test_each_result_is_handed_over_as_its_task_finishes(address, scheduler):
    items = [(i, 10 * i + 3) for i in range(5)]
    handed = []
    results = run_tasks(_late_square, items, progress=False,
                        scheduler="serial" if scheduler == "serial" else address,
                        on_result=lambda index, result: handed.append((index, result)))
    assert sorted(handed) == list(enumerate(results))
    if scheduler == "cluster":           # completion order: the late first items last
        assert [index for index, _ in handed] != list(range(5))


def _train_a_little(epochs):
    import torch

    from surrogates.presets import resolve
    from surrogates.train import Sequences, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 10, 1)).astype(np.float32)
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    forward = type("Net", (torch.nn.Module,), {"forward": lambda self, x: model(x)[..., 0]})
    net = forward()
    net.inner = model
    config = {**resolve("lstm", "fast"), "epochs": epochs, "patience": 0}
    train(net, Sequences({"x": x}, {}, x[..., 0].cumsum(1)), None, config,
          torch.device("cpu"))
    return epochs


@pytest.mark.parametrize("scheduler", ["serial", "cluster"])
def test_the_epochs_of_fits_in_tasks_reach_the_caller(address, scheduler, monkeypatch):
    pytest.importorskip("torch")
    seen = []
    monkeypatch.setattr(distributed._FitBars, "update",
                        lambda self, message: seen.append((message["task"],
                                                           message["epoch"])))
    run_tasks(_train_a_little, [3, 4], scheduler="serial" if scheduler == "serial" else address,
              progress=True)
    deadline = time.time() + 5           # events travel apart from the results
    while len(seen) < 7 and time.time() < deadline:
        time.sleep(0.05)
    assert sorted(seen) == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (1, 4)]
