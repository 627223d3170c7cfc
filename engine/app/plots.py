"""Figures of benchmark and what-if results (PNG, matplotlib's Agg backend).

Every function takes plain arrays (values in mm unless told otherwise; x, y in
projected metres, drawn as easting/northing in km), writes one PNG at ``path``
(creating its folder) and returns that path. The same input gives byte-identical
files: fixed dpi and no software stamp in the PNG metadata. Shapes are checked
before anything is drawn; a mismatch or an empty input raises ValueError naming
what did not match.

Colours: a solver keeps its colour in every figure. :func:`solver_colour` gives
the registered solvers (``engine.registry.names()``) distinct colours of a fixed
20-colour palette in the sorted order of their names; any other name (e.g.
``residual:terzaghi+gru``) takes the palette entry picked by the CRC-32 of the
name, so it is stable across figures and runs but may share a colour with another.
Observations are black dots; a twin's noise-free truth is a black dashed line in series
and the first panel of a map figure.

Maps that compare: all panels of one figure share one colour scale (:func:`shared_norm`),
stated under the colour bar, and each panel's title gives its own robust range, so that
a ten-fold overstatement reads as ten-fold and a small panel beside it still reads.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import Normalize, to_hex  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from engine import registry  # noqa: E402
from engine.evaluate import pooled_metrics  # noqa: E402

KM = 1000.0
DPI = 110
#: No software stamp: the same input gives byte-identical images.
_METADATA = {"Software": None}
#: Percentiles bounding a colour scale, so that one outlier does not wash out a map.
ROBUST_PERCENTILES = (2.0, 98.0)
#: Above this many points a scatter of simulated vs observed becomes a hexbin density.
HEXBIN_ABOVE = 5000
OBSERVED_COLOUR = "black"
MISSING_COLOUR = "0.8"
#: The title (maps) and legend label (series) of a twin's noise-free truth.
TRUTH = "the truth"
TRUTH_COLOUR = "black"

_PALETTE = ([to_hex(c) for c in plt.get_cmap("tab10").colors]
            + [to_hex(plt.get_cmap("tab20b").colors[i]) for i in (0, 4, 8, 12, 16,
                                                                  2, 6, 10, 14, 18)])


@functools.cache
def _registered_slots() -> dict[str, int]:
    return {name: i for i, name in enumerate(registry.names())}


def solver_colour(name: str) -> str:
    """The colour (hex) of solver ``name``, the same in every figure (see module doc)."""
    slot = _registered_slots().get(name)
    if slot is None:
        slot = zlib.crc32(name.encode("utf-8")) % len(_PALETTE)
    return _PALETTE[slot]


def colour_limits(values, diverging: bool = False) -> tuple[float, float]:
    """(vmin, vmax) of a colour scale for ``values`` (NaN ignored).

    Robust: the 2nd and 98th percentiles, taken inward (numpy's "higher"/"lower"
    methods) so that from 4 values up a single outlier never sets a limit; fewer values
    span their full range. Diverging: symmetric about 0, +-the 98th percentile of |values|.
    A degenerate scale (no finite value, or all equal) is widened to a unit span."""
    finite = np.asarray(values, dtype=np.float64).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    low_q, high_q = ROBUST_PERCENTILES
    if diverging:
        limit = float(np.percentile(np.abs(finite), high_q, method="lower"))
        if limit == 0.0:
            limit = float(np.max(np.abs(finite))) or 1.0
        return -limit, limit
    low = float(np.percentile(finite, low_q, method="higher"))
    high = float(np.percentile(finite, high_q, method="lower"))
    if low >= high:
        low, high = float(finite.min()), float(finite.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    return low, high


def shared_norm(panels, diverging: bool = False) -> Normalize:
    """One colour scale for all ``panels`` (a dict or sequence of arrays): the
    :func:`colour_limits` of their values pooled, so that panels of one figure compare."""
    arrays = panels.values() if isinstance(panels, dict) else panels
    pooled = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in arrays])
    return Normalize(*colour_limits(pooled, diverging))


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _scale_text(norm: Normalize, diverging: bool) -> str:
    if diverging:
        return f"±{_number(norm.vmax)}"
    return f"{_number(norm.vmin)} to {_number(norm.vmax)}"


def _robust_text(diverging: bool) -> str:
    low_q, high_q = ROBUST_PERCENTILES
    return (f"percentile {high_q:g} of |values|" if diverging
            else f"percentiles {low_q:g} and {high_q:g}")


# -- shared helpers --------------------------------------------------------------------

def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata=_METADATA)
    plt.close(fig)
    return path


def _grid(n: int, max_cols: int, panel_size: tuple[float, float], **options):
    """Figure and axes for ``n`` panels in rows of at most ``max_cols``; spare axes off."""
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows),
                             squeeze=False, layout="constrained", **options)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat[:n]


def _array(values, what: str, ndim: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{what} must be {ndim}-D, got shape {array.shape}")
    return array


def _length(values, what: str, n: int, against: str) -> np.ndarray:
    array = _array(values, what, 1)
    if len(array) != n:
        raise ValueError(f"{what} has {len(array)} values but {against} has {n}")
    return array


def _not_empty(container, what: str) -> None:
    if len(container) == 0:
        raise ValueError(f"{what} is empty: nothing to draw")


def _dates(times) -> np.ndarray:
    times = np.asarray(times)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"times must be a non-empty 1-D array, got shape {times.shape}")
    return times.astype("datetime64[s]")


def _time_edges(times: np.ndarray) -> np.ndarray:
    """Matplotlib date numbers [T + 1] bounding a cell around each time (midpoints
    between times; a lone time gets a month)."""
    centres = mdates.date2num(times)
    if len(centres) == 1:
        return centres[0] + np.array([-15.0, 15.0])
    middle = 0.5 * (centres[:-1] + centres[1:])
    return np.concatenate([[2 * centres[0] - middle[0]], middle,
                           [2 * centres[-1] - middle[-1]]])


def _date_axis(ax) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


# -- maps ------------------------------------------------------------------------------

def map_panels(path, x, y, panels: dict, *, title: str, label: str = "mm",
               diverging: bool = False, marked=None, marked_label: str = "test cells",
               truth=None, truth_title: str = TRUTH, limits=None) -> Path:
    """One scatter map per entry of ``panels`` (name -> values [N], NaN drawn grey).

    x, y: [N] projected metres (axes in km). ``truth`` [N]: a twin's noise-free values,
    drawn first under ``truth_title``. Every panel is on one colour scale: ``limits``
    (vmin, vmax) when given (e.g. classes), else :func:`shared_norm` over all panels,
    stated under the colour bar; then each panel's title also gives its own robust range.
    Values beyond the scale take the end colours. ``diverging``: symmetric about 0,
    red-blue colour map (blue = up). ``marked`` [N] bool: those cells outlined in black
    (legend: ``marked_label``).
    """
    x = _array(x, "map_panels: x", 1)
    _not_empty(x, "map_panels: x")
    y = _length(y, "map_panels: y", len(x), "x")
    if truth is not None:
        panels = {truth_title: truth, **panels}
    _not_empty(panels, "map_panels: panels")
    values = {name: _length(v, f"map_panels: panel {name!r}", len(x), "x")
              for name, v in panels.items()}
    if marked is not None:
        marked = np.asarray(marked, dtype=bool)
        if marked.shape != x.shape:
            raise ValueError(f"map_panels: marked has shape {marked.shape} but x has "
                             f"{x.shape}")
    cmap = "RdBu" if diverging else "viridis"
    size = float(np.clip(2.0e4 / len(x), 1.0, 30.0))   # points readable from 100 to 1e5 cells
    fig, axes = _grid(len(values), 4, (4.4, 3.9))
    if limits is None:
        norm = shared_norm(values, diverging)
        label = (f"{label}\none scale: {_scale_text(norm, diverging)}\n"
                 f"({_robust_text(diverging)}, all panels)")
    else:
        norm = Normalize(*limits)
    for ax, (name, v) in zip(axes, values.items()):
        missing = ~np.isfinite(v)
        ax.scatter(x[missing] / KM, y[missing] / KM, s=size, c=MISSING_COLOUR, lw=0)
        plain = ~missing if marked is None else ~missing & ~marked
        art = ax.scatter(x[plain] / KM, y[plain] / KM, c=v[plain], s=size, cmap=cmap,
                         norm=norm, lw=0)
        if marked is not None:
            out = ~missing & marked
            # larger, with a thin edge: a small marker's edge would hide its colour
            ax.scatter(x[out] / KM, y[out] / KM, c=v[out], s=2.5 * size, cmap=cmap,
                       norm=norm, edgecolors="black", linewidths=0.3)
        ax.set_aspect("equal")
        own = ""
        if limits is None and len(values) > 1:
            own = f"\nits own: {_scale_text(Normalize(*colour_limits(v, diverging)), diverging)}"
        ax.set_title(name + own, fontsize=9)
        ax.set_xlabel("easting (km)")
        ax.set_ylabel("northing (km)")
        ax.tick_params(labelsize=7)
    fig.colorbar(art, ax=list(axes), label=label, extend="both", shrink=0.85)
    handles = []
    if marked is not None and marked.any():
        handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="black",
                              label=f"outlined: {marked_label}"))
    if any((~np.isfinite(v)).any() for v in values.values()):
        handles.append(Line2D([], [], ls="", marker="o", mfc=MISSING_COLOUR,
                              mec=MISSING_COLOUR, label="no value"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   fontsize=8, frameon=False)
    fig.suptitle(title)
    return _save(fig, path)


# -- time series -----------------------------------------------------------------------

def series_panels(path, times, panels: list, *, title: str, ylabel: str = "mm") -> Path:
    """A grid of time-series panels with one legend for the figure.

    times: [T] dates. Each panel: {"title": str, "observed": [T] or None (black dots),
    "lines": {label: [T]} (solid, the label's solver colour), "bands": {label: ([T]
    low, [T] high)} (optional; shaded in the colour of that label), "mark": a date
    (optional; vertical dashed line, e.g. end of training or scenario start)}.
    """
    _not_empty(panels, "series_panels: panels")
    times = _dates(times)
    n = len(times)
    fig, axes = _grid(len(panels), 3, (5.0, 3.1))
    legend = {}
    for i, (ax, panel) in enumerate(zip(axes, panels)):
        where = f"series_panels: panel {i} ({panel.get('title', '')!r})"
        if panel.get("truth") is not None:
            truth = _length(panel["truth"], f"{where} truth", n, "times")
            legend.setdefault(TRUTH, ax.plot(times, truth, color=TRUTH_COLOUR, ls="--",
                                             lw=1.1, zorder=3)[0])
        for label, (low, high) in panel.get("bands", {}).items():
            low = _length(low, f"{where} band {label!r} low", n, "times")
            high = _length(high, f"{where} band {label!r} high", n, "times")
            ax.fill_between(times, low, high, color=solver_colour(label), alpha=0.25, lw=0)
            legend.setdefault(f"{label} band", Patch(color=solver_colour(label), alpha=0.25))
        for label, values in panel.get("lines", {}).items():
            values = _length(values, f"{where} line {label!r}", n, "times")
            legend.setdefault(label, ax.plot(times, values, color=solver_colour(label),
                                             lw=1.2, label=label)[0])
        if panel.get("observed") is not None:
            observed = _length(panel["observed"], f"{where} observed", n, "times")
            legend.setdefault("observed", ax.plot(times, observed, ".", ms=2.5,
                                                  color=OBSERVED_COLOUR)[0])
        if panel.get("mark") is not None:
            ax.axvline(np.datetime64(panel["mark"], "s"), color="0.3", ls="--", lw=0.9)
        ax.set_title(panel.get("title", ""), fontsize=9)
        ax.set_ylabel(ylabel)
        ax.tick_params(labelsize=7)
        _date_axis(ax)
    if legend:
        fig.legend(list(legend.values()), list(legend), loc="outside lower center",
                   ncols=min(len(legend), 6), fontsize=8, frameon=False)
    fig.suptitle(title)
    return _save(fig, path)


# -- simulated vs observed -------------------------------------------------------------

def scatter_panels(path, observed, simulated: dict, *, title: str, label: str = "mm",
                   hexbin_above: int = HEXBIN_ABOVE) -> Path:
    """Simulated vs observed, one panel per solver, over the pairs where both are finite.

    observed [k], simulated[name] [k] in ``label`` units; 1:1 line; annotated with n,
    RMSE and R² = 1 - SSE/SST (the evaluator's definition). A density hexbin above
    ``hexbin_above`` points, a plain scatter in the solver's colour below. All panels
    share one range so solvers compare at a glance.
    """
    _not_empty(simulated, "scatter_panels: simulated")
    observed = _array(observed, "scatter_panels: observed", 1)
    simulated = {name: _length(s, f"scatter_panels: simulated {name!r}", len(observed),
                               "observed") for name, s in simulated.items()}
    pairs = {name: np.isfinite(s) & np.isfinite(observed) for name, s in simulated.items()}
    shown = np.concatenate([np.concatenate([s[m], observed[m]])
                            for (name, s), m in zip(simulated.items(), pairs.values())])
    low, high = (shown.min(), shown.max()) if shown.size else (0.0, 1.0)
    pad = 0.03 * (high - low) or 1.0
    span = (low - pad, high + pad)
    fig, axes = _grid(len(simulated), 4, (3.9, 3.7))
    for ax, (name, s) in zip(axes, simulated.items()):
        m = pairs[name]
        if m.sum() > hexbin_above:
            art = ax.hexbin(observed[m], s[m], gridsize=60, bins="log", mincnt=1,
                            cmap="viridis", extent=span + span)
            fig.colorbar(art, ax=ax, label="points per bin", shrink=0.8)
        else:
            ax.scatter(observed[m], s[m], s=5, color=solver_colour(name), lw=0)
        ax.plot(span, span, color="0.3", lw=0.8, ls="--")
        # the evaluator works in metres and reports RMSE in mm: feed it metres
        metrics = pooled_metrics(s[m] / 1e3, observed[m] / 1e3)
        ax.text(0.03, 0.97, f"n = {int(m.sum())}\nRMSE = {metrics['rmse_mm']:.3g} {label}"
                f"\nR² (1-SSE/SST) = {metrics['r2']:.3f}", transform=ax.transAxes,
                va="top", fontsize=8, bbox={"fc": "white", "ec": "0.7", "alpha": 0.8})
        ax.set_xlim(span)
        ax.set_ylim(span)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"observed ({label})")
        ax.set_ylabel(f"simulated ({label})")
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    return _save(fig, path)


# -- zone classes ----------------------------------------------------------------------

def confusion_panels(path, matrices: dict, classes: list, *, title: str) -> Path:
    """Confusion matrices of a classification (e.g. subsidence zones), one per solver.

    matrices[name]: [C, C] counts, rows = observed class, columns = simulated class,
    in the order of ``classes``. Colour = fraction of the row (NaN for an empty row,
    left blank), text = count and row %; the panel title gives the overall agreement
    (trace / total).
    """
    _not_empty(matrices, "confusion_panels: matrices")
    _not_empty(classes, "confusion_panels: classes")
    c = len(classes)
    counts = {}
    for name, matrix in matrices.items():
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (c, c):
            raise ValueError(f"confusion_panels: matrix {name!r} has shape {matrix.shape} "
                             f"but there are {c} classes ({c}, {c})")
        if not np.all(np.isfinite(matrix) & (matrix >= 0)):
            raise ValueError(f"confusion_panels: matrix {name!r} has a negative or "
                             "non-finite count")
        counts[name] = matrix
    fig, axes = _grid(len(counts), 4, (3.4 + 0.35 * c, 3.0 + 0.35 * c))
    for ax, (name, matrix) in zip(axes, counts.items()):
        total = matrix.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = matrix / total
        art = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0)
        for (i, j), count in np.ndenumerate(matrix):
            if total[i, 0] > 0:
                ax.text(j, i, f"{count:.0f}\n{100 * fraction[i, j]:.0f}%", ha="center",
                        va="center", fontsize=8,
                        color="white" if fraction[i, j] > 0.5 else "black")
        grand = matrix.sum()
        agreement = f"{100 * np.trace(matrix) / grand:.1f}%" if grand > 0 else "n/a"
        ax.set_title(f"{name}: agreement {agreement}", fontsize=9)
        ax.set_xticks(range(c), classes, fontsize=8, rotation=30, ha="right")
        ax.set_yticks(range(c), classes, fontsize=8)
        ax.set_xlabel("simulated class")
        ax.set_ylabel("observed class")
    fig.colorbar(art, ax=list(axes), label="fraction of the observed class", shrink=0.8)
    fig.suptitle(title)
    return _save(fig, path)


# -- prediction horizon ----------------------------------------------------------------

def horizon_panels(path, horizons, curves: dict, *, threshold: float, title: str,
                   skill: float | None = None) -> Path:
    """Skill against months ahead: R² (1-SSE/SST) with the dashed ``threshold`` line and
    each solver's R² horizon (dotted vertical in its colour), RMSE (mm), and, where the
    curves carry one, the skill over the trend (1 - SSE/SSE_trend) with the dashed
    ``skill`` line and each solver's skill horizon.

    horizons: [H] months ahead; curves[name] = {"r2": [H], "rmse_mm": [H], "horizon":
    months or None, optionally "skill": [H] and "skill_horizon": months}. The R² and
    skill axes are floored at -1 so that one poor solver does not flatten the others.
    """
    _not_empty(curves, "horizon_panels: curves")
    horizons = _array(horizons, "horizon_panels: horizons", 1)
    _not_empty(horizons, "horizon_panels: horizons")
    keys = ("r2", "rmse_mm") + (("skill",) if all("skill" in c for c in curves.values())
                                else ())
    checked = {name: {key: _length(curve[key], f"horizon_panels: {name!r} {key}",
                                   len(horizons), "horizons") for key in keys}
               for name, curve in curves.items()}
    fig, axes = _grid(len(keys), 3, (5.0, 3.6))
    panels = dict(zip(keys, axes))
    for name, curve in curves.items():
        colour = solver_colour(name)
        reach = curve.get("horizon")
        text = "no horizon" if reach is None else f"horizon {reach} months"
        panels["r2"].plot(horizons, checked[name]["r2"], "o-", ms=3, color=colour,
                          label=f"{name} ({text})")
        if reach is not None:
            panels["r2"].axvline(reach, color=colour, ls=":", lw=1.2)
        panels["rmse_mm"].plot(horizons, checked[name]["rmse_mm"], "o-", ms=3, color=colour,
                               label=name)
        if "skill" in panels:
            months = curve.get("skill_horizon")
            panels["skill"].plot(horizons, checked[name]["skill"], "o-", ms=3, color=colour,
                                 label=f"{name} (horizon {months} months)")
            if months:
                panels["skill"].axvline(months, color=colour, ls=":", lw=1.2)
    for key, line, label in (("r2", threshold, "R² (1-SSE/SST)"),
                             ("skill", skill, "skill over the trend (1-SSE/SSE_trend)")):
        if key not in panels:
            continue
        ax = panels[key]
        if line is not None:
            ax.axhline(line, color="0.3", ls="--", lw=0.9, label=f"threshold {line:g}")
        values = np.concatenate([c[key] for c in checked.values()]
                                + [[line] if line is not None else []])
        values = values[np.isfinite(values)]
        if values.size:
            floored = values.min() < -1.0
            ax.set_ylim(-1.05 if floored else values.min() - 0.05, max(values.max(), 1.0) + 0.05)
            label += ", axis floored at -1" if floored else ""
        ax.set_ylabel(label)
    panels["rmse_mm"].set_ylabel("RMSE (mm)")
    for ax in panels.values():
        ax.set_xlabel("months ahead")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)


# -- attention -------------------------------------------------------------------------

def attention_panels(path, weights: dict, times, *, title: str) -> Path:
    """Attention over lags, one row per solver: a heatmap of the weight of lag w (months
    back) at each time, and beside it the time-mean weight per lag.

    weights[name]: [T, W] (already averaged over cells); times: [T] dates.
    """
    _not_empty(weights, "attention_panels: weights")
    times = _dates(times)
    checked = {}
    for name, w in weights.items():
        w = _array(w, f"attention_panels: weights {name!r}", 2)
        if len(w) != len(times) or w.shape[1] == 0:
            raise ValueError(f"attention_panels: weights {name!r} has shape {w.shape} but "
                             f"times has {len(times)} values (expected [T, W], W >= 1)")
        checked[name] = w
    fig, axes = plt.subplots(len(checked), 2, figsize=(10.0, 2.8 * len(checked)),
                             squeeze=False, layout="constrained",
                             gridspec_kw={"width_ratios": [3.2, 1.0]})
    edges = _time_edges(times)
    for (heat_ax, mean_ax), (name, w) in zip(axes, checked.items()):
        lags = w.shape[1]
        art = heat_ax.pcolormesh(edges, np.arange(lags + 1) - 0.5, w.T, cmap="magma",
                                 norm=Normalize(0.0, colour_limits(w)[1]))
        heat_ax.xaxis_date()
        _date_axis(heat_ax)
        fig.colorbar(art, ax=heat_ax, label="weight", extend="max", pad=0.01)
        heat_ax.set_title(f"{name}: attention weight per lag", fontsize=9)
        heat_ax.set_ylabel("lag (months back)")
        profile = np.nanmean(w, axis=0) if np.isfinite(w).any() else np.full(lags, np.nan)
        mean_ax.barh(np.arange(lags), profile, color=solver_colour(name), height=0.8)
        mean_ax.set_ylim(-0.5, lags - 0.5)
        mean_ax.set_title("time mean", fontsize=9)
        mean_ax.set_xlabel("weight")
        for ax in (heat_ax, mean_ax):
            ax.tick_params(labelsize=7)
    fig.suptitle(title)
    return _save(fig, path)


# -- grouped bars ----------------------------------------------------------------------

def bar_panels(path, values: dict, *, title: str, ylabel: str) -> Path:
    """Grouped bars: values[group][solver] (e.g. RMSE per zone per solver). Each solver
    keeps one slot in every group (solvers in order of first appearance); NaN bars are
    left out, leaving the slot empty."""
    _not_empty(values, "bar_panels: values")
    solvers = list(dict.fromkeys(s for group in values.values() for s in group))
    _not_empty(solvers, "bar_panels: solvers")
    width = 0.8 / len(solvers)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.35 * len(values) * len(solvers) + 2.0), 3.8),
                           layout="constrained")
    for k, solver in enumerate(solvers):
        heights = np.array([values[g].get(solver, np.nan) for g in values], dtype=np.float64)
        shown = np.isfinite(heights)
        slots = np.arange(len(values)) - 0.4 + (k + 0.5) * width
        ax.bar(slots[shown], heights[shown], width=width, color=solver_colour(solver),
               label=solver)
    ax.axhline(0.0, color="0.3", lw=0.6)
    ax.set_xticks(range(len(values)), list(values))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, ncols=min(len(solvers), 4))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)
