"""The seminar's three case studies as bench protocols (``landsub bench beijing:SIZE
--protocol NAME``, or ``--protocol all``), run on the Beijing twin.

A protocol is one declarative spec (``PROTOCOLS``): the seminar's period (the case is cut
to it with ``Case.window``: the heads before it become the spin-up, the observations are
rebased to its first month), the solvers and the inputs of each network (features,
``surrogates.features``; ``{study}`` stands for the case's [study] aquifers, the three
confined groups of the twin), the split, the hyperparameters (the ``seminar`` preset;
``--preset fast`` may replace it for a quick check, which the report states), the metric
of the protocol's own table and the claims it judges, with the evidence for each claim
it does not reproduce. What differs from the seminar is part of the spec and of the
report.

The evidence reads the twin's hidden truth (``engine.app.truth``) only after every solver
predicted: the truth scored as if it were a solver (the ceiling the observations' noise
leaves any model) and, where the spec names an ablation, the same networks refitted on
the truth's exact heads in place of the interpolated ones (same split and preset; run
after the bench's solvers, kept in ``ablation-exact-heads/``, never a row of the bench's
tables). No solver, fit or split reads the truth; the split of case study 1 reads the
observed rates, as the seminar chose its validation points in the subsidence zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd

from engine.app.bench.claims import (
    GW_LSTM_R2,
    HORIZON_MONTHS,
    LAG_GAIN,
    ZONE_R_RANGES,
    gw_lstm_claim,
    horizon_claim,
    lag_claim,
    lag_time_claim,
    not_reproduced,
    pc_rnn_claims,
    physics_reference,
    study_aquifers,
    untested,
    zone_correlation_claim,
)
from engine.app.bench.metrics import value
from engine.errors import InputError, suggest
from engine.evaluate import ZONE_LIMITS, ZONES, cell_metrics, evaluate, increments, linear_rate
from engine.units import DAYS_PER_MONTH, DAYS_PER_YEAR, M_TO_MM

ALL = "all"
#: in a protocol's inputs: the case's [study] aquifers joined by "+"
STUDY = "{study}"
#: the split of case study 1: four validation points in the twin's north subsidence zone
NORTH_POINTS = "north-points"
NORTH_ZONE, POINTS = "north", 4
ABLATION_FOLDER = "ablation-exact-heads"
TABLE_FILE = "protocol.csv"
COLUMNS = ["protocol", "solver", "where", "metric", "value", "n_values"]


@dataclass(frozen=True)
class Protocol:
    """One case study of the seminar as a bench run (see the module docstring)."""

    name: str
    study: str                    # the seminar's case study, as it calls it
    period: tuple[str, str]       # first and last month (Case.window)
    solvers: tuple[str, ...]
    inputs: dict                  # network -> its features (STUDY: the [study] aquifers)
    inputs_text: str              # the seminar's inputs and how the twin gives them
    split: str                    # a split text (engine.split) or NORTH_POINTS
    split_text: str
    metric_text: str
    reproduces: str
    differs: tuple[str, ...]
    table: Callable               # Scored -> tidy rows (COLUMNS) of the protocol's table
    markdown: Callable            # rows -> that table in Markdown
    claims: Callable              # Scored -> its claim rows, with evidence
    ablation: tuple[str, ...] = ()
    preset: str = "seminar"
    validation_fraction: float = 0.2   # of the training cells, for early stopping


@dataclass
class Resolved:
    """A protocol on one case: the case cut to its period, its split, solvers, options
    and preset, and ``notes`` (how the split was chosen, a replaced preset)."""

    protocol: Protocol
    case: object
    split: object
    solvers: list
    options: dict
    preset: str
    notes: list = field(default_factory=list)

    def prepare(self, case):
        """``case`` (the whole twin) cut as this protocol's case is."""
        return case.window(*self.protocol.period)


@dataclass
class Scored:
    """What a protocol's table, claims and evidence are computed from, after every
    solver predicted: ``truth`` the twin's truth as a Result (None without one),
    ``ablation`` name -> (Result, record) of the exact-heads runs."""

    protocol: Protocol
    case: object
    split: object
    runs: dict
    table: pd.DataFrame
    horizons: dict
    threshold: float
    skill: float
    max_horizon: int
    truth: object = None
    ablation: dict = field(default_factory=dict)
    ablation_note: str = ""


def _row(protocol, solver, where, metric, v, n=0) -> dict:
    return {"protocol": protocol, "solver": solver, "where": str(where), "metric": metric,
            "value": float(v), "n_values": int(n)}


def _get(rows, solver, where, metric) -> float:
    hit = [r["value"] for r in rows if r["solver"] == solver and r["where"] == str(where)
           and r["metric"] == metric]
    return hit[0] if hit else np.nan


def _fmt(x, digits=2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _scored_results(s: Scored) -> dict:
    """name -> Result: the solvers, then the truth (as "truth"), then the ablation's
    runs as "exact heads: NAME"."""
    results = {name: result for name, (result, _) in s.runs.items()}
    if s.truth is not None:
        results["truth"] = s.truth
    # relabelled: the evaluator names its rows by the result's solver
    results.update({f"exact heads: {n}": replace(r, solver=f"exact heads: {n}")
                    for n, (r, _) in s.ablation.items()})
    return results


def _truth_missing() -> str:
    return "no truth beside the case: the ceiling the noise leaves cannot be stated"


# -- case study 1: GW-LSTM at four validation points ---------------------------------

def points_rows(s: Scored) -> list[dict]:
    """Per validation point (a test cell): its observed rate and change over the
    period, each solver's (and the truth's) cumulative R² and RMSE there, and the noise
    (RMS of observed - truth)."""
    observed = s.case.observations.displacement
    test = s.split.test_mask(s.case)
    cells = s.split.test_cells(s.case)
    ids = np.asarray(s.case.cells.ids).astype(str)
    rate = linear_rate(s.case.days, observed, np.isfinite(observed)) * M_TO_MM * DAYS_PER_YEAR
    rows = []
    for c in cells:
        seen = np.flatnonzero(np.isfinite(observed[c]))
        rows += [_row(s.protocol.name, "observed", ids[c], "rate_mm_per_year", rate[c]),
                 _row(s.protocol.name, "observed", ids[c], "change_mm",
                      M_TO_MM * observed[c, seen[-1]] if len(seen) else np.nan, len(seen))]
        if s.truth is not None:
            noise = observed[c, seen] - s.truth.displacement[c, seen]
            rows.append(_row(s.protocol.name, "observed", ids[c], "noise_mm",
                             M_TO_MM * np.sqrt(np.mean(noise**2)), len(seen)))
    for name, result in _scored_results(s).items():
        per = cell_metrics(result, observed, test)
        per = per[per.series == "cumulative"].set_index("cell")
        for c in cells:
            rows += [_row(s.protocol.name, name, ids[c], m, per.loc[ids[c], m],
                          per.loc[ids[c], "n"]) for m in ("r2", "rmse_mm")]
        if name != "truth" and s.truth is not None:
            # the model against the noise-free truth: right or wrong whatever the noise
            vs = cell_metrics(result, s.truth.displacement, test).set_index("cell")
            vs = vs[vs.series == "cumulative"]
            rows += [_row(s.protocol.name, name, ids[c], "r2_vs_truth", vs.loc[ids[c], "r2"])
                     for c in cells]
    return rows


def points_markdown(rows) -> str:
    points = list(dict.fromkeys(r["where"] for r in rows if r["metric"] == "rate_mm_per_year"))
    solvers = list(dict.fromkeys(r["solver"] for r in rows if r["metric"] == "r2"))
    lines = ["| validation point | observed rate (mm/yr) | observed change (mm) | noise RMS "
             "(mm) | " + " | ".join(f"{s}: R² / RMSE (mm)" for s in solvers) + " |",
             "|" + "---|" * (4 + len(solvers))]
    for p in points:
        lines.append(f"| {p} | {_fmt(_get(rows, 'observed', p, 'rate_mm_per_year'), 1)} | "
                     f"{_fmt(_get(rows, 'observed', p, 'change_mm'), 1)} | "
                     f"{_fmt(_get(rows, 'observed', p, 'noise_mm'), 1)} | "
                     + " | ".join(f"{_fmt(_get(rows, s, p, 'r2'))} / "
                                  f"{_fmt(_get(rows, s, p, 'rmse_mm'), 1)}" for s in solvers)
                     + " |")
    return "\n".join(lines) + "\n"


def points_claims(s: Scored) -> list[dict]:
    row = gw_lstm_claim(s.case, s.split, s.runs, points=True)
    if not_reproduced(row):
        rows = points_rows(s)
        points = list(dict.fromkeys(r["where"] for r in rows
                                    if r["metric"] == "rate_mm_per_year"))

        def listed(solver, metric, digits=2):
            return ", ".join(f"{p} {_fmt(_get(rows, solver, p, metric), digits)}"
                             for p in points)

        if s.truth is None:
            row["evidence"].append(_truth_missing())
        else:
            barred = [p for p in points if not _get(rows, "truth", p, "r2") > GW_LSTM_R2]
            row["evidence"] += [
                f"observed change over the period: {listed('observed', 'change_mm', 0)} mm; "
                f"noise (observed - truth) RMS: {listed('observed', 'noise_mm', 1)} mm",
                f"the noise-free truth itself scores R² {listed('truth', 'r2')} against the "
                "observations: the ceiling the noise leaves any model",
                f"gw-lstm against the truth: R² {listed('gw-lstm', 'r2_vs_truth')}",
                f"the truth stays at or below {GW_LSTM_R2} at {', '.join(barred)}: the noise, "
                "not the model, bars the claim there" if barred else
                f"the truth clears {GW_LSTM_R2} at every point: the observations allow the "
                "claim, the shortfall is the model's"]
    return [row]


# -- case study 2: AM-GRU with and without the lag shift, monthly subsidence in 2021 ---

#: the year whose monthly subsidence case study 2 scores; its January change is taken
#: from the last observation before it
MONTHLY_YEAR = "2021"


def monthly_mask(case, split) -> np.ndarray:
    """The test entries of MONTHLY_YEAR and of the month before it (the anchor of
    January's change)."""
    year = np.datetime64(MONTHLY_YEAR, "Y")
    first = (year.astype("datetime64[M]") - 1).astype("datetime64[D]")
    last = (year + 1).astype("datetime64[D]")
    inside = (case.times >= first) & (case.times < last)
    return split.test_mask(case) & inside[None, :]


def monthly_table(s: Scored) -> pd.DataFrame:
    """The evaluator's table of every scored result on ``monthly_mask`` (part
    "monthly YEAR"); its "increment" rows are the protocol's metric."""
    mask = monthly_mask(s.case, s.split)
    observed = s.case.observations.displacement
    return pd.concat([evaluate(result, observed, mask, part=f"monthly {MONTHLY_YEAR}")
                      for result in _scored_results(s).values()], ignore_index=True)


def monthly_rows(s: Scored) -> list[dict]:
    table = monthly_table(s)
    rows = table[(table.series == "increment") & (table.zone == "all")
                 & (table.statistic == "pooled") & table.metric.isin(["rmse_mm", "r2"])]
    return [_row(s.protocol.name, r.solver, MONTHLY_YEAR, r.metric, r.value, r.n_values)
            for r in rows.itertuples()]


def monthly_markdown(rows) -> str:
    lines = [f"| solver | monthly RMSE {MONTHLY_YEAR} (mm) | monthly R² {MONTHLY_YEAR} | "
             "monthly changes scored |", "|---|---|---|---|"]
    for solver in dict.fromkeys(r["solver"] for r in rows):
        n = [r["n_values"] for r in rows if r["solver"] == solver and r["metric"] == "r2"]
        lines.append(f"| {solver} | {_fmt(_get(rows, solver, MONTHLY_YEAR, 'rmse_mm'))} | "
                     f"{_fmt(_get(rows, solver, MONTHLY_YEAR, 'r2'), 3)} | {n[0] if n else 0} |")
    return "\n".join(lines) + "\n"


def monthly_signal_noise(s: Scored) -> tuple[float, float]:
    """(RMS of the truth's monthly change, RMS of the observed minus the true monthly
    change), mm, over the protocol's scored months."""
    mask = monthly_mask(s.case, s.split) & np.isfinite(s.case.observations.displacement)
    truth, scored = increments(s.truth.displacement, mask)
    observed, _ = increments(s.case.observations.displacement, mask)
    return (M_TO_MM * np.sqrt(np.mean(truth[scored] ** 2)),
            M_TO_MM * np.sqrt(np.mean((observed - truth)[scored] ** 2)))


def below_the_truth(rows, solvers) -> list[str]:
    """The ``solvers`` whose monthly RMSE in MONTHLY_YEAR is below the noise-free
    truth's in the protocol's ``rows``. A network trained on other cells of the same
    dates can learn the part of the noise those cells share at each acquisition (the
    twin's atmospheric screen): a spatial split does not hide it, and scoring below the
    truth on the observations is its sign."""
    floor = _get(rows, "truth", MONTHLY_YEAR, "rmse_mm")
    return [n for n in solvers if _get(rows, n, MONTHLY_YEAR, "rmse_mm") < floor]


def lag_evidence(s: Scored) -> list[str]:
    """Why the lag shift can or cannot help on this case: the lag times against the time
    step, how much the shift moves the inputs, the noise floor, the exact-heads ablation."""
    from surrogates.features import lag_times, raw_feature

    aquifers, _ = study_aquifers(s.case)
    test = s.split.test_cells(s.case)
    lags, shifts = [], []
    for a in aquifers:
        months = lag_times(s.case)[a][test] / DAYS_PER_MONTH
        lags.append(f"{s.case.aquifer_names[a]} {np.median(months):.1f} "
                    f"[{np.percentile(months, 5):.1f}-{np.percentile(months, 95):.1f}]")
        moved = (raw_feature(s.case, "lagged_head_change", a)
                 - raw_feature(s.case, "head_change", a))[test]
        step = raw_feature(s.case, "head_step", a)[test]
        shifts.append(f"{s.case.aquifer_names[a]} {np.sqrt(np.mean(moved**2)):.2f} m "
                      f"(monthly head change {np.sqrt(np.mean(step**2)):.2f} m)")
    lines = [f"lag times of the twin's aquifers, median [5-95 %] over the test cells: "
             f"{', '.join(lags)} months (time step: one month)",
             f"the lag shift changes the inputs by RMS {', '.join(shifts)}"]
    rows = monthly_rows(s)

    def scored(solver) -> str:
        return (f"RMSE {_fmt(_get(rows, solver, MONTHLY_YEAR, 'rmse_mm'))} mm, R² "
                f"{_fmt(_get(rows, solver, MONTHLY_YEAR, 'r2'), 3)}")

    if s.truth is None:
        lines.append(_truth_missing())
    else:
        signal, noise = monthly_signal_noise(s)
        floor = _get(rows, "truth", MONTHLY_YEAR, "rmse_mm")
        rmse, r2 = LAG_GAIN["rmse_mm"], LAG_GAIN["r2"]
        lines.append(f"noise floor: the noise-free truth's monthly subsidence in "
                     f"{MONTHLY_YEAR} scores {scored('truth')} against the observations: its "
                     f"monthly change has RMS {signal:.1f} mm, the observations' monthly noise "
                     f"(observed - truth) {noise:.1f} mm")
        lines.append(f"the seminar's lag-aware RMSE {rmse[1]} mm is below that floor: no "
                     "model of the subsidence reaches it on these observations, whose monthly "
                     "changes are mostly noise, so neither can show much of a lag effect"
                     if floor > rmse[1] else
                     f"the floor is below the seminar's {rmse[1]} mm: the observations allow "
                     f"the claim (RMSE {rmse[0]} -> {rmse[1]} mm, R² {r2[0]} -> {r2[1]})")
        below = below_the_truth(rows, s.protocol.solvers)
        if below:
            lines.append(f"{' and '.join(below)} score below the noise-free truth "
                         f"({'; '.join(f'{n} {scored(n)}' for n in below)}): they reproduce part of "
                         "the observations' noise, which is shared between cells at each "
                         "acquisition (an atmospheric screen) and so not hidden by a spatial "
                         "split; their gain over the truth is noise learnt, not subsidence")
    if s.ablation:
        scores = [f"{n} {scored(f'exact heads: {n}')}" for n in s.ablation]
        lines.append("ablation, the same networks (split, preset, seed) on the truth's exact "
                     f"heads instead of the interpolated ones: {'; '.join(scores)}")
        gain = [_get(rows, f"exact heads: {n}", MONTHLY_YEAR, "rmse_mm") for n in s.ablation]
        if len(gain) == 2 and np.isfinite(gain).all():
            lines.append("with exact heads the lag shift "
                         + (f"lowers the RMSE by {gain[0] - gain[1]:.2f} mm" if gain[1] < gain[0]
                            else f"does not lower the RMSE ({gain[0] - gain[1]:+.2f} mm)")
                         + ": the interpolated heads are "
                         + ("part of what hides the lag effect" if gain[0] - gain[1] >
                            _get(rows, "am-gru", MONTHLY_YEAR, "rmse_mm")
                            - _get(rows, "lag-am-gru", MONTHLY_YEAR, "rmse_mm")
                            else "not what hides it"))
    elif s.ablation_note:
        lines.append(s.ablation_note)
    return lines


def monthly_claims(s: Scored) -> list[dict]:
    table = monthly_table(s) if s.runs else None
    row = lag_claim(table, s.runs)
    if not_reproduced(row):
        row["evidence"] += lag_evidence(s)
    return [lag_time_claim(s.case), row]


# -- case study 3: pc-rnn with and without n, MODFLOW-SUB, RNN-CNN ---------------------

def validation_cells(s: Scored):
    """The split whose test part is the cells that never trained, at every time: the
    seminar's 30 % validation points (the bench's test part also holds the training
    cells' months after the split date, the forecast)."""
    from engine.split import Split

    seen = (s.split.train_mask(s.case) | s.split.validation_mask(s.case)).any(axis=1)
    ids = np.asarray(s.case.cells.ids).astype(str)[~seen]
    return Split("cells", validation_fraction=0.0, test_ids=tuple(ids))


def validation_table(s: Scored) -> pd.DataFrame:
    """The evaluator's table of the solvers on ``validation_cells``."""
    mask = validation_cells(s).test_mask(s.case)
    observed = s.case.observations.displacement
    return pd.concat([evaluate(result, observed, mask, part="validation cells")
                      for result in _scored_results(s).values()], ignore_index=True)


def zone_rows(s: Scored) -> list[dict]:
    """Per solver (and the truth) and zone, on the validation cells: per cell r (10th,
    50th, 90th percentile), pooled cumulative R² and RMSE; on the whole test part: the
    skill horizon and the skills at HORIZON_MONTHS (the truth's from its own forecasts)."""
    from engine.horizon import horizon_scores, skill_horizon

    observed = s.case.observations.displacement
    test = s.split.test_mask(s.case)
    validation = validation_cells(s).test_mask(s.case)
    table = validation_table(s)
    rows = []
    for name, result in _scored_results(s).items():
        per = cell_metrics(result, observed, validation)
        per = per[(per.series == "cumulative") & np.isfinite(per.pearson_r)]
        for zone in ("all",) + ZONES:
            r = per.pearson_r if zone == "all" else per.pearson_r[per.zone == zone]
            if len(r):
                rows += [_row(s.protocol.name, name, zone, f"r_p{q}", np.percentile(r, q),
                              len(r)) for q in (10, 50, 90)]
            rows += [_row(s.protocol.name, name, zone, m,
                          value(table, name, "cumulative", m, zone)) for m in ("r2", "rmse_mm")]
        if name in s.horizons:
            curve = s.horizons[name]
            scores, months = curve.scores, curve.months
        elif name == "truth":
            scores = horizon_scores(result.displacement, observed, test, s.max_horizon,
                                    reference=s.runs["trend"][0].displacement)
            months = skill_horizon(scores, s.skill)
        else:
            continue
        at = np.flatnonzero(scores["h"] == HORIZON_MONTHS)
        rows.append(_row(s.protocol.name, name, "all", "horizon_months", months))
        for key in ("skill_persistence", "skill_reference"):
            rows.append(_row(s.protocol.name, name, f"h={HORIZON_MONTHS}", key,
                             scores[key][at[0]] if len(at) else np.nan))
    return rows


def zone_markdown(rows) -> str:
    lines = ["| solver | " + " | ".join(f"{z}: r per cell 10-90 % / cum. R² / RMSE (mm)"
                                         for z in ZONES)
             + f" | skill horizon (months) | skill at {HORIZON_MONTHS} months over "
             "persistence / trend |", "|" + "---|" * (3 + len(ZONES))]
    for solver in dict.fromkeys(r["solver"] for r in rows):
        def g(where, metric, solver=solver):
            return _get(rows, solver, where, metric)
        parts = [f"{_fmt(g(z, 'r_p10'))}-{_fmt(g(z, 'r_p90'))} / {_fmt(g(z, 'r2'), 3)} / "
                 f"{_fmt(g(z, 'rmse_mm'), 1)}" for z in ZONES]
        at = f"h={HORIZON_MONTHS}"
        lines.append(f"| {solver} | " + " | ".join(parts)
                     + f" | {_fmt(g('all', 'horizon_months'), 0)} | "
                     f"{_fmt(g(at, 'skill_persistence'))} / {_fmt(g(at, 'skill_reference'))} |")
    return "\n".join(lines) + "\n"


def coupled_claims(s: Scored) -> list[dict]:
    from engine.evaluate import pooled_metrics

    cells = validation_cells(s) if s.runs else s.split
    rows = [*pc_rnn_claims(validation_table(s) if s.runs else None, s.runs),
            horizon_claim(s.table, s.runs, s.threshold, s.skill),
            zone_correlation_claim(s.case, cells, s.runs)]
    if not any(not_reproduced(r) for r in rows):
        return rows
    table = zone_rows(s)
    physics = physics_reference(s.runs)
    mask = cells.test_mask(s.case)

    def truth_scores(name) -> dict:
        return pooled_metrics(np.where(mask, s.runs[name][0].displacement, np.nan),
                              s.truth.displacement)

    def against_truth(name) -> str:
        scores = truth_scores(name)
        return f"{name} RMSE {_fmt(scores['rmse_mm'], 1)} mm, R² {_fmt(scores['r2'], 3)}"

    for row, reference in zip(rows[:3], (physics, "rnn-cnn", "pc-rnn-linear")):
        if not not_reproduced(row):
            continue
        if s.truth is None:
            row["evidence"].append(_truth_missing())
        else:
            row["evidence"].append("against the noise-free truth on the validation cells: "
                                   f"{against_truth('pc-rnn')}; {against_truth(reference)}")
            closer = [truth_scores(n)["rmse_mm"] for n in ("pc-rnn", reference)]
            row["evidence"].append(f"{'pc-rnn' if closer[0] < closer[1] else reference} is the "
                                   "closer to the truth")
        if reference == physics:
            row["evidence"].append(f"{physics} runs the case's prior sediments and "
                                   "interpolated heads, uncalibrated; the seminar's "
                                   "MODFLOW-SUB model was calibrated")
        if reference == "pc-rnn-linear":
            n = s.runs["pc-rnn"][1]["fit_report"].get("exponent_n", np.nan)
            row["evidence"].append(f"pc-rnn's fitted nonlinear factor n = {_fmt(n)} (1: the "
                                   "linear model): where n stays near 1 the two models coincide")
    horizon, zone = rows[3], rows[4]
    at = f"h={HORIZON_MONTHS}"
    if not_reproduced(horizon):
        if s.truth is None:
            horizon["evidence"].append(_truth_missing())
        else:
            kept = [_get(table, "truth", at, k) for k in ("skill_persistence", "skill_reference")]
            horizon["evidence"] += [
                f"the noise-free truth's own forecasts at {HORIZON_MONTHS} months keep skill "
                f"{_fmt(kept[0])} over persistence and {_fmt(kept[1])} over the trend (its "
                f"skill horizon {_fmt(_get(table, 'truth', 'all', 'horizon_months'), 0)} "
                "months): the most a model can keep against these observations",
                f"even the truth keeps less than {s.skill:g} there: the twin's record, not the "
                "model, bars the claim" if min(kept) < s.skill else
                f"the truth keeps {s.skill:g} there: the shortfall is the model's"]
    if not_reproduced(zone):
        if s.truth is None:
            zone["evidence"].append(_truth_missing())
        else:
            short = [z for z, (lo, _) in ZONE_R_RANGES.items()
                     if not _get(table, "truth", z, "r_p10") >= lo - 0.05]
            zone["evidence"] += [
                "the noise-free truth's per-cell r against the observations, 10-90 %: "
                + ", ".join(f"{z} {_fmt(_get(table, 'truth', z, 'r_p10'))}-"
                            f"{_fmt(_get(table, 'truth', z, 'r_p90'))}" for z in ZONE_R_RANGES)
                + " (the ceiling the noise leaves)",
                f"the truth itself falls short of the seminar's range in {', '.join(short)}: "
                "there the observations' noise bounds the correlation of the cells that "
                "change least, whatever the model" if short else
                "the truth reaches the seminar's range in every zone: the shortfall is the "
                "model's"]
    return rows


# -- the specs ---------------------------------------------------------------------------

PROTOCOLS = {p.name: p for p in (
    Protocol(
        name="seminar-1-gw-lstm",
        study="case study 1: GW-LSTM (geographically weighted LSTM)",
        period=("2003-01", "2010-12"),
        solvers=("gw-lstm",),
        inputs={"gw-lstm": f"head_change@{STUDY},inelastic_storage@{STUDY}"},
        inputs_text="head change of the confined aquifers and their inelastic specific "
                    "storage (the seminar's inputs), at each cell and its geographically "
                    "weighted neighbours",
        split=NORTH_POINTS,
        split_text=f"the {POINTS} validation points: test cells in the twin's {NORTH_ZONE} "
                   "zone ([zones_km] of its settings) whose observed rate over the period "
                   f"is severe (< {ZONE_LIMITS[0]:g} mm/yr): the fastest-subsiding one, then "
                   "each time the one farthest from those chosen (so they spread over the "
                   "zone); every other cell trains",
        metric_text="R² (1 - SSE/SST) of cumulative subsidence at each validation point over "
                    "the period",
        reproduces="the seminar's period, inputs, hyperparameters (4 hidden layers, 64 "
                   "units, time step 36) and metric, with four validation points in the "
                   "north subsidence zone",
        differs=("the twin's points, not the seminar's four (which it does not locate); "
                 "chosen from the observed rates as stated",
                 "early stopping holds 20 % of the training cells (the seminar gives no "
                 "validation share for this case)"),
        table=points_rows, markdown=points_markdown, claims=points_claims),
    Protocol(
        name="seminar-2-am-gru",
        study="case study 2: AM-GRU vs the lag-aware AM-GRU",
        period=("2011-01", "2021-12"),
        solvers=("am-gru", "lag-am-gru"),
        inputs={"am-gru": f"head_change@{STUDY}",
                "lag-am-gru": f"head_change@{STUDY},lagged_head_change@{STUDY}"},
        inputs_text="heads of the three confined aquifers (am-gru), and the same heads with "
                    "the heads shifted by each cell's lag time tau = (b_equiv/2)^2 Sskv/Kv "
                    "(lag-am-gru), from the case's interbeds",
        split="spatial:0.7",
        split_text="7:3: a seeded 70 % of the cells train (20 % of them for early "
                   "stopping), 30 % test",
        metric_text=f"RMSE and R² of the monthly subsidence in {MONTHLY_YEAR} on the test "
                    "cells (the change between consecutive observations, January's from the "
                    "last one before it)",
        reproduces="the seminar's period, inputs (with and without the lag shift), 7:3 "
                   "split, hyperparameters (learning rate 0.001, 3 hidden layers, batch 16, "
                   "500 epochs, Adam) and metric",
        differs=("heads enter as their change since the first month of the period (a "
                 "per-cell offset less than the level the seminar gives)",
                 "lag times from the case's prior interbeds (the seminar: its 3D geological "
                 "model)"),
        table=monthly_rows, markdown=monthly_markdown, claims=monthly_claims,
        ablation=("am-gru", "lag-am-gru")),
    Protocol(
        name="seminar-3-pc-rnn",
        study="case study 3: the physics-constrained RNN with and without n, against "
              "MODFLOW-SUB and RNN-CNN",
        period=("2011-01", "2024-12"),
        solvers=("pc-rnn", "pc-rnn-linear", "mf6-csub", "rnn-cnn"),
        inputs={"pc-rnn": f"stress_load@{STUDY}", "pc-rnn-linear": f"stress_load@{STUDY}",
                "rnn-cnn": f"head_change@{STUDY},thickness@{STUDY}"},
        inputs_text="monthly heads of the three confined aquifers and their cumulative "
                    "compressible thickness: joined as the effective-stress load H dsigma' "
                    "for pc-rnn and pc-rnn-linear (the physics cell's input), side by side "
                    "for rnn-cnn; mf6-csub (MODFLOW 6 CSUB, SUB's successor) runs every "
                    "aquifer's beds",
        split="both:0.7:2022-12",
        split_text="70 % of the twin's PS points (already thinned: one per scatterer "
                   "cluster) train over 2011-2022 (20 % of them for early stopping, the "
                   "seminar's 8:2); the other 30 % test over the whole period, every point "
                   "over 2023-2024",
        metric_text="per rate zone (seminar's: rebound > 0, moderate 0 to -30, severe < -30 "
                    "mm/yr), on the 30 % validation cells over the whole period: the "
                    "correlation of simulated and observed cumulative subsidence per cell, "
                    "cumulative R² and RMSE; predictive timeliness on the whole test part "
                    "(the validation cells and every cell's 2023-2024): the skill horizon "
                    "(engine.horizon) and the skills at 19 months",
        reproduces="the seminar's training period 2011-2022, inputs, 70/30 split of thinned "
                   "PS, hyperparameters (learning rate 0.001, batch 16, 2000 epochs, 7 "
                   "hidden layers for the coupled model, 8:2) and zones",
        differs=("MODFLOW 6 CSUB in place of MODFLOW-2005 SUB: mf-sub fails to converge on "
                 "the small twin's spin-up (MODFLOW-NWT, the first monthly stress period) "
                 "and does not iterate its delay beds; where both run (the tiny twin) they "
                 "agree within 0.08 mm",
                 "the MODFLOW model runs the case's prior sediments and interpolated heads, "
                 "not calibrated as the seminar's was",
                 "timeliness is judged by skill over persistence and over the trend at "
                 "19 months (the seminar does not define its reliability)",
                 "the period runs on to 2024-12, so that forecasts past the training period "
                 "are scored"),
        table=zone_rows, markdown=zone_markdown, claims=coupled_claims),
)}


# -- command line and resolution ------------------------------------------------------

def protocol(name: str) -> Protocol:
    """The protocol named ``name``, refused naming --protocol with the known names."""
    if name not in PROTOCOLS:
        raise InputError("--protocol", str(name), f"unknown protocol{suggest(name, PROTOCOLS)}"
                         f"; known: {', '.join(PROTOCOLS)}, {ALL}")
    return PROTOCOLS[name]


def check_flags(name: str, solvers, split_text, options, preset, zones) -> None:
    """Refuse, before any work, what a protocol fixes: solvers, split, solver options and
    zones, and any preset but ``fast`` (a quick check)."""
    given = {"--solvers": solvers, "--split": split_text, "--option": options or None,
             "--zones": zones}
    for flag, v in given.items():
        if v is not None:
            shown = ",".join(v) if isinstance(v, (dict, list, tuple)) else str(v)
            raise InputError(flag, shown,
                             f"protocol {name} fixes {flag.lstrip('-')}; drop the flag "
                             "(or run without --protocol)")
    if preset not in (None, "fast", "seminar"):
        raise InputError("--preset", str(preset), f"protocol {name} runs the seminar's "
                         "hyperparameters; only --preset fast (a quick check) may replace them")


def _study_features(text: str, case) -> str:
    aquifers, _ = study_aquifers(case)
    return text.replace(STUDY, "+".join(case.aquifer_names[a] for a in aquifers))


def north_points(case, manifest) -> tuple[tuple[str, ...], str]:
    """The ids of the POINTS validation points of case study 1 on ``case`` (already cut
    to its period) and how they were chosen (see the protocol's split_text)."""
    from cases.beijing.domain import Domain
    from cases.beijing.settings import load_settings
    from engine.app.whatif.cases import twin_record

    record = twin_record(manifest)
    domain = Domain.create(load_settings(record["settings"]), int(record["seed"]))
    inside = domain.in_zone(NORTH_ZONE, case.cells.x, case.cells.y)
    observed = case.observations.displacement
    rate = linear_rate(case.days, observed, np.isfinite(observed)) * M_TO_MM * DAYS_PER_YEAR
    inside &= np.isfinite(rate)
    if inside.sum() < POINTS:
        raise InputError(manifest, "cells", f"the twin's {NORTH_ZONE} zone holds "
                         f"{int(inside.sum())} observed cells; protocol seminar-1-gw-lstm "
                         f"needs {POINTS}")
    severe = inside & (rate < ZONE_LIMITS[0])
    # too few severe cells (a tiny twin): the fastest-subsiding cells of the zone
    pool = np.flatnonzero(severe) if severe.sum() >= POINTS else \
        np.flatnonzero(inside)[np.argsort(rate[inside])[:POINTS]]
    xy = np.column_stack([case.cells.x, case.cells.y])[pool]
    chosen = [int(np.argmin(rate[pool]))]
    while len(chosen) < POINTS:
        distance = np.min(np.linalg.norm(xy[:, None] - xy[chosen][None], axis=2), axis=1)
        chosen.append(int(np.argmax(distance)))
    ids = tuple(str(i) for i in np.asarray(case.cells.ids)[pool[chosen]])
    listed = ", ".join(f"{i} ({rate[pool[k]]:.0f} mm/yr)" for i, k in zip(ids, chosen))
    note = (f"validation points: {listed} of {int(severe.sum())} severe cells in the {NORTH_ZONE} zone"
            + ("" if severe.sum() >= POINTS else " (fewer than four: the fastest-subsiding "
               "cells of the zone instead)"))
    return ids, note


def resolve(spec: Protocol, case, manifest, preset, seed: int) -> Resolved:
    """``spec`` on ``case`` (the twin, whole): refused naming the case file unless the
    case asks for the seminar's claims and spans the protocol's period."""
    from engine.app.bench.claims import requested
    from engine.registry import solver_class
    from engine.split import Split
    from surrogates.features import FeatureSet

    if not requested(case):
        raise InputError(manifest, "study.claims", f"protocol {spec.name} reproduces a case "
                         "study of the seminar: it runs on a case that asks for its claims "
                         '([study] claims = "zhu-beijing-seminar"; the twin beijing:SIZE does)')
    first, last = (np.datetime64(d, "M") for d in spec.period)
    months = case.times.astype("datetime64[M]")
    if months[0] > first or months[-1] < last:
        raise InputError(manifest, "time", f"the case spans {months[0]} .. {months[-1]}; "
                         f"protocol {spec.name} needs {first} .. {last}")
    cut = case.window(*spec.period)
    notes = []
    if spec.split == NORTH_POINTS:
        ids, note = north_points(cut, manifest)
        split = Split("cells", validation_fraction=spec.validation_fraction, seed=seed,
                      test_ids=ids)
        notes.append(note)
    else:
        split = Split.parse(spec.split, cut, seed=seed,
                            validation_fraction=spec.validation_fraction)
    options = {}
    for name in spec.solvers:
        solver_class(name)
        if name in spec.inputs:
            features = _study_features(spec.inputs[name], cut)
            FeatureSet(features.split(",")).selected(cut.aquifer_names)
            options[name] = {"features": features}
        else:
            options[name] = {}
    chosen = preset or spec.preset
    if chosen != spec.preset:
        notes.append(f"preset {chosen} instead of the protocol's {spec.preset}: a quick "
                     "check, not the seminar's hyperparameters")
    return Resolved(spec, cut, split, list(spec.solvers), options, chosen, notes)


# -- after every solver predicted --------------------------------------------------------

def claims(scored: Scored) -> list[dict]:
    """The whole claims table of a protocol run: its own claims with their evidence, the
    others' as not tested (what would test them), in the seminar's order."""
    rows = []
    for spec in PROTOCOLS.values():
        if spec is scored.protocol:
            rows += spec.claims(scored)
            continue
        empty = replace(scored, protocol=spec, runs={}, ablation={}, truth=None)
        rows += [untested(r, f"run --protocol {spec.name}")
                 if r["verdict"].startswith("not tested") else r for r in spec.claims(empty)]
    return rows


def section(resolved: Resolved, rows: list[dict]) -> str:
    """The report's protocol section: what it runs, what it reproduces of the seminar and
    what differs, and its table."""
    p = resolved.protocol
    case = resolved.case
    inputs = "; ".join(f"{n}: `{o['features']}`" for n, o in resolved.options.items()
                       if "features" in o)
    differs = list(p.differs) + [n for n in resolved.notes if n.startswith("preset ")]
    lines = [f"## Protocol {p.name}", "",
             f"The seminar's {p.study}, run on the twin.", "",
             f"- period: {str(case.times[0])[:7]} .. {str(case.times[-1])[:7]} (the case cut "
             "to it: earlier heads are the spin-up, the observations are rebased to its "
             "first month)",
             f"- inputs: {p.inputs_text} ({inputs})",
             f"- split: {p.split_text}",
             *[f"- {n}" for n in resolved.notes if not n.startswith("preset ")],
             f"- hyperparameters: preset {resolved.preset}",
             f"- metric: {p.metric_text}",
             f"- reproduces: {p.reproduces}",
             "- differs from the seminar:", *[f"  - {d}" for d in differs], "",
             f"### {p.name}: the protocol's table", "",
             "\"truth\": the twin's noise-free truth scored as a solver (read after every "
             "solver predicted)" + ("; \"exact heads: NAME\": the ablation's refits on "
                                    "the truth's heads" if p.ablation else "") + ".", "",
             p.markdown(rows)]
    return "\n".join(lines) + "\n"
