"""The two cases of a what-if, baseline and scenario, written to DIR/cases/ (each
folder replaced atomically): a twin made again under each scenario file (its flow model
re-run), or any other case continued seasonally with the files' head offsets added."""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine import atomic
from engine.errors import InputError
from engine.scenario import parse_month, parse_scenario, read_scenario_table

GENERATOR_RECORD = "generator.json"


@dataclass(frozen=True)
class Cases:
    """The baseline and scenario case files and what the summary says about them."""

    case_name: str                # the case CASE names
    baseline: Path                # manifests
    scenario: Path
    baseline_name: str
    scenario_name: str
    baseline_file: str | None
    scenario_file: str
    description: str
    heads: str                    # "flow model" | "head transforms"
    start: np.datetime64          # the scenario start (datetime64[D], a month start)
    spread: dict                  # the case's prior spread (ln-standard deviations)
    seconds: float


def default_baseline() -> Path:
    import cases.beijing

    return Path(cases.beijing.__file__).parent / "scenarios" / "business-as-usual.toml"


def case_manifest(path) -> Path:
    """CASE as given on the command line: a folder with case.toml, a manifest, or a
    built-in twin ``beijing:<size>[:<seed>]`` (made once, see ``engine.app.bench``)."""
    if str(path).startswith("beijing:"):
        from engine.app.bench import resolve_case

        return resolve_case(str(path))
    path = Path(path)
    manifest = path / "case.toml" if path.is_dir() else path
    if not manifest.is_file():
        raise InputError(path, "(file)", "no such case: give a case folder (with "
                                         "case.toml) or a case manifest")
    return manifest


def is_twin(manifest: Path) -> bool:
    """Whether the case was made by a generator whatif can re-run under a scenario."""
    return (manifest.parent / GENERATOR_RECORD).is_file()


def scenario_start(scenario, after: np.datetime64) -> np.datetime64:
    """The month the scenario begins: its earliest rule start; a rule without a start
    (or a scenario without rules) counts from ``after``, the month after the history."""
    rules = scenario.pumping_rules + scenario.recharge_rules + scenario.head_rules
    return min([after if r.start is None else r.start for r in rules] or [after])


def _until(until, scenario, scenario_path, last: np.datetime64, what: str) -> np.datetime64:
    """The month to run to: --until, else the scenario file's ``until``; after ``last``."""
    if until is not None:
        end = np.datetime64(parse_month(until, "command line", "--until"), "M")
        source, field = "command line", "--until"
    elif scenario.until is not None:
        end, source, field = np.datetime64(scenario.until, "M"), scenario_path, "until"
    else:
        raise InputError("command line", "--until", f"missing: {scenario_path} has no "
                         "until either; give the month to run to, e.g. --until 2035-12")
    if end <= last:
        raise InputError(source, field, f"{end} is not after the last month of {what} "
                         f"({last})")
    return end


def _made(folder: Path, make) -> Path:
    """The manifest that ``make(folder being written)`` returns (a path, or a summary
    with "manifest"), once its folder has atomically replaced ``folder``: an
    interrupted run never leaves a half-written case where a whole one was."""
    with atomic.replacing_folder(folder) as partial:
        made = make(partial)
        name = Path(made["manifest"] if isinstance(made, dict) else made).name
    return folder / name


def _case_name(manifest: Path) -> str:
    """The name in a case manifest (without loading its arrays)."""
    try:
        return str(tomllib.loads(manifest.read_text(encoding="utf-8"))["name"])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise InputError(manifest, "name", f"cannot be read ({exc})") from None


# -- a twin: its flow model re-run under each file ---------------------------------------

def twin_record(manifest: Path) -> dict:
    """The generator record beside a twin's ``manifest`` (size, seed, heads, settings,
    prior_spread, ...), refused naming the file when it is not one."""
    record_path = manifest.parent / GENERATOR_RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        missing = [key for key in ("size", "seed", "heads", "settings") if key not in record]
        if missing:
            raise KeyError(missing[0])
        record["prior_spread"] = dict(record["prior_spread"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(record_path, "(file)", f"not a twin generator record ({exc})") \
            from None
    if record.get("generator") != "beijing":
        raise InputError(record_path, "generator", f'"{record.get("generator")}" is not a '
                         'generator landsub can re-run (known: "beijing")')
    return record


def twin_cases(manifest: Path, scenario_path, baseline_path, until, out: Path,
               log) -> Cases:
    """The twin of ``manifest`` made again under the baseline and the scenario."""
    from cases.beijing.domain import Domain
    from cases.beijing.make import make_twin
    from cases.beijing.scenario import load_scenario
    from cases.beijing.settings import load_settings

    started = time.perf_counter()
    record = twin_record(manifest)
    size, seed, heads = record["size"], record["seed"], record["heads"]
    settings_path, spread = record["settings"], record["prior_spread"]
    settings = load_settings(settings_path)
    history_end = np.datetime64(settings["time"]["history_end"], "M")
    baseline_path = Path(baseline_path) if baseline_path else default_baseline()
    # read both files before the first (slow) twin, so that a bad one fails at once
    domain = Domain.create(settings, seed)
    scenario = load_scenario(scenario_path, domain)
    baseline = load_scenario(baseline_path, domain)
    end = _until(until, scenario, scenario_path, history_end, "the history of the twin")
    made = {}
    for role, path, parsed in (("baseline", baseline_path, baseline),
                               ("scenario", scenario_path, scenario)):
        log(f"making the {role} twin ({parsed.name}, {size}, seed {seed}) to {end}")
        made[role] = _made(out / "cases" / role, lambda folder, p=path: make_twin(
            folder, size, seed, heads, p, str(end), settings_path, log=lambda _: None))
    return Cases(_case_name(manifest), made["baseline"], made["scenario"], baseline.name,
                 scenario.name, str(baseline_path), str(scenario_path), scenario.description,
                 "flow model", scenario_start(scenario, (history_end + 1)
                                              .astype("datetime64[D]")),
                 spread, time.perf_counter() - started)


# -- any other case: head transforms --------------------------------------------------------

def read_head_scenario(path, case):
    """The scenario file at ``path`` for a case without a flow model: [[heads]] rules
    only, and no zones but the whole area (the core's default)."""
    raw = read_scenario_table(path)
    for section in ("pumping", "recharge"):
        if raw.get(section):
            raise InputError(path, f"{section}[0]", f"case {case.name} has no flow model, "
                             f"so a [[{section}]] rule cannot be applied; only [[heads]] "
                             "rules (head transforms) apply to it (pumping and recharge "
                             "rules need a Beijing twin, whose flow model is re-run)")
    return parse_scenario(raw, Path(path), case.aquifer_names)


def continued(case, until: np.datetime64):
    """``case`` continued to the month ``until``: the heads of every aquifer repeat its
    last 12 months (month k after the end takes month T - 12 + (k - 1) mod 12); observed
    displacement is NaN after the end. Needs a monthly axis of month starts."""
    from cases.beijing.make import month_axis

    source = case.source or case.name
    months = case.times.astype("datetime64[M]")
    if (months.astype("datetime64[D]") != case.times).any() or (np.diff(months) != 1).any():
        raise InputError(source, "time", "the what-if continuation needs a monthly axis "
                         "of month starts (freq = \"MS\"); this case's runs "
                         f"{case.times[0]}, {case.times[1] if case.n_times > 1 else ''}...")
    if case.n_times < 12:
        raise InputError(source, "time.periods", f"{case.n_times} months: the seasonal "
                         "continuation repeats the last 12 months; the case needs >= 12")
    extra = month_axis(months[-1] + 1, until)
    repeat = case.n_times - 12 + np.arange(len(extra)) % 12
    aquifers = tuple(replace(a, head=np.concatenate([a.head, a.head[:, repeat]], axis=1))
                     for a in case.aquifers)
    observed = case.observations.displacement
    if observed is not None:
        observed = np.concatenate([observed, np.full((case.n_cells, len(extra)), np.nan)],
                                  axis=1)
    return replace(case, times=np.concatenate([case.times, extra]), aquifers=aquifers,
                   observations=replace(case.observations, displacement=observed))


def with_head_offsets(case, scenario, name: str):
    """``case`` with the scenario's head offsets added (m) and the given name."""
    if scenario is None:
        return replace(case, name=name)
    offsets = scenario.head_offsets(len(case.aquifers), case.cells.x, case.cells.y,
                                    case.times)
    return replace(case, name=name, aquifers=tuple(
        replace(a, head=a.head + offsets[i]) for i, a in enumerate(case.aquifers)))


def transformed_cases(manifest: Path, scenario_path, baseline_path, until, out: Path,
                      spread: dict, log) -> Cases:
    """Head transforms of a case without a flow model (see the package docstring)."""
    from cases.beijing.store import write_case_files
    from engine.caseio import load_case

    started = time.perf_counter()
    case = load_case(manifest)
    scenario = read_head_scenario(scenario_path, case)
    baseline = None if baseline_path is None else read_head_scenario(baseline_path, case)
    last = np.datetime64(case.times[-1], "M")
    end = _until(until, scenario, scenario_path, last, f"case {case.name}")
    longer = continued(case, end)
    made = {}
    for role, parsed in (("baseline", baseline), ("scenario", scenario)):
        label = parsed.name if parsed is not None else "continued"
        log(f"writing the {role} case ({label}) to {end}")
        changed = with_head_offsets(longer, parsed, f"{case.name}-{label}")
        made[role] = _made(out / "cases" / role,
                           lambda folder, c=changed: write_case_files(c, folder))
    return Cases(case.name, made["baseline"], made["scenario"],
                 baseline.name if baseline else "seasonal continuation", scenario.name,
                 None if baseline_path is None else str(baseline_path), str(scenario_path),
                 scenario.description, "head transforms",
                 scenario_start(scenario, (last + 1).astype("datetime64[D]")), spread,
                 time.perf_counter() - started)
