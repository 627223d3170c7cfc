"""The same what-if ensemble on 1 and on 2 local Dask workers: identical results, wall
times and speed-up (issue goal >= 1.7x on 2 cores).

    python benchmarks/dask_ensemble.py WHATIF_DIR [--solver lstm --preset fast --members 4]
    python benchmarks/dask_ensemble.py --check     # CI: a generated case, ~1-2 minutes

WHATIF_DIR is the output folder of a `landsub whatif` run (its cases/baseline and
cases/scenario are reused, so the timing is the ensemble's alone). Cluster start-up is
timed apart from the ensemble. Writes benchmarks/results/dask_ensemble.json.

``--check`` needs no WHATIF_DIR: it writes a generated baseline (cases.synthetic, 240
cells x 96 months) and a scenario (the deepest aquifer's heads 5 m higher over the last
two years) to a temporary folder, runs the same ensemble (lstm, preset fast, 8 members)
on 1 and 2 workers, writes nothing to results/ and exits 1 unless, in the one run, the
members are bit-identical and 2 workers are >= 1.3x faster (README: 1.73x). The size
keeps a member near a second: at 60 cells x 4 members (0.3 s a member) the scheduler's
round trips were a third of the ensemble and a CI run measured 0.95x.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

# run as a script, benchmarks/ comes first on the path and its surrogates.py would hide
# the surrogates package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.app.distributed import local_cluster, run_tasks  # noqa: E402
from engine.app.whatif import DEFAULT_SPREAD, PARAMETERS, ensemble, member_options, run_member  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "dask_ensemble.json"
MIN_SPEEDUP = 1.3       # README: 1.73x on 2 cores
CHECK_CELLS, CHECK_MEMBERS = 240, 8


def timed_ensemble(items, workers: int) -> tuple[list, float, float]:
    """(member runs, ensemble seconds, cluster start-up seconds) on ``workers`` workers.
    Start-up includes one member run in every worker, untimed: a process's first member
    pays one-time costs (imports, compilation, first allocations; 2-3x a member's time
    on a small case) that would otherwise count once per worker, so the ensemble's time
    is the members' alone."""
    from distributed import Client

    started = time.perf_counter()
    with local_cluster(workers) as cluster:
        with Client(cluster.scheduler_address) as client:
            client.run(run_member, items[0])
        startup = time.perf_counter() - started
        begun = time.perf_counter()
        runs = run_tasks(run_member, items, scheduler=cluster.scheduler_address,
                         progress=False)
        return runs, time.perf_counter() - begun, startup


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("whatif_dir", nargs="?")
    p.add_argument("--check", action="store_true",
                   help="a generated case; assert the README's ratio; write nothing")
    p.add_argument("--solver", default="lstm")
    p.add_argument("--preset", default="fast")
    p.add_argument("--members", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            args.whatif_dir, args.members = tmp, CHECK_MEMBERS
            generated_cases(Path(tmp) / "cases")
            return run(args)
    if not args.whatif_dir:
        p.error("WHATIF_DIR is needed (or --check)")
    return run(args)


def generated_cases(folder: Path) -> None:
    """A baseline and a scenario case as `landsub whatif` lays them out in DIR/cases."""
    from dataclasses import replace

    from cases.synthetic import synthetic_case
    from engine.caseio import write_case

    baseline = synthetic_case(n_cells=CHECK_CELLS, n_months=96, seed=5)
    rise = np.zeros(baseline.n_times)
    rise[-24:] = 5.0
    deep = baseline.aquifers[-1]
    scenario = replace(baseline, aquifers=(*baseline.aquifers[:-1],
                                           replace(deep, head=deep.head + rise)))
    write_case(baseline, folder / "baseline")
    write_case(scenario, folder / "scenario")


def run(args) -> int:
    folder = Path(args.whatif_dir) / "cases"
    cases = SimpleNamespace(baseline=folder / "baseline" / "case.toml",
                            scenario=folder / "scenario" / "case.toml")
    from engine.caseio import load_case

    n_aquifers = len(load_case(cases.baseline).aquifers)
    items, how = ensemble(args.solver, member_options(args.solver, args.preset), cases,
                          n_aquifers, args.members, args.seed,
                          {p: DEFAULT_SPREAD[p] for p in PARAMETERS})
    load = os.getloadavg()[0]
    timings = {}
    outputs = {}
    for workers in (1, 2):
        runs, seconds, startup = timed_ensemble(items, workers)
        outputs[workers] = runs
        timings[workers] = {"ensemble_seconds": seconds, "startup_seconds": startup}
        print(f"{workers} worker(s): ensemble {seconds:.1f} s (cluster start-up {startup:.1f} s)")
    identical = all(np.array_equal(a.baseline, b.baseline)
                    and np.array_equal(a.scenario, b.scenario)
                    for a, b in zip(outputs[1], outputs[2]))
    speedup = timings[1]["ensemble_seconds"] / timings[2]["ensemble_seconds"]
    print(f"{args.solver} x {args.members} members ({how}): speed-up {speedup:.2f}x; "
          f"identical results: {identical}")
    if args.check:
        failures = ([] if identical else ["1 and 2 workers give different members"]) + (
            [f"2 workers only {speedup:.2f}x faster than 1 (claim >= {MIN_SPEEDUP}x)"]
            if speedup < MIN_SPEEDUP else [])
        for failure in failures:
            print(f"check FAILED: {failure}")
        if not failures:
            print("check passed")
        return 1 if failures else 0
    record = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "load_average_at_start": load,
              "whatif_dir": str(args.whatif_dir), "solver": args.solver,
              "preset": args.preset, "members": args.members, "seed": args.seed,
              "ensemble": how, "timings": timings, "speedup": speedup,
              "identical": identical, "goal_speedup": 1.7}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
