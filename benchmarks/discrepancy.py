"""What the model's discrepancy adds to each physics solver of a finished bench.

    python3 -m benchmarks.discrepancy BENCH_DIR [--solvers terzaghi,calibrated:terzaghi,dpl:terzaghi]
        [--out discrepancy.json]

For each solver named (a group of BENCH_DIR/results.h5 with compaction per aquifer),
its physics is the displacement its compaction gives (-sum over aquifers); the
discrepancy of ``physics.calibration.discrepancy`` is conditioned on the InSAR readings
the bench's split let the fit read (training and validation parts) minus that
displacement, with the calibration's error model (``CalibratedSolver.defaults``:
insar_model_error, error_months), and added. Both are scored on the test part as the
bench scores (``engine.evaluate``, cumulative RMSE pooled over the test part), beside
the displacement the solver itself gave. So dpl:terzaghi's own discrepancy (its
default) is checked against one made outside it, and the physics solvers that have
none are scored as if they had: the question is whether a solver's place in the bench
comes from its physics or from the discrepancy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engine.app.bench.metrics import value
from engine.caseio import load_case
from engine.evaluate import evaluate
from engine.result import Result, read_result
from engine.split import Split
from physics.calibration.discrepancy import Discrepancy
from physics.calibration.observations import readable_mask
from physics.calibration.solver import CalibratedSolver


def cumulative_rmse_mm(case, displacement, observed, test) -> float:
    """Pooled cumulative RMSE (mm) on the ``test`` mask, as the bench reports it."""
    result = Result.for_case(case, "scored", "hybrid", displacement)
    return value(evaluate(result, observed, test, part="test"), "scored", "cumulative",
                 "rmse_mm")


def run(folder: Path, solvers: list[str]) -> dict:
    bench = json.loads((folder / "bench.json").read_text(encoding="utf-8"))
    case = load_case(bench["case"])
    split = Split.from_dict(bench["split"])
    observed = np.asarray(case.observations.displacement, dtype=np.float64)
    test = split.test_mask(case)
    error = {k: CalibratedSolver.defaults[k] for k in ("insar_model_error", "error_months")}
    out = {"bench": str(folder), "split": bench["split"], **error, "solvers": {}}
    for name in solvers:
        result = read_result(folder / "results.h5", name)
        if result.compaction is None:
            raise SystemExit(f"{folder / 'results.h5'}: {name} has no compaction per aquifer")
        physics = -np.asarray(result.compaction).sum(axis=0)
        field = Discrepancy.of_record(case, readable_mask(case, split), physics,
                                      error["insar_model_error"], error["error_months"], 0)
        corrected = physics + field.at(case.cells.ids, case.cells.x, case.cells.y, case.times)
        out["solvers"][name] = {
            "as_benched_mm": round(cumulative_rmse_mm(case, result.displacement, observed, test), 2),
            "physics_mm": round(cumulative_rmse_mm(case, physics, observed, test), 2),
            "physics_and_discrepancy_mm": round(cumulative_rmse_mm(case, corrected, observed,
                                                             test), 2),
            "discrepancy_rms_at_last_reading_mm": round(
                field.summary()["rms_at_last_reading_mm"], 2)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", type=Path)
    parser.add_argument("--solvers", default="terzaghi,calibrated:terzaghi,dpl:terzaghi")
    parser.add_argument("--out", type=Path, default=Path("discrepancy.json"))
    args = parser.parse_args(argv)
    if not (args.bench / "bench.json").is_file():
        parser.error(f"{args.bench}: no bench.json (not a landsub bench folder)")
    report = run(args.bench, [s for s in args.solvers.split(",") if s])
    print(json.dumps(report, indent=1))
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
