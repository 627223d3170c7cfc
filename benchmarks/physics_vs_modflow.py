"""The same case run by ``terzaghi`` (Numba) and ``mf6-csub`` (MODFLOW 6 through FloPy).

Cases of 100, 1,000 and 10,000 cells x 3 aquifers, each aquifer with a delay-interbed
system, no-delay beds and coarse skeleton, 120 monthly steps of a seasonal decline
(benchmarks/consolidation.py's "seasonal" history). Both solvers use 19 cells across a
delay bed; at that resolution the Numba default scheme is the more accurate one (its
error on terzaghi-step is 0.19 % of ultimate against CSUB's 0.81 %), so the speed ratio
is taken at equal or better accuracy. Reported: wall seconds of predict() for each,
their ratio per cell-step (terzaghi: best of 3; MODFLOW: one run, minutes), and, on the smallest case, each solver's max difference from
a converged reference (terzaghi, 159 nodes, 16 sub-steps).

    python benchmarks/physics_vs_modflow.py [--cells 100 1000 10000]

Writes benchmarks/results/physics_vs_modflow.json and prints a table.
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
    parser.add_argument("--cells", type=int, nargs="+", default=[100, 1000, 10000])
    args = parser.parse_args(argv)
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
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"processor": platform.processor(), "cpus": os.cpu_count()},
        "results": rows}, indent=2))
    print(f"-> {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
