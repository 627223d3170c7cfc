"""``dpl:terzaghi`` on a Beijing twin: training time, memory of a long backpropagation,
and the learned parameter maps against the twin's hidden truth.

* training: ``fit`` on the case under ``--split`` (seeded), wall seconds, epochs, the
  1-minute load average before and after (the machine may be shared: figures from a
  loaded machine are slower than its cores allow), torch threads, device; with
  ``--model DIR`` a model saved by ``landsub bench`` (``solvers/dpl:terzaghi/model``) is
  loaded instead and no training is timed;
* memory: peak resident memory (MB) of a fresh process that runs the differentiable
  twin forward and backward over the whole case (every cell, month and aquifer) with
  checkpointing (``--checkpoint`` case steps per chunk);
* truth (THIS script reads ``truth/truth.h5``; no solver does): per confined aquifer,
  the Pearson correlation over all cells of ln b_equiv, ln lag time and ln inelastic
  storage capacity (Sskv b count, m/m) of the learned parameters with the truth's
  (b_equiv, lag_days, sskv0 x clay), and the same for the prior (the case's own).

    python3 benchmarks/dpl.py [CASE] [--split spatial:0.7] [--model DIR] [--gpu]
        [--out benchmarks/results/dpl.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

DEFAULT_CASE = Path.home() / ".cache" / "landsub" / "beijing-small-seed0" / "case.toml"


def memory(case_path: str, checkpoint: int, device: str) -> dict:
    """Peak RSS (MB) and seconds of forward + backward of the whole case, in its own
    process so that nothing else counts toward the peak."""
    code = f"""
import json, resource, time, torch
torch.set_num_threads(1)
from engine.caseio import load_case
from physics.calibration.parameters import SEDIMENT_KINDS, ParameterSpace
from surrogates.differentiable import consolidation as twin
case = load_case({case_path!r})
space = ParameterSpace.for_case(case, {{k: 1.0 for k in SEDIMENT_KINDS}})
heads, days, sediments, _ = twin.case_tensors(case, {device!r})
values = torch.zeros(space.size, case.n_cells, dtype=torch.float64, device={device!r},
                     requires_grad=True)
start = time.perf_counter()
c = twin.compaction(heads, days, twin.with_parameters(sediments, space.aquifer, space.kind,
                    values), checkpoint={checkpoint})
forward = time.perf_counter() - start
(c.sum(0) ** 2).sum().backward()
print(json.dumps({{"cells": case.n_cells, "months": case.n_times, "aquifers": len(case.aquifers),
    "checkpoint_steps": {checkpoint}, "forward_s": forward,
    "backward_s": time.perf_counter() - start - forward,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if {device!r} != "cpu" else None}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def correlations(case, solver, truth_path: Path) -> dict:
    """Per confined aquifer: Pearson r of ln quantities, learned and prior vs truth."""
    from physics.analytical import lag_time

    names, values = solver.parameters(case)
    learned = solver.space.apply(case, values)
    ids = np.asarray(case.cells.ids).astype(str)
    out = {}
    with h5py.File(truth_path, "r") as f:
        order = {cell: i for i, cell in enumerate(f["points/id"][...].astype(str))}
        at = np.array([order[cell] for cell in ids])
        for a, aquifer in enumerate(case.aquifers):
            if not aquifer.name.startswith("confined"):
                continue
            g = f[f"parameters/aquifer_{a}"]
            truth = {"b_equiv": g["b_equiv"][...][at], "lag_time": g["lag_days"][...][at],
                     "inelastic_capacity": (g["sskv0"][...] * g["clay"][...])[at]}
            row = {}
            for label, model in (("learned", learned), ("prior", case)):
                ib = model.aquifers[a].interbeds[0]
                mine = {"b_equiv": ib.thickness,
                        "lag_time": lag_time(ib.thickness, ib.kv, ib.sskv),
                        "inelastic_capacity": ib.sskv * ib.thickness * ib.count}
                row[label] = {k: float(np.corrcoef(np.log(mine[k]), np.log(truth[k]))[0, 1])
                              for k in truth}
            out[aquifer.name] = row
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default=str(DEFAULT_CASE))
    parser.add_argument("--split", default="spatial:0.7")
    parser.add_argument("--model", help="a saved dpl:terzaghi model (skips training)")
    parser.add_argument("--checkpoint", type=int, default=24)
    parser.add_argument("--gpu", action="store_true", help="also time training on CUDA")
    parser.add_argument("--out", default="benchmarks/results/dpl.json")
    args = parser.parse_args(argv)

    from engine.app.bench import VALIDATION_FRACTION
    from engine.caseio import load_case
    from engine.persistence import load_model
    from engine.registry import make_solver
    from engine.split import Split

    case = load_case(args.case)
    # the bench's split, so that the fit timed here is the model a bench fits
    split = Split.parse(args.split, case, validation_fraction=VALIDATION_FRACTION)
    result = {"case": str(args.case), "split": args.split, "cpu_count": os.cpu_count()}
    devices = ["cpu"] + (["cuda"] if args.gpu else [])
    if args.model:
        solver = load_model(args.model)
        result["training"] = {"loaded": args.model, "report": solver.report}
    else:
        result["training"] = {}
        for device in devices:
            load_before = os.getloadavg()[0]
            solver = make_solver("dpl:terzaghi", device=device)
            started = time.perf_counter()
            report = solver.fit(case, split)
            result["training"][device] = {
                "seconds": time.perf_counter() - started, "epochs": report["epochs"],
                "best_epoch": report["best_epoch"], "load_1min_before": load_before,
                "load_1min_after": os.getloadavg()[0], "threads": solver.options["threads"]}
    result["memory"] = memory(args.case, args.checkpoint, "cpu")
    truth = Path(args.case).parent / "truth" / "truth.h5"
    if truth.exists():
        result["correlation_with_truth"] = correlations(case, solver, truth)
    result["benchmark_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
