"""Rate-zone limits are an option (--zones on bench, whatif, fit), refused in one line
before any work when they are not two finite limits around 0, recorded in bench.json and
stated in the reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cases.synthetic import synthetic_case
from engine.app.bench import main_bench
from engine.app.cli import main
from engine.caseio import write_case
from engine.errors import InputError
from engine.evaluate import (
    ZONE_LIMITS,
    cell_metrics,
    evaluate,
    markdown,
    parse_zone_limits,
    subsidence_zone,
)
from engine.result import Result

BAD = [("-30", "two finite rates"), ("-30,0,5", "two finite rates"), ("a,b", "two finite"),
       ("nan,0", "two finite"), ("-30,inf", "two finite"), ("5,10", "severe limit 5"),
       ("0,5", "severe limit 0"), ("-30,-10", "rebound limit -10"), ("", "two finite")]


def test_the_default_is_the_seminars_zoning():
    assert ZONE_LIMITS == (-30.0, 0.0) == parse_zone_limits("-30,0")
    assert list(subsidence_zone([5.0, 0.0, -30.0, -30.1])) == [
        "rebound", "moderate", "moderate", "severe"]


def test_other_limits_move_the_zones():
    limits = parse_zone_limits(" -5, 2 ")
    assert limits == (-5.0, 2.0)
    assert list(subsidence_zone([2.5, 2.0, 0.5, -5.0, -5.5, np.nan], limits)) == [
        "rebound", "moderate", "moderate", "moderate", "severe", ""]


@pytest.mark.parametrize("text, why", BAD)
def test_bad_limits_are_refused_naming_the_flag(text, why):
    with pytest.raises(InputError, match=why) as caught:
        parse_zone_limits(text)
    assert caught.value.source == "--zones" and caught.value.field == text


def test_the_evaluator_and_its_markdown_use_the_limits():
    times = (np.datetime64("2000-01", "M") + np.arange(24)).astype("datetime64[D]")
    days = (times - times[0]).astype(float)
    rates = np.array([-3.6, -0.3, 1.0])                  # mm/yr: the tracks
    observed = rates[:, None] / 1e3 / 365.25 * days[None, :]
    result = Result(solver="s", kind="ml", case="c", times=times,
                    cell_ids=np.array(["a", "b", "c"]), x=np.zeros(3), y=np.zeros(3),
                    displacement=observed)
    default = cell_metrics(result, observed)
    assert set(default.zone) == {"moderate", "rebound"}
    limits = (-2.0, 0.5)
    cells = cell_metrics(result, observed, zones=limits)
    assert list(cells[cells.series == "cumulative"].zone) == ["severe", "moderate", "rebound"]
    text = markdown(evaluate(result, observed, zones=limits), limits)
    assert "rebound > 0.5, moderate -2 to 0.5, severe < -2 mm/yr" in text


@pytest.mark.parametrize("command", [
    ["bench", "CASE", "--solvers", "zero"],
    ["whatif", "CASE", "--scenario", "s.toml", "--solvers", "terzaghi"],
    ["fit", "CASE", "--solver", "zero"],
])
def test_every_command_refuses_bad_zones_before_any_work(tmp_path, capsys, command):
    out = tmp_path / "out"
    argv = [str(tmp_path / "missing.toml") if a == "CASE" else a for a in command]
    assert main(argv + ["--zones", "-10,-30", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--zones: -10,-30:" in err[0] and "rebound limit -30" in err[0]
    assert not out.exists()       # refused before the case was read or anything written


@pytest.fixture(scope="module")
def generic_bench(tmp_path_factory):
    """A bench of a case that names no claims set, with --zones -20,1."""
    root = tmp_path_factory.mktemp("zones")
    manifest = write_case(synthetic_case(n_cells=12, n_months=36, seed=4), root / "case")
    out = root / "bench"
    assert main_bench([str(manifest), "--solvers", "zero", "--scheduler", "serial",
                       "--zones", "-20,1", "--out", str(out)]) == 0
    return out


def test_bench_records_and_states_its_zones(generic_bench):
    plan = json.loads((generic_bench / "bench.json").read_text())
    assert plan["zones"] == [-20.0, 1.0]
    report = (generic_bench / "report.md").read_text()
    assert "Zones by observed rate (--zones): rebound > 1, moderate -20 to 1, severe < -20" \
        in report
    assert "moderate 0 to -30" not in report
