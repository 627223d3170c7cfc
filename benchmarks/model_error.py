"""How the model's error in an InSAR series grows with the series' signal: the record
read by a finished bench's physics solver, left as residuals, per cell.

    python3 -m benchmarks.model_error BENCH_DIR [--solver dpl:terzaghi] [--out model_error.json]

For each cell the fit could read (the bench's split: training and validation parts),
the residual is its readings minus the solver's physics (-sum of its compaction per
aquifer; a hybrid's discrepancy left out), compared up to a constant (de-meaned); its
variance less the readings' noise variance (estimated from the record, as the fits
estimate it) is the model error's variance there. Fitted over cells by least squares
as s0^2 + f^2 signal^2, signal the range of the cell's readings (m), it gives the sd
s0 (m) and the share f of the signal that dpl's ``insar_relative_error`` takes; the
residual's RMS per band of signal is printed beside it. Only readings a fit may read
are used, so the estimate is one a modeller can make without the truth.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engine.atomic import check_output, write_json
from engine.caseio import load_case
from engine.errors import InputError
from engine.result import read_result
from engine.split import Split
from physics.calibration.observations import readable_mask, training_data

#: a cell with fewer readings says little about its variance
MIN_READINGS = 24
#: signal bands (quantiles over the cells) of the printed table
BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.97, 1.0)


def run(folder: Path, solver: str) -> dict:
    bench = json.loads((folder / "bench.json").read_text(encoding="utf-8"))
    if solver not in bench["solvers"]:
        raise InputError(folder / "bench.json", "solvers", f"{solver} was not benched "
                         f"there ({', '.join(bench['solvers'])})")
    case = load_case(bench["case"])
    split = Split.from_dict(bench["split"])
    result = read_result(folder / "results.h5", solver)
    if result.compaction is None:
        raise InputError(folder / "results.h5", solver, "has no compaction per aquifer")
    mask = readable_mask(case, split)
    readings = np.where(mask, case.observations.displacement, np.nan)
    residual = readings + np.asarray(result.compaction).sum(axis=0)
    count = np.isfinite(residual).sum(axis=1)
    cells = count >= MIN_READINGS
    residual, readings = residual[cells], readings[cells]
    centred = residual - np.nanmean(residual, axis=1, keepdims=True)
    noise = training_data(case, mask).displacement_noise
    variance = np.nanmean(centred**2, axis=1) - noise**2
    signal = np.nanmax(readings, axis=1) - np.nanmin(readings, axis=1)
    design = np.column_stack([np.ones(len(signal)), signal**2])
    (s0_squared, f_squared), *_ = np.linalg.lstsq(design, variance, rcond=None)
    edges = np.quantile(signal, BANDS)
    bands = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (signal >= low) & (signal <= high)
        rms = float(np.sqrt(np.mean(np.nanmean(centred[inside]**2, axis=1))))
        bands.append({"signal_mm": [round(low * 1e3), round(high * 1e3)],
                      "cells": int(inside.sum()), "residual_rms_mm": round(rms * 1e3, 1)})
    return {"bench": str(folder), "solver": solver, "split": bench["split"],
            "cells": int(cells.sum()), "noise_mm": round(noise * 1e3, 2),
            "s0_mm": round(float(np.sqrt(max(s0_squared, 0.0))) * 1e3, 1),
            "f": round(float(np.sqrt(max(f_squared, 0.0))), 4), "bands": bands}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", type=Path)
    parser.add_argument("--solver", default="dpl:terzaghi")
    parser.add_argument("--out", type=Path, default=Path("model_error.json"))
    args = parser.parse_args(argv)
    if not (args.bench / "bench.json").is_file():
        parser.error(f"{args.bench}: no bench.json (not a landsub bench folder)")
    try:
        check_output(args.out, "file")
        report = run(args.bench, args.solver)
    except InputError as e:
        parser.error(str(e))
    for band in report["bands"]:
        low, high = band["signal_mm"]
        print(f"signal {low:5d}-{high:5d} mm: {band['cells']:5d} cells, residual RMS "
              f"{band['residual_rms_mm']:5.1f} mm")
    print(f"{report['solver']}: model error sd = hypot({report['s0_mm']} mm, "
          f"{report['f']} x signal) over {report['cells']} cells (noise "
          f"{report['noise_mm']} mm)")
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
