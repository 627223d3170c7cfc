"""Throughput of the ``terzaghi`` solver's delay-bed kernel.

Cases of 1e3, 1e4 and 1e5 cells x 3 aquifers (one interbed system each), 120 monthly
steps, with two head histories: "seasonal" (a decline with a seasonal swing of 0.5-3 m,
so nodes switch between elastic and inelastic storage every season and steps need
extra regime iterations) and "decline" (monotone, one solve per step). Throughput is
interbed node-steps per second: nodes actually solved (the default scheme solves half
of each bed) x steps (sub-steps included) x beds, over the delay-bed stage's wall time
(its array preparation included); also per CPU-second of all threads, which other
processes on a shared machine disturb less. Runs with 1 and 2 Numba threads, best of
``repeat``; the 1-minute load average is recorded with each row.

    python benchmarks/consolidation.py [--cells 1000 10000 100000] [--repeat 3]
    python benchmarks/consolidation.py --check      # CI: 30,000 cells, seconds

Writes benchmarks/results/consolidation.json and prints a table. ``--check`` writes
nothing and exits 1 unless the README's readings hold as ratios within the one run
(1 and 2 threads interleaved, best of 5 each): 2 threads faster than 1 (>= 1.1x;
README: 1.7x seasonal, 1.6x decline, at 1e5 cells) and the monotone decline faster per
node-step than the seasonal history (README: 1.7x), with the same compaction whatever
the threads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.case import build_case  # noqa: E402
from engine.units import DAYS_PER_MONTH, DAYS_PER_YEAR  # noqa: E402
from physics import delay_beds  # noqa: E402
from physics.solver import TerzaghiSolver  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "consolidation.json"
STEPS = 120
AQUIFERS = 3


def synthetic_case(cells: int, history: str, seed: int = 2024):
    """Three aquifers of ``cells`` cells, one interbed system each, monthly steps."""
    rng = np.random.default_rng(seed)
    days = np.round(np.arange(STEPS + 1) * DAYS_PER_MONTH).astype(int)
    years = days / DAYS_PER_YEAR
    aquifers = []
    for a in range(AQUIFERS):
        decline = rng.uniform(0.5, 2.0, cells)[:, None] * years
        head = -decline
        if history == "seasonal":
            amplitude = rng.uniform(0.5, 3.0, cells)[:, None]
            phase = rng.uniform(0.0, 2 * np.pi, cells)[:, None]
            head = head + amplitude * (np.sin(2 * np.pi * years + phase) - np.sin(phase))
        sske = rng.uniform(1e-6, 1e-5, cells)
        aquifers.append({"name": f"aquifer-{a}", "head": head, "interbeds": [{
            "thickness": rng.uniform(1.0, 10.0, cells), "count": rng.uniform(1.0, 5.0, cells),
            "kv": 10 ** rng.uniform(-6, -4, cells), "sske": sske,
            "sskv": sske * rng.uniform(10, 100, cells)}]})
    return build_case(f"bench-{history}-{cells}", days, aquifers)


def vector_instructions() -> dict:
    """Counts of packed and scalar double-precision divides and FMAs in the machine code
    of a fresh (uncached) compilation of the delay-bed kernel."""
    fresh = numba.njit(parallel=True, fastmath={"nsz", "contract"})(
        delay_beds.advance.py_func)
    case = synthetic_case(delay_beds.LANES, "seasonal")
    grid = delay_beds.make_grid("default", 19)
    n, t, lanes = grid.nodes, case.n_times, delay_beds.LANES
    heads = case.aquifers[0].head  # [bed, time]
    ones = np.ones(lanes)
    start = np.repeat(heads[None, :, 0], n, axis=0)
    fresh(heads, case.days, ones, ones, ones, ones, False, ones, grid.width,
          grid.conductance, grid.boundary, grid.coupling, 1, 100, start, start.copy(),
          np.zeros((n, lanes)), np.zeros((3, lanes)), np.empty((lanes, t)),
          np.empty((lanes, t)), 0, 1, 1, t)
    asm = "".join(fresh.inspect_asm().values())
    count = {}
    for name, pattern in (("packed_div", r"\bv?divpd\b"), ("scalar_div", r"\bv?divsd\b"),
                          ("packed_fma", r"\bvf\w*add\w*pd\b"),
                          ("scalar_fma", r"\bvf\w*add\w*sd\b"),
                          ("ymm_or_zmm_lines", r"%[yz]mm")):
        count[name] = len(re.findall(pattern, asm))
    return count


def measure(cells: int, history: str, threads: int, repeat: int) -> dict:
    case = synthetic_case(cells, history)
    solver = TerzaghiSolver(threads=threads)
    solver.compaction_parts(case.take_cells(np.arange(min(cells, 64))))  # warm up
    best = {}
    for _ in range(repeat):
        cpu = time.process_time()
        solver.compaction_parts(case)
        cpu = time.process_time() - cpu
        for stage, seconds in {**solver.timings, "cpu_all_threads": cpu}.items():
            best[stage] = min(best.get(stage, np.inf), seconds)
    nodes = delay_beds.make_grid("default", solver.options["nodes"]).nodes
    node_steps = nodes * STEPS * solver.options["substeps"] * cells * AQUIFERS
    return {"cells": cells, "beds": cells * AQUIFERS, "history": history,
            "threads": threads, "nodes_solved": nodes, "steps": STEPS,
            "node_steps": node_steps, "seconds": best,
            "node_steps_per_second": node_steps / best["delay_beds"],
            # robust to other processes on the machine: CPU time of all threads
            "node_steps_per_cpu_second": node_steps / best["cpu_all_threads"],
            "load_average": os.getloadavg()[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--check", action="store_true",
                        help="assert the README's ratios on 30,000 cells; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    rows = []
    print(f"{'cells':>7} {'beds':>7} {'history':>9} {'thr':>3} {'delay s':>8} "
          f"{'node-steps/s':>13} {'per cpu-s':>10} {'load':>5}")
    for cells in args.cells:
        for history in ("seasonal", "decline"):
            for threads in args.threads:
                row = measure(cells, history, threads, args.repeat)
                rows.append(row)
                print(f"{cells:7d} {row['beds']:7d} {history:>9} {threads:3d} "
                      f"{row['seconds']['delay_beds']:8.3f} "
                      f"{row['node_steps_per_second']:13.3g} "
                      f"{row['node_steps_per_cpu_second']:10.3g} {row['load_average']:5.2f}")
    report = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"processor": _cpu_name(), "cpus": numba.config.NUMBA_NUM_THREADS,
                    "python": platform.python_version(), "numba": numba.__version__,
                    "numpy": np.__version__},
        "kernel": {"lanes": delay_beds.LANES, "scheme": "default", "nodes_option": 19,
                   "vector_instructions": vector_instructions()},
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"vector instructions: {report['kernel']['vector_instructions']}")
    print(f"written {args.output}")


# README: 1.7x (seasonal) on an idle machine; 1.2-1.3x measured beside two other jobs,
# so the bar is "faster", with room for a shared CI machine
MIN_THREAD_SPEEDUP = 1.1
MIN_DECLINE_OVER_SEASONAL = 1.2     # README: 6.7e8 / 3.9e8 = 1.7x


def check(cells: int = 30_000, repeat: int = 5) -> int:
    """0 when the README's ratios hold in this run, else 1 (each failure printed).
    Threads alternate run by run, so a change of load on a shared machine hits both."""
    best = {}
    for history in ("seasonal", "decline"):
        case = synthetic_case(cells, history)
        solvers = {threads: TerzaghiSolver(threads=threads) for threads in (1, 2)}
        parts = {}
        for solver in solvers.values():
            solver.compaction_parts(case.take_cells(np.arange(64)))      # warm up
        for _ in range(repeat):
            for threads, solver in solvers.items():
                parts[threads] = solver.compaction_parts(case)
                key = (history, threads)
                best[key] = min(best.get(key, np.inf), solver.timings["delay_beds"])
        if not all(np.array_equal(parts[1][k], parts[2][k]) for k in parts[1]):
            print(f"check FAILED: {history}: 1 and 2 threads give different compaction")
            return 1
    failures = []
    for history in ("seasonal", "decline"):
        speedup = best[(history, 1)] / best[(history, 2)]
        print(f"{history}: 1 thread {best[(history, 1)]:.3f} s, 2 threads "
              f"{best[(history, 2)]:.3f} s: {speedup:.2f}x")
        if speedup < MIN_THREAD_SPEEDUP:
            failures.append(f"{history}: 2 threads only {speedup:.2f}x faster than 1 "
                            f"(claim >= {MIN_THREAD_SPEEDUP}x)")
    # same nodes, steps and beds in both histories: seconds compare node-step rates
    ratio = best[("seasonal", 2)] / best[("decline", 2)]
    print(f"decline vs seasonal node-steps/s: {ratio:.2f}x")
    if ratio < MIN_DECLINE_OVER_SEASONAL:
        failures.append(f"decline only {ratio:.2f}x the seasonal rate "
                        f"(claim >= {MIN_DECLINE_OVER_SEASONAL}x)")
    for failure in failures:
        print(f"check FAILED: {failure}")
    if not failures:
        print("check passed")
    return 1 if failures else 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
