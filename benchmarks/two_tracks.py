"""The twin's two line-of-sight tracks decomposed by ``make-case from-data``, scored
against the twin's truth (THIS script reads ``truth/truth.h5`` and ``truth/tracks.h5``;
the made cases never do).

    python -m benchmarks.two_tracks --out DIR [--size tiny] [--seed 0]
    python -m benchmarks.two_tracks --twin TWIN --case CASE [--case CASE ...]

With ``--out``: makes the twin with its tracks (``--settings
cases/beijing/two-tracks.toml``) in DIR/twin, then, with ``landsub make-case from-data``,
DIR/two-tracks (both tracks decomposed) and DIR/ascending-only (the ascending track
alone, turned vertical assuming vertical motion), and scores both; with ``--twin`` and
``--case``, scores cases made before from that twin's tracks.

Scores per case, over its cells (the ascending track's points: the twin's points) and
periods with a value, both sides zeroed at the case's first period, in mm: RMSE of the
vertical displacement against the truth's; for two tracks, RMSE of the east-west part
against the truth's, and the RMSEs the tracks' noise alone would give
(``cases.beijing.tracks.noise_rmse``). The truth is taken at the month starts, the case
holds period means: their offset cancels in the zeroing up to the days by which a
period's mean acquisition day moves (< 1 mm here). Prints the commands and the scores
and writes them to benchmarks/results/two_tracks.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import h5py
import numpy as np

RESULTS = Path(__file__).parent / "results" / "two_tracks.json"
SETTINGS = Path(__file__).parent.parent / "cases" / "beijing" / "two-tracks.toml"
MM = 1e3


def _landsub(argv: list[str], log: list[str]) -> None:
    """Run ``landsub ARGV`` in this process, recording the command; stops on failure."""
    from engine.app.cli import main

    log.append("landsub " + shlex.join(argv))
    print(f"$ {log[-1]}", flush=True)
    code = main(argv)
    if code:
        raise SystemExit(code)


def _truth(twin: Path):
    """Point ids, case times, vertical [point, time] and east-west [point, time] (m,
    from the first case time) of the twin's history."""
    from cases.beijing.tracks import TRUTH_FILE

    with h5py.File(twin / "truth" / "truth.h5", "r") as f:
        ids = f["points/id"].asstr()[...]
        times = np.array(f["times/case"].asstr()[...], dtype="datetime64[D]")
        up = f["history/displacement"][...]
    with h5py.File(twin / "truth" / TRUTH_FILE, "r") as f:
        east = f["east"][...]
    return ids, times, up, east


def _noise(twin: Path, case) -> tuple[float, float]:
    """RMSE (m) of the vertical and east-west parts from the tracks' noise alone, with
    each cell's ascending point and its descending scatterer."""
    from cases.beijing.settings import load_settings
    from cases.beijing.tracks import FOLDER, noise_rmse
    from cases.readers import read_insar
    from cases.readers.resample import bin_mean

    tracks = [read_insar(twin / FOLDER / f"{name}.csv") for name in ("ascending",
                                                                        "descending")]
    where = [{pid: k for k, pid in enumerate(t.ids)} for t in tracks]
    cells = [np.array([where[0][c] for c in case.cells.ids]),
             np.array([where[1][f"D-{c}"] for c in case.cells.ids])]
    counts = np.array([bin_mean(t.dates, np.ones((1, len(t.dates))), case.times, "MS")[1][0]
                       for t in tracks])
    noise = load_settings(SETTINGS)["tracks"]["noise_mm"] / MM
    return noise_rmse(*[(t.los_east[c], t.los_up[c]) for t, c in zip(tracks, cells)],
                      counts, noise)


def score(twin: Path, manifest: Path) -> dict:
    """The scores of one case made from the twin's tracks (module docstring)."""
    from engine.caseio import load_case

    case = load_case(manifest)
    ids, times, up, east = _truth(twin)
    where = {pid: k for k, pid in enumerate(ids)}
    rows = np.array([where[c] for c in case.cells.ids])
    cols = np.searchsorted(times, case.times)
    obs = case.observations

    def rmse(observed, truth):
        truth = truth[rows][:, cols]
        return float(np.sqrt(np.nanmean((observed - (truth - truth[:, :1])) ** 2)) * MM)

    out = {"case": str(manifest), "cells": case.n_cells, "periods": case.n_times,
           "first": str(case.times[0]), "last": str(case.times[-1]),
           "vertical_rmse_mm": rmse(obs.displacement, up),
           "true_vertical_min_mm": float(np.min(up[rows][:, cols] - up[rows][:, cols[:1]]) * MM)}
    if obs.displacement_east is not None:
        noise_up, noise_east = _noise(twin, case)
        true_east = east[rows][:, cols] - east[rows][:, cols[:1]]
        out.update(east_rmse_mm=rmse(obs.displacement_east, east),
                   true_east_max_mm=float(np.abs(true_east).max() * MM),
                   noise_only_vertical_rmse_mm=noise_up * MM,
                   noise_only_east_rmse_mm=noise_east * MM)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.two_tracks",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="folder for the twin and the made cases")
    p.add_argument("--size", default="tiny", help="twin size (default tiny)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--twin", help="a twin made with its tracks (score only)")
    p.add_argument("--case", action="append", help="a case made from --twin's tracks")
    args = p.parse_args(argv)
    if (args.out is None) == (args.twin is None) or (args.twin and not args.case):
        p.error("give --out DIR, or --twin TWIN with --case CASE")
    commands: list[str] = []
    started = time.perf_counter()
    if args.out:
        out = Path(args.out)
        twin = out / "twin"
        _landsub(["make-case", "beijing", "--size", args.size, "--seed", str(args.seed),
                  "--settings", str(SETTINGS), "--out", str(twin)], commands)
        kit = ["--wells", str(twin / "wells.csv"), "--params",
               str(twin / "tracks" / "params.toml")]
        ascending = ["--insar", str(twin / "tracks" / "ascending.csv")]
        _landsub(["make-case", "from-data", *ascending, "--insar",
                  str(twin / "tracks" / "descending.csv"), *kit, "--out",
                  str(out / "two-tracks")], commands)
        _landsub(["make-case", "from-data", *ascending, *kit, "--out",
                  str(out / "ascending-only")], commands)
        manifests = [out / "two-tracks" / "case.toml", out / "ascending-only" / "case.toml"]
    else:
        twin, manifests = Path(args.twin), [Path(c) / "case.toml" if Path(c).is_dir()
                                            else Path(c) for c in args.case]
    scores = [score(twin, m) for m in manifests]
    record = {"twin": str(twin), "size": args.size if args.out else None,
              "seed": args.seed if args.out else None, "commands": commands,
              "seconds": round(time.perf_counter() - started, 1), "cases": scores}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    for s in scores:
        line = (f"{s['case']}: {s['cells']} cells x {s['periods']} months {s['first']}.."
                f"{s['last']}; vertical RMSE {s['vertical_rmse_mm']:.2f} mm (truth down to "
                f"{s['true_vertical_min_mm']:.0f} mm)")
        if "east_rmse_mm" in s:
            line += (f", east-west RMSE {s['east_rmse_mm']:.2f} mm (truth up to "
                     f"{s['true_east_max_mm']:.0f} mm); noise alone "
                     f"{s['noise_only_vertical_rmse_mm']:.2f} / "
                     f"{s['noise_only_east_rmse_mm']:.2f} mm")
        print(line)
    print(f"-> {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
