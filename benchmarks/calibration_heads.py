"""What the kriged heads cost ``calibrated:terzaghi`` on a Beijing twin: the same
calibration fitted once on the case's heads (interpolated from the monitoring wells) and
once on the truth's heads (the flow model's, spin-up included), everything else equal;
and what the model's structure costs: fitted on the truth's heads to a record that
structure makes ("structure": the twin's InSAR and extensometer readings with the
truth's signal replaced by ``terzaghi``'s on the truth's parameters reduced to one
equivalent bed per aquifer, ``benchmarks/calibration_oracle.py``'s reduction, the
readings' own noise kept; scored against that signal, and its parameters are the truth's
comparable quantities). A scoring script, not a solver: it reads the hidden truth
(``truth/truth.h5``), and feeding the truth's heads or a remade record to a fit is the
ablation, never what a solver does.

    python3 -m benchmarks.calibration_heads CASE.toml WHATIF_DIR [--members 32]
        [--option calibrated:terzaghi:KEY=VALUE ...] [--heads case,truth,structure]
        [--parts splits,whatif]
        [--out calibration_heads.json]

CASE.toml is the twin's history case (e.g. ~/.cache/landsub/beijing-small-seed0);
WHATIF_DIR a ``landsub whatif`` folder made on that twin (its cases/baseline and
cases/scenario, each re-made with its truth). For each heads (case, truth; structure:
splits only):

- splits: fitted on the history case under spatial:0.7 and
  temporal:2015-01 (seed 0, 20 % validating), the posterior mean predicted and scored
  as ``benchmarks/calibration_oracle.py`` scores (test cumulative RMSE against the
  observations and the truth, R² of the 36-month change, extensometer RMSE per aquifer),
  the same at the extensometer sites the fit could read (training cells) and at the
  others, posterior and prior (``terzaghi`` on the heads the fit had), plus the fraction
  of cells whose lag time and S_v are within a factor 2 of the truth's
  (``engine.app.truth``'s comparable quantities), prior -> posterior;
- what-if: fitted on the baseline's history (split none), as ``landsub whatif`` fits a
  calibration; the first --members posterior members run on both cases (with the same
  heads as the fit); the effect (scenario - baseline displacement) at the last time
  against the truth's: area mean and severe-zone mean (the whatif's zone: observed rate
  below -30 mm/yr) with relative errors, per-cell RMSE of the ensemble mean, and the
  5-95 % band's coverage and mean width.

Options (``--option KEY=VALUE``) go to every calibration (e.g. threads=1).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from benchmarks.calibration_oracle import SPLITS, oracle_case, scores
from engine.app.bench.metrics import compaction_rows
from engine.app.options import script_options
from engine.app.truth import (
    estimated_case,
    exact_heads_case,
    model_parameters,
    read_world,
    true_effect,
    true_parameters,
    truth_path,
    whatif_scores,
    within_factor,
)
from engine.app.whatif.ensemble import SolverOutcome
from engine.app.whatif.store import severe_cells
from engine.caseio import load_case
from engine.registry import make_solver
from engine.split import Split
from physics.calibration.forward import simulate
from physics.calibration.solver import PHYSICS_OPTIONS

SOLVER = "calibrated:terzaghi"
HEADS = ("case", "truth", "structure")
PARTS = ("splits", "whatif")
#: the what-if scores kept, and their decimals
WHATIF_DIGITS = {"area_mean_mm": 2, "area_mean_truth_mm": 2, "area_mean_relative_error": 3,
                 "severe_mean_mm": 2, "severe_mean_truth_mm": 2,
                 "severe_mean_relative_error": 3, "effect_rmse_mm": 2, "band_coverage": 3,
                 "band_width_mm": 2}


def calibrate(case, split: Split, options: dict):
    solver = make_solver(SOLVER, **options)
    started = time.perf_counter()
    solver.fit(case, split)
    return solver, time.perf_counter() - started


def recovery(solver, case, truth) -> dict:
    """Per quantity and aquifer: fraction of cells within a factor 2 of the truth,
    prior (the case's own) and posterior mean."""
    out = {}
    for label, values in (("prior", model_parameters(case)),
                          ("posterior", model_parameters(estimated_case(solver, case)))):
        out[label] = {q: dict(zip(case.aquifer_names, np.round(
            within_factor(values[q], truth[q]).mean(axis=1), 3).tolist())) for q in truth}
    return out


def structure_case(path: Path, case) -> tuple:
    """(``case`` on the truth's heads with the record the model's structure makes, that
    record's noise-free displacement [N, T]): every reading moved by the reduced
    oracle's signal less the truth's (module docstring)."""
    with h5py.File(path, "r") as f:
        oracle = oracle_case(case, f, True, False)
    world = read_world(path, case)
    signal = make_solver("terzaghi").predict(oracle)
    observed = case.observations
    extensometers = dict(observed.extensometers)
    at = np.searchsorted(case.times, extensometers["time"])
    if not np.array_equal(case.times[at], extensometers["time"]):
        raise ValueError(f"{case.name}: an extensometer reading is off the case's times")
    shift = signal.compaction - world.compaction
    extensometers["compaction"] = (extensometers["compaction"]
                                   + shift[extensometers["aquifer"], extensometers["cell"], at])
    remade = replace(observed, extensometers=extensometers, displacement=observed.displacement
                     + signal.displacement - world.displacement)
    return replace(exact_heads_case(path, case), observations=remade), signal.displacement


def extensometers_by_role(case, result, split: Split) -> dict:
    """Extensometer RMSE per aquifer (mm, as the bench scores it) at the sites whose
    records the fit could read (a training cell of ``split``) and at the others."""
    ext = case.observations.extensometers
    read = split.train_mask(case).any(axis=1)[ext["cell"]]
    out = {}
    for role, pick in (("read", read), ("unseen", ~read)):
        if pick.any():
            observed = replace(case.observations,
                               extensometers={k: v[pick] for k, v in ext.items()})
            out[role] = {r["zone"]: round(r["value"], 2) for r in compaction_rows(
                replace(case, observations=observed), result) if r["metric"] == "rmse_mm"}
            out[role]["sites"] = int(len(np.unique(ext["site"][pick])))
    return out


def split_runs(case_path: Path, heads: str, options: dict) -> dict:
    case = load_case(case_path)
    path = truth_path(case_path)
    truth_displacement = read_world(path, case).displacement
    if heads == "structure":
        case, truth_displacement = structure_case(path, case)
    fitted_on = case if heads != "truth" else exact_heads_case(path, case)
    truth = true_parameters(path, case)
    prior = make_solver("terzaghi").predict(fitted_on)
    out = {}
    for text in SPLITS:
        split = Split.parse(text, case, seed=0, validation_fraction=0.2)
        solver, seconds = calibrate(fitted_on, split, options)
        result = solver.predict(fitted_on)
        scored = scores(case, result, truth_displacement)
        out[text] = {**scored[text], "extensometer_rmse_mm": scored["extensometer_rmse_mm"],
                     "extensometer_rmse_by_site_mm": {
                         "posterior": extensometers_by_role(case, result, split),
                         "prior": extensometers_by_role(case, prior, split)},
                     "parameters_within_2x": recovery(solver, case, truth),
                     "fit_seconds": round(seconds, 1)}
    return out


def whatif_cases(folder: Path, heads: str) -> tuple:
    """(baseline and scenario cases of the what-if ``folder``, on the case's heads or
    the truth's; the truth's effect at the last time [N]; the severe zone [N])."""
    manifests = [folder / "cases" / which / "case.toml" for which in ("baseline", "scenario")]
    cases = [load_case(m) for m in manifests]
    truth = true_effect(*manifests, *cases)[:, -1]
    severe = severe_cells(cases[0])
    if heads == "truth":
        cases = [exact_heads_case(truth_path(m), c) for m, c in zip(manifests, cases)]
    return cases, truth, severe


def effect_scores(solver, how: str, displacement: list, truth, severe, times, seconds,
                  digits: dict) -> dict:
    """The what-if's own scores (``whatif_scores``) of ``displacement`` [baseline,
    scenario] ([M, N] each, m, at the last time) against the ``truth`` [N], rounded to
    ``digits``."""
    outcome = SolverOutcome(solver.name, solver.kind, how, [], displacement[0][:, :, None],
                            displacement[1][:, :, None], [], seconds)
    table = whatif_scores([outcome], truth[:, None], severe, [0], times[-1:])
    values = dict(zip(table.metric, table.value))
    out = {key: round(float(values[key]), d) for key, d in digits.items()}
    out["until"] = str(times[-1])
    return out


def whatif_run(folder: Path, heads: str, members: int, options: dict) -> dict:
    cases, truth, severe = whatif_cases(folder, heads)
    solver, seconds = calibrate(cases[0], Split("none"), {**options,
                                                          "members": max(members, 64)})
    _, posterior, _ = solver.parameters(cases[0])
    posterior = posterior[:members]
    physics = {k: solver.options[k] for k in PHYSICS_OPTIONS}
    at_until = []
    for case in cases:
        displacement = np.empty((members, case.n_cells))
        for cells, compaction in simulate(case, solver.space, posterior, physics):
            displacement[:, cells] = -compaction[..., -1].sum(axis=1)
        at_until.append(displacement)
    out = effect_scores(solver, "posterior members", at_until, truth, severe,
                        cases[0].times, seconds, WHATIF_DIGITS)
    out.update({"members": members, "fit_seconds": round(seconds, 1)})
    return out


def _effect(w: dict, key: str) -> str:
    if not w:
        return "-"
    return (f"{w[key + '_mm']} / {w[key + '_truth_mm']} "
            f"({w[key + '_relative_error']:+.1%})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("whatif", type=Path)
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--option", action="append", default=[], help=f"{SOLVER}:KEY=VALUE")
    parser.add_argument("--heads", default=",".join(HEADS))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--out", type=Path, default=Path("calibration_heads.json"))
    args = parser.parse_args(argv)
    options = script_options(parser, SOLVER, args.option)
    heads_asked, parts = args.heads.split(","), args.parts.split(",")
    if not set(heads_asked) <= set(HEADS) or not set(parts) <= set(PARTS):
        parser.error(f"--heads among {HEADS}, --parts among {PARTS}")
    report = {"case": str(args.case), "whatif": str(args.whatif), "options": options,
              "runs": {}}
    for heads in heads_asked:
        run = split_runs(args.case, heads, options) if "splits" in parts else {}
        if "whatif" in parts and heads != "structure":
            run["whatif"] = whatif_run(args.whatif, heads, args.members, options)
        report["runs"][f"{heads} heads"] = run
        print(json.dumps({heads: run}, indent=1), flush=True)
    lines = ["| heads | what-if area mean (rel.) | severe zone (rel.) | coverage | width (mm) "
             "| spatial test RMSE (vs truth) | temporal test RMSE | R² 36-month change |",
             "|---|---|---|---|---|---|---|---|"]
    for label, run in report["runs"].items():
        w = run.get("whatif", {})
        s, t = run.get(SPLITS[0], {}), run.get(SPLITS[1], {})
        lines.append(
            f"| {label} | {_effect(w, 'area_mean')} | {_effect(w, 'severe_mean')} | "
            f"{w.get('band_coverage', '-')} | {w.get('band_width_mm', '-')} | "
            f"{s.get('test_cumulative_rmse_mm', '-')} ({s.get('test_rmse_vs_truth_mm', '-')}) | "
            f"{t.get('test_cumulative_rmse_mm', '-')} | {t.get('r2_36_month_change', '-')} |")
    print("\n".join(lines))
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
