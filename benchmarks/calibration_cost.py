"""Cost of ``calibrated:terzaghi``'s fit against the number of cells.

    python3 benchmarks/calibration_cost.py CASE.toml [CASE.toml ...] [--cells 500,1000]
        [--option calibrated:terzaghi:KEY=VALUE ...] [--out calibration_cost.json]

Fits the calibration on each case (all its cells, and with ``--cells`` also on the
first K cells of the first case: one study area at several sizes) on the bench's split
(spatial:0.7, seed 0, validation 20 %), and records the wall seconds of the fit, the
cells calibrated, the member-cell-steps run and the seconds per calibrated cell. The
cost is linear in cells when the seconds per cell stay flat (the forward runs and the
localized update are both per cell; kriging is per unseen cell and neighbour count).
Options go to the solver (``members=64``, ``iterations=8``, ...); ``threads`` is the
Numba threads (0 = all).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from engine.app.options import script_options
from engine.caseio import load_case
from engine.registry import make_solver
from engine.split import Split

SOLVER = "calibrated:terzaghi"


def measure(case, options: dict) -> dict:
    """Fit on ``case`` and time it."""
    split = Split.parse("spatial:0.7", case, seed=0, validation_fraction=0.2)
    solver = make_solver(SOLVER, **options)
    started = time.perf_counter()
    report = solver.fit(case, split)
    seconds = time.perf_counter() - started
    cells = report["calibrated_cells"]
    steps = case.n_times + (0 if case.spinup_times is None else len(case.spinup_times))
    return {"case": case.name, "cells": case.n_cells, "calibrated_cells": cells,
            "record_steps": steps, "fit_seconds": round(seconds, 2),
            "seconds_per_calibrated_cell": round(seconds / cells, 5),
            "member_cell_steps": int(report["member_runs"]) * cells * steps}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--cells", default="", help="sizes (first K cells of the first case)")
    parser.add_argument("--option", action="append", default=[], help=f"{SOLVER}:KEY=VALUE")
    parser.add_argument("--out", default="calibration_cost.json")
    args = parser.parse_args(argv)
    options = script_options(parser, SOLVER, args.option)
    cases = [load_case(path) for path in args.cases]
    runs = []
    for k in [int(v) for v in args.cells.split(",") if v]:
        runs.append(cases[0].take_cells(np.arange(k)))
    runs += cases
    rows = []
    for case in runs:
        row = measure(case, options)
        rows.append(row)
        print(f"{row['case']}: {row['cells']} cells ({row['calibrated_cells']} calibrated), "
              f"{row['record_steps']} steps: fit {row['fit_seconds']} s, "
              f"{1e3 * row['seconds_per_calibrated_cell']:.1f} ms per calibrated cell")
    cells = np.array([r["calibrated_cells"] for r in rows], dtype=float)
    seconds = np.array([r["fit_seconds"] for r in rows])
    slope, intercept = np.polyfit(cells, seconds, 1) if len(rows) > 1 else (np.nan, np.nan)
    summary = {"rows": rows, "options": options, "cpu_count": os.cpu_count(),
               "load_average": os.getloadavg(),
               "linear_fit": {"seconds_per_cell": float(slope), "intercept_s": float(intercept)}}
    print(f"linear fit: {slope * 1e3:.1f} ms per calibrated cell + {intercept:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
