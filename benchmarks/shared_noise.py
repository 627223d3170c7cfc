"""How much of a network's monthly score in case study 2 (``seminar-2-am-gru``) is the
noise its cells share at each acquisition. A scoring script: it reads the twin's hidden
truth, as the protocol's evidence does, after every solver predicted.

    python3 -m benchmarks.shared_noise DIR [--out benchmarks/results/shared_noise.json]

DIR: a ``landsub bench beijing:SIZE --protocol seminar-2-am-gru --out DIR`` folder (its
committed fits are read, nothing is fitted). On the protocol's own scored entries
(``protocols.monthly_mask``: the test cells' monthly changes in 2021, January's from
the month before), with noise = observed - true change:

- the RMS of the noise and of its per-date mean over the cells (the part the cells
  share: on the twin an atmospheric screen per acquisition);
- per network: RMSE of its monthly change against the observations and against the
  truth; the correlation of its per-date mean departure from the truth with the shared
  noise; its RMSE against the observations once that per-date departure is removed.

A network scores below the noise-free truth on the observations only by reproducing
some of their noise; a spatial split does not hide the part shared by every cell of a
date from a network trained on the other cells of the same dates.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engine.app.bench import protocols as pr
from engine.app.bench import resolve_case
from engine.app.bench.runner import load_runs
from engine.app.truth import truth_path, truth_result
from engine.caseio import load_case
from engine.evaluate import increments
from engine.units import M_TO_MM

PROTOCOL = pr.PROTOCOLS["seminar-2-am-gru"]


def per_date(values: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """[T] the mean over cells of ``values`` [N, T] where ``scored`` (NaN where none)."""
    count = scored.sum(axis=0)
    total = np.where(scored, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rms(values: np.ndarray) -> float:
    return float(M_TO_MM * np.sqrt(np.nanmean(values ** 2)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/shared_noise.json"))
    args = parser.parse_args(argv)
    plan = json.loads((args.folder / "bench.json").read_text(encoding="utf-8"))
    manifest = resolve_case(plan["case"], lambda *_: None)
    resolved = pr.resolve(PROTOCOL, load_case(manifest), manifest, plan["preset"],
                          plan["seed"])
    case, split = resolved.case, resolved.split
    runs = load_runs(args.folder, list(PROTOCOL.solvers))
    mask = pr.monthly_mask(case, split) & np.isfinite(case.observations.displacement)
    observed, scored = increments(case.observations.displacement, mask)
    true, _ = increments(truth_result(truth_path(manifest), case).displacement, mask)
    noise = np.where(scored, observed - true, np.nan)
    shared = per_date(noise, scored)
    dates = np.isfinite(shared)
    out = {"folder": str(args.folder), "entries": int(scored.sum()), "dates": int(dates.sum()),
           "noise_rms_mm": rms(noise), "shared_noise_rms_mm": rms(shared[dates]), "networks": {}}
    for name in PROTOCOL.solvers:
        change, _ = increments(runs[name][0].displacement, mask)
        change = np.where(scored, change, np.nan)
        departure = per_date(np.nan_to_num(change - true), scored)
        out["networks"][name] = {
            "vs_observed_mm": rms(change - observed), "vs_truth_mm": rms(change - true),
            "r_departure_shared_noise": float(np.corrcoef(departure[dates], shared[dates])[0, 1]),
            "vs_observed_without_its_per_date_departure_mm":
                rms(change - np.nan_to_num(departure)[None, :] - observed)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
