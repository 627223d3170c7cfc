"""The floor of calibration on a Beijing twin: what ``calibrated:terzaghi`` could reach
at best with its own model structure. A scoring script, not a solver: it reads the
hidden truth (``truth/truth.h5``).

    python3 benchmarks/calibration_oracle.py CASE.toml [--out oracle.json]

Runs ``terzaghi`` (default options, the bench's) on the twin's case with the truth's
parameters reduced to the case's structure, ONE equivalent delay interbed and the
coarse skeleton per aquifer with specific storages, and scores it as ``landsub bench``
does (spatial:0.7 and temporal:2015-01, seed 0). The reduction, per aquifer and cell:

- the truth's interbed systems k (thickness b_k, count n_k) become one equivalent bed:
  b_equiv = sqrt(sum n_k b_k^2 / sum n_k) (MODFLOW's, the truth's own b_equiv), count
  = sum n_k b_k / b_equiv, so the clay thickness, hence the storage-thickness product,
  is kept;
- sskv = the truth's virgin storage at the predevelopment stress, 0.434 Cc / ((1 + e)
  sigma'_0) (``physics.storage``), sske = Cr / Cc times it (the truth's recompression
  ratio): the stress dependence is dropped, as the model drops it;
- kv from the truth's lag time of the equivalent bed: kv = (b_equiv / 2)^2 sskv / tau
  (the truth draws tau and derives its kv this way, so this is the truth's kv);
- the confining aquitard (one thick bed, lag of years) has no place in that structure:
  "oracle" leaves it out; "oracle+aquitard" adds it as a second delay system with its
  own reduced parameters (the structure one step richer than the model's);
- coarse: the truth's thickness, sske = its elastic storage at the predevelopment stress;
- preconsolidation head: the truth's (predevelopment head less its overconsolidation).

Heads: "truth heads" are the flow model's at the cells (truth.h5 history/heads, with its
spin-up history/spinup_heads from the predevelopment steady state); "case heads" are
the case's own (interpolated from the wells, with its spin-up): the gap between the two
rows is what the kriged heads cost. A truth written before spin-ups existed (no
history/spinup_heads) runs from the first case time with a normally consolidated start
and says so.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from engine.app.bench.metrics import compaction_rows
from engine.case import Compressible
from engine.caseio import load_case
from engine.evaluate import evaluate
from engine.horizon import horizon_scores
from engine.registry import make_solver
from engine.split import Split

SPLITS = ("spatial:0.7", "temporal:2015-01")


def reduced_materials(truth: h5py.File, a: int, with_aquitard: bool) -> tuple:
    """(interbed systems, coarse) of aquifer ``a`` from the truth, reduced (module doc)."""
    g = truth[f"parameters/aquifer_{a}"]
    systems = sorted(k for k in g if k.startswith("interbeds_"))
    b = np.array([g[f"{k}/thickness"][...] for k in systems])
    n = np.array([g[f"{k}/count"][...] for k in systems])
    sskv = g["sskv0"][...]
    elastic_ratio = g[f"{systems[0]}/cr"][...] / g[f"{systems[0]}/cc"][...]
    b_equiv = np.sqrt((n * b**2).sum(axis=0) / n.sum(axis=0))
    pc = g[f"{systems[0]}/preconsolidation_head"][...]
    beds = [Compressible(kind="interbeds", thickness=b_equiv,
                         count=(n * b).sum(axis=0) / b_equiv,
                         kv=(b_equiv / 2.0) ** 2 * sskv / g["lag_days"][...],
                         sske=elastic_ratio * sskv, sskv=sskv, preconsolidation_head=pc)]
    if with_aquitard and "aquitard" in g:
        t = g["aquitard"]
        beds.append(Compressible(kind="interbeds", thickness=t["thickness"][...],
                                 count=t["count"][...], kv=t["kv"][...],
                                 sske=elastic_ratio * sskv, sskv=sskv,
                                 preconsolidation_head=pc))
    coarse = Compressible(kind="coarse", thickness=g["coarse/thickness"][...],
                          sske=g["coarse_ss0"][...])
    return tuple(beds), coarse


def oracle_case(case, truth: h5py.File, truth_heads: bool, with_aquitard: bool):
    """``case`` with the truth's reduced parameters and the truth's or its own heads."""
    order = _truth_order(case, truth)
    has_spinup = "history/spinup_heads" in truth
    aquifers = []
    for a, aq in enumerate(case.aquifers):
        beds, coarse = reduced_materials(truth, a, with_aquitard)
        beds = tuple(m.take(order) for m in beds)
        changes = {"interbeds": beds, "coarse": coarse.take(order), "nodelay": None}
        if truth_heads:
            changes["head"] = truth["history/heads"][a][order][:, :case.n_times]
            changes["spinup_head"] = (truth["history/spinup_heads"][a][order]
                                      if has_spinup else None)
        aquifers.append(replace(aq, **changes))
    spinup_times = case.spinup_times
    if truth_heads:
        spinup_times = (truth["history/spinup_times"][...].astype(str).astype("datetime64[D]")
                        if has_spinup else None)
    if spinup_times is None:
        aquifers = [replace(aq, spinup_head=None) for aq in aquifers]
    return replace(case, aquifers=tuple(aquifers), spinup_times=spinup_times)


def _truth_order(case, truth) -> np.ndarray:
    ids = truth["points/id"][...].astype(str)
    where = {cell: i for i, cell in enumerate(ids)}
    return np.array([where[cell] for cell in case.cells.ids])


def scores(case, result, truth_displacement) -> dict:
    """The bench's numbers for ``result`` on both splits, plus RMSE against the truth."""
    observed = case.observations.displacement
    out = {"extensometer_rmse_mm": {
        r["zone"]: round(r["value"], 2) for r in compaction_rows(case, result)
        if r["metric"] == "rmse_mm"}}
    for text in SPLITS:
        split = Split.parse(text, case, seed=0, validation_fraction=0.2)
        test = split.test_mask(case)
        table = evaluate(result, observed, test, part="test")
        pick = (table.series == "cumulative") & (table.zone == "all") \
            & (table.statistic == "pooled")
        rmse = float(table[pick & (table.metric == "rmse_mm")].value.iloc[0])
        horizon = horizon_scores(result.displacement, observed, test, 36)
        at36 = np.flatnonzero(horizon["h"] == 36)
        error = (result.displacement - truth_displacement)[test]
        out[text] = {"test_cumulative_rmse_mm": round(rmse, 2),
                     "r2_36_month_change": round(float(horizon["r2"][at36[0]]), 3)
                     if len(at36) else None,
                     "test_rmse_vs_truth_mm": round(1e3 * float(np.sqrt(np.mean(error**2))), 2)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case")
    parser.add_argument("--out", default="oracle.json")
    args = parser.parse_args(argv)
    case = load_case(args.case)
    solver = make_solver("terzaghi")
    report = {"case": str(Path(args.case).resolve()), "spinup": case.spinup_times is not None,
              "runs": {}}
    with h5py.File(Path(args.case).parent / "truth" / "truth.h5", "r") as truth:
        report["truth_spinup"] = "history/spinup_heads" in truth
        order = _truth_order(case, truth)
        truth_displacement = truth["history/displacement"][...][order][:, :case.n_times]
        runs = {"prior (case heads)": case}
        for label, heads, aquitard in (("oracle (truth heads)", True, False),
                                       ("oracle (case heads)", False, False),
                                       ("oracle+aquitard (truth heads)", True, True)):
            runs[label] = oracle_case(case, truth, heads, aquitard)
        for label, run in runs.items():
            started = time.perf_counter()
            result = solver.predict(run)
            # the scores compare with the case's observations, so score on the case
            report["runs"][label] = {**scores(case, result, truth_displacement),
                                     "seconds": round(time.perf_counter() - started, 1)}
    lines = [f"calibration floor on {case.name} (spin-up in case: {report['spinup']}, "
             f"in truth: {report['truth_spinup']})",
             "| run | spatial test RMSE (mm) | vs truth | temporal test RMSE | R² 36-month "
             "change | extensometer RMSE per aquifer (mm) |", "|---|---|---|---|---|---|"]
    for label, r in report["runs"].items():
        s, t = r[SPLITS[0]], r[SPLITS[1]]
        ext = ", ".join(f"{k} {v}" for k, v in r["extensometer_rmse_mm"].items())
        lines.append(f"| {label} | {s['test_cumulative_rmse_mm']} | "
                     f"{s['test_rmse_vs_truth_mm']} | {t['test_cumulative_rmse_mm']} | "
                     f"{t['r2_36_month_change']} | {ext} |")
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
