"""Figures of the twin (PNG, matplotlib's Agg backend): two drawing functions (maps,
time series) and the two sets written with a twin, what the modeller sees
(``case_figures``, into the case folder) and the truth (``truth_figures``, into
truth/figures). Distances are shown in km from the domain's south-west corner,
displacement in mm (up positive), compaction in mm (shortening positive).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.units import DAYS_PER_MONTH  # noqa: E402
from physics.analytical import lag_time  # noqa: E402

KM = 1000.0
#: No software/date stamp: the same twin gives byte-identical images.
_METADATA = {"Software": None}


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata=_METADATA)
    plt.close(fig)


def _landmarks(ax, domain) -> None:
    for name, (x, y) in domain.settings["domain"]["landmarks_km"].items():
        ax.plot(x, y, "k+", ms=8)
        ax.annotate(name.replace("_", " "), (x, y), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    for river in domain.settings["domain"]["rivers"]:
        path = np.asarray(river["path_km"])
        ax.plot(path[:, 0], path[:, 1], color="tab:blue", lw=1, alpha=0.6)
        ax.annotate(river["name"], path[len(path) // 2], fontsize=7, color="tab:blue")


def map_panels(path: Path, domain, panels, title: str) -> None:
    """One map per panel: (subtitle, x [P] m, y [P] m, values [P], colour label, cmap,
    symmetric?) drawn as points, or (subtitle, grid, values [ny, nx], ...) as an image."""
    n = len(panels)
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.6 * rows), squeeze=False)
    x0, y0 = domain.origin
    width, height = domain.extent
    for ax, (subtitle, where, values, label, cmap, symmetric) in zip(axes.flat, panels):
        finite = values[np.isfinite(values)]
        limit = float(np.max(np.abs(finite))) if finite.size else 1.0
        scale = {"vmin": -limit, "vmax": limit} if symmetric else {}
        if isinstance(where, tuple):
            x, y = where
            art = ax.scatter((x - x0) / KM, (y - y0) / KM, c=values, s=4, cmap=cmap, **scale)
        else:
            art = ax.imshow(values, origin="lower", cmap=cmap,
                            extent=[0, width / KM, 0, height / KM], **scale)
        fig.colorbar(art, ax=ax, label=label, shrink=0.85)
        _landmarks(ax, domain)
        ax.set_xlim(0, width / KM)
        ax.set_ylim(0, height / KM)
        ax.set_aspect("equal")
        ax.set_title(subtitle, fontsize=9)
        ax.set_xlabel("km east")
        ax.set_ylabel("km north")
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def series_panels(path: Path, panels, title: str, ylabel: str) -> None:
    """One axes per panel: (subtitle, [(times, values, label, style), ...])."""
    n = len(panels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (subtitle, lines) in zip(axes.flat, panels):
        for times, values, label, style in lines:
            ax.plot(np.asarray(times, dtype="datetime64[D]"), values, style, label=label,
                    ms=2, lw=1)
        ax.set_title(subtitle, fontsize=9)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def _shown_cells(case, n_sites: int) -> list[int]:
    """The first three extensometer sites and the first three other PS points."""
    return list(range(min(3, n_sites))) + list(range(n_sites, min(n_sites + 3,
                                                                  case.n_cells)))


def case_figures(folder: Path, domain, case, history_times) -> None:
    """What the modeller sees: observed displacement maps (2003 to the end of the
    history, and from 2021), the prior's lag-time map per group, the extensometers, a
    few PS points, heads per group at a few cells with a few wells."""
    names = domain.aquifer_names
    obs = case.observations.displacement
    x, y = case.cells.x, case.cells.y
    last = obs[:, len(history_times) - 1]
    since_2021 = obs[:, int(np.searchsorted(case.times, np.datetime64("2021-01-01")))]
    end = str(history_times[-1])[:4]
    map_panels(folder / "insar_maps.png", domain, [
        (f"PS-InSAR cumulative displacement {str(case.times[0])[:4]}-{end} (mm)", (x, y),
         1e3 * last, "mm", "viridis", False),
        (f"PS-InSAR displacement 2021-{end} (mm, uplift > 0)", (x, y),
         1e3 * (last - since_2021), "mm", "RdBu", True)], "Observed displacement")
    beds = [aq.interbeds[0] for aq in case.aquifers]
    map_panels(folder / "prior_lag_time.png", domain, [
        (f"{name}: prior lag time (months)", (x, y),
         lag_time(b.thickness, b.kv, b.sskv) / DAYS_PER_MONTH, "months", "magma", False)
        for name, b in zip(names, beds)], "Prior equivalent interbeds: lag time")
    ext = case.observations.extensometers
    sites = list(dict.fromkeys(ext["site"]))
    series_panels(folder / "extensometers.png", [
        (site, [(ext["time"][(ext["site"] == site) & (ext["aquifer"] == a)],
                 1e3 * ext["compaction"][(ext["site"] == site) & (ext["aquifer"] == a)],
                 name, ".-") for a, name in enumerate(names)]) for site in sites],
        "Layered extensometers: compaction per aquifer group", "mm")
    shown = _shown_cells(case, len(sites))
    series_panels(folder / "ps_points.png", [
        (case.cells.ids[c], [(case.times, 1e3 * obs[c], "InSAR", ".")]) for c in shown],
        "PS-InSAR time series", "mm (up +)")
    wells = case.observations.wells
    series_panels(folder / "heads.png", [
        (name, [(case.times, case.aquifers[a].head[c], f"cell {case.cells.ids[c]}", "-")
                for c in shown[:3]]
         + [(wells["time"][wells["well"] == w], wells["head"][wells["well"] == w], w, ".")
            for w in list(dict.fromkeys(wells["well"][wells["aquifer"] == a]))[:3]])
        for a, name in enumerate(names)], "Heads per aquifer group: case cells and wells", "m")


def truth_figures(folder: Path, domain, case, world, map_truth, n_sites: int) -> None:
    """The truth: maps of the cumulative displacement (from the case start and from
    the predevelopment date), of 2021 on and of 2012; the true lag time per group; PS
    points observed against the truth."""
    end = f"{str(case.times[-1])[:4]}"
    last = f"{int(end) + 1}-01-01"
    grid = map_truth.grid
    map_panels(folder / "truth_maps.png", domain, [
        (f"true cumulative displacement {str(case.times[0])[:4]}-{end} (mm)", grid,
         1e3 * map_truth.cumulative(str(case.times[0]), last), "mm", "viridis", False),
        (f"true displacement 2021-{end} (mm, uplift > 0)", grid,
         1e3 * map_truth.cumulative("2021-01-01", last), "mm", "RdBu", True),
        (f"true cumulative displacement {str(world.dates[0])[:4]}-{end} (mm)", grid,
         1e3 * map_truth.cumulative(str(world.dates[0]), last), "mm", "viridis", False),
        ("true displacement in 2012 (mm)", grid, 1e3 * map_truth.annual(2012), "mm",
         "viridis", False)], f"Truth ({world.name})")
    x, y = case.cells.x, case.cells.y
    map_panels(folder / "truth_lag_time.png", domain, [
        (f"{name}: true lag time of the equivalent interbed (months)", (x, y),
         world.parameters[f"parameters/aquifer_{a}/lag_days"] / DAYS_PER_MONTH, "months",
         "magma", False) for a, name in enumerate(domain.aquifer_names)], "Truth: lag time")
    obs = case.observations.displacement
    series_panels(folder / "truth_ps_points.png", [
        (case.cells.ids[c], [(case.times, 1e3 * obs[c], "InSAR", "."),
                             (case.times, 1e3 * world.point_displacement[c], "truth", "-")])
        for c in _shown_cells(case, n_sites)], "PS points: observed and true displacement",
        "mm (up +)")
