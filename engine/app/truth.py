"""Scores against a twin's hidden truth: the only code that opens ``truth/truth.h5``.

A twin (``landsub make-case beijing``) keeps beside its case.toml a folder ``truth/``
that no solver reads (layout: ``cases/beijing/make.py:write_truth``). ``landsub bench``
and ``landsub whatif`` call this module only after every solver has predicted, so a
score can never feed back into a fit, a split or a prediction (``tests/test_truth.py``
poisons the truth while the solvers run and checks that nothing changes).

What is compared
----------------
- bench, displacement: each solver's cumulative displacement against the noise-free
  true displacement (the truth of the case's own world, from the first case time), on
  the split's test cell-times and on every cell-time;
- bench, compaction per aquifer: the solver's compaction against the truth's (sum of
  the truth's interbed systems, confining aquitard and coarse skeleton of the aquifer),
  same parts, for solvers that resolve compaction;
- bench, parameter recovery (solvers that estimate parameters, ``calibrated:*`` alone
  or inside a composition): the truth has three delay interbed systems per aquifer
  (and a confining aquitard), the model one equivalent bed, so two quantities that
  both describe are compared per aquifer and cell:
  * the lag time tau = (b_equiv / 2)^2 Sskv / Kv of the equivalent interbed (days;
    truth: its ``lag_days``, defined with b_equiv = sqrt(sum n b^2 / sum n) of its
    systems and the virgin storage at the predevelopment stress; model: its one bed,
    or the same b_equiv with clay-weighted Sskv and Kv when it has several systems);
  * the inelastic storage-thickness product S_v = sum over interbed systems of
    count x thickness x Sskv (dimensionless: m of compaction per m of head decline;
    truth: its interbed clay times that virgin storage; the aquitard is left out in
    both, the model having none);
  the score is the fraction of cells within a factor 2 (0.5 <= model / truth <= 2),
  for the calibration's prior (the case's own parameters) and its posterior mean;
- whatif: the effect (scenario - baseline displacement) of each solver's ensemble
  against the true effect (the truth of the twin re-made under the scenario minus that
  under the baseline) at each milestone: area mean, severe-zone mean and maximum over
  the cells with their relative errors, the per-cell RMSE of the ensemble-mean effect,
  and the 5-95 % band's coverage (fraction of cells whose true effect lies inside it)
  and mean width.

Figures (drawn after every solver predicted, like the scores): the bench's maps and
series put the noise-free true displacement first (:func:`true_displacement`), the
what-if's the true effect.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.evaluate import pooled_metrics
from engine.units import DAYS_PER_MONTH, M_TO_MM

TRUTH_FILE = Path("truth") / "truth.h5"
HISTORY_WORLD = "history"
QUANTITIES = ("lag_time", "storage_thickness")
FACTOR = 2.0                  # parameter recovery: within this factor of the truth


def truth_path(manifest) -> Path | None:
    """``truth/truth.h5`` beside the case manifest, None when the case has no truth."""
    path = Path(manifest).parent / TRUTH_FILE
    return path if path.is_file() else None


@dataclass(frozen=True)
class World:
    """One world of a truth on the cells of a case: displacement [N, T] (m, up
    positive) and compaction [A, N, T] (m, shortening positive), from the first case
    time; ``name`` the world's group in truth.h5."""

    name: str
    displacement: np.ndarray
    compaction: np.ndarray


def _cell_order(f, case) -> np.ndarray:
    """Index of each case cell among the truth's points (by id)."""
    ids = f["points/id"].asstr()[...]
    where = {cell: k for k, cell in enumerate(ids)}
    missing = [c for c in np.asarray(case.cells.ids).astype(str) if c not in where]
    if missing:
        raise ValueError(f"the truth has no point {missing[0]!r} of case {case.name}")
    return np.array([where[c] for c in np.asarray(case.cells.ids).astype(str)])


def _window(f, case) -> np.ndarray | None:
    """Index of each of ``case``'s times among the truth's case times (``times/case``)
    when the case is a window of them (``Case.window``); None when it is not."""
    if "times/case" not in f:
        return None
    times = f["times/case"].asstr()[...].astype("datetime64[D]")
    index = np.searchsorted(times, case.times)
    if index.max(initial=0) >= len(times) or not np.array_equal(times[index], case.times):
        return None
    return index


def _spanning_world(f, case) -> tuple[str, np.ndarray | None]:
    """(name, index) of the world of open truth ``f`` that spans ``case``'s times: a
    scenario world (a twin made under a scenario) before the history, which ends
    earlier; ``index`` the case's times among the truth's when the case is a window of
    them (``_window``), else None."""
    index = None
    spanning = [name for name in f if "displacement" in f[name]
                and f[name]["displacement"].shape[1] == case.n_times]
    if not spanning:
        index = _window(f, case)
        spanning = [] if index is None else [
            name for name in f if "displacement" in f[name]
            and f[name]["displacement"].shape[1] == len(f["times/case"])]
    if not spanning:
        raise ValueError(f"{f.filename}: no world spans the {case.n_times} times of case "
                         f"{case.name}")
    return sorted(spanning, key=lambda n: n == HISTORY_WORLD)[0], index


def read_world(path: Path, case) -> World:
    """The world of truth ``path`` that spans ``case``'s times (``_spanning_world``). A
    case cut to a period of the truth's times (``Case.window``) gets that period,
    rebased to its first time as the case's observations are."""
    import h5py

    with h5py.File(path, "r") as f:
        name, index = _spanning_world(f, case)
        order = _cell_order(f, case)
        displacement = f[name]["displacement"][...][order]
        compaction = f[name]["compaction"][...][:, order]
    if index is not None:
        displacement = displacement[:, index] - displacement[:, index[:1]]
        compaction = compaction[:, :, index] - compaction[:, :, index[:1]]
    return World(name, displacement, compaction)


def truth_result(path: Path, case):
    """The world of ``read_world`` as a Result ("truth"): what a perfect model would
    simulate, scored by the evaluator as a solver is (the ceiling the observations'
    noise leaves any model)."""
    from engine.result import Result

    world = read_world(path, case)
    return Result.for_case(case, "truth", "truth", world.displacement,
                           compaction=world.compaction)


def exact_heads_case(path: Path, case):
    """``case`` (on the times of a world of the truth: the history, or the scenario of
    a twin made under one) with that world's heads at its cells in place of the
    interpolated ones, spin-up included: the input of an ablation run after every
    solver predicted (no solver of a bench reads it)."""
    import h5py

    with h5py.File(path, "r") as f:
        order = _cell_order(f, case)
        name, index = _spanning_world(f, case)
        if index is not None:
            raise ValueError(f"{path}: the truth's heads are not on the {case.n_times} "
                             f"times of case {case.name} (a window of them)")
        world = f[name]
        heads = world["heads"][...][:, order]
        spinup = world["spinup_heads"][...][:, order] if "spinup_heads" in world else None
    if heads.shape != (len(case.aquifers), case.n_cells, case.n_times):
        raise ValueError(f"{path}: the truth's heads {heads.shape} are not on the "
                         f"{case.n_times} times of case {case.name}")
    aquifers = []
    for a, aquifer in enumerate(case.aquifers):
        spun = aquifer.spinup_head
        if spun is not None:
            if spinup is None or spinup.shape[2] != spun.shape[1]:
                raise ValueError(f"{path}: the truth's spin-up heads do not match case "
                                 f"{case.name}'s")
            spun = spinup[a]
        aquifers.append(replace(aquifer, head=heads[a], spinup_head=spun))
    return replace(case, aquifers=tuple(aquifers))


def true_displacement(case) -> np.ndarray | None:
    """[N, T] m: the noise-free true displacement on ``case``'s cells and times (from
    the first case time), None unless ``case`` was read from a manifest with a truth
    beside it."""
    path = truth_path(case.source) if case.source else None
    return None if path is None else read_world(path, case).displacement


def true_parameters(path: Path, case) -> dict:
    """Per QUANTITIES: [A, N] the truth's comparable parameters (see the docstring;
    lag time in days)."""
    import h5py

    with h5py.File(path, "r") as f:
        order = _cell_order(f, case)
        lag, storage = [], []
        for a in range(len(case.aquifers)):
            group = f[f"parameters/aquifer_{a}"]
            clay = sum(group[s]["thickness"][...] * group[s]["count"][...]
                       for s in group if s.startswith("interbeds_"))
            lag.append(group["lag_days"][...][order])
            storage.append((clay * group["sskv0"][...])[order])
    return {"lag_time": np.array(lag), "storage_thickness": np.array(storage)}


def model_parameters(case) -> dict:
    """Per QUANTITIES: [A, N] the same quantities of a case's (one-bed) model; NaN for
    aquifers without delay interbeds or with stress-dependent storage."""
    from physics.analytical import lag_time

    lag = np.full((len(case.aquifers), case.n_cells), np.nan)
    storage = np.full_like(lag, np.nan)
    for a, aquifer in enumerate(case.aquifers):
        beds = [b for b in aquifer.interbeds if b.sskv is not None]
        if not beds:
            continue
        b = np.array([np.broadcast_to(m.thickness, case.n_cells) for m in beds])
        n = np.array([np.broadcast_to(m.count if m.count is not None else 1.0,
                                      case.n_cells) for m in beds])
        clay = n * b
        sskv = np.array([np.broadcast_to(m.sskv, case.n_cells) for m in beds])
        kv = np.array([np.broadcast_to(m.kv, case.n_cells) for m in beds])
        b_equiv = np.sqrt((n * b**2).sum(axis=0) / n.sum(axis=0))
        lag[a] = lag_time(b_equiv, (clay * kv).sum(axis=0) / clay.sum(axis=0),
                          (clay * sskv).sum(axis=0) / clay.sum(axis=0))
        storage[a] = (clay * sskv).sum(axis=0)
    return {"lag_time": lag, "storage_thickness": storage}


def estimates_parameters(cls) -> bool:
    """Whether solver class ``cls`` fits physics parameters: a calibrated physics
    (``calibrated:*``), alone or as the physics of a composition (``residual:...``), or
    a solver that learns them and says so with ``estimated_case`` (``dpl:*``)."""
    return (hasattr(cls, "posterior_members") or learns_parameters(cls)
            or hasattr(getattr(cls, "physics_class", None), "posterior_members"))


def learns_parameters(solver) -> bool:
    """Whether ``solver`` (or its class) gives each cell one learned set of physics
    parameters (``estimated_case``) rather than a posterior ensemble."""
    return hasattr(solver, "estimated_case")


def calibration_of(solver):
    """The calibrated physics of a fitted ``solver`` that ``estimates_parameters``."""
    return solver if hasattr(solver, "posterior_members") else solver.physics


def estimated_case(solver, case):
    """``case`` with the parameters a fitted ``solver`` that ``estimates_parameters``
    estimated (its posterior mean, or what it learned)."""
    if learns_parameters(solver):
        return solver.estimated_case(case)
    calibration = calibration_of(solver)
    mean, _, _ = calibration.parameters(case)
    return calibration.space.apply(case, mean)


def within_factor(model: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """bool where model / truth lies in [1 / FACTOR, FACTOR] (False where undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = model / truth
    return np.isfinite(ratio) & (ratio >= 1.0 / FACTOR) & (ratio <= FACTOR)


# -- bench -----------------------------------------------------------------------------

def _row(solver, part, series, zone, statistic, metric, value, n_cells=0, n_values=0):
    return {"solver": solver, "part": part, "series": series, "zone": zone,
            "statistic": statistic, "metric": metric, "value": float(value),
            "n_cells": int(n_cells), "n_values": int(n_values)}


TRUTH_PARTS = ("truth: test", "truth: all")


def bench_rows(path: Path, case, split, runs: dict, models: dict) -> list[dict]:
    """Rows of the bench's tidy table against truth ``path`` (columns as
    ``engine.app.bench.metrics.COLUMNS``). ``runs``: name -> (Result, record);
    ``models``: name -> the fitted solver, for those that estimate parameters.

    Parts "truth: test" (the split's test cell-times) and "truth: all" (every cell and
    time); series "truth displacement" (zone "all"), "truth compaction" (zone = the
    aquifer) and "parameters" (zone = the aquifer, statistic = prior | posterior,
    metric = the quantity's fraction of cells within FACTOR, part "truth: test" = the
    split's test cells, "truth: all" = every cell)."""
    world = read_world(path, case)
    masks = {TRUTH_PARTS[0]: split.test_mask(case),
             TRUTH_PARTS[1]: np.ones((case.n_cells, case.n_times), dtype=bool)}
    rows = []
    for name, (result, _) in runs.items():
        for part, mask in masks.items():
            scores = pooled_metrics(np.where(mask, result.displacement, np.nan),
                                    world.displacement)
            rows += [_row(name, part, "truth displacement", "all", "pooled", metric,
                          scores[metric], mask.any(axis=1).sum(), scores["n"])
                     for metric in ("rmse_mm", "r2", "bias_mm")]
            if result.compaction is None:
                continue
            for a, aquifer in enumerate(case.aquifer_names):
                scores = pooled_metrics(np.where(mask, result.compaction[a], np.nan),
                                        world.compaction[a])
                rows += [_row(name, part, "truth compaction", aquifer, "pooled", metric,
                              scores[metric], mask.any(axis=1).sum(), scores["n"])
                         for metric in ("rmse_mm", "r2", "bias_mm")]
    if models:
        truth = true_parameters(path, case)
        prior = model_parameters(case)
        test_cells = split.test_mask(case).any(axis=1)
        for name, solver in models.items():
            posterior = model_parameters(estimated_case(solver, case))
            for statistic, values in (("prior", prior), ("posterior", posterior)):
                for q in QUANTITIES:
                    hit = within_factor(values[q], truth[q])
                    for a, aquifer in enumerate(case.aquifer_names):
                        for part, cells in zip(TRUTH_PARTS, (test_cells, slice(None))):
                            mine = hit[a][cells]
                            rows.append(_row(name, part, "parameters", aquifer, statistic,
                                             f"{q}_within_{FACTOR:g}x", mine.mean(),
                                             len(mine), len(mine)))
    return rows


def _value(table, solver, part, series, zone, metric, statistic="pooled") -> float:
    hit = table[(table.solver == solver) & (table.part == part) & (table.series == series)
                & (table.zone == zone) & (table.metric == metric)
                & (table.statistic == statistic)]
    return float(hit.value.iloc[0]) if len(hit) else np.nan


def _fmt(x, digits=1) -> str:
    return "—" if not np.isfinite(x) else f"{x:.{digits}f}"


def bench_markdown(table: pd.DataFrame) -> str:
    """The "against the truth" tables of a bench report ("" without truth rows)."""
    rows = table[table.part.isin(TRUTH_PARTS)]
    if rows.empty:
        return ""
    aquifers = list(dict.fromkeys(rows[rows.series != "truth displacement"].zone))
    solvers = list(dict.fromkeys(rows.solver))
    lines = ["Cumulative displacement against the noise-free truth (mm):", "",
             "| solver | test RMSE | test R² | test bias | all RMSE | all R² | all bias |",
             "|---|---|---|---|---|---|---|"]
    for s in solvers:
        cells = [_fmt(_value(table, s, p, "truth displacement", "all", m), d)
                 for p in TRUTH_PARTS for m, d in (("rmse_mm", 2), ("r2", 3), ("bias_mm", 2))]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    with_compaction = [s for s in solvers
                       if (rows[(rows.solver == s)].series == "truth compaction").any()]
    if with_compaction:
        lines += ["", "Compaction per aquifer against the truth's, test cell-times, "
                  "RMSE (mm) / R²:", "",
                  "| solver | " + " | ".join(aquifers) + " |",
                  "|" + "---|" * (1 + len(aquifers))]
        for s in with_compaction:
            lines.append(f"| {s} | " + " | ".join(
                f"{_fmt(_value(table, s, TRUTH_PARTS[0], 'truth compaction', a, 'rmse_mm'), 2)}"
                f" / {_fmt(_value(table, s, TRUTH_PARTS[0], 'truth compaction', a, 'r2'), 3)}"
                for a in aquifers) + " |")
    estimated = [s for s in solvers if (rows[rows.solver == s].series == "parameters").any()]
    if estimated:
        lines += ["", f"Parameter recovery: fraction of cells within a factor {FACTOR:g} "
                  "of the truth, prior -> posterior mean (a learning solver's: what it "
                  "learned), every cell (test cells). Lag "
                  "time tau = (b_equiv/2)^2 Sskv/Kv of the equivalent interbed; S_v = "
                  "sum of count x thickness x Sskv of the interbeds (the truth: its three "
                  "interbed systems' b_equiv and clay with the virgin storage at the "
                  "predevelopment stress; its confining aquitards left out).", "",
                  "| solver | quantity | " + " | ".join(aquifers) + " |",
                  "|" + "---|" * (2 + len(aquifers))]
        for s in estimated:
            for q in QUANTITIES:
                metric = f"{q}_within_{FACTOR:g}x"
                cells = []
                for a in aquifers:
                    v = {(st, p): _value(table, s, p, "parameters", a, metric, st)
                         for st in ("prior", "posterior") for p in TRUTH_PARTS}
                    cells.append(f"{_fmt(v['prior', TRUTH_PARTS[1]], 2)} -> "
                                 f"{_fmt(v['posterior', TRUTH_PARTS[1]], 2)} "
                                 f"({_fmt(v['prior', TRUTH_PARTS[0]], 2)} -> "
                                 f"{_fmt(v['posterior', TRUTH_PARTS[0]], 2)})")
                label = "lag time" if q == "lag_time" else "S_v"
                lines.append(f"| {s} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- whatif ----------------------------------------------------------------------------

def true_effect(baseline_manifest, scenario_manifest, baseline_case, scenario_case):
    """[N, T] m: the truth's scenario - baseline displacement, None unless both cases
    have a truth (twins re-made under each scenario)."""
    paths = truth_path(baseline_manifest), truth_path(scenario_manifest)
    if None in paths:
        return None
    return (read_world(paths[1], scenario_case).displacement
            - read_world(paths[0], baseline_case).displacement)


#: the whatif scores, per solver and milestone, in their tidy table's column "metric"
WHATIF_METRICS = ("area_mean_mm", "area_mean_truth_mm", "area_mean_relative_error",
                  "severe_mean_mm", "severe_mean_truth_mm", "severe_mean_relative_error",
                  "cell_max_mm", "cell_max_truth_mm", "cell_max_relative_error",
                  "effect_rmse_mm", "band_coverage", "band_width_mm")


def _relative(model: float, truth: float) -> float:
    return (model - truth) / abs(truth) if truth else np.nan


def whatif_scores(outcomes, truth: np.ndarray, severe, milestones: list[int], times,
                  band=(5.0, 95.0)) -> pd.DataFrame:
    """Tidy table (solver, month, metric, value) of every outcome's effect against
    ``truth`` [N, T] (m) at the ``milestones`` (time indices); see the docstring."""
    rows = []
    zone = severe if severe is not None and severe.any() else None
    for o in outcomes:
        difference = o.difference                        # [M, N, T]
        low, high = np.percentile(difference[:, :, milestones], band, axis=0)
        mean = difference[:, :, milestones].mean(axis=0)
        for k, t in enumerate(milestones):
            true = truth[:, t]
            model = {"area_mean": mean[:, k].mean(),
                     "severe_mean": mean[zone, k].mean() if zone is not None else np.nan,
                     "cell_max": difference[:, :, t].max(axis=1).mean()}
            real = {"area_mean": true.mean(),
                    "severe_mean": true[zone].mean() if zone is not None else np.nan,
                    "cell_max": true.max()}
            values = {}
            for key in model:
                values[f"{key}_mm"] = M_TO_MM * model[key]
                values[f"{key}_truth_mm"] = M_TO_MM * real[key]
                values[f"{key}_relative_error"] = _relative(model[key], real[key])
            values["effect_rmse_mm"] = M_TO_MM * np.sqrt(np.mean((mean[:, k] - true) ** 2))
            values["band_coverage"] = np.mean((true >= low[:, k]) & (true <= high[:, k]))
            values["band_width_mm"] = M_TO_MM * np.mean(high[:, k] - low[:, k])
            rows += [{"solver": o.solver, "month": str(times[t])[:7], "metric": m,
                      "value": float(values[m])} for m in WHATIF_METRICS]
    return pd.DataFrame(rows, columns=["solver", "month", "metric", "value"])


def whatif_markdown(scores: pd.DataFrame) -> str:
    """One table: every solver at every milestone against the truth."""
    table = scores.pivot_table(index=["solver", "month"], columns="metric", values="value",
                               sort=False)
    lines = ["| solver | month | area mean: model / truth (mm), rel. error | severe zone: "
             "model / truth (mm), rel. error | max over cells: model / truth (mm), rel. "
             "error | per-cell RMSE (mm) | band coverage | mean band width (mm) |",
             "|---|---|---|---|---|---|---|---|"]
    for (solver, month), r in table.iterrows():
        parts = [f"{_fmt(r[f'{k}_mm'])} / {_fmt(r[f'{k}_truth_mm'])}, "
                 f"{_fmt(100 * r[f'{k}_relative_error'], 0)} %"
                 for k in ("area_mean", "severe_mean", "cell_max")]
        lines.append(f"| {solver} | {month} | " + " | ".join(parts)
                     + f" | {_fmt(r['effect_rmse_mm'])} | {_fmt(r['band_coverage'], 2)} | "
                     f"{_fmt(r['band_width_mm'])} |")
    return "\n".join(lines) + "\n"


def lag_months(values: np.ndarray) -> np.ndarray:
    """Lag times in months from days (for figures)."""
    return values / DAYS_PER_MONTH
