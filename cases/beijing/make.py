"""`landsub make-case beijing`: build the Beijing Plain twin and write its case.

    landsub make-case beijing --size small --seed 0 --out DIR
        [--heads interpolated|exact] [--scenario S.toml [--until 2035-12]]
        [--settings MORE.toml] [--arrays auto|csv|hdf5]

Writes DIR/case.toml (+ CSV or HDF5 arrays, observations, README.md, figures/) that
solvers read, and DIR/truth/ (truth.h5, the fact-check table, the flow model's input
files and listing, figures) that they never read.

Steps: the flow model (MODFLOW 6) of the history, and of the scenario if one is given;
the truth (terzaghi, high fidelity) at the observed points and on a map grid; the
observations of the history (InSAR, wells, extensometers); the prior sediments; the
heads at the cells (interpolated from the wells, or exact); the files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.case import Aquifer, Case, Cells, Observations
from engine.errors import InputError, LandsubError
from cases.beijing import figures, observe
from cases.beijing.domain import Domain
from cases.beijing.factcheck import MapTruth, fact_table, markdown
from cases.beijing.fields import bilinear
from cases.beijing.flow_model import run_flow_model
from cases.beijing.prior import interpolated_heads, prior_materials
from cases.beijing.scenario import load_scenario
from cases.beijing.settings import SIZES, load_settings, size_settings
from cases.beijing.store import write_arrays, write_case_files
from cases.beijing.stresses import Periods, Stresses
from cases.beijing.streams import stream
from cases.beijing.truth import DAYS_PER_MONTH, TruthFields, truth_chunks

HEADS = ("interpolated", "exact")


@dataclass
class World:
    """One run of the twin's world (history or scenario): flow heads [P, A, ny, nx] at
    ``dates`` [P], the truth at the points and on the map grid."""

    name: str
    grid: object
    dates: np.ndarray
    heads: np.ndarray
    budget: dict
    point_heads: np.ndarray = None          # [A, N, Tc] at the case times
    point_compaction: np.ndarray = None     # [A, N, Tc] m, from the case start
    point_displacement: np.ndarray = None   # [N, Tc] m, from the case start
    point_since_start: np.ndarray = None    # [N, Tc] m, from the predevelopment date
    map_displacement: np.ndarray = None     # [M, P] m, from the predevelopment date
    sediments: list = field(default_factory=list)


def month_axis(first, last) -> np.ndarray:
    return np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1) \
        .astype("datetime64[D]")


def run_world(name, domain, grid, seed, until, adjust, folder, x, y, map_xy, case_times,
              fields, offsets=None, log=print) -> World:
    """Flow model to ``until`` (a month start) and the truth at points and map cells."""
    periods = Periods.build(domain.settings["time"], until)
    started = time.perf_counter()
    kw = {} if adjust is None else {"adjust": adjust}
    flow = run_flow_model(Stresses(domain, grid, periods, seed, **kw), folder)
    (folder / "plain.hds").unlink(missing_ok=True)   # kept at the points, in truth.h5
    log(f"  flow model ({name}): {len(periods)} periods on {grid.ny} x {grid.nx} x "
        f"{flow.heads.shape[1]} cells in {time.perf_counter() - started:.1f} s; "
        f"largest budget discrepancy {flow.budget['max_percent_discrepancy']:.3f} %")
    world = World(name, grid, flow.dates, flow.heads, flow.budget)
    started = time.perf_counter()
    index = np.searchsorted(flow.dates, case_times)
    xs = np.concatenate([x, map_xy[0]])
    ys = np.concatenate([y, map_xy[1]])
    n, a = len(x), flow.heads.shape[1]
    world.point_heads = np.empty((a, n, len(case_times)))
    world.point_compaction = np.empty((a, n, len(case_times)))
    world.point_since_start = np.empty((n, len(case_times)))
    world.map_displacement = np.empty((len(map_xy[0]), len(flow.dates)))
    for part, sediments, heads, compaction in truth_chunks(fields, grid, flow.heads,
                                                          flow.dates, xs, ys, offsets):
        ids = np.arange(part.start, part.stop)
        on_points, on_map = ids < n, ids >= n
        if on_points.any():
            cells = ids[on_points]
            world.point_heads[:, cells] = heads[:, on_points][:, :, index]
            kept = compaction[:, on_points][:, :, index]
            world.point_compaction[:, cells] = kept - kept[:, :, :1]
            world.point_since_start[cells] = -kept.sum(axis=0)
            world.sediments.append((cells, sediments, on_points))
        if on_map.any():
            world.map_displacement[ids[on_map] - n] = -compaction[:, on_map].sum(axis=0)
    world.point_displacement = world.point_since_start - world.point_since_start[:, :1]
    log(f"  truth ({name}): {len(xs)} points x {len(flow.dates)} times in "
        f"{time.perf_counter() - started:.1f} s")
    return world


def _point_parameters(world: World, n: int) -> dict:
    """The truth's sediments at the points, as arrays for truth.h5."""
    out = {}
    for cells, sed, on_points in world.sediments:
        for a in range(len(sed.interbeds)):
            systems = list(sed.interbeds[a])
            names = [f"interbeds_{k}" for k in range(len(systems))]
            if sed.aquitards[a] is not None:
                systems.append(sed.aquitards[a])
                names.append("aquitard")
            for label, material in zip(names + ["coarse"], systems + [sed.coarse[a]]):
                for key in ("thickness", "count", "kv", "cc", "cr", "void_ratio",
                            "preconsolidation_head"):
                    values = getattr(material, key)
                    if values is None:
                        continue
                    name = f"parameters/aquifer_{a}/{label}/{key}"
                    out.setdefault(name, np.empty(n))[cells] = np.asarray(values)[on_points]
            for key in ("b_equiv", "lag_days", "clay", "sskv0", "coarse_ss0"):
                name = f"parameters/aquifer_{a}/{key}"
                out.setdefault(name, np.empty(n))[cells] = getattr(sed, key)[a][on_points]
    return out


def build_case(name, description, times, ids, x, y, domain, heads, materials,
               observations) -> Case:
    tops, bottoms = domain.aquifer_depths()
    n = len(ids)
    aquifers = tuple(
        Aquifer(name=aq_name, head=heads[a], interbeds=(materials[a][0],),
                coarse=materials[a][1], top=np.full(n, tops[a]), bottom=np.full(n, bottoms[a]))
        for a, aq_name in enumerate(domain.aquifer_names))
    return Case(name=name, times=times, cells=Cells(ids=ids, x=x, y=y), aquifers=aquifers,
                description=description, observations=observations)


def make_twin(out, size="small", seed=0, heads_mode="interpolated", scenario_path=None,
              until=None, settings_path=None, arrays="auto", log=print) -> dict:
    """Build the twin and write it to ``out``; returns a summary (timings, fact table)."""
    started = time.perf_counter()
    out = Path(out)
    if heads_mode not in HEADS:
        raise InputError("command line", "--heads", f'"{heads_mode}" is not one of '
                                                    f"{', '.join(HEADS)}")
    settings = load_settings(settings_path)
    sizing = size_settings(settings, size)
    domain = Domain.create(settings, seed)
    scenario = None if scenario_path is None else load_scenario(scenario_path, domain)
    history_end = np.datetime64(settings["time"]["history_end"], "M")
    end = history_end
    if until is not None and scenario is None:
        raise InputError("command line", "--until", "needs --scenario (the history ends "
                                                    f"in {history_end})")
    if scenario is not None:
        chosen = until if until is not None else scenario.until
        if chosen is not None:
            end = np.datetime64(str(chosen)[:7], "M")
        if end < history_end:
            raise InputError("command line" if until else scenario_path,
                             "--until" if until else "until",
                             f"{end} is before the end of the history ({history_end}); a "
                             "scenario continues the history")
    history_times = month_axis(settings["time"]["case_start"], history_end)
    case_times = month_axis(settings["time"]["case_start"], end)
    truth_dir = out / "truth"
    if out.exists():
        shutil.rmtree(truth_dir, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    grid = domain.grid_of(sizing["grid_spacing"])
    map_grid = domain.grid_of(sizing["map_spacing"])
    x, y = observe.ps_points(domain, int(sizing["points"]), stream(seed, "points"))
    n_sites = len(settings["extensometers"]["sites_km"])
    ids = np.array([site["name"] for site in settings["extensometers"]["sites_km"]]
                   + [f"ps{k:06d}" for k in range(1, len(x) - n_sites + 1)])
    fields = TruthFields.create(domain, seed)
    log(f"Beijing Plain twin: size {size}, seed {seed}, {len(x)} points, heads {heads_mode}"
        + (f", scenario {scenario.name} to {end}" if scenario else ""))

    history = run_world("history", domain, grid, seed, history_end + 1, None,
                        truth_dir / "flow-model" / "history", x, y, map_grid.points(),
                        history_times, fields, log=log)
    worlds = [history]
    if scenario is not None:
        offsets = None
        if scenario.head_rules:
            offsets = (lambda px, py: scenario.head_offsets(
                len(domain.aquifer_names), px, py,
                Periods.build(settings["time"], end + 1).end))
        worlds.append(run_world(scenario.name, domain, grid, seed, end + 1, scenario,
                                truth_dir / "flow-model" / scenario.name, x, y,
                                map_grid.points(), case_times, fields, offsets, log=log))
    world = worlds[-1]

    # observations of the history, on the case axis (NaN beyond the history)
    t_hist, t_case = len(history_times), len(case_times)
    displacement = np.full((len(x), t_case), np.nan)
    displacement[:, :t_hist] = observe.insar(domain, history.point_displacement, x, y,
                                             history_times, stream(seed, "insar"))
    well_records = observe.wells(domain, grid, history.heads, history.dates, history_times,
                                 stream(seed, "wells"))
    ext = observe.extensometers(domain, history.point_compaction[:, :n_sites],
                                history_times, stream(seed, "extensometers"))
    observations = Observations(displacement=displacement, extensometers=ext,
                                wells=well_records)

    # heads at the cells
    if heads_mode == "exact":
        heads = world.point_heads
    else:
        heads = interpolated_heads(domain, well_records, x, y, history_times)
        if scenario is not None:
            # the flow model's change from the history carries the wells' picture forward
            last = np.minimum(np.arange(t_case), t_hist - 1)
            heads = heads[:, :, last] + world.point_heads - history.point_heads[:, :, last]
    initial = bilinear(grid, history.heads[0], *domain.grid.points())
    materials = prior_materials(domain, fields, initial.reshape(-1, domain.grid.ny,
                                                                domain.grid.nx), x, y, seed)
    name = f"beijing-twin-{size}-seed{seed}" + (f"-{scenario.name}" if scenario else "")
    description = (f"Beijing Plain digital twin ({size}, seed {seed}): {len(x)} PS points, "
                   f"heads {heads_mode}" + (f", scenario {scenario.name} to {end}"
                                            if scenario else ""))
    case = build_case(name, description, case_times, ids, x, y, domain, heads, materials,
                      observations)
    manifest = write_case_files(case, out, arrays)

    # the truth
    params = _point_parameters(history, len(x))
    per_group = [f"parameters/aquifer_{a}" for a in range(len(domain.aquifer_names))]
    table = fact_table(domain, MapTruth(map_grid, history.dates, history.map_displacement),
                       np.array([params[f"{g}/b_equiv"] for g in per_group]),
                       np.array([params[f"{g}/lag_days"] for g in per_group]) / DAYS_PER_MONTH,
                       domain.aquifer_names, end_year=int(str(history_end)[:4]))
    write_truth(truth_dir, domain, worlds, case_times, ids, x, y, map_grid, table, seed,
                size, heads_mode, settings)
    write_figures(out, domain, case, world, map_grid, history_times)
    (out / "README.md").write_text(case_readme(case, domain, size, seed, heads_mode,
                                                scenario, end, manifest.name),
                                   encoding="utf-8")
    seconds = time.perf_counter() - started
    (truth_dir / "generation.json").write_text(json.dumps(
        {"seconds": round(seconds, 1), "size": size, "seed": seed}, indent=1) + "\n")
    log(markdown(table))
    log(f"wrote {manifest} ({case.n_cells} cells x {case.n_times} months) and {truth_dir} "
        f"in {seconds:.1f} s")
    return {"manifest": manifest, "seconds": seconds, "facts": table, "case": case}


def write_truth(folder: Path, domain, worlds, case_times, ids, x, y, map_grid, table, seed,
                size, heads_mode, settings) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    history = worlds[0]
    arrays = {"points/id": ids, "points/x": x, "points/y": y,
              "times/case": np.datetime_as_string(case_times),
              "map/x": map_grid.points()[0], "map/y": map_grid.points()[1]}
    arrays.update(_point_parameters(history, len(x)))
    for world in worlds:
        w = world.name
        arrays.update({
            f"{w}/heads": world.point_heads,
            f"{w}/displacement": world.point_displacement,
            f"{w}/displacement_at_case_start": world.point_since_start[:, 0],
            f"{w}/compaction": world.point_compaction,
            f"{w}/map_times": np.datetime_as_string(world.dates),
            f"{w}/map_displacement": world.map_displacement,
        })
    write_arrays(folder / "truth.h5", arrays, attrs={
        "description": "hidden truth of the Beijing Plain twin: parameters at the points "
                       "(per aquifer group and system), true heads [aquifer, cell, time] "
                       "(m above datum), displacement [cell, time] (m, up positive, from "
                       "the case start; displacement_at_case_start [cell]: since the "
                       "predevelopment date), compaction "
                       "[aquifer, cell, time] (m, shortening positive, from the case start) "
                       "per world (history, scenario); map_* on the map grid",
        "seed": seed, "size": size, "heads": heads_mode,
        "budgets": {wd.name: wd.budget for wd in worlds}, "settings": settings,
        "aquifers": domain.aquifer_names})
    table.to_csv(folder / "factcheck.csv", index=False)
    (folder / "factcheck.md").write_text(markdown(table), encoding="utf-8")


def write_figures(out: Path, domain, case, world: World, map_grid, history_times) -> None:
    """Figures of what the modeller sees (out/figures) and of the truth (truth/figures)."""
    names = domain.aquifer_names
    obs = case.observations.displacement
    x, y = case.cells.x, case.cells.y
    t_hist = len(history_times)
    last = obs[:, t_hist - 1]
    i2021 = int(np.searchsorted(case.times, np.datetime64("2021-01-01")))
    figures.map_panels(out / "figures" / "insar_maps.png", domain, [
        ("PS-InSAR cumulative displacement 2003-2024 (mm)", (x, y), 1e3 * last,
         "mm", "viridis", False),
        ("PS-InSAR displacement 2021-2024 (mm, uplift > 0)", (x, y),
         1e3 * (last - obs[:, i2021]), "mm", "RdBu", True)],
        "Observed displacement")
    lag = [(0.5 * aq.interbeds[0].thickness) ** 2 * aq.interbeds[0].sskv
           / aq.interbeds[0].kv / DAYS_PER_MONTH for aq in case.aquifers]
    figures.map_panels(out / "figures" / "prior_lag_time.png", domain, [
        (f"{n}: prior lag time (months)", (x, y), lag[a], "months", "magma", False)
        for a, n in enumerate(names)], "Prior equivalent interbeds: lag time")
    ext = case.observations.extensometers
    sites = list(dict.fromkeys(ext["site"]))
    figures.series_panels(out / "figures" / "extensometers.png", [
        (site, [(ext["time"][(ext["site"] == site) & (ext["aquifer"] == a)],
                 1e3 * ext["compaction"][(ext["site"] == site) & (ext["aquifer"] == a)],
                 names[a], ".-") for a in range(len(names))]) for site in sites],
        "Layered extensometers: compaction per aquifer group", "mm")
    shown = list(range(min(3, case.n_cells))) + list(range(len(sites), min(len(sites) + 3,
                                                                          case.n_cells)))
    figures.series_panels(out / "figures" / "ps_points.png", [
        (case.cells.ids[c], [(case.times, 1e3 * obs[c], "InSAR", ".")]) for c in shown],
        "PS-InSAR time series", "mm (up +)")
    wells = case.observations.wells
    figures.series_panels(out / "figures" / "heads.png", [
        (names[a], [(case.times, case.aquifers[a].head[c], f"cell {case.cells.ids[c]}", "-")
                    for c in shown[:3]]
         + [(wells["time"][wells["well"] == w], wells["head"][wells["well"] == w], w, ".")
            for w in list(dict.fromkeys(wells["well"][wells["aquifer"] == a]))[:3]])
        for a in range(len(names))], "Heads per aquifer group: case cells and wells", "m")

    truth_dir = out / "truth" / "figures"
    mt = MapTruth(map_grid, world.dates, world.map_displacement)
    end = f"{int(str(history_times[-1])[:4]) + 1}-01-01"
    figures.map_panels(truth_dir / "truth_maps.png", domain, [
        ("true cumulative displacement 2003-2024 (mm)", map_grid,
         1e3 * mt.cumulative("2003-01-01", end), "mm", "viridis", False),
        ("true displacement 2021-2024 (mm, uplift > 0)", map_grid,
         1e3 * mt.cumulative("2021-01-01", end), "mm", "RdBu", True),
        ("true cumulative displacement since 1955 (mm)", map_grid,
         1e3 * mt.cumulative(str(world.dates[0]), end), "mm", "viridis", False),
        ("true displacement in 2012 (mm)", map_grid, 1e3 * mt.annual(2012), "mm",
         "viridis", False)], "Truth (history)")
    params = {}
    for cells, sed, on_points in world.sediments:
        for a in range(len(names)):
            params.setdefault(a, np.empty(case.n_cells))[cells] = \
                sed.lag_days[a][on_points] / DAYS_PER_MONTH
    figures.map_panels(truth_dir / "truth_lag_time.png", domain, [
        (f"{n}: true lag time of the equivalent interbed (months)", (x, y), params[a],
         "months", "magma", False) for a, n in enumerate(names)], "Truth: lag time")
    figures.series_panels(truth_dir / "truth_ps_points.png", [
        (case.cells.ids[c], [(case.times, 1e3 * obs[c], "InSAR", "."),
                             (case.times, 1e3 * world.point_displacement[c], "truth", "-")])
        for c in shown], "PS points: observed and true displacement", "mm (up +)")


def case_readme(case, domain, size, seed, heads_mode, scenario, end, manifest) -> str:
    names = ", ".join(domain.aquifer_names)
    obs = case.observations
    ext_sites = len(set(obs.extensometers["site"]))
    wells = len(set(obs.wells["well"]))
    insar = int(np.isfinite(obs.displacement).sum())
    lines = [
        f"# {case.name}",
        "",
        "A digital twin of the Beijing Plain (about 100 km x 80 km): a physically "
        "consistent synthetic world observed the way the seminar's data were observed. "
        "Its truth (the sediments, the true heads, the true subsidence) is in `truth/`, "
        "which no solver reads.",
        "",
        f"- generated by `landsub make-case beijing --size {size} --seed {seed} "
        f"--heads {heads_mode}"
        + (f" --scenario {scenario.name}.toml --until {end}" if scenario else "")
        + "`; the same command gives the same files, byte for byte;",
        f"- `{manifest}`: the case (schema 1, DESIGN.md): {case.n_cells} cells (PS points; "
        f"the first {ext_sites} stand at the extensometer sites), {case.n_times} months "
        f"{case.times[0]} to {case.times[-1]}, aquifer groups {names} "
        "(0-50, 50-100, 100-180, 180-300 m below the land surface);",
        "- heads per group at every cell and month: "
        + ("interpolated from the monitoring wells (monthly means, gaps up to "
           f"{domain.settings['wells']['max_fill_months']} months filled in time, "
           f"{domain.settings['wells']['method']} in space), what a modeller would do"
           if heads_mode == "interpolated" else
           "the regional flow model's own heads (exact; for ablations)")
        + (f"; after {str(case.times[0])[:4]}-... the history, the scenario's flow-model "
           "change is added" if scenario else "") + ";",
        "- prior sediments per group: ONE equivalent delay interbed (thickness b_equiv, "
        "count, kv, sske/sskv: storage \"specific\") and the coarse skeleton, read from a "
        "smoothed geological picture with errors; not the truth's several interbed systems, "
        "confining aquitards or stress-dependent storage;",
        f"- observations: PS-InSAR displacement (`displacement`, m, up positive, relative to "
        f"{case.times[0]}; {insar} values; ENVISAT to 2010-09, a gap, TerraSAR-X 2011-2015, "
        "Sentinel-1 2016-2024; NaN without an acquisition; noise, residual atmosphere, "
        f"mission ties), {wells} monitoring wells (`wells`, m above datum, noisy and gappy), "
        f"{ext_sites} layered extensometers (`extensometers`, compaction per group in m, "
        "shortening positive, relative to the installation reading);",
        "- `figures/`: observed displacement maps (2003-2024 and 2021-2024), PS and "
        "extensometer time series, heads per group, the prior's lag-time maps.",
        "",
        "Units and signs as DESIGN.md: metres, heads above a common datum, displacement "
        "positive up, compaction positive = shortening.",
    ]
    if scenario is not None:
        lines += ["", f"Scenario `{scenario.name}`: {scenario.description}. Observations "
                      "are the history's (to the end of 2024); later months are not observed."]
    return "\n".join(lines) + "\n"


def main_make_case(argv) -> int:
    """Entry point of `landsub make-case beijing` (argv: the generator's arguments)."""
    p = argparse.ArgumentParser(prog="landsub make-case beijing",
                                description="Build the Beijing Plain twin (see cases/beijing).")
    p.add_argument("--size", choices=SIZES, default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heads", choices=HEADS, default="interpolated",
                   help="heads at the cells: interpolated from the wells, or the flow "
                        "model's (exact)")
    p.add_argument("--scenario", help="scenario file (TOML), e.g. "
                                      "cases/beijing/scenarios/drought.toml")
    p.add_argument("--until", help="month the scenario runs to, e.g. 2035-12")
    p.add_argument("--settings", help="TOML overriding the generator settings")
    p.add_argument("--arrays", choices=("auto", "csv", "hdf5"), default="auto")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    try:
        make_twin(args.out, args.size, args.seed, args.heads, args.scenario, args.until,
                  args.settings, args.arrays)
    except LandsubError as err:
        print(f"landsub make-case beijing: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main_make_case(sys.argv[1:]))
