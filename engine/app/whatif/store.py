"""The what-if's statistics over the members and its stored outputs: whatif.h5 (the
ensemble means as Results, the bands) and summary.md (see the package docstring)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from engine.app.whatif.ensemble import PARAMETERS
from engine.evaluate import ZONE_LIMITS

BAND = (5.0, 95.0)                  # % of the members: the band's low and high edges
PERCENTILES = (BAND[0], 50.0, BAND[1])
MILESTONE_MONTHS = 24
SCORES_FILE = "truth-scores.csv"    # the scores against a twin's truth, tidy


def severe_cells(case, zones=ZONE_LIMITS) -> np.ndarray | None:
    """bool [N]: the cells whose observed rate (least squares over every observation) is
    below the severe limit of ``zones`` (mm/yr); None without observed displacement."""
    from engine.evaluate import DAYS_PER_YEAR, linear_rate, subsidence_zone

    observed = case.observations.displacement
    if observed is None or not np.isfinite(observed).any():
        return None
    rate = linear_rate(case.days, observed, np.isfinite(observed)) * 1e3 * DAYS_PER_YEAR
    return subsidence_zone(rate, zones) == "severe"


def member_statistics(difference: np.ndarray, severe: np.ndarray | None) -> dict:
    """Per member and time [M, T] (m): area mean, severe-zone mean (NaN without a zone),
    min and max over the cells of ``difference`` [M, N, T]."""
    if severe is not None and severe.any():
        severe_mean = difference[:, severe].mean(axis=1)
    else:
        severe_mean = np.full((len(difference), difference.shape[2]), np.nan)
    return {"area_mean": difference.mean(axis=1), "severe_mean": severe_mean,
            "cell_min": difference.min(axis=1), "cell_max": difference.max(axis=1)}


def milestones(times: np.ndarray, start: np.datetime64, until: np.datetime64) -> list[int]:
    """Indices of the months every MILESTONE_MONTHS from ``start`` (excluded) and of
    ``until``."""
    months = times.astype("datetime64[M]")
    first = np.datetime64(start, "M")
    wanted = [first + k for k in range(MILESTONE_MONTHS, int(until - first),
                                       MILESTONE_MONTHS)] + [until]
    return [int(np.searchsorted(months, m)) for m in wanted]


def summary_months(baseline, cases) -> list[int]:
    """The milestones of the summary and of the scores against the truth."""
    return milestones(baseline.times, cases.start, np.datetime64(baseline.times[-1], "M"))


def write_store(path: Path, outcomes, baseline, scenario, severe, about, truth=None,
                scores=None) -> None:
    """whatif.h5 at ``path`` (see the package docstring); ``truth`` [N, T] the true
    effect and ``scores`` its tidy table (``engine.app.truth.whatif_scores``), or None."""
    import h5netcdf
    import h5py

    from engine.registry import solver_class
    from engine.result import Result, add_result, write_time
    from engine.split import Split

    string = h5py.string_dtype()
    until_index = baseline.n_times - 1
    buffer = io.BytesIO()        # built in memory, as results are (engine.result)
    for o in outcomes:
        b, s = o.baseline, o.scenario
        # the members' common options (a trained member's seed is in S.band/member_seed)
        options = {k: v for k, v in o.members[0].options.items() if k != "seed"}
        common = {"options": options, "wall_seconds": o.seconds,
                  "split": (Split("none").to_dict() if solver_class(o.solver).stateful
                            else None)}
        add_result(buffer, Result.for_case(baseline, o.solver, o.kind, b.mean(axis=0),
                                           **common), f"{o.solver}.baseline", path)
        add_result(buffer, Result.for_case(scenario, o.solver, o.kind, s.mean(axis=0),
                                           **common), f"{o.solver}.scenario", path)
        difference = o.difference
        with h5netcdf.File(buffer, "a") as f:
            g = f.create_group(f"{o.solver}.band")
            g.dimensions.update(time=baseline.n_times, cell=baseline.n_cells,
                                member=len(o.members), aquifer=len(baseline.aquifers),
                                parameter=len(PARAMETERS))
            write_time(g, baseline.times)
            for name, dim, values in (
                    ("cell", "cell", [str(c) for c in baseline.cells.ids]),
                    ("aquifer", "aquifer", baseline.aquifer_names),
                    ("parameter", "parameter", list(PARAMETERS))):
                g.create_variable(name, (dim,), dtype=string,
                                  data=np.array(values, dtype=object))
            g.create_variable("member", ("member",), data=np.arange(len(o.members)))

            def variable(name, dims, values, units="m", g=g, **attrs):
                v = g.create_variable(name, dims, data=np.asarray(values, dtype=np.float64))
                v.attrs.update(units=units, **attrs)

            variable("x", ("cell",), baseline.cells.x)
            variable("y", ("cell",), baseline.cells.y)
            up = {"positive": "up", "coordinates": "x y"}
            for q, value in zip(PERCENTILES, np.percentile(difference, PERCENTILES, axis=0)):
                variable(f"p{q:02.0f}", ("cell", "time"), value,
                         long_name=f"{q:g} % of the members' scenario - baseline", **up)
            variable("mean", ("cell", "time"), difference.mean(axis=0),
                     long_name="ensemble-mean scenario - baseline", **up)
            for label, values in (("baseline", b), ("scenario", s)):
                low, high = np.percentile(values, BAND, axis=0)
                variable(f"{label}_p05", ("cell", "time"), low, **up)
                variable(f"{label}_p95", ("cell", "time"), high, **up)
            variable("difference_at_until", ("member", "cell"),
                     difference[:, :, until_index], **up)
            for name, values in member_statistics(difference, severe).items():
                variable(name, ("member", "time"), values, positive="up")
            g.create_variable("member_seed", ("member",),
                              data=np.array([m.seed for m in o.members], dtype=np.int64))
            variable("member_wall_seconds", ("member",), o.member_seconds, "s")
            variable("multipliers", ("member", "aquifer", "parameter"),
                     [m.multipliers if m.multipliers is not None
                      else np.ones((len(baseline.aquifers), len(PARAMETERS)))
                      for m in o.members], "1")
            g.attrs.update(solver=o.solver, kind=o.kind, ensemble=o.how,
                           spread=json.dumps(about["spread"], sort_keys=True),
                           severe_cells=int(0 if severe is None else severe.sum()),
                           difference="scenario - baseline displacement, m, positive = "
                                      "less subsidence")
    with h5netcdf.File(buffer, "a" if buffer.getbuffer().nbytes else "w") as f:
        f.attrs.update({key: (json.dumps(value) if isinstance(value, (dict, list))
                              else value) for key, value in about.items()})
        if truth is not None:
            _write_truth(f, baseline, truth, scores)
    Path(path).write_bytes(buffer.getbuffer())


def _write_truth(f, baseline, truth, scores) -> None:
    """Group "truth": the true effect (cell, time) and the scores (solver, month,
    metric), as in truth-scores.csv."""
    import h5py

    from engine.result import write_time

    string = h5py.string_dtype()
    g = f.create_group("truth")
    table = scores.pivot_table(index=["solver", "month"], columns="metric", values="value",
                               sort=False)
    solvers = list(dict.fromkeys(scores.solver))
    months = list(dict.fromkeys(scores.month))
    metrics = list(dict.fromkeys(scores.metric))
    g.dimensions.update(cell=baseline.n_cells, time=baseline.n_times, solver=len(solvers),
                        month=len(months), metric=len(metrics))
    write_time(g, baseline.times)
    for name, values in (("cell", [str(c) for c in baseline.cells.ids]), ("solver", solvers),
                         ("month", months), ("metric", metrics)):
        g.create_variable(name, (name,), dtype=string, data=np.array(values, dtype=object))
    effect = g.create_variable("effect", ("cell", "time"), data=truth)
    effect.attrs.update(units="m", positive="up", long_name="the twin's true scenario - "
                        "baseline displacement")
    values = np.array([[[table.loc[(s, m), k] for k in metrics] for m in months]
                       for s in solvers])
    g.create_variable("scores", ("solver", "month", "metric"), data=values).attrs.update(
        long_name="scores of each solver's effect against the truth (engine.app.truth)")


def _band(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, 5 %, 95 %) over members, mm."""
    low, high = np.percentile(values, BAND)
    return 1e3 * float(np.mean(values)), 1e3 * float(low), 1e3 * float(high)


def summary_markdown(outcomes, baseline, cases, severe, about, scores=None) -> str:
    from engine.app.truth import whatif_markdown

    until = baseline.times[-1]
    rows = summary_months(baseline, cases)
    n_severe = 0 if severe is None else int(severe.sum())
    lines = [f"# What-if: {cases.scenario_name} vs {cases.baseline_name}", "",
             f"- case: {about['case']} ({about['case_file']}), {baseline.n_cells} cells, "
             f"{baseline.times[0]} to {until}",
             f"- scenario: {cases.scenario_name} ({cases.scenario_file})"
             + (f": {cases.description}" if cases.description else ""),
             f"- baseline: {cases.baseline_name} ({cases.baseline_file or 'no file'})",
             f"- heads: {cases.heads}"
             + (" (the twin made again under each; cases in cases/)"
                if cases.heads == "flow model" else
                " (seasonal continuation: the last 12 months repeated, plus offsets)"),
             f"- scenario start {str(cases.start)[:7]}, until {str(until)[:7]}",
             f"- ensemble: {about['members']} members per solver, seed {about['seed']}; "
             f"physics spread (ln-standard deviations) {about['spread']}",
             f"- severe zone: {n_severe} cells with observed rate < "
             f"{about.get('zones', ZONE_LIMITS)[0]:g} mm/yr (--zones)" if severe is not None else
             "- severe zone: no observed displacement, not computed",
             f"- wall time: {about['wall_seconds']:.1f} s (cases {cases.seconds:.1f} s)", "",
             "Difference = scenario - baseline displacement, mm, positive = less "
             "subsidence. Each value is the ensemble mean of the members' statistic, "
             "with its 5-95 % range over the members in brackets.", ""]
    headers = ("month", "area mean", f"severe zone ({n_severe} cells)", "min over cells",
               "max over cells")
    for o in outcomes:
        stats = member_statistics(o.difference, severe)
        walls = o.member_seconds
        lines += [f"## {o.solver} ({o.kind})", "",
                  f"{len(o.members)} members: {o.how}. Wall {o.seconds:.1f} s; per member "
                  f"{min(walls):.1f}-{max(walls):.1f} s.", "",
                  "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for t in rows:
            cells = []
            for key in ("area_mean", "severe_mean", "cell_min", "cell_max"):
                values = stats[key][:, t]
                cells.append("n/a" if not np.isfinite(values).all()
                             else "{:.1f} [{:.1f}, {:.1f}]".format(*_band(values)))
            lines.append(f"| {str(baseline.times[t])[:7]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Against the hidden truth", ""]
    if scores is None:
        lines += ["No truth: the case is not a twin re-made under each scenario.", ""]
    else:
        lines += ["The twin's truth under the baseline and under the scenario (truth/ of "
                  "cases/baseline and cases/scenario), read after every solver predicted. "
                  "Model = the ensemble mean (max over cells: the members' mean of their "
                  "maximum); relative error = (model - truth) / |truth|; per-cell RMSE of "
                  "the ensemble-mean effect; band coverage = fraction of cells whose true "
                  f"effect lies within the {BAND[0]:g}-{BAND[1]:g} % band of the members "
                  f"(a calibrated band covers about {BAND[1] - BAND[0]:g} %); "
                  f"{SCORES_FILE} and whatif.h5 (group truth) hold the same numbers.", "",
                  whatif_markdown(scores)]
    return "\n".join(lines)
