"""`landsub bench`: fit, predict and store every solver of a list on one case and split.

The run folder holds

    bench.json        what is being run: case, split, preset, seed, solvers, options, the
                      rate-zone limits the metrics use (mm/yr) and the seminar protocol
                      it follows, if any
    results.h5        one Result group per finished solver (DESIGN.md layout)
    solvers/<name>/   run.json (fit report, fit and predict seconds), model/ (if trained)

The solvers run as tasks of ``engine.app.distributed.run_tasks`` (a local Dask cluster
by default, one thread per task, so a result does not depend on how many run at once).
A task fits, predicts and writes its solver's folder (run.json, model/); this process
then commits it: its group lands in results.h5 (an atomic write, one at a time, as each
task finishes, after the task wrote run.json and the model), so a bench killed at any
moment resumes with the solvers that have no group; ``force`` starts afresh. A folder
made for another case, split, preset or seed is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine import __version__, atomic
from engine.errors import InputError
from engine.evaluate import ZONE_LIMITS
from engine.result import read_result, result_groups, write_result
from engine.split import Split

RESULTS_FILE = "results.h5"
PLAN_FILE = "bench.json"
RUN_FILE = "run.json"
BASELINE = "trend"   # every bench runs it: skill is stated against it


@dataclass
class Plan:
    """What a bench folder is a run of. ``options``: solver name -> its options;
    ``zones``: the rate-zone limits (mm/yr) of the evaluation, recorded but not part of
    ``same_run`` (no solver reads them: a bench resumed with other zones rescores);
    ``protocol``: the seminar protocol the run follows (``engine.app.bench.protocols``),
    None for a plain bench."""

    case: str
    case_name: str
    split: dict
    solvers: list[str]
    preset: str | None = None
    seed: int = 0
    options: dict = field(default_factory=dict)
    landsub_version: str = __version__
    zones: list = field(default_factory=lambda: list(ZONE_LIMITS))
    protocol: str | None = None

    def same_run(self, other: "Plan") -> str | None:
        """The first field in which ``other`` differs from this plan, None if none
        (the solver list may grow: new solvers are simply run)."""
        for key in ("case_name", "split", "preset", "seed", "protocol"):
            if getattr(self, key) != getattr(other, key):
                return key
        for name in set(self.solvers) & set(other.solvers):
            if self.options.get(name, {}) != other.options.get(name, {}):
                return f"options of {name}"
        return None


def folder_name(solver: str) -> str:
    """A file-system name for a solver name ("residual:terzaghi+gru" -> "residual_terzaghi+gru")."""
    return solver.replace(":", "_").replace("/", "_")


# every file of a bench folder is replaced atomically, by the core's writers (the report
# and the command use them under these names)
write_text_atomic = atomic.write_text
write_json_atomic = atomic.write_json


def solver_options(name: str, preset: str | None, seed: int, given: dict) -> dict:
    """The options a solver is built with: the bench's preset and seed where the solver
    has them (a residual solver passes them to its network), then those given for it."""
    from engine.registry import solver_class

    defaults = solver_class(name).defaults
    options = {}
    if preset is not None and "preset" in defaults:
        options["preset"] = preset
    if "seed" in defaults:
        options["seed"] = seed
    return {**options, **given}


def finished(out: Path) -> list[str]:
    """Solvers with a committed group in ``out``/results.h5."""
    path = out / RESULTS_FILE
    if not path.exists():
        return []
    try:
        return [g for g in result_groups(path) if g is not None]
    except InputError:
        return []


def prepare(out: Path, plan: Plan, force: bool) -> list[str]:
    """Make ``out`` ready for ``plan``; returns the solvers already done (to skip)."""
    saved_path = out / PLAN_FILE
    if force and out.exists():
        for item in (RESULTS_FILE, PLAN_FILE, "solvers"):
            target = out / item
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    done = []
    if saved_path.exists():
        try:
            saved = Plan(**json.loads(saved_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise InputError(saved_path, "(file)", f"not a bench plan ({exc}); use --force "
                             "to start this folder afresh") from None
        differs = saved.same_run(plan)
        if differs:
            raise InputError(saved_path, differs, f"this folder holds a bench with a "
                             f"different {differs}; use another --out, or --force to start "
                             "afresh")
        done = [s for s in finished(out) if s in plan.solvers]
        plan.solvers = list(dict.fromkeys(saved.solvers + plan.solvers))
        plan.options = {**saved.options, **plan.options}
    elif (out / RESULTS_FILE).exists():
        raise InputError(out / RESULTS_FILE, "(file)", "exists without a bench.json; use "
                         "another --out or --force")
    write_json_atomic(saved_path, asdict(plan))
    return done


def fit_one(case, split: Split, name: str, options: dict, out: Path):
    """Fit and predict one solver and write its folder (run.json, model/): all but the
    commit. Returns (Result, run record). A fit interrupted with Ctrl-C writes nothing
    and raises KeyboardInterrupt."""
    from engine.persistence import save_model
    from engine.registry import solver_class

    cls = solver_class(name)
    solver = cls(**options)
    folder = out / "solvers" / folder_name(name)
    if folder.exists():
        shutil.rmtree(folder)   # left by a run killed before its commit
    started = time.perf_counter()
    report = solver.fit(case, split)
    fit_seconds = time.perf_counter() - started
    if report.get("interrupted"):
        raise KeyboardInterrupt
    started = time.perf_counter()
    result = solver.predict(case)
    predict_seconds = time.perf_counter() - started
    result.wall_seconds = predict_seconds
    result.split = split.to_dict()
    if cls.stateful:
        save_model(solver, folder / "model")
    record = {"solver": name, "kind": cls.kind, "options": options,
              "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
              "fit_report": report}
    write_json_atomic(folder / RUN_FILE, record)
    return result, record


def commit(out: Path, result, record: dict, log=print) -> None:
    """The commit of a fitted solver: its group lands in results.h5 (in this process
    only, one at a time: HDF5 files take one writer)."""
    write_result(result, out / RESULTS_FILE, group=record["solver"])
    log(f"  {record['solver']}: fit {record['fit_seconds']:.1f} s, predict "
        f"{record['predict_seconds']:.2f} s")


def run_one(case, split: Split, name: str, options: dict, out: Path, log=print) -> dict:
    """Fit, predict and commit one solver here; returns its run record."""
    result, record = fit_one(case, split, name, options, out)
    commit(out, result, record, log)
    return record


class _SolverTask:
    """A run_tasks function: (name, options) -> fit_one on the bench's case and split
    (sent to each worker once)."""

    def __init__(self, case, split: Split, out: Path):
        self.case, self.split, self.out = case, split, out

    def __call__(self, job):
        name, options = job
        return fit_one(self.case, self.split, name, options, self.out)


def run_solvers(case, split: Split, plan: Plan, out: Path, force: bool = False,
                log=print, scheduler: str = "local", workers: int | None = None,
                progress: bool = True) -> None:
    """Run every solver of ``plan`` not yet committed in ``out``, as tasks on
    ``scheduler`` ("local": a cluster of ``workers`` processes, default one per core up
    to one per solver; "serial": here, one after the other; or a scheduler address,
    whose workers must see ``out``: they write the solver folders), committing each as
    it finishes."""
    from engine.app.distributed import run_tasks

    done = prepare(out, plan, force)
    if done:
        log(f"resuming {out}: {', '.join(done)} already done")
    todo = [s for s in plan.solvers if s not in done]
    if not todo:
        return
    if scheduler == "local" and workers is None:
        workers = min(os.cpu_count() or 1, len(todo))
    where = "here" if scheduler == "serial" else (
        f"on {workers} local worker(s)" if scheduler == "local" else f"on {scheduler}")
    log(f"fitting and predicting {len(todo)} solver(s) {where} on {case.n_cells} cells x "
        f"{case.n_times} times: {', '.join(todo)}")
    run_tasks(_SolverTask(case, split, out), [(n, plan.options.get(n, {})) for n in todo],
              scheduler=scheduler, workers=workers, threads=1, progress=progress,
              label="bench", name=lambda job: job[0],
              on_result=lambda index, outcome: commit(out, *outcome, log=log))


def load_runs(out: Path, solvers: list[str]) -> dict:
    """name -> (Result, run record) for the committed solvers of ``solvers``."""
    runs = {}
    have = set(finished(out))
    for name in solvers:
        if name not in have:
            continue
        record = json.loads((out / "solvers" / folder_name(name) / RUN_FILE)
                            .read_text(encoding="utf-8"))
        runs[name] = (read_result(out / RESULTS_FILE, group=name), record)
    return runs
