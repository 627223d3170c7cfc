"""The README.md written with a twin's case: what is in the folder and how it was made."""

from __future__ import annotations

import numpy as np


def case_readme(case, settings: dict, command: str, heads_mode: str, scenario,
                manifest: str) -> str:
    """Markdown describing ``case`` (deterministic: no dates, no timings)."""
    obs = case.observations
    sites = len(set(obs.extensometers["site"]))
    wells = len(set(obs.wells["well"]))
    bottoms = settings["domain"]["aquifer_bottoms"]
    depths = ", ".join(f"{top:g}-{bottom:g}" for top, bottom in zip([0] + bottoms, bottoms))
    missions = ", ".join(f"{m['name']} {m['start'][:7]} to {m['end'][:7]}"
                         for m in settings["insar"]["missions"])
    if heads_mode == "interpolated":
        heads = ("interpolated from the monitoring wells, as a modeller would: monthly means, "
                 f"interior gaps up to {settings['wells']['max_fill_months']} months filled in "
                 f"time, {settings['wells']['method']} in space, per group")
    else:
        heads = "the regional flow model's own heads (exact: for ablations)"
    lines = [
        f"# {case.name}",
        "",
        "A digital twin of the Beijing Plain (about 100 km x 80 km): a physically consistent "
        "synthetic world observed the way the seminar's data were observed. Its truth (the "
        "sediments, the true heads, the true subsidence, the flow model) is in `truth/`, "
        "which no solver reads.",
        "",
        f"- made by `{command}`; the same command gives the same files, byte for byte;",
        f"- `{manifest}`: the case (schema 1, DESIGN.md): {case.n_cells} cells (PS points; "
        f"the first {sites} stand at the extensometer sites), {case.n_times} months "
        f"{case.times[0]} to {case.times[-1]}, aquifer groups "
        f"{', '.join(case.aquifer_names)} ({depths} m below the land surface);",
        f"- heads per group at every cell and month: {heads};",
        f"- spin-up (`[spinup]`, `spinup_head`): the stress history before {case.times[0]}, "
        f"{len(case.spinup_times)} times from {case.spinup_times[0]} (the predevelopment "
        "steady state; annual, then monthly), the regional flow model's heads at the cells "
        "shifted by a constant to meet the case's first heads; physics solvers run it before the first "
        "case time, so the beds start the case with their past drawdown behind them;"
        if case.spinup_times is not None else "",
        "- sediments per group (the prior): ONE equivalent delay interbed (thickness "
        "b_equiv, count, kv, sske and sskv: storage \"specific\") and the coarse skeleton, "
        "from a smoothed geological picture with errors; not the truth's several interbed "
        "systems, confining aquitards and stress-dependent storage;",
        f"- `displacement`: PS-InSAR, m, up positive, relative to {case.times[0]} "
        f"({int(np.isfinite(obs.displacement).sum())} values; {missions}; NaN without an "
        "acquisition; measurement noise, residual atmosphere, ties between missions);",
        f"- `wells`: {wells} monitoring wells, heads in m above datum (noisy, gappy);",
        f"- `extensometers`: {sites} layered extensometers, compaction per group (m, "
        "shortening positive) relative to the installation reading;",
        "- `figures/`: observed displacement maps, PS and extensometer time series, heads "
        "per group, the prior's lag time per group.",
        "",
        "Units and signs as DESIGN.md: metres, days, heads above a common datum, "
        "displacement positive up, compaction positive = shortening.",
    ]
    if scenario is not None:
        lines += ["", f"Scenario `{scenario.name}`: {scenario.description or '-'}. The "
                      "observations are those of the history (to "
                      f"{settings['time']['history_end'][:7]}); later months are not "
                      "observed."
                  + (" The heads are the wells' picture plus the scenario's flow-model "
                     "change from the history (after the history, from its last month)."
                     if heads_mode == "interpolated" else "")]
    return "\n".join(lines) + "\n"
