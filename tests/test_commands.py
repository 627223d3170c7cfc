"""Every command through `landsub ...` itself: the one error handler, exit statuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.app.cli import main
from engine.errors import InputError, run_command


@pytest.mark.modflow("mf6", "mfnwt", "mf2005")
def test_doctor_lists_every_program(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for program in ("mf6", "mfnwt", "mf2005"):
        assert program in out


def test_one_error_handler_for_every_command(tmp_path, capsys):
    missing = str(tmp_path / "nowhere.toml")
    assert main(["run", missing, "--solver", "terzaghi", "--out", str(tmp_path / "r.h5")]) == 2
    assert main(["bench", missing, "--solvers", "terzaghi", "--out", str(tmp_path / "b")]) == 2
    assert main(["make-case", "beijing", "--size", "tiny", "--settings", missing,
                 "--out", str(tmp_path / "c")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3
    assert all(": error: " in line and "nowhere.toml" in line for line in errors)
    assert [line.split(":")[0] for line in errors] == [
        "landsub run", "landsub bench", "landsub make-case beijing"]


def test_run_command_maps_outcomes_to_statuses(capsys):
    assert run_command("landsub x", lambda: None) == 0
    assert run_command("landsub x", lambda: {"table": 1}) == 0
    assert run_command("landsub x", lambda: 1) == 1

    def bad():
        raise InputError("case.toml", "time.periods", "-1 is not a positive count")

    def interrupted():
        raise KeyboardInterrupt

    assert run_command("landsub x", bad) == 2
    assert run_command("landsub x", interrupted, on_interrupt="run again to resume") == 130
    err = capsys.readouterr().err.splitlines()
    assert err == ["landsub x: error: case.toml: time.periods: -1 is not a positive count",
                   "landsub x: interrupted; run again to resume"]


def test_output_piped_into_head_ends_quietly():
    # a command printing far more than a pipe holds, read by `head -1`: the writer gets
    # EPIPE mid-output and must end quietly, with status 0 and no traceback
    code = ("import sys; from engine.errors import run_command\n"
            "def chatty():\n"
            "    for i in range(200000): print('line', i)\n"
            "sys.exit(run_command('landsub info', chatty))")
    run = subprocess.run(f"{sys.executable} -c \"{code}\" | head -1; exit ${{PIPESTATUS[0]}}",
                         shell=True, executable="/bin/bash", capture_output=True, text=True,
                         timeout=120)
    assert run.stdout == "line 0\n"
    assert run.stderr == ""
    assert run.returncode == 0


def test_a_rule_between_options_is_refused_before_any_work(tmp_path, capsys):
    """A solver's rule between its options (dpl: prior_error beside the whitened loss)
    or a value outside its range refuses the command in one line before any solver runs
    or any output is made, whichever solver it is listed after."""
    from engine.casewrite import write_case
    from engine.conformance import conformance_case

    case = write_case(conformance_case(), tmp_path / "case")
    for option in ("dpl:terzaghi:prior_error=0.1", "dpl:terzaghi:smoothing=-1",
                   "discrepancy:terzaghi:error_months=0"):
        out = tmp_path / option.replace(":", "_")
        solvers = "trend," + option.rsplit(":", 1)[0]
        assert main(["bench", str(case), "--solvers", solvers, "--option", option,
                     "--out", str(out)]) == 2
        assert not out.exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert [e.split(": ")[3] for e in errors] == ["prior_error", "smoothing", "error_months"]
