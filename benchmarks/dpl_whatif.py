"""``dpl:terzaghi`` on a pumping cut of a Beijing twin: its effect against the truth's.
A scoring script, not a solver: it reads the hidden truth (``truth/truth.h5``), and
feeding the truth's heads to a fit is the ablation, never what a solver does.

    python3 -m benchmarks.dpl_whatif WHATIF_DIR [--heads case|truth]
        [--option dpl:terzaghi:KEY=VALUE ...] [--out dpl_whatif.json]

WHATIF_DIR is a ``landsub whatif`` folder made on a twin (its cases/baseline and
cases/scenario, each re-made with its truth). dpl is fitted on the baseline's history
(split none, as ``landsub whatif`` fits it), on the case's heads or the truth's, and
predicts both cases; the effect (scenario - baseline displacement) at the last time is
scored as the what-if scores it (``engine.app.truth.whatif_scores``, one member: no
band): area mean and severe-zone mean (observed rate below -30 mm/yr) with their
relative errors, and the per-cell RMSE.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.calibration_heads import effect_scores, whatif_cases
from engine.app.options import script_options
from engine.registry import make_solver
from engine.split import Split

SOLVER = "dpl:terzaghi"
#: the scores kept, and their decimals
DIGITS = {"area_mean_mm": 2, "area_mean_truth_mm": 2, "area_mean_relative_error": 3,
          "severe_mean_mm": 2, "severe_mean_truth_mm": 2, "severe_mean_relative_error": 3,
          "effect_rmse_mm": 2}


def run(folder: Path, heads: str, options: dict) -> dict:
    cases, truth, severe = whatif_cases(folder, heads)
    solver = make_solver(SOLVER, **options)
    started = time.perf_counter()
    report = solver.fit(cases[0], Split("none"))
    seconds = time.perf_counter() - started
    at_last = [solver.predict(c).displacement[None, :, -1] for c in cases]
    out = effect_scores(solver, "one fit", at_last, truth, severe, cases[0].times, seconds,
                        DIGITS)
    out.update({"heads": heads, "best_epoch": report["best_epoch"],
                "fit_seconds": round(seconds, 1)})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("whatif", type=Path)
    parser.add_argument("--heads", choices=("case", "truth"), default="case")
    parser.add_argument("--option", action="append", default=[], help=f"{SOLVER}:KEY=VALUE")
    parser.add_argument("--out", type=Path, default=Path("dpl_whatif.json"))
    args = parser.parse_args(argv)
    options = script_options(parser, SOLVER, args.option)
    scores = run(args.whatif, args.heads, {"progress": True, **options})
    report = {"whatif": str(args.whatif), "options": options, **scores}
    print(json.dumps(report, indent=1))
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
