"""landsub for scripts: the few functions a scenario study needs, over the code paths
the command line runs (``from engine.app import api as ls``).

    case = ls.load_case("beijing:tiny")                  # or a case.toml / case folder
    split = ls.split(case, "spatial:0.7")
    lstm = ls.solver("lstm", preset="fast")              # ls.solvers() lists the names
    ls.fit(lstm, case, split, progress=True)
    ds = ls.predict(lstm, case)                          # xarray.Dataset, dates decoded
    table = ls.evaluate(ds, case, split)                 # metrics on the test part
    ls.save(lstm, "models/lstm"); lstm = ls.load("models/lstm")

Units and signs, everywhere (DESIGN.md): lengths in metres, heads in metres above the
case's datum, vertical displacement positive UP (subsidence < 0, rebound > 0), zero at
the case's first time; compaction positive = layer shortening; times are dates.

What is here is the stable surface; everything else (``engine.*``, ``surrogates.*``,
``physics.*``) is internal and may change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["load_case", "case_file", "solvers", "solver", "split", "fit", "predict", "calibrate",
           "evaluate", "scenario", "write_scenario", "apply_scenario", "whatif", "save",
           "load", "to_dataset", "open_results"]


# -- cases and splits ------------------------------------------------------------------

def load_case(spec):
    """The case ``spec`` names, validated: a case manifest (``case.toml``), a folder
    holding one, or a built-in twin ``"beijing:<size>[:<seed>]"`` (tiny, small, medium,
    full; made once into $LANDSUB_CACHE, ~5 s for tiny). Returns an ``engine.case.Case``
    (``n_cells``, ``n_times``, ``times``, ``aquifer_names``, ``observations``); bad input
    raises ``engine.errors.InputError`` naming the file, field and value."""
    from engine.app.whatif.cases import case_manifest
    from engine.caseio import load_case as load

    return load(case_manifest(spec))


def case_file(spec) -> Path:
    """The manifest path of ``spec`` (as ``load_case`` reads it): what ``whatif`` and
    ``apply_scenario`` take, and a twin's folder holds its generator record."""
    from engine.app.whatif.cases import case_manifest

    return case_manifest(spec)


def split(case, text: str = "spatial:0.7", *, seed: int = 0,
          validation_fraction: float = 0.2):
    """Which cells and times train, validate and test, as the command line spells it:
    ``"spatial:0.7"`` (70 % of the cells train, the rest test), ``"temporal:2015-01"``
    (train before that month, test after), ``"both:0.7:2015-01"`` or ``"none"``.
    ``validation_fraction`` of the training part is held for early stopping. Seeded."""
    from engine.split import Split

    return Split.parse(text, case, seed=seed, validation_fraction=validation_fraction)


# -- solvers ---------------------------------------------------------------------------

def solvers() -> list[str]:
    """The registered solver names (physics, neural, hybrid; compositions such as
    ``residual:terzaghi+lstm`` and ``calibrated:terzaghi`` are built by name too)."""
    from engine.registry import names

    return names()


def solver(name: str, **options):
    """A new solver ``name`` with ``options`` (typed values, or strings as on the command
    line's ``--option``); unknown names and options raise InputError with suggestions.
    Neural solvers take e.g. ``preset="fast"|"default"|"seminar"``, ``seed``, ``epochs``."""
    from engine.registry import parse_option, solver_class

    cls = solver_class(name)
    typed = {k: parse_option(cls, k, v) if isinstance(v, str) else v
             for k, v in options.items()}
    return cls(**typed)


def fit(model, case, split=None, *, progress: bool = False) -> dict:
    """Fit ``model`` on ``case``'s training part of ``split`` (None: every observation)
    and return its fit report (networks: epochs, best_epoch, best_loss, history...;
    calibrated physics: the posterior's summary; plain physics: nothing to fit).
    ``progress``: a tqdm bar per network trained (epoch, loss, best validation, ETA).
    Observations outside the training (and validation) part are never read."""
    from engine.app.distributed import epoch_bars
    from engine.split import Split

    with epoch_bars(model.name, enabled=progress):
        return model.fit(case, split if split is not None else Split("none"))


def predict(model, case):
    """``model``'s prediction on every cell and time of ``case`` as an xarray.Dataset
    (see ``to_dataset``); never reads observations."""
    return to_dataset(model.predict(case))


def calibrate(case, split=None, *, physics: str = "terzaghi", **options):
    """The physics solver ``calibrated:<physics>`` fitted to ``case``'s observed
    displacement (and extensometers) on the training part of ``split``: an ES-MDA
    posterior ensemble of per-cell parameters around the case's own. ``options``:
    members (64), iterations (8), seed... (``physics.calibration.solver``). Returns the
    fitted solver: ``predict`` runs it with the posterior-mean parameters, its
    ``report`` holds the posterior summary."""
    model = solver(f"calibrated:{physics}", **options)
    fit(model, case, split)
    return model


def evaluate(prediction, case, split=None, zones=None):
    """Metrics of ``prediction`` (a Dataset from ``predict``, or an engine Result)
    against ``case``'s observed displacement: on the test part of ``split``, or on every
    observation when there is none. A tidy pandas table: solver, part, series
    ("cumulative", "increment"), zone, statistic, metric (rmse_mm, r2, pearson_r,
    bias_mm: simulated minus observed, mm), value, n_cells, n_values. ``zones``: the
    rate-zone limits (severe, rebound) in mm/yr (None: the seminar's, as --zones)."""
    from engine.errors import InputError
    from engine.evaluate import ZONE_LIMITS, parse_zone_limits
    from engine.evaluate import evaluate as score
    from engine.result import Result
    from engine.split import Split

    observed = case.observations.displacement
    if observed is None:
        raise InputError(case.source or case.name, "observations.displacement",
                         "nothing observed to evaluate against")
    if not isinstance(prediction, Result):
        prediction = Result.for_case(case, prediction.attrs["solver"],
                                     prediction.attrs["kind"],
                                     prediction["displacement"].transpose("cell", "time").values)
    limits = ZONE_LIMITS if zones is None else parse_zone_limits(
        ",".join(str(v) for v in zones), "zones")
    test = (split or Split("none")).test_mask(case)
    return score(prediction, observed, test if test.any() else None,
                 part="test" if test.any() else "all", zones=limits)


def save(model, folder) -> None:
    """Write a fitted solver to ``folder`` (no pickles; ``load`` reads it back)."""
    from engine.persistence import save_model

    save_model(model, folder)


def load(folder):
    """The fitted solver saved in ``folder`` (by ``save``, ``landsub fit`` or a bench's
    ``solvers/<name>/model``); its files are checked against their recorded digests."""
    from engine.persistence import load_model

    return load_model(folder)


# -- results as xarray -----------------------------------------------------------------

def to_dataset(result):
    """An engine Result as an xarray.Dataset, laid out as the result files are:
    coordinates time (datetime64), cell (ids), x, y (m, projected), aquifer;
    ``displacement`` (cell, time) m, positive up; ``compaction`` (aquifer, cell, time) m,
    positive = shortening, when the solver gives it. Attributes: solver, kind, case,
    options and split (JSON), wall_seconds."""
    import xarray as xr

    coords = {"time": np.asarray(result.times).astype("datetime64[ns]"),
              "cell": np.asarray(result.cell_ids).astype(str),
              "x": ("cell", np.asarray(result.x, dtype=np.float64)),
              "y": ("cell", np.asarray(result.y, dtype=np.float64))}
    variables = {"displacement": (("cell", "time"), result.displacement,
                                  {"units": "m", "positive": "up"})}
    if result.compaction is not None:
        coords["aquifer"] = list(result.aquifers)
        variables["compaction"] = (("aquifer", "cell", "time"), result.compaction,
                                   {"units": "m", "positive": "shortening"})
    return xr.Dataset(variables, coords, attrs={
        "solver": result.solver, "kind": result.kind, "case": result.case,
        "options": json.dumps(result.options, default=str),
        "split": json.dumps(result.split), "wall_seconds": result.wall_seconds})


def open_results(path, group: str | None = None):
    """A result file (``landsub run``'s, a bench's results.h5 with ``group`` = solver
    name, a what-if's whatif.h5 with group "<solver>.band" ...) as an xarray.Dataset,
    read into memory, dates decoded."""
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf", group=group) as ds:
        return ds.load()


# -- scenarios and what-ifs ------------------------------------------------------------

def scenario(name: str, *, pumping=(), recharge=(), heads=(), until=None,
             description: str = "") -> dict:
    """A scenario in the scenario-file format (``engine.scenario``), built in Python:
    each rule a dict of that file's keys, e.g.

        ls.scenario("cut", until="2035-12",
                    pumping=[{"aquifer": "confined-3", "start": "2027-01",
                              "multiplier": 0.7}],
                    heads=[{"aquifer": "confined-2", "start": "2026-01",
                            "end": "2030-12", "offset": 5.0}])

    pumping and recharge multipliers (>= 0) need a flow model (a twin); heads offsets
    (m, up positive, ramped from start to end, then held) apply to any case. Validated
    when applied, against the case's aquifers and zones. ``write_scenario`` saves it."""
    table = {"name": name}
    if description:
        table["description"] = description
    if until is not None:
        table["until"] = str(until)
    for section, rules in (("pumping", pumping), ("recharge", recharge), ("heads", heads)):
        if rules:
            table[section] = [dict(rule) for rule in rules]
    return table


def write_scenario(table: dict, path) -> Path:
    """Write a scenario built by ``scenario`` as a scenario file (TOML); returns the path."""
    def value(v):
        return json.dumps(v) if isinstance(v, str) else repr(float(v)) if isinstance(
            v, float) else str(v)

    lines = [f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, list)]
    for section, rules in table.items():
        if isinstance(rules, list):
            for rule in rules:
                lines += ["", f"[[{section}]]"] + [f"{k} = {value(v)}" for k, v in rule.items()]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _scenario_file(scenario_, out: Path, role: str):
    if scenario_ is None or isinstance(scenario_, (str, Path)):
        return scenario_
    return write_scenario(scenario_, out / f"{role}-scenario.toml")


def apply_scenario(case, scenario_, out, *, until=None, baseline=None, log=print):
    """The (baseline, scenario) cases of a what-if, as ``landsub whatif`` makes them,
    written under ``out``/cases and loaded. ``case``: as ``load_case`` takes it;
    ``scenario_`` and ``baseline``: a scenario file or a ``scenario(...)`` table.
    A twin is made again under each (its flow model re-run: pumping, recharge and heads
    rules apply; baseline default business-as-usual); any other case is continued
    seasonally to ``until`` with the heads offsets added (baseline default: the
    continuation alone). Returns two engine Cases on the same cells and times."""
    from engine.app.whatif.cases import case_manifest, is_twin, transformed_cases, twin_cases
    from engine.app.whatif.ensemble import DEFAULT_SPREAD
    from engine.caseio import load_case as load

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = case_manifest(case)
    scenario_path = _scenario_file(scenario_, out, "scenario")
    baseline_path = _scenario_file(baseline, out, "baseline")
    if is_twin(manifest):
        cases = twin_cases(manifest, scenario_path, baseline_path, until, out, log)
    else:
        cases = transformed_cases(manifest, scenario_path, baseline_path, until, out,
                                  DEFAULT_SPREAD, log)
    return load(cases.baseline), load(cases.scenario)


def whatif(case, scenario_, solvers, out, *, members: int = 4, until=None, baseline=None,
           preset: str = "default", options: dict | None = None, seed: int = 0,
           scheduler: str = "local", workers: int | None = None, progress: bool = True,
           log=print) -> dict:
    """``landsub whatif``: each solver of ``solvers`` (names) as an ensemble of
    ``members`` (perturbed physics parameters, reseeded networks trained on the baseline
    history) on the baseline and scenario cases (``apply_scenario``), run as Dask tasks
    (``scheduler``, ``workers`` as in ``run_tasks``). Writes whatif.h5, summary.md and
    figures/ under ``out``. ``options``: solver -> {option: value}. Returns solver ->
    xarray.Dataset of its band: p05, p50, p95 and mean (cell, time) of the difference
    scenario - baseline (m; positive = less subsidence under the scenario),
    area_mean, severe_mean, cell_min, cell_max (member, time), difference_at_until
    (member, cell)..."""
    from engine.app.whatif import whatif as run

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = {name: {k: str(v) for k, v in opts.items()} for name, opts in (options or {}).items()}
    done = run(case, _scenario_file(scenario_, out, "scenario"), list(solvers), out,
               until=until, baseline=_scenario_file(baseline, out, "baseline"),
               members=members, preset=preset, options=texts, seed=seed,
               scheduler=scheduler, workers=workers, progress=progress, log=log)
    return {o.solver: open_results(done["out"] / "whatif.h5", group=f"{o.solver}.band")
            for o in done["outcomes"]}
