"""The figures of a bench (PNG under DIR/figures), drawn with engine.app.plots.

Every figure is about the split's test part unless its title says otherwise:
maps of cumulative displacement and of its error at the last observed month, series at
up to four test cells and at the extensometer with most compaction, sim-vs-obs scatter,
observed-vs-simulated rate-zone confusion, prediction-horizon curves, RMSE per zone,
the lag-time map of the case, and the attention weights of the attention networks.
Every panel of a map figure is on one colour scale (``plots.map_panels``); on a twin the
noise-free truth (``engine.app.truth``, read once every solver has predicted) is the
first panel of the maps and a line of the series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.app import plots
from engine.app import truth as t
from engine.app.bench.claims import DAYS_PER_MONTH
from engine.app.bench.metrics import value
from engine.evaluate import DAYS_PER_YEAR, ZONE_LIMITS, ZONES, linear_rate, subsidence_zone

MM = 1e3
#: cells whose attention weights are averaged (the first test cells; the cost is the
#: attention networks' inference, slow per cell)
ATTENTION_CELLS = 64


def last_observed_time(observed: np.ndarray) -> int:
    """Index of the last time with any observation."""
    return int(np.flatnonzero(np.isfinite(observed).any(axis=0))[-1])


def shown_cells(observed, test_cells: np.ndarray, t_last: int) -> list[int]:
    """Up to four test cells worth looking at: the two that subsided most, a median one
    and the one that rose most (by their observed value at ``t_last``); fewer when the
    split has fewer test cells."""
    at_last = observed[test_cells, t_last]
    order = test_cells[np.argsort(np.where(np.isfinite(at_last), at_last, 0.0))]
    # a tiny case's split may hold a single test cell: the positions then coincide
    picks = order[[0, min(1, len(order) - 1), len(order) // 2, -1]]
    return list(dict.fromkeys(int(c) for c in picks))


def test_rates(case, split, displacement) -> np.ndarray:
    """[N] mm/yr: least-squares rate over each cell's observed test entries."""
    observed = case.observations.displacement
    usable = split.test_mask(case) & np.isfinite(observed)
    days = (case.times - case.times[0]).astype(np.float64)
    return linear_rate(days, displacement, usable) * MM * DAYS_PER_YEAR


def zone_confusion(case, split, displacement, zones=ZONE_LIMITS) -> np.ndarray:
    """[3, 3] counts of test cells: rows observed zone, columns simulated zone, both from
    rates over the cell's observed test entries and the zone limits ``zones`` (mm/yr)."""
    observed_zone = subsidence_zone(test_rates(case, split, case.observations.displacement),
                                    zones)
    simulated_zone = subsidence_zone(test_rates(case, split, displacement), zones)
    matrix = np.zeros((len(ZONES), len(ZONES)), dtype=int)
    for i, zo in enumerate(ZONES):
        for j, zs in enumerate(ZONES):
            matrix[i, j] = int(((observed_zone == zo) & (simulated_zone == zs)).sum())
    return matrix


def _extensometer_panels(case, runs):
    ext = case.observations.extensometers
    with_compaction = {n: r for n, (r, _) in runs.items() if r.compaction is not None}
    if not ext or not len(ext["cell"]) or not with_compaction:
        return None
    totals = {s: np.abs(ext["compaction"][ext["site"] == s]).max() for s in np.unique(ext["site"])}
    site = max(totals, key=totals.get)
    panels = []
    for a, name in enumerate(case.aquifer_names):
        pick = (ext["site"] == site) & (ext["aquifer"] == a)
        if not pick.any():
            continue
        times = ext["time"][pick].astype("datetime64[D]")
        t_index = np.searchsorted(case.times, times)
        keep = (t_index < case.n_times)
        observed = np.full(case.n_times, np.nan)
        observed[t_index[keep]] = ext["compaction"][pick][keep] * MM
        start, cell = t_index[keep].min(), int(ext["cell"][pick][0])
        lines = {}
        for solver, result in with_compaction.items():
            series = result.compaction[a, cell] * MM
            lines[solver] = np.where(np.arange(case.n_times) >= start, series - series[start],
                                     np.nan)
        panels.append({"title": f"{site}: {name}", "observed": observed, "lines": lines})
    return site, panels


def displacement_maps(folder: Path, case, sim: dict, t_last: int, marked,
                      true=None) -> list[tuple[str, Path]]:
    """(caption, path) of the maps of cumulative displacement and of its error
    (simulated - observed) at time index ``t_last``; ``sim``: solver -> [N, T] mm.
    ``true`` [N, T] mm: a twin's noise-free truth, the first panel of both (its error is
    the observation noise, the floor of every solver's)."""
    observed = case.observations.displacement[:, t_last] * MM
    when = str(case.times[t_last])
    at = None if true is None else true[:, t_last]
    first = "the noise-free truth first, " if true is not None else ""
    x, y = case.cells.x, case.cells.y
    return [
        (f"Cumulative displacement at {when} (mm, up positive; {first}one colour scale; "
         "outlined: test cells)",
         plots.map_panels(folder / "maps.png", x, y,
                          {"observed": observed, **{n: s[:, t_last] for n, s in sim.items()}},
                          title=f"Cumulative displacement since {case.times[0]} at {when}",
                          marked=marked, truth=at)),
        (f"Error (simulated - observed) at {when} (mm; {first}one colour scale)",
         plots.map_panels(folder / "errors.png", x, y,
                          {n: s[:, t_last] - observed for n, s in sim.items()},
                          title=f"Error at {when} (mm; > 0: too little subsidence)",
                          diverging=True, marked=marked,
                          truth=None if at is None else at - observed,
                          truth_title=f"{plots.TRUTH} (its error: the noise)")),
    ]


def attention_weights(out: Path, case, split, runs) -> dict:
    """solver -> [T, W] attention weights averaged over the first test cells."""
    from engine.app.bench.runner import folder_name
    from engine.persistence import load_model
    from engine.registry import solver_class

    weights = {}
    cells = split.test_cells(case)[:ATTENTION_CELLS]
    for name in runs:
        # the networks with attention say so; every other solver has no such weights
        if not getattr(solver_class(name), "has_attention", False):
            continue
        model = load_model(out / "solvers" / folder_name(name) / "model")
        w = model.attention(case, cells)
        if w.ndim == 5:          # mhsa: [n, heads, layers, T, W] -> the last layer
            w = w[:, :, -1].mean(axis=1)
        weights[name] = w.mean(axis=0)
    return weights


def bench_figures(out: Path, case, split, runs: dict, table, horizons: dict,
                  threshold: float, skill: float, zones=ZONE_LIMITS) -> list[tuple[str, Path]]:
    """Draw every figure; returns (caption, path) in report order; ``zones``: the
    rate-zone limits (mm/yr)."""
    from surrogates.features import lag_times

    folder = out / "figures"
    observed = case.observations.displacement
    t_last = last_observed_time(observed)
    test_cells = split.test_cells(case)
    marked = np.zeros(case.n_cells, dtype=bool)
    marked[test_cells] = True
    x, y = case.cells.x, case.cells.y
    sim = {name: result.displacement * MM for name, (result, _) in runs.items()}
    drawn = []

    def add(caption, path):
        drawn.append((caption, path))

    # every solver has predicted: the figures may now show a twin's hidden truth
    true = t.true_displacement(case)
    true = None if true is None else true * MM
    drawn += displacement_maps(folder, case, sim, t_last, marked, true)
    mark = (np.datetime64(split.train_until, "D") if split.train_until else None)
    shown = shown_cells(observed, test_cells, t_last)
    add(f"Time series at {len(shown)} test cell{'s' if len(shown) > 1 else ''}",
        plots.series_panels(folder / "series.png", case.times, [
            {"title": f"{case.cells.ids[c]} (test)", "observed": observed[c] * MM,
             "truth": None if true is None else true[c],
             "lines": {n: s[c] for n, s in sim.items()}, "mark": mark}
            for c in shown],
            title="Cumulative displacement at test cells", ylabel="mm (up positive)"))
    ext = _extensometer_panels(case, runs)
    if ext:
        add(f"Compaction at extensometer {ext[0]} (change since the first reading)",
            plots.series_panels(folder / "extensometers.png", case.times, ext[1],
                                title=f"Compaction at {ext[0]}", ylabel="mm (shortening +)"))
    test = split.test_mask(case) & np.isfinite(observed)
    add("Simulated vs observed cumulative displacement, test entries",
        plots.scatter_panels(folder / "scatter.png", observed[test] * MM,
                             {n: s[test] for n, s in sim.items()},
                             title="Test entries: simulated vs observed"))
    add("Rate zones of the test cells: observed (rows) vs simulated (columns)",
        plots.confusion_panels(folder / "zones.png",
                               {n: zone_confusion(case, split, r.displacement, zones)
                                for n, (r, _) in runs.items()}, list(ZONES),
                               title="Rate zones over the test entries"))
    add("RMSE of cumulative displacement per zone (test)",
        plots.bar_panels(folder / "zone_rmse.png",
                         {z: {n: value(table, n, "cumulative", "rmse_mm", z) for n in runs}
                          for z in ("all",) + ZONES},
                         title="Cumulative RMSE per rate zone (test)", ylabel="RMSE (mm)"))
    if horizons:
        h = next(iter(horizons.values())).scores["h"]
        add("Prediction horizon: R², RMSE and skill over the trend of the h-month change by "
            "rolling origin",
            plots.horizon_panels(folder / "horizon.png", h,
                                 {n: {"r2": c.scores["r2"], "rmse_mm": c.scores["rmse_mm"],
                                      "horizon": c.r2_months,
                                      "skill": c.scores["skill_reference"],
                                      "skill_horizon": c.months}
                                  for n, c in horizons.items()},
                                 threshold=threshold, skill=skill,
                                 title="Prediction horizon (test)"))
    lag = lag_times(case) / DAYS_PER_MONTH
    # log10: the aquifers' lag times differ ten-fold, and one scale must show them all
    with np.errstate(divide="ignore"):
        add("Interbed lag time per aquifer (log10 months, case prior, one colour scale)",
            plots.map_panels(folder / "lag_time.png", x, y,
                             {name: np.log10(lag[a]) for a, name in enumerate(case.aquifer_names)
                              if np.any(lag[a] > 0)},
                             title="Lag time tau = (b_equiv/2)² Sskv / Kv",
                             label="log10 lag time (months)"))
    weights = attention_weights(out, case, split, runs)
    if weights:
        add("Attention weights over lags (mean over test cells)",
            plots.attention_panels(folder / "attention.png", weights, case.times,
                                   title="Attention weight of lag w months"))
    return drawn


def calibration_figures(folder: Path, case, models: dict, truth) -> list[tuple[str, Path]]:
    """For the solvers that estimate parameters (``models``: name -> fitted solver):
    per aquifer, maps of the lag time and of the inelastic storage-thickness product S_v
    (``engine.app.truth``): the truth's (``truth``: a twin's truth.h5, else None) first,
    the prior (the case's own), each posterior mean, on one colour scale per figure; and
    each calibration's compaction at the extensometer site with most compaction, prior
    and posterior members' 5-95 % band, the observations (and the truth)."""
    if not models:
        return []
    drawn = []
    x, y = case.cells.x, case.cells.y
    true = t.true_parameters(truth, case) if truth is not None else None
    maps = {"prior (the case)": t.model_parameters(case)}
    maps.update({f"{name}: {'learned' if t.learns_parameters(s) else 'posterior mean'}":
                 t.model_parameters(t.estimated_case(s, case)) for name, s in models.items()})
    for q, label, scale in (("lag_time", "log10 lag time (months)", DAYS_PER_MONTH),
                            ("storage_thickness", "log10 S_v (m/m)", 1.0)):
        for a, aquifer in enumerate(case.aquifer_names):
            panels = {who: np.log10(values[q][a] / scale) for who, values in maps.items()}
            if not np.isfinite(panels["prior (the case)"]).any():
                continue
            path = folder / f"{q.replace('_', '-')}-{aquifer}.png"
            drawn.append((f"{label}, {aquifer}: truth, prior and posterior",
                          plots.map_panels(path, x, y, panels, label=label,
                                           title=f"{aquifer}: {label}",
                                           truth=None if true is None
                                           else np.log10(true[q][a] / scale))))
    world = t.read_world(truth, case) if truth is not None else None
    for name, solver in models.items():
        if t.learns_parameters(solver):     # one value per cell: no members to band
            continue
        panels = _calibration_band_panels(case, t.calibration_of(solver), world)
        if panels:
            site, rows = panels
            drawn.append((f"{name}: compaction at extensometer {site}, prior and "
                          "posterior 5-95 % bands",
                          plots.series_panels(
                              folder / f"extensometer-band-{name.replace(':', '_')}.png",
                              case.times, rows, ylabel="mm (shortening +)",
                              title=f"{name} at {site}: prior vs posterior members, "
                                    "change since the first reading")))
    return drawn


def _calibration_band_panels(case, calibration, world):
    """(site, series panels) of ``calibration``'s prior and posterior members at the
    extensometer site with most compaction (None without extensometers)."""
    ext = case.observations.extensometers
    if not ext or not len(ext["cell"]):
        return None
    totals = {s: np.abs(ext["compaction"][ext["site"] == s]).max()
              for s in np.unique(ext["site"])}
    site = max(totals, key=totals.get)
    cell = int(ext["cell"][ext["site"] == site][0])
    one = case.take_cells(np.array([cell])).without_observations()
    _, posterior, _ = calibration.parameters(one)
    o = calibration.options
    prior = calibration.space.draw_prior(np.random.default_rng(o["seed"]), one.cells.x,
                                         one.cells.y, len(posterior), o["prior_length"])
    runs = {}
    for label, members in (("prior", prior), ("posterior", posterior)):
        run = calibration.physics_solver.predict(calibration.space.replicate(one, members))
        runs[label] = run.compaction * MM                         # [A, Ne, T]
    panels = []
    for a, aquifer in enumerate(case.aquifer_names):
        pick = (ext["site"] == site) & (ext["aquifer"] == a)
        if not pick.any():
            continue
        t_index = np.searchsorted(case.times, ext["time"][pick].astype("datetime64[D]"))
        keep = t_index < case.n_times
        start = t_index[keep].min()
        observed = np.full(case.n_times, np.nan)
        observed[t_index[keep]] = ext["compaction"][pick][keep] * MM
        observed -= observed[start]
        lines, bands = {}, {}
        for label, values in runs.items():
            members = _since(values[a], start)
            lines[f"{label} mean"] = members.mean(axis=0)
            bands[f"{label} mean"] = tuple(np.percentile(members, (5.0, 95.0), axis=0))
        panels.append({"title": f"{site}: {aquifer}", "observed": observed, "lines": lines,
                       "bands": bands, "truth": None if world is None
                       else _since(world.compaction[a, cell] * MM, start)})
    return site, panels


def _since(series: np.ndarray, start: int) -> np.ndarray:
    """``series`` [..., T] as the change since time index ``start``, NaN before it."""
    after = np.arange(series.shape[-1]) >= start
    return np.where(after, series - series[..., start:start + 1], np.nan)
