"""Figures of the twin (PNG, matplotlib's Agg backend), one function per kind of figure.

Each function draws what it is given; ``make`` calls them twice: with what the
modeller sees (observations and prior, into the case folder) and with the truth (into
truth/figures). Distances are shown in km from the domain's south-west corner,
displacement in mm (up positive), compaction in mm (shortening positive).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

KM = 1000.0
#: No software/date stamp: the same twin gives byte-identical images.
_METADATA = {"Software": None}


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata=_METADATA)
    plt.close(fig)


def _landmarks(ax, domain) -> None:
    x0, y0 = domain.origin
    for name, (x, y) in domain.settings["domain"]["landmarks_km"].items():
        ax.plot(x, y, "k+", ms=8)
        ax.annotate(name.replace("_", " "), (x, y), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    for river in domain.settings["domain"]["rivers"]:
        path = np.asarray(river["path_km"])
        ax.plot(path[:, 0], path[:, 1], color="tab:blue", lw=1, alpha=0.6)


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
