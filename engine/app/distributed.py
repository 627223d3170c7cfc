"""Run independent pieces of work as Dask tasks: scenario ensembles, spatial tiles.

``run_tasks(function, items)`` is ``[function(item) for item in items]`` on a Dask
cluster: a ``distributed.LocalCluster`` of worker processes started for the call
(``scheduler="local"``), an already running scheduler (its address), or this process
one item after the other (``"serial"``, for tests and debugging). There is no process
pool of our own (DESIGN.md, "Scale").

Worker processes are spawned, never forked: Numba's OpenMP/TBB layer forbids fork()
once its threads run, and torch misbehaves after fork too. Every task runs with
Numba, torch and OpenMP/MKL/OpenBLAS pinned to ``threads``: in the environment the
workers start with (libraries read it when they load) and again at the start of each
task (Numba's setting is per thread; a worker of a remote cluster started with other
settings). With one thread per worker process and ``threads`` per task, results do
not depend on the number of workers and workers do not oversubscribe the cores.

Progress: a tqdm bar over the tasks and, for tasks that train networks, one bar per
running fit (epoch, loss, best validation, ETA), fed by the trainer's epoch listener
(``surrogates.train.on_epoch``) through Dask's event stream from the workers.

``predict_tiles(solver, case)`` cuts a large case into blocks of cells, predicts them
as tasks and stitches one Result, for solvers that predict each cell on its own.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import logging
import os
import signal
import sys
import threading
import time

import numpy as np

from engine.errors import InputError
from engine.result import Result

#: Seconds to wait for a remote scheduler before calling its address unreachable.
CONNECT_TIMEOUT_S = 5.0

#: Environment variables the thread pools of NumPy's BLAS, OpenMP, MKL and Numba read.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMBA_NUM_THREADS")



#: Items larger than this (bytes, pickled) are scattered to a worker before their task.
INLINE_ITEM_BYTES = 64 * 1024

#: The Dask event topic the workers' epoch reports travel on.
EPOCH_TOPIC = "landsub-epoch"


def run_tasks(function, items, *, scheduler: str = "local", workers: int | None = None,
              threads: int = 1, progress: bool = True, label: str = "tasks",
              on_result=None, name=None, follow_fits: bool = True) -> list:
    """[function(item) for item in items], computed as Dask tasks, results in item order.

    scheduler: "local" -> a distributed.LocalCluster started for the call (``workers``
    worker processes, default os.cpu_count(), one thread each) and closed afterwards;
    "tcp://host:port" (or any address distributed.Client accepts) -> an already running
    scheduler; "serial" -> in this process, one after the other (no cluster).
    Every task runs with Numba, torch, OpenMP/MKL thread counts pinned to ``threads``.
    Progress: a tqdm bar over completed tasks when ``progress`` is True, and with
    ``follow_fits`` one bar per network being trained (``name(item)`` titles it; default
    the task's number); following fits imports torch in each worker once, where torch is
    installed. ``on_result(index, result)``, if given, is called here as each task
    finishes (in completion order, one call at a time, before this returns): a caller
    commits results as they come, so an interruption loses only the running tasks; an
    exception it raises stops the rest as a task's does. Ctrl-C cancels
    the outstanding tasks and closes the local cluster, then re-raises
    KeyboardInterrupt. A task's exception is re-raised in the caller (LandsubError
    subclasses unchanged). ``items`` may be any iterable; it is consumed as the tasks
    are submitted. ``function`` and the items must pickle (cloudpickle) unless the
    scheduler is "serial".
    """
    _check_count("--threads", threads)
    if workers is not None:
        _check_count("--workers", workers)
        if scheduler != "local":
            raise InputError("--workers", str(workers),
                             f'sets the size of a local cluster only; scheduler "{scheduler}" '
                             "has its own workers")
    total = len(items) if hasattr(items, "__len__") else None
    items = iter(items)
    first = next(items, _NOTHING)
    if first is _NOTHING:
        return []
    items = itertools.chain([first], items)
    follow = progress and follow_fits
    task = _PinnedTask(function, threads, follow)
    fits = _FitBars(label, name, follow)
    done = on_result or (lambda index, result: None)
    if scheduler == "serial":
        from tqdm.auto import tqdm

        results = []
        with fits, tqdm(total=total, desc=label, disable=not progress) as bar:
            _SERIAL_LISTENER.append(fits.update)
            try:
                for index, item in enumerate(items):
                    fits.named(index, item)
                    results.append(task((index, item)))
                    fits.finished(index)
                    done(index, results[-1])
                    bar.update()
            finally:
                _SERIAL_LISTENER.remove(fits.update)
        return results

    from distributed import Client

    with _quiet_distributed(), contextlib.ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(local_cluster(workers or os.cpu_count() or 1,
                                                        threads))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(_connect(scheduler))
        stack.enter_context(fits)
        if follow:
            client.subscribe_topic(EPOCH_TOPIC, lambda event: fits.update(event[1]))
        try:
            return _gather(client, task, items, total, progress, label, fits, done)
        finally:
            if follow:
                client.unsubscribe_topic(EPOCH_TOPIC)


_NOTHING = object()
#: where a task's epoch reports go when it runs in this process ("serial")
_SERIAL_LISTENER: list = []


def _gather(client, task, items, total, progress, label, fits, done) -> list:
    import cloudpickle
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = []
    try:
        # the function and large items are scattered (sent to a worker) rather than
        # embedded in the task: a solver or a tile of a case is megabytes, which the
        # task graph carries badly. Item by item, so that the workers start on the
        # first while the next are prepared and sent. Small items (a solver's name and
        # options) travel in the task: bound to no worker's data, each task goes to the
        # next idle worker in submission order.
        function = client.scatter(task, broadcast=True, hash=False)
        for index, item in enumerate(items):
            fits.named(index, item)
            data = (index, item)
            if len(cloudpickle.dumps(data)) > INLINE_ITEM_BYTES:
                [data] = client.scatter([data], hash=False)
            futures.append(client.submit(_apply, function, data, pure=False))
        position = {future.key: index for index, future in enumerate(futures)}
        results = {}
        with tqdm(total=total, desc=label, disable=not progress) as bar:
            for future in as_completed(futures):
                # fetched while the others run; a failed task raises its exception here
                index = position[future.key]
                results[index] = future.result()
                fits.finished(index)
                done(index, results[index])
                bar.update()
        return [results[index] for index in range(len(futures))]
    except BaseException:                    # a failed task, Ctrl-C: stop the rest
        client.cancel(futures)
        raise


def _apply(function, item):
    return function(item)


class _PinnedTask:
    """``function(item)`` of an (index, item) pair with the thread pools pinned to
    ``threads`` while it runs, its fits' epochs reported when ``follow``."""

    def __init__(self, function, threads: int, follow: bool = False):
        self.function = function
        self.threads = threads
        self.follow = follow

    def __call__(self, indexed):
        index, item = indexed
        with pinned_threads(self.threads), self._epochs(index):
            return self.function(item)

    def _epochs(self, index):
        if not self.follow or importlib.util.find_spec("torch") is None:
            return contextlib.nullcontext()   # no networks to follow
        from surrogates.train import on_epoch

        return on_epoch(functools.partial(_send_epoch, index))


def _send_epoch(index: int, info: dict) -> None:
    message = {"task": index, **info}
    if _SERIAL_LISTENER:
        _SERIAL_LISTENER[-1](message)
        return
    from distributed import get_worker

    try:
        get_worker().log_event(EPOCH_TOPIC, message)
    except ValueError:                       # not in a worker after all: nobody listens
        pass


@contextlib.contextmanager
def epoch_bars(title: str, enabled: bool = True):
    """Inside the block, a tqdm bar (epoch, losses, best validation, ETA) for each
    network trained in this thread, titled ``title``: the bars of a fit run here."""
    if not enabled or "surrogates.train" not in sys.modules:   # no network to train
        yield
        return
    from surrogates.train import on_epoch

    with _FitBars(title, None, True) as bars:
        bars.titles[0] = title
        with on_epoch(lambda info: bars.update({"task": 0, **info})):
            yield


class _FitBars:
    """One tqdm bar per task whose network is training: epochs out of the most that
    will run (early stopping may end it sooner), losses and the best validation."""

    def __init__(self, label: str, name, enabled: bool):
        self.label, self.name, self.enabled = label, name, enabled
        self.titles, self.bars = {}, {}
        self.lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with self.lock:
            for bar in self.bars.values():
                bar.close()
            self.bars.clear()

    def named(self, index: int, item) -> None:
        if self.enabled:
            self.titles[index] = self.name(item) if self.name else f"{self.label} {index + 1}"

    def update(self, message: dict) -> None:
        from tqdm.auto import tqdm

        index = message["task"]
        with self.lock:
            bar = self.bars.get(index)
            if bar is None or bar.total != message["epochs"]:
                if bar is not None:          # a task that trains several networks
                    bar.close()
                bar = self.bars[index] = tqdm(
                    total=message["epochs"], unit="epoch", leave=False,
                    desc=f"  {self.titles.get(index, index)} ({message['model']})")
            validation = message["validation"]
            bar.set_postfix(train=f"{message['train']:.4g}",
                            validation="-" if validation is None else f"{validation:.4g}",
                            best=f"{message['best']:.4g}@{message['best_epoch']}",
                            refresh=False)
            bar.update(message["epoch"] - bar.n)

    def finished(self, index: int) -> None:
        with self.lock:
            bar = self.bars.pop(index, None)
            if bar is not None:
                bar.close()


@contextlib.contextmanager
def pinned_threads(threads: int):
    """Numba (this thread), torch (when loaded) and the OpenMP/MKL/OpenBLAS variables
    (for libraries loaded later) set to ``threads``; the previous settings come back
    afterwards."""
    import numba

    if threads > numba.config.NUMBA_NUM_THREADS:
        raise InputError("--threads", str(threads),
                         f"exceeds the {numba.config.NUMBA_NUM_THREADS} threads Numba can "
                         f"use in this process ({_where()})")
    torch = sys.modules.get("torch")     # loaded by the task's own objects, if at all
    saved_env = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    saved_numba = numba.get_num_threads()
    saved_torch = torch.get_num_threads() if torch is not None else None
    # not NUMBA_NUM_THREADS: Numba reads its environment again at every compilation and
    # refuses a value other than the one its thread pool was launched with, so a first
    # compilation under the pin (empty cache) would break every later one
    os.environ.update({k: v for k, v in _thread_environment(threads).items()
                       if k != "NUMBA_NUM_THREADS"})
    numba.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(saved_numba)
        if torch is not None:
            torch.set_num_threads(saved_torch)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _where() -> str:
    try:
        from distributed import get_worker

        return f"Dask worker {get_worker().address}"
    except ValueError:
        return "the calling process"


def _thread_environment(threads: int) -> dict[str, str]:
    return {key: str(threads) for key in _THREAD_VARIABLES}


@contextlib.contextmanager
def local_cluster(workers: int, threads: int = 1):
    """A distributed.LocalCluster of ``workers`` spawned worker processes, one thread
    each, whose thread pools start pinned to ``threads``; closed on exit. Its
    ``scheduler_address`` can be handed to :func:`run_tasks` (tests reuse one cluster
    that way)."""
    import dask
    from distributed import LocalCluster

    _check_count("--workers", workers)
    _check_count("--threads", threads)
    env = _thread_environment(threads)
    with _quiet_distributed(), dask.config.set({
            "distributed.worker.multiprocessing-method": "spawn",
            # set when a worker process is spawned (or respawned), before it loads
            # NumPy or Numba
            "distributed.nanny.pre-spawn-environ": {
                **_without_malloc_trim(dask.config.get("distributed.nanny.pre-spawn-environ")),
                **env}}):
        # a variable already in this process's environment would win over that
        # setting, and the nannies copy the setting into it: both only while the
        # workers start
        with _restored_environment(), _workers_ignore_interrupt():
            os.environ.update(env)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL,
                                   # its health endpoint, on any free port: the default
                                   # 8787 may be taken by another cluster
                                   scheduler_kwargs={"dashboard_address": ":0"})
        try:
            yield cluster
        finally:
            cluster.close()


def _without_malloc_trim(environ: dict) -> dict:
    """Dask's worker environment less its MALLOC_TRIM_THRESHOLD_ (64 KiB by default):
    glibc then hands freed memory back to the system at once and faults it in again at
    the next allocation, which a training loop does at every step (an lstm's epoch on the
    small twin: 50 % more wall time, 6x the system time, 23x the page faults).
    Long-lived workers that keep their memory are what a bench and a what-if want."""
    return {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}


@contextlib.contextmanager
def _restored_environment():
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _workers_ignore_interrupt():
    """Spawned processes inherit an ignored SIGINT (and Python then leaves it ignored):
    Ctrl-C then reaches only this process, which cancels the tasks and closes the
    cluster, instead of every worker dying with a traceback. The price: a Ctrl-C
    pressed during the second or two the workers take to start is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:                 # what a wrong address raises varies
        raise InputError("--scheduler", address,
                         f"cannot connect to a Dask scheduler there ({type(exc).__name__}: "
                         f"{exc}; waited at most {CONNECT_TIMEOUT_S:g} s); give \"local\" for "
                         'a cluster on this machine, "serial" to run in this process, or the '
                         "address of a running scheduler, e.g. tcp://10.0.0.5:8786") from None


@contextlib.contextmanager
def _quiet_distributed():
    """Only errors from distributed's loggers in this process (a cluster closing
    reports every worker it stops)."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _check_count(option: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(option, str(value), "must be an integer >= 1")


# -- cell tiles -----------------------------------------------------------------------

def predict_tiles(solver, case, *, tile_cells: int = 5000, scheduler: str = "local",
                  workers: int | None = None, threads: int = 1,
                  progress: bool = True) -> Result:
    """solver.predict(case) computed tile by tile (consecutive blocks of ``tile_cells``
    cells) as Dask tasks (see :func:`run_tasks` for the other arguments) and stitched
    into one Result on the whole case: displacement [N, T] (m, up positive), compaction
    [A, N, T] (m, shortening positive) when the solver gives it; wall_seconds is the
    whole call, cluster start-up included.

    Only for solvers that predict each cell from that cell alone
    (``getattr(solver, "cellwise", True)``); the others are refused.
    """
    if not getattr(solver, "cellwise", True):
        raise InputError("solver", solver.name,
                         "mixes neighbouring cells in its prediction, so tiles would change "
                         "the result; predict the whole case in one piece")
    _check_count("--tile-cells", tile_cells)
    solver_threads = getattr(solver, "options", {}).get("threads", 0)
    if solver_threads > threads:
        raise InputError("solver options", "threads",
                         f"{solver_threads} exceeds the {threads} thread(s) each Dask task "
                         "may use (--threads)")
    start = time.perf_counter()
    tiles = _Tiles(case.without_observations(), tile_cells)   # predict() never reads them
    parts = run_tasks(functools.partial(_predict_fields, solver), tiles, scheduler=scheduler,
                      workers=workers, threads=threads, progress=progress,
                      label=f"{solver.name} tiles", follow_fits=False)
    first = parts[0]
    compaction = (np.concatenate([p["compaction"] for p in parts], axis=1)
                  if first["compaction"] is not None else None)
    return Result.for_case(case, first["solver"], first["kind"],
                           np.concatenate([p["displacement"] for p in parts], axis=0),
                           compaction=compaction, aquifers=first["aquifers"],
                           options=first["options"], split=first["split"],
                           wall_seconds=time.perf_counter() - start)


def _predict_fields(solver, tile) -> dict:
    # distributed moves a dict of arrays several times faster than a dataclass it
    # has to pickle (measured: 0.25 s against 1-1.7 s for 200 MB of results)
    return vars(solver.predict(tile))


class _Tiles:
    """The consecutive blocks of ``size`` cells of a case, cut as they are iterated
    (while the first tiles compute); an empty case is one empty tile."""

    def __init__(self, case, size: int):
        self.case, self.size = case, size

    def __len__(self) -> int:
        return max(-(-self.case.n_cells // self.size), 1)

    def __iter__(self):
        n = self.case.n_cells
        for first in range(0, max(n, 1), self.size):
            yield self.case.take_cells(np.arange(first, min(first + self.size, n)))
