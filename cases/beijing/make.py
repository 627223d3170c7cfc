"""`landsub make-case beijing`: build the Beijing Plain twin and write its case.

    landsub make-case beijing --size small --seed 0 --out DIR
        [--heads interpolated|exact] [--scenario S.toml [--until 2035-12]]
        [--settings MORE.toml] [--arrays auto|csv|hdf5]

Writes DIR/case.toml (+ CSV or HDF5 arrays, observations, README.md, figures/) that
solvers read, DIR/generator.json (how the twin was made, for `landsub whatif`), and
DIR/truth/ (truth.h5, the fact-check table, the flow model's input files and listing,
figures) that they never read. With ``[tracks] enabled`` in the settings, also two
line-of-sight tracks in DIR/tracks/ and their east-west truth in DIR/truth/tracks.h5
(``cases.beijing.tracks``); the rest is the same with or without them.

Steps: the flow model (MODFLOW 6) of the history, and of the scenario if one is given;
the truth (terzaghi, high fidelity) at the observed points and on a map grid; the
observations of the history (InSAR, wells, extensometers); the prior sediments; the
heads at the cells (interpolated from the wells, or exact) and the spin-up before the
first case time (``spinup_heads``); the files.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from cases.beijing import figures, observe
from cases.beijing.domain import Domain
from cases.beijing.factcheck import MapTruth, fact_table, markdown
from cases.beijing.fields import bilinear
from cases.beijing.prior import carried_forward, interpolated_heads, prior_materials
from cases.beijing.readme import case_readme
from cases.beijing.scenario import load_scenario
from cases.beijing.settings import load_settings, size_settings
from cases.beijing.store import write_arrays, write_case_files
from cases.beijing.streams import stream
from cases.beijing.stresses import Periods, Stresses
from cases.beijing.tracks import write_tracks
from cases.beijing.truth import DAYS_PER_MONTH, TruthFields
from cases.beijing.world import run_world
from engine.case import Aquifer, Case, Cells, Observations, Study
from engine.errors import InputError

HEADS = ("interpolated", "exact")
GENERATOR_RECORD = "generator.json"
#: What a twin made by this generator holds; raised when the case files change, so that
#: a twin made before (``engine.app.bench.resolve_case``'s cache) is made again.
#: 2: aquifers declare ``confined``, the case asks for the seminar's claims ([study]).
TWIN_VERSION = 2
#: The claims set the twin asks for: the seminar's, about the Beijing Plain it mimics.
CLAIMS = "zhu-beijing-seminar"


def month_axis(first, last) -> np.ndarray:
    """Month starts (datetime64[D]) from the month of ``first`` to that of ``last``."""
    return np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1) \
        .astype("datetime64[D]")


def build_case(name, description, times, ids, x, y, domain, heads, materials,
               observations, spinup_times=None, spinup_heads=None) -> Case:
    """The solver-visible case: heads [A, N, T], the prior (interbed, coarse) per group,
    and the spin-up heads [A, N, S] at ``spinup_times`` when given.

    Every group is declared confined, the top one too although the flow model gives it a
    water table: the truth holds every group's geostatic load constant (d sigma' = -dh,
    ``truth_case``), so that is the law the twin's observations follow. The seminar's
    per-aquifer claims are about the three groups under the top one."""
    tops, bottoms = domain.aquifer_depths()
    n = len(ids)
    aquifers = tuple(
        Aquifer(name=aq_name, head=heads[a], interbeds=(materials[a][0],),
                coarse=materials[a][1], top=np.full(n, tops[a]), bottom=np.full(n, bottoms[a]),
                spinup_head=None if spinup_heads is None else spinup_heads[a], confined=True)
        for a, aq_name in enumerate(domain.aquifer_names))
    return Case(name=name, times=times, cells=Cells(ids=ids, x=x, y=y), aquifers=aquifers,
                description=description, observations=observations,
                spinup_times=spinup_times,
                study=Study(CLAIMS, tuple(domain.aquifer_names[1:])))


def spinup_heads(world, heads: np.ndarray) -> np.ndarray:
    """[A, N, S] heads (m) at the cells before the first case time: the modeller's
    reconstruction of the stress history since the predevelopment steady state, the
    regional flow model's heads at the points (``world.spinup_heads`` on
    ``world.spinup_dates``) anchored at the case's own first heads (``heads`` [A, N, T]):
    shifted by the case's error there, so that the spin-up joins the case without a
    step and keeps the history's drawdowns (what sets the beds' state) unchanged."""
    return world.spinup_heads + (heads[:, :, :1] - world.point_heads[:, :, :1])


def _end_month(settings, scenario, scenario_path, until) -> np.datetime64:
    """The last case month: the history's end, or where the scenario runs to."""
    history_end = np.datetime64(settings["time"]["history_end"], "M")
    if until is not None and scenario is None:
        raise InputError("command line", "--until", "needs --scenario (the history ends "
                                                    f"in {history_end})")
    chosen = until if until is not None else (scenario.until if scenario else None)
    if chosen is None:
        return history_end
    try:
        end = np.datetime64(str(chosen)[:7], "M")
    except ValueError:
        raise InputError("command line", "--until", f'"{chosen}" is not a month such as '
                                                    '"2035-12"') from None
    if end < history_end:
        raise InputError("command line" if until else scenario_path,
                         "--until" if until else "until",
                         f"{end} is before the end of the history ({history_end}); a "
                         "scenario continues the history")
    return end


def make_twin(out, size="small", seed=0, heads_mode="interpolated", scenario_path=None,
              until=None, settings_path=None, arrays="auto", log=print) -> dict:
    """Build the twin and write it to ``out``; returns a summary: manifest (path),
    seconds, facts (the fact-check table of the history), case."""
    started = time.perf_counter()
    out = Path(out)
    if heads_mode not in HEADS:
        raise InputError("command line", "--heads", f'"{heads_mode}" is not one of '
                                                    f"{', '.join(HEADS)}")
    settings = load_settings(settings_path)
    sizing = size_settings(settings, size)
    domain = Domain.create(settings, seed)
    scenario = None if scenario_path is None else load_scenario(scenario_path, domain)
    end = _end_month(settings, scenario, scenario_path, until)
    history_end = np.datetime64(settings["time"]["history_end"], "M")
    history_times = month_axis(settings["time"]["case_start"], history_end)
    case_times = month_axis(settings["time"]["case_start"], end)
    truth_dir = out / "truth"
    shutil.rmtree(truth_dir, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    grid = domain.grid_of(sizing["grid_spacing"])
    map_grid = domain.grid_of(sizing["map_spacing"])
    sites = settings["extensometers"]["sites_km"]
    x, y = observe.ps_points(domain, int(sizing["points"]), stream(seed, "points"))
    ids = np.array([site["name"] for site in sites]
                   + [f"ps{k:06d}" for k in range(1, len(x) - len(sites) + 1)])
    fields = TruthFields.create(domain, seed)
    log(f"Beijing Plain twin: size {size}, seed {seed}, {len(x)} points, heads {heads_mode}"
        + (f", scenario {scenario.name} to {end}" if scenario else ""))

    def world(name, until_month, adjust, times, offsets=None):
        periods = Periods.build(settings["time"], until_month + 1)
        kw = {} if adjust is None else {"adjust": adjust}
        return run_world(name, Stresses(domain, grid, periods, seed, **kw),
                         truth_dir / "flow-model" / name, fields, x, y, map_grid.points(),
                         times, offsets, log)

    history = world("history", history_end, None, history_times)
    worlds = [history]
    if scenario is not None:
        offsets = None
        if scenario.head_rules:
            dates = Periods.build(settings["time"], end + 1).end
            offsets = lambda px, py: scenario.head_offsets(  # noqa: E731
                len(domain.aquifer_names), px, py, dates)
        worlds.append(world(scenario.name, end, scenario, case_times, offsets))
    current = worlds[-1]

    # observations of the history, on the case axis (NaN beyond the history)
    t_hist = len(history_times)
    displacement = np.full((len(x), len(case_times)), np.nan)
    displacement[:, :t_hist] = observe.insar(domain, history.point_displacement, x, y,
                                             history_times, stream(seed, "insar"))
    wells = observe.wells(domain, grid, history.heads, history.dates, history_times,
                          stream(seed, "wells"))
    extensometers = observe.extensometers(domain, history.point_compaction[:, :len(sites)],
                                          history_times, stream(seed, "extensometers"))

    if heads_mode == "exact":
        heads = current.point_heads
    else:
        heads = interpolated_heads(domain, wells, x, y, history_times)
        if scenario is not None:
            heads = carried_forward(heads, current.point_heads, history.point_heads)
    initial = bilinear(grid, history.heads[0], *domain.grid.points())
    materials = prior_materials(domain, fields, initial.reshape(-1, domain.grid.ny,
                                                                domain.grid.nx), x, y, seed)
    name = f"beijing-twin-{size}-seed{seed}" + (f"-{scenario.name}" if scenario else "")
    description = (f"Beijing Plain digital twin ({size}, seed {seed}): {len(x)} PS points, "
                   f"heads {heads_mode}"
                   + (f", scenario {scenario.name} to {end}" if scenario else ""))
    case = build_case(name, description, case_times, ids, x, y, domain, heads, materials,
                      Observations(displacement=displacement, extensometers=extensometers,
                                   wells=wells), history.spinup_dates,
                      spinup_heads(history, heads))
    manifest = write_case_files(case, out, arrays)
    write_generator_record(out, size, seed, heads_mode, settings_path, settings["prior"],
                           scenario_path, end if scenario else None)

    groups = [f"parameters/aquifer_{a}" for a in range(len(domain.aquifer_names))]
    table = fact_table(domain, MapTruth(map_grid, history.dates, history.map_displacement),
                       np.array([history.parameters[f"{g}/b_equiv"] for g in groups]),
                       np.array([history.parameters[f"{g}/lag_days"] for g in groups])
                       / DAYS_PER_MONTH, domain.aquifer_names,
                       end_year=int(str(history_end)[:4]))
    write_truth(truth_dir, worlds, case_times, ids, x, y, map_grid, table,
                {"seed": seed, "size": size, "heads": heads_mode, "settings": settings,
                 "aquifers": domain.aquifer_names})
    if settings["tracks"]["enabled"]:
        folder = write_tracks(out, truth_dir, domain, ids, x, y, history_times,
                              history.point_displacement, materials, stream(seed, "tracks"))
        log(f"wrote two line-of-sight tracks (a decomposition test bed) in {folder}")
    figures.case_figures(out / "figures", domain, case, history_times)
    figures.truth_figures(truth_dir / "figures", domain, case, current,
                          MapTruth(map_grid, current.dates, current.map_displacement),
                          len(sites))
    command = (f"landsub make-case beijing --size {size} --seed {seed} --heads {heads_mode}"
               + (f" --scenario {Path(scenario_path).name} --until {end}" if scenario
                  else ""))
    (out / "README.md").write_text(case_readme(case, settings, command, heads_mode, scenario,
                                               manifest.name), encoding="utf-8")
    seconds = time.perf_counter() - started
    (truth_dir / "generation.json").write_text(json.dumps(
        {"seconds": round(seconds, 1), "size": size, "seed": seed}, indent=1) + "\n")
    log(markdown(table))
    log(f"wrote {manifest} ({case.n_cells} cells x {case.n_times} months) and {truth_dir} "
        f"in {seconds:.1f} s")
    return {"manifest": manifest, "seconds": seconds, "facts": table, "case": case}


def write_generator_record(folder: Path, size, seed, heads_mode, settings_path, prior: dict,
                           scenario_path, until) -> None:
    """``generator.json`` beside case.toml: how to make this twin again (``landsub
    whatif`` re-runs it under scenarios) and the prior's ln-standard deviations, the
    spread of the ensembles perturbing its parameters. Paths are absolute, so the record
    holds wherever it is read from."""
    def absolute(path):
        return None if path is None else str(Path(path).resolve())

    record = {"generator": "beijing", "version": TWIN_VERSION, "size": size, "seed": seed,
              "heads": heads_mode,
              "settings": absolute(settings_path),
              "prior_spread": {"thickness": prior["thickness_error"],
                               "kv": prior["kv_error"], "storage": prior["storage_error"]},
              "scenario": absolute(scenario_path),
              "until": None if until is None else str(until)}
    (folder / GENERATOR_RECORD).write_text(json.dumps(record, indent=1) + "\n",
                                           encoding="utf-8")


def write_truth(folder: Path, worlds, case_times, ids, x, y, map_grid, table,
                about: dict) -> None:
    """truth.h5 (see its ``description`` attribute) and the fact-check table."""
    folder.mkdir(parents=True, exist_ok=True)
    mx, my = map_grid.points()
    arrays = {"points/id": ids, "points/x": x, "points/y": y,
              "times/case": np.datetime_as_string(case_times), "map/x": mx, "map/y": my,
              **worlds[0].parameters}
    for world in worlds:
        arrays.update({
            f"{world.name}/heads": world.point_heads,
            f"{world.name}/spinup_heads": world.spinup_heads,
            f"{world.name}/spinup_times": np.datetime_as_string(world.spinup_dates),
            f"{world.name}/displacement": world.point_displacement,
            f"{world.name}/displacement_at_case_start": world.displacement_at_start,
            f"{world.name}/compaction": world.point_compaction,
            f"{world.name}/map_times": np.datetime_as_string(world.dates),
            f"{world.name}/map_displacement": world.map_displacement,
        })
    write_arrays(folder / "truth.h5", arrays, attrs={
        "description": "hidden truth of the Beijing Plain twin. parameters/: the sediments "
                       "at the points per aquifer group and system. Per world (history, "
                       "and the scenario if any): heads [aquifer, cell, time] (m above "
                       "datum) on times/case, and spinup_heads [aquifer, cell, time] on "
                       "spinup_times (from the predevelopment steady state); displacement "
                       "[cell, time] (m, up positive) "
                       "and compaction [aquifer, cell, time] (m, shortening positive) from "
                       "the first case time; displacement_at_case_start [cell] (m, since "
                       "the predevelopment date); map_displacement [map cell, map_times] "
                       "(m, since the predevelopment date) on the map grid (map/x, map/y)",
        "budgets": {world.name: world.budget for world in worlds}, **about})
    table.to_csv(folder / "factcheck.csv", index=False)
    (folder / "factcheck.md").write_text(markdown(table), encoding="utf-8")
