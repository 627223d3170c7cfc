"""How wrong a twin's interpolated heads are, and whether the interpolation's own
uncertainty says where. A scoring script: it reads the hidden truth (``truth/truth.h5``).

    python3 -m benchmarks.heads_error CASE.toml [--out heads_error.json]

CASE is a Beijing twin made with interpolated heads (``landsub bench beijing:small``
makes ~/.cache/landsub/beijing-small-seed0/case.toml; a ``landsub whatif`` folder's
cases/baseline/case.toml works too). Per aquifer group, over the record (first case
time to the last month a well was read):

- the error of the case's drawdown at every cell (its heads' change over the record
  minus the truth's), RMS over all cells and over the severe zone (observed rate below
  -30 mm/yr, as the what-if scores it);
- the kriging standard error of the same drawdown, from the wells alone: each well's
  head change (first month read within MAX_LATE_MONTHS of the start, last within
  MAX_EARLY_MONTHS of the end), an exponential variogram fitted to them and ordinary
  kriging from every well (``physics.calibration.kriging``);
- how well the one says the other: RMS of error / sd (1 when the sd is right on
  average) and the correlation of |error| with sd over cells (how well it says where).

Why: a fit of the record cannot tell a drawdown the wells missed from storage
(README, Calibration), so a head error with a prior of its own helps only where that
prior points at the cells and the aquifer that are wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.app.truth import exact_heads_case, truth_path
from engine.app.whatif.store import severe_cells
from engine.atomic import check_output, write_json
from engine.caseio import load_case
from engine.errors import InputError
from physics.calibration.kriging import fit_variogram, kriging_weights

#: a well whose first reading comes later than this after the record's start, or whose
#: last comes earlier than this before its end, does not span the record
MAX_LATE_MONTHS, MAX_EARLY_MONTHS = 24, 12


def well_drawdowns(records: dict, aquifer: int, months: np.ndarray):
    """(x, y, head change in m) of the wells of ``aquifer`` that span ``months``: the
    mean head of the last month read minus that of the first."""
    mine = records["aquifer"] == aquifer
    month = np.asarray(records["time"][mine], "datetime64[M]")
    start, end = months[0].astype("datetime64[M]"), months[-1].astype("datetime64[M]")
    rows = []
    for well in np.unique(records["well"][mine]):
        at = np.flatnonzero(records["well"][mine] == well)
        first, last = month[at].min(), month[at].max()
        if first - start > MAX_LATE_MONTHS or end - last > MAX_EARLY_MONTHS:
            continue
        head = records["head"][mine][at]
        rows.append((records["x"][mine][at[0]], records["y"][mine][at[0]],
                     head[month[at] == last].mean() - head[month[at] == first].mean()))
    return tuple(np.array(column, dtype=np.float64) for column in zip(*rows))


def scores(manifest: Path) -> dict:
    case = load_case(manifest)
    path = truth_path(manifest)
    if path is None or case.observations.wells is None:
        raise InputError(manifest, "(case)", "is not a twin with interpolated heads and "
                                             "its truth")
    truth = exact_heads_case(path, case)
    records = case.observations.wells
    end = int(np.searchsorted(case.times, records["time"].max(), side="right")) - 1
    severe = severe_cells(case)
    x, y = np.asarray(case.cells.x, float), np.asarray(case.cells.y, float)
    out = {}
    for a, aquifer in enumerate(case.aquifers):
        error = ((aquifer.head[:, end] - aquifer.head[:, 0])
                 - (truth.aquifers[a].head[:, end] - truth.aquifers[a].head[:, 0]))
        wx, wy, change = well_drawdowns(records, a, case.times[:end + 1])
        variogram = fit_variogram(wx, wy, change, np.random.default_rng(0))
        _, _, variance = kriging_weights(wx, wy, x, y, variogram, neighbours=len(wx))
        sd = np.sqrt(variance)

        def rms(v):
            return round(float(np.sqrt(np.mean(v ** 2))), 2)

        out[aquifer.name] = {
            "wells": len(wx), "error_rms_m": rms(error), "kriging_sd_rms_m": rms(sd),
            "error_over_sd_rms": rms(error / np.maximum(sd, 1e-6)),
            "corr_abs_error_sd": round(float(np.corrcoef(np.abs(error), sd)[0, 1]), 2),
            "severe_error_rms_m": rms(error[severe]),
            "severe_kriging_sd_rms_m": rms(sd[severe]),
            "variogram": {"nugget_m2": round(variogram.nugget, 2),
                          "sill_m2": round(variogram.sill, 2),
                          "range_km": round(variogram.range / 1e3, 1)}}
    return {"case": str(manifest), "record": [str(case.times[0]), str(case.times[end])],
            "severe_cells": int(severe.sum()), "aquifers": out}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--out", type=Path, default=Path("heads_error.json"))
    args = parser.parse_args(argv)
    try:
        check_output(args.out, "file")
        report = scores(args.case)
    except InputError as e:
        parser.error(str(e))
    for name, row in report["aquifers"].items():
        print(f"{name:12s} drawdown error {row['error_rms_m']:5.2f} m (severe zone "
              f"{row['severe_error_rms_m']:5.2f}), kriging sd {row['kriging_sd_rms_m']:5.2f} m "
              f"({row['severe_kriging_sd_rms_m']:5.2f}); error/sd RMS "
              f"{row['error_over_sd_rms']:.2f}, corr(|error|, sd) {row['corr_abs_error_sd']:.2f}")
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
