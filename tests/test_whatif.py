"""`landsub whatif` (engine.app.whatif): head transforms and the seasonal continuation of a
case without a flow model, the ensemble (perturbed physics, reseeded networks), the
outputs and their atomic replacement. Fast tests run on a small synthetic case; the
Beijing twin (flow model re-run under a pumping cut) and the Dask cluster are behind the
slow marker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from cases.synthetic import synthetic_case
from engine.app import whatif as wi
from engine.app.options import parse_solver_options
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.registry import make_solver
from engine.result import read_result

QUIET = {"progress": False, "log": lambda *args: None}
DEEP_START, DEEP_END, DEEP_OFFSET = "2009-01", "2009-12", 6.0


def _scenario(folder: Path, name: str, body: str, until: str | None = "2010-12") -> Path:
    path = folder / f"{name}.toml"
    text = f'name = "{name}"\n' + (f'until = "{until}"\n' if until else "") + body
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def generic(tmp_path_factory):
    """A 24-cell, 4-year synthetic case (2005-2008, no flow model) and scenario files."""
    root = tmp_path_factory.mktemp("whatif")
    case = synthetic_case(n_cells=24, n_months=48, seed=3)
    manifest = write_case(case, root / "case")
    files = {
        "deep": _scenario(root, "deep-up", f"""
[[heads]]
aquifer = "confined-3"
start = "{DEEP_START}"
end = "{DEEP_END}"
offset = {DEEP_OFFSET}
"""),
        "same": _scenario(root, "nothing", ""),
        "pumping": _scenario(root, "cut", """
[[heads]]
aquifer = "all"
start = "2009-01"
end = "2009-06"
offset = 1.0

[[pumping]]
aquifer = "confined-3"
multiplier = 0.7
"""),
        "zone": _scenario(root, "north", """
[[heads]]
aquifer = "confined-2"
zone = "north"
start = "2009-01"
end = "2009-06"
offset = 1.0
"""),
        "open": _scenario(root, "open", "", until=None),
    }
    return root, manifest, files


@pytest.fixture(scope="module")
def deep_run(generic):
    """terzaghi and lstm (preset fast), 3 members each, under the deep head rise."""
    root, manifest, files = generic
    out = root / "deep"
    report = wi.whatif(manifest, files["deep"], "terzaghi,lstm", out, members=3,
                       preset="fast", scheduler="serial", seed=0, **QUIET)
    return out, report


def _band(out: Path, solver: str) -> xr.Dataset:
    with xr.open_dataset(out / "whatif.h5", engine="h5netcdf", group=f"{solver}.band") as d:
        return d.load()


# -- heads -------------------------------------------------------------------------------

def test_continuation_repeats_the_last_twelve_months_exactly(generic):
    _, manifest, _ = generic
    case = load_case(manifest)
    longer = wi.continued(case, np.datetime64("2011-03", "M"))
    t = case.n_times
    # independent: month by month, calendar arithmetic in Python
    assert len(longer.times) == t + 12 * 2 + 3
    for k in range(len(longer.times)):
        year, month = divmod(2005 * 12 + k, 12)
        assert str(longer.times[k]) == f"{year:04d}-{month + 1:02d}-01"
    for old, new in zip(case.aquifers, longer.aquifers):
        assert np.array_equal(new.head[:, :t], old.head)
        for k in range(t, len(longer.times)):
            assert np.array_equal(new.head[:, k], old.head[:, t - 12 + (k - t) % 12])
    observed = longer.observations.displacement
    assert np.array_equal(observed[:, :t], case.observations.displacement)
    assert np.isnan(observed[:, t:]).all()


def test_scenario_case_adds_the_offset_ramp_exactly(deep_run):
    out, _ = deep_run
    baseline = load_case(out / "cases" / "baseline" / "case.toml")
    scenario = load_case(out / "cases" / "scenario" / "case.toml")
    assert np.array_equal(baseline.times, scenario.times)
    start, end = np.datetime64(f"{DEEP_START}-01"), np.datetime64("2009-12-31")
    for _a, (b, s) in enumerate(zip(baseline.aquifers, scenario.aquifers)):
        for k, when in enumerate(baseline.times):
            fraction = min(max((when - start) / (end - start), 0.0), 1.0)
            expected = DEEP_OFFSET * fraction if s.name == "confined-3" else 0.0
            # the CSV round trip keeps floats exactly; the sum rounds once
            assert np.allclose(s.head[:, k] - b.head[:, k], expected, rtol=0, atol=1e-12)
    # the baseline is the seasonal continuation alone
    original = load_case(out.parent / "case" / "case.toml")
    t = original.n_times
    for old, new in zip(original.aquifers, baseline.aquifers):
        assert np.array_equal(new.head[:, t:t + 12], old.head[:, t - 12:])


@pytest.mark.parametrize("which, field, words", [
    ("pumping", "pumping[0]", "no flow model"),
    ("zone", "heads[0].zone", "defines no zones"),
])
def test_rules_a_case_without_flow_model_cannot_take_are_refused(generic, tmp_path, which,
                                                                 field, words):
    _, manifest, files = generic
    with pytest.raises(InputError) as caught:
        wi.whatif(manifest, files[which], "terzaghi", tmp_path, members=1,
                  scheduler="serial", **QUIET)
    assert caught.value.source == str(files[which])
    assert caught.value.field == field
    assert words in caught.value.detail
    assert not (tmp_path / "cases").exists()


def test_until_must_follow_the_case(generic, tmp_path, capsys):
    _, manifest, files = generic
    with pytest.raises(InputError) as caught:
        wi.whatif(manifest, files["deep"], "terzaghi", tmp_path, until="2008-12",
                  scheduler="serial", **QUIET)
    assert caught.value.field == "--until" and "2008-12" in caught.value.detail
    # no until at all: named as the missing option
    code = wi.main_whatif([str(manifest), "--scenario", str(files["open"]), "--solvers",
                           "terzaghi", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("landsub whatif: error: command line: --until")


def test_command_line_errors_exit_2_with_one_line(generic, tmp_path, capsys):
    _, manifest, files = generic
    for argv in (["--solvers", "terzagi"], ["--solvers", "terzaghi", "--spread", "kv=-1"],
                 ["--solvers", "lstm", "--preset", "seminar"],
                 ["--solvers", "terzaghi", "--scheduler", "serial", "--workers", "2"],
                 ["--solvers", "terzaghi", "--members", "0"]):
        code = wi.main_whatif([str(manifest), "--scenario", str(files["deep"]),
                               "--out", str(tmp_path), *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("landsub whatif: error:")


def test_options_apply_to_every_member_of_their_solver(generic, tmp_path):
    _, manifest, files = generic
    argv = [str(manifest), "--scenario", str(files["deep"]), "--solvers", "terzaghi,trend",
            "--members", "2", "--scheduler", "serial", "--out", str(tmp_path),
            "--option", "terzaghi:nodes=9", "--option", "trend:k=2"]
    assert wi.main_whatif(argv) == 0
    path = tmp_path / "whatif.h5"
    assert read_result(path, group="terzaghi.scenario").options == {"nodes": 9, "threads": 1}
    assert read_result(path, group="trend.baseline").options == {"k": 2}
    # member 0 of a physics solver is the prior: exactly the solver built with the option
    # (which does change the numbers)
    baseline, scenario = (load_case(tmp_path / "cases" / role / "case.toml")
                          for role in ("baseline", "scenario"))
    coarse = make_solver("terzaghi", threads=1, nodes=9)
    difference = coarse.predict(scenario).displacement - coarse.predict(baseline).displacement
    assert np.array_equal(_band(tmp_path, "terzaghi")["difference_at_until"].values[0],
                          difference[:, -1])
    assert not np.array_equal(coarse.predict(scenario).displacement,
                              make_solver("terzaghi", threads=1).predict(scenario).displacement)


@pytest.mark.parametrize("option, field, words", [
    ("trend:k=2", "trend", "does not run"),
    ("terzaghi:nodes=many", "nodes", "is not an integer"),
    ("terzaghi:node=9", "node", 'did you mean "nodes"'),
    ("lstm:seed=3", "lstm:seed", "use --seed"),
    ("terzaghi=9", "terzaghi=9", "SOLVER:KEY=VALUE"),
])
def test_bad_options_are_refused_before_any_case_is_made(generic, tmp_path, option, field,
                                                         words):
    _, manifest, files = generic
    with pytest.raises(InputError) as caught:
        wi.whatif(manifest, files["deep"], "terzaghi,lstm", tmp_path, scheduler="serial",
                  options=parse_solver_options([option]), **QUIET)
    assert (caught.value.source, caught.value.field) == ("--option", field)
    assert words in caught.value.detail
    assert not (tmp_path / "cases").exists()


# -- the ensemble -------------------------------------------------------------------------

def test_perturbation_scales_the_named_parameters_only():
    case = synthetic_case(n_cells=5, n_months=13, seed=1)
    factors = np.array([[2.0, 3.0, 5.0], [1.0, 1.0, 1.0], [0.5, 7.0, 0.25]])
    changed = wi.perturbed(case, factors)
    for (thickness, kv, storage), old, new in zip(factors, case.aquifers, changed.aquifers):
        o, n = old.interbeds[0], new.interbeds[0]
        assert np.array_equal(n.thickness, o.thickness * thickness)
        assert np.array_equal(n.kv, o.kv * kv)
        assert np.array_equal(n.sske, o.sske * storage)
        assert np.array_equal(n.sskv, o.sskv * storage)
        assert np.allclose(n.sske / n.sskv, o.sske / o.sskv, rtol=1e-15)
        assert np.array_equal(n.count, o.count)
        assert np.array_equal(new.head, old.head)
    same = wi.perturbed(case, np.ones((3, 3)))
    for old, new in zip(case.aquifers, same.aquifers):
        for name in ("thickness", "kv", "sske", "sskv", "count"):
            assert np.array_equal(getattr(new.interbeds[0], name),
                                  getattr(old.interbeds[0], name))


def test_identical_scenario_gives_zero_difference_for_every_member(generic, tmp_path):
    _, manifest, files = generic
    wi.whatif(manifest, files["same"], "terzaghi,lstm", tmp_path, baseline=files["same"],
              members=3, preset="fast", scheduler="serial", **QUIET)
    for solver in ("terzaghi", "lstm"):
        band = _band(tmp_path, solver)
        for name in ("difference_at_until", "area_mean", "cell_min", "cell_max", "p05",
                     "p95"):
            assert (band[name].values == 0.0).all(), (solver, name)
        # ... while the members themselves differ (the zero is not a degenerate ensemble)
        assert band["baseline_p95"].values[:, -1].max() > band["baseline_p05"].values[:, -1].max()


def test_raising_deep_heads_never_adds_compaction(deep_run):
    out, _ = deep_run
    band = _band(out, "terzaghi")
    # cell_min: every member's smallest difference over the cells, at every time
    assert band["cell_min"].values.min() >= -1e-12
    assert (band["cell_max"].values[:, -1] > 1e-3).all()       # > 1 mm where heads rose
    before = band["time"].values < np.datetime64(f"{DEEP_START}-01")
    assert (band["p05"].values[:, before] == 0).all()
    assert (band["p95"].values[:, before] == 0).all()


def test_band_is_not_degenerate_and_members_are_reproducible(deep_run, generic, tmp_path):
    out, report = deep_run
    band = _band(out, "terzaghi")
    width = band["p95"].values[:, -1] - band["p05"].values[:, -1]
    assert (width > 0).sum() >= 0.9 * len(width)
    multipliers = band["multipliers"].values
    assert (multipliers[0] == 1.0).all()                          # member 0: the prior
    assert (multipliers[1:] != 1.0).all()
    cases = report["cases"]
    first = wi.run_member(wi.ensemble("terzaghi", {"threads": 1}, cases, 3, 1, 0,
                                      wi.DEFAULT_SPREAD)[0][0])
    prior = make_solver("terzaghi", threads=1).predict(load_case(cases.scenario))
    assert np.array_equal(first.scenario, prior.displacement)
    # per-member seeds: a smaller ensemble repeats the first members exactly
    fewer, _ = wi.ensemble("terzaghi", {}, cases, 3, 2, 0, wi.DEFAULT_SPREAD)
    assert all(np.array_equal(m.multipliers, multipliers[m.index]) for m in fewer)
    other, _ = wi.ensemble("terzaghi", {}, cases, 3, 2, 1, wi.DEFAULT_SPREAD)
    assert not np.array_equal(other[1].multipliers, multipliers[1])
    # spread: ln of the perturbing multipliers scale with the ln-standard deviations
    ln = np.log(np.stack([m.multipliers for m in wi.ensemble(
        "terzaghi", {}, cases, 3, 400, 0, wi.DEFAULT_SPREAD)[0][1:]]))
    for p, name in enumerate(wi.PARAMETERS):
        assert ln[:, :, p].std() == pytest.approx(wi.DEFAULT_SPREAD[name], rel=0.1)
    lstm = _band(out, "lstm")
    assert list(lstm["member_seed"].values) == [0, 1, 2]
    lstm_width = lstm["p95"].values[:, -1] - lstm["p05"].values[:, -1]
    assert (lstm_width > 0).all()
    # the same command again: the same numbers
    _, manifest, files = generic
    wi.whatif(manifest, files["deep"], "terzaghi,lstm", tmp_path, members=3, preset="fast",
              scheduler="serial", seed=0, **QUIET)
    for solver in ("terzaghi", "lstm"):
        again = _band(tmp_path, solver)
        for name in ("p05", "p50", "p95", "difference_at_until"):
            assert np.array_equal(again[name].values, _band(out, solver)[name].values)


# -- outputs -----------------------------------------------------------------------------

def test_outputs_are_readable_and_consistent(deep_run):
    out, _ = deep_run
    path = out / "whatif.h5"
    for solver in ("terzaghi", "lstm"):
        base = read_result(path, group=f"{solver}.baseline")
        scen = read_result(path, group=f"{solver}.scenario")
        band = _band(out, solver)
        assert base.displacement.shape == band["p50"].shape
        assert np.allclose(scen.displacement - base.displacement, band["mean"].values,
                           rtol=0, atol=1e-12)
        assert (band["p05"].values <= band["p50"].values + 1e-15).all()
        assert (band["p50"].values <= band["p95"].values + 1e-15).all()
        area = band["area_mean"].values
        assert np.allclose(area.mean(axis=0), band["mean"].values.mean(axis=0), atol=1e-12)
        assert band.attrs["solver"] == solver and band["p05"].attrs["units"] == "m"
        # CF dates in the band group as in the results
        np.testing.assert_array_equal(band.time.values.astype("datetime64[D]"), base.times)
    with xr.open_dataset(path, engine="h5netcdf") as root:
        assert root.attrs["members"] == 3 and root.attrs["scenario"] == "deep-up"
        assert json.loads(root.attrs["spread"]) == wi.DEFAULT_SPREAD
    summary = (out / "summary.md").read_text()
    assert "## terzaghi (physics)" in summary and "## lstm (ml)" in summary
    assert "| 2010-12 |" in summary and "member 0 = the unperturbed prior" in summary
    # not a twin: nothing to score against, and the summary says so
    assert "No truth: the case is not a twin" in summary
    assert (out / wi.SCORES_FILE).read_text() == "solver,month,metric,value\n"
    for name in ("difference-map", "band-width-map", "series-terzaghi", "series-lstm",
                 "difference-series-terzaghi"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    assert not [p for p in out.rglob(".*")]                      # no temporary leftovers


def test_interrupted_run_keeps_the_previous_outputs(generic, tmp_path, monkeypatch, capsys):
    _, manifest, files = generic
    argv = [str(manifest), "--scenario", str(files["deep"]), "--solvers", "terzaghi",
            "--scheduler", "serial", "--out", str(tmp_path)]
    assert wi.main_whatif(argv + ["--members", "2"]) == 0
    before = {p: p.read_bytes() for p in (tmp_path / "whatif.h5", tmp_path / "summary.md")}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(wi, "write_figures", interrupted)
    assert wi.main_whatif(argv + ["--members", "3"]) == 130
    assert "interrupted" in capsys.readouterr().err
    for path, content in before.items():
        assert path.read_bytes() == content
    assert (tmp_path / "figures" / "difference-map.png").is_file()
    assert not [p for p in tmp_path.rglob(".*")]


# -- the built-in twin in the cache: made whole or not at all -------------------------------

#: a stand-in for make_twin (the real one takes minutes), run in a process that is killed
#: half-way: it writes part of a twin, says so (argv[2]) and waits
_KILLED_MAKER = """
import os, sys, time
from pathlib import Path
os.environ["LANDSUB_CACHE"] = sys.argv[1]
import cases.beijing.make, engine.app.make_case
def half_way(out, *args, log=print):
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "case.toml").write_text('name = "half"\\n')
    (Path(out) / "half-made").write_text("")
    Path(sys.argv[2]).write_text("")
    time.sleep(120)
cases.beijing.make.make_twin = engine.app.make_case.make_twin = half_way
from engine.app.whatif.cases import case_manifest
case_manifest("beijing:tiny")
"""


def _fake_twin(fail: bool):
    """A stand-in for make_twin that writes a manifest, then fails (as a run failing
    half-way does) or finishes."""
    def make(out, size, seed, *args, log=print):
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "case.toml").write_text(f'name = "twin-{size}-{seed}"\n')
        if fail:
            raise RuntimeError("failed half-way")
        (out / "whole").write_text("")
        return {"manifest": out / "case.toml"}
    return make


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty twin cache ($LANDSUB_CACHE) and ``use(maker)``, which makes ``maker`` the
    twin generator of the cache and of make-case."""
    import cases.beijing.make
    import engine.app.make_case

    folder = tmp_path / "cache"
    monkeypatch.setenv("LANDSUB_CACHE", str(folder))

    def use(maker):
        for module in (cases.beijing.make, engine.app.make_case):
            monkeypatch.setattr(module, "make_twin", maker)
    return folder, use


def test_a_twin_failing_half_way_leaves_nothing_in_the_cache(cache):
    from engine.app.whatif.cases import case_manifest

    folder, use = cache
    use(_fake_twin(fail=True))
    with pytest.raises(RuntimeError, match="half-way"):
        case_manifest("beijing:tiny")
    assert not folder.exists() or not list(folder.iterdir())
    use(_fake_twin(fail=False))
    manifest = case_manifest("beijing:tiny")
    assert manifest == folder / "beijing-tiny-seed0" / "case.toml"
    assert sorted(p.name for p in folder.rglob("*")) == ["beijing-tiny-seed0", "case.toml",
                                                         "whole"]


def test_a_killed_whatif_leaves_no_twin_a_later_run_loads(cache, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from engine.app.whatif.cases import case_manifest

    folder, use = cache
    started = tmp_path / "half-way"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_MAKER, str(folder), str(started)])
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the child never got half-way"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # only a dot-named temporary of the dead process: no twin under the cache's name
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == []
    use(_fake_twin(fail=False))
    manifest = case_manifest("beijing:tiny")
    # the later run made its own twin (none of the killed one's files) and swept the rest
    assert sorted(p.name for p in folder.rglob("*")) == ["beijing-tiny-seed0", "case.toml",
                                                         "whole"]
    assert manifest.read_text() == 'name = "twin-tiny-0"\n'


def test_make_case_failing_half_way_keeps_the_previous_twin(cache, tmp_path):
    from engine.app.make_case import make_twin_whole

    _, use = cache
    out = tmp_path / "twin"
    use(_fake_twin(fail=False))
    assert make_twin_whole(out, "tiny", 0, log=lambda *a: None) == out / "case.toml"
    use(_fake_twin(fail=True))
    with pytest.raises(RuntimeError):
        make_twin_whole(out, "tiny", 1, log=lambda *a: None)
    assert [p.name for p in tmp_path.iterdir()] == ["twin"]          # no temporary left
    assert (out / "case.toml").read_text() == 'name = "twin-tiny-0"\n'
    assert (out / "whole").exists()


# -- slow: the Dask cluster and the twin -----------------------------------------------

@pytest.mark.slow
def test_results_do_not_depend_on_the_workers(generic, tmp_path):
    _, manifest, files = generic
    for name, scheduler, workers in (("serial", "serial", None), ("local", "local", 2)):
        wi.whatif(manifest, files["deep"], "terzaghi,lstm", tmp_path / name, members=3,
                  preset="fast", scheduler=scheduler, workers=workers, **QUIET)
    for solver in ("terzaghi", "lstm"):
        a, b = _band(tmp_path / "serial", solver), _band(tmp_path / "local", solver)
        for name in ("p05", "p50", "p95", "mean", "difference_at_until", "baseline_p05"):
            assert np.array_equal(a[name].values, b[name].values), (solver, name)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    from cases.beijing.make import make_twin

    out = tmp_path_factory.mktemp("twin") / "tiny"
    make_twin(out, size="tiny", seed=0, log=lambda *args: None)
    return out


@pytest.mark.slow
@pytest.mark.modflow
def test_twin_records_how_it_was_made(twin):
    from cases.beijing.make import TWIN_VERSION
    from cases.beijing.settings import load_settings

    record = json.loads((twin / "generator.json").read_text())
    prior = load_settings()["prior"]
    assert record == {"generator": "beijing", "version": TWIN_VERSION, "size": "tiny", "seed": 0,
                      "heads": "interpolated", "settings": None,
                      "prior_spread": {"thickness": prior["thickness_error"],
                                       "kv": prior["kv_error"],
                                       "storage": prior["storage_error"]},
                      "scenario": None, "until": None}


@pytest.mark.slow
@pytest.mark.modflow
def test_deep_pumping_cut_on_the_twin_means_less_subsidence(twin, tmp_path):
    from cases.beijing.settings import DEFAULTS

    scenarios = DEFAULTS.parent / "scenarios"
    report = wi.whatif(twin, scenarios / "deep-pumping-cut-30.toml", "terzaghi", tmp_path,
                       until="2029-12", members=3, scheduler="serial", **QUIET)
    cases = report["cases"]
    assert cases.heads == "flow model" and cases.start == np.datetime64("2027-01-01")
    baseline, scenario = load_case(cases.baseline), load_case(cases.scenario)
    assert cases.baseline.parent == tmp_path / "cases" / "baseline"
    rise = np.stack([s.head - b.head for s, b in zip(scenario.aquifers, baseline.aquifers)])
    history = baseline.times < np.datetime64("2027-01-01")
    assert (rise[:, :, history] == 0).all()           # the same twin until the cut
    assert rise.min() >= 0 and rise[-1].max() > 1.0    # deep heads rise, none falls
    band = _band(tmp_path, "terzaghi")
    assert band["cell_min"].values.min() >= -1e-12    # rising heads never add compaction
    assert (band["area_mean"].values[:, -1] > 1e-3).all()
    assert json.loads(band.attrs["spread"]) == json.loads(
        (twin / "generator.json").read_text())["prior_spread"]
