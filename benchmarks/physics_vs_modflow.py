"""The same case run by ``terzaghi`` (Numba) and ``mf6-csub`` (MODFLOW 6 through FloPy).

Cases of 100, 1,000 and 10,000 cells x 3 aquifers, each aquifer with a delay-interbed
system, no-delay beds and coarse skeleton, 120 monthly steps of a seasonal decline
(benchmarks/consolidation.py's "seasonal" history). Both solvers use 19 cells across a
delay bed; at that resolution the Numba default scheme is the more accurate one (its
error on terzaghi-step is 0.19 % of ultimate against CSUB's 0.81 %), so the speed ratio
is taken at equal or better accuracy. Reported: wall seconds of predict() for each,
their ratio per cell-step (terzaghi: best of 3; MODFLOW: one run, minutes), and, on the
smallest case, each solver's max difference from a converged reference (terzaghi, 159
nodes, 16 sub-steps).

    python benchmarks/physics_vs_modflow.py [--cells 100 1000 10000]
    python benchmarks/physics_vs_modflow.py --check      # CI: 1,000 cells, ~1 minute

Writes benchmarks/results/physics_vs_modflow.json and prints a table. ``--check`` writes
nothing and exits 1 unless the README's reading holds, from the one run: terzaghi at
least 100x faster than mf6-csub per cell-step (README: 356x at 1,000 cells), at equal
accuracy (each within 1 % of the largest displacement of the converged solution, and
within 10 % of each other).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.consolidation import synthetic_case  # noqa: E402
from physics.modflow.mf6_csub import Mf6CsubSolver  # noqa: E402
from physics.solver import TerzaghiSolver  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "physics_vs_modflow.json"


def with_instant_beds(case):
    """The benchmark case with no-delay beds and coarse skeleton added to every aquifer."""
    from dataclasses import replace

    from engine.case import Compressible

    n = case.n_cells
    full = lambda v: np.full(n, v)  # noqa: E731
    aquifers = tuple(replace(a, nodelay=Compressible("nodelay", full(5.0), full(5e-6),
                                                     full(1.5e-4)),
                             coarse=Compressible("coarse", full(40.0), full(2e-6)))
                     for a in case.aquifers)
    return replace(case, aquifers=aquifers)


def timed(solver, case, repeat=1):
    """The result and the best wall time of ``repeat`` predictions."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = solver.predict(case)
        best = min(best, time.perf_counter() - start)
    return result, best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, nargs="+", default=None)
    parser.add_argument("--check", action="store_true",
                        help="assert the README's ratios on 1,000 cells; write nothing")
    args = parser.parse_args(argv)
    args.cells = args.cells or ([1000] if args.check else [100, 1000, 10000])
    TerzaghiSolver().predict(with_instant_beds(synthetic_case(8, "seasonal")))  # compile
    rows = []
    for cells in args.cells:
        case = with_instant_beds(synthetic_case(cells, "seasonal"))
        ours, ours_s = timed(TerzaghiSolver(nodes=19), case, repeat=3)
        theirs, theirs_s = timed(Mf6CsubSolver(ndelaycells=19), case)
        cell_steps = cells * len(case.aquifers) * (case.n_times - 1)
        row = {"cells": cells, "aquifers": len(case.aquifers), "steps": case.n_times - 1,
               "terzaghi_seconds": ours_s, "mf6_csub_seconds": theirs_s,
               "terzaghi_cell_steps_per_second": cell_steps / ours_s,
               "mf6_csub_cell_steps_per_second": cell_steps / theirs_s,
               "speedup": theirs_s / ours_s,
               "max_difference_mm": float(np.abs(ours.displacement
                                                 - theirs.displacement).max() * 1e3),
               "load_average": os.getloadavg()[0]}
        if cells == min(args.cells):
            reference = TerzaghiSolver(nodes=159, substeps=16).predict(case).displacement
            row["terzaghi_error_mm"] = float(np.abs(ours.displacement - reference).max() * 1e3)
            row["mf6_csub_error_mm"] = float(np.abs(theirs.displacement - reference).max() * 1e3)
            row["max_displacement_mm"] = float(np.abs(reference).max() * 1e3)
        rows.append(row)
        print(f"{cells:6d} cells: terzaghi {ours_s:8.3f} s, mf6-csub {theirs_s:8.1f} s, "
              f"ratio {theirs_s / ours_s:8.0f}x, |difference| <= {row['max_difference_mm']:.3f} mm"
              + (f"; error vs converged: terzaghi {row['terzaghi_error_mm']:.3f} mm, "
                 f"mf6-csub {row['mf6_csub_error_mm']:.3f} mm of "
                 f"{row['max_displacement_mm']:.0f} mm" if "terzaghi_error_mm" in row else ""),
              flush=True)
    if args.check:
        return check(rows)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"processor": platform.processor(), "cpus": os.cpu_count()},
        "results": rows}, indent=2))
    print(f"-> {RESULTS}")
    return 0


MIN_SPEEDUP = 100.0       # README: 356x at 1,000 cells, 454x at 10,000


def check(rows: list[dict]) -> int:
    """0 when the README's claims hold in this run's figures, else 1 (each failure printed).
    Ratios of two measurements taken side by side, never absolute times."""
    failures = []
    for row in rows:
        if row["speedup"] < MIN_SPEEDUP:
            failures.append(f"{row['cells']} cells: terzaghi only {row['speedup']:.0f}x faster "
                            f"than mf6-csub per cell-step (claim >= {MIN_SPEEDUP:.0f}x)")
    row = rows[0]
    ours, theirs, top = row["terzaghi_error_mm"], row["mf6_csub_error_mm"], \
        row["max_displacement_mm"]
    if max(ours, theirs) > 0.01 * top:
        failures.append(f"error vs converged over 1 % of {top:.0f} mm: terzaghi {ours:.2f} mm, "
                        f"mf6-csub {theirs:.2f} mm")
    if abs(ours - theirs) > 0.1 * max(ours, theirs):
        failures.append(f"not equal accuracy: terzaghi {ours:.2f} mm, mf6-csub {theirs:.2f} mm")
    for failure in failures:
        print(f"check FAILED: {failure}")
    if not failures:
        speedups = ", ".join(f"{r['speedup']:.0f}x" for r in rows)
        print(f"check passed: speed-up {speedups} "
              f"(>= {MIN_SPEEDUP:.0f}x) at equal accuracy ({ours:.2f} / {theirs:.2f} mm "
              f"of {top:.0f} mm)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
