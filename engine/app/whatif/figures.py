"""The what-if's figures: difference and band-width maps at --until, and series with
their bands at a few telling cells (see the package docstring)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.app.whatif.store import BAND

SERIES_CELLS = 3


def file_name(solver: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", solver)


def series_cells(outcomes, baseline) -> list[tuple[int, str]]:
    """(cell index, why) for the time series: the SERIES_CELLS cells of most subsidence
    at the end (mean over the solvers' baselines), then an extensometer site."""
    last = np.mean([o.baseline[:, :, -1].mean(axis=0) for o in outcomes], axis=0)
    chosen = [(int(c), "most baseline subsidence") for c in np.argsort(last)[:SERIES_CELLS]]
    sites = baseline.observations.extensometers
    if sites is not None and len(sites["cell"]):
        taken = {c for c, _ in chosen}
        cells, first = np.unique(sites["cell"], return_index=True)
        for cell, k in sorted(zip(cells, first), key=lambda p: last[p[0]]):
            if int(cell) not in taken:
                chosen.append((int(cell), f"extensometer {sites['site'][k]}"))
                break
    return chosen


def write_figures(folder: Path, outcomes, baseline, cases, truth=None) -> None:
    """The figures; ``truth`` [N, T] (m): a twin's true effect, the first panel of the
    difference map, a line of the difference series, and scored against each band
    (band-coverage-map.png). The panels of a map figure share one colour scale."""
    from engine.app import plots

    x, y = baseline.cells.x, baseline.cells.y
    picked = series_cells(outcomes, baseline)
    marked = np.zeros(baseline.n_cells, dtype=bool)
    marked[[c for c, _ in picked]] = True
    until = str(baseline.times[-1])[:7]
    differences = {o.solver: (o.scenario[:, :, -1] - o.baseline[:, :, -1]) * 1e3
                   for o in outcomes}
    effect = None if truth is None else truth * 1e3
    plots.map_panels(folder / "difference-map.png", x, y,
                     {f"{s}: ensemble mean": d.mean(axis=0) for s, d in differences.items()},
                     title=f"{cases.scenario_name} - {cases.baseline_name}\nat {until} "
                           "(mm, + = less subsidence)",
                     diverging=True, marked=marked, marked_label="time-series cells",
                     truth=None if effect is None else effect[:, -1],
                     truth_title=f"{plots.TRUTH}'s effect")
    bands = {s: np.percentile(d, BAND, axis=0) for s, d in differences.items()}
    plots.map_panels(folder / "band-width-map.png", x, y,
                     {f"{s}: {BAND[0]:g}-{BAND[1]:g} % width": high - low
                      for s, (low, high) in bands.items()},
                     title=f"{BAND[0]:g}-{BAND[1]:g} % band width of the difference\nat "
                           f"{until} (mm)", marked=marked, marked_label="time-series cells")
    if effect is not None:
        at = effect[:, -1]
        plots.map_panels(folder / "band-coverage-map.png", x, y,
                         {f"{s}: {np.mean((at >= low) & (at <= high)):.0%} inside":
                          np.sign(at - np.clip(at, low, high))
                          for s, (low, high) in bands.items()},
                         title=f"The true effect against each {BAND[0]:g}-{BAND[1]:g} % "
                               f"band at {until}\n(-1 below the band, 0 inside, +1 above)",
                         label="truth vs band", diverging=True, limits=(-1.0, 1.0))
    observed = baseline.observations.displacement
    for o in outcomes:
        runs = {"baseline": o.baseline * 1e3, "scenario": o.scenario * 1e3,
                "scenario - baseline": o.difference * 1e3}

        def panel(cell, why, labels, runs=runs):
            return {"title": f"{baseline.cells.ids[cell]} ({why})",
                    "observed": (observed[cell] * 1e3 if observed is not None
                                 and "baseline" in labels else None),
                    "truth": (effect[cell] if effect is not None
                              and "scenario - baseline" in labels else None),
                    "lines": {k: runs[k][:, cell].mean(axis=0) for k in labels},
                    "bands": {k: tuple(np.percentile(runs[k][:, cell], BAND, axis=0))
                              for k in labels},
                    "mark": cases.start}

        # the difference is small beside the displacement: it gets its own figure
        for name, labels, ylabel in (
                ("series", ("baseline", "scenario"), "displacement (mm, up positive)"),
                ("difference-series", ("scenario - baseline",),
                 "difference (mm, + = less subsidence)")):
            plots.series_panels(
                folder / f"{name}-{file_name(o.solver)}.png", baseline.times,
                [panel(cell, why, labels) for cell, why in picked],
                title=f"{o.solver}: {cases.scenario_name} (scenario) vs "
                      f"{cases.baseline_name} (baseline), ensemble mean and 5-95 %",
                ylabel=ylabel)
