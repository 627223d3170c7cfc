"""The root conftest's rule: a missing component skips locally and fails under CI=true,
whatever raised the skip (the modflow and needs markers, pytest.skip, importorskip at
run time or at collection)."""

from pathlib import Path

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

SUITE = """
import pytest

pytest.importorskip("{missing}")       # at collection: the whole module goes

def test_never_collected():
    pass
""", """
import pytest

@pytest.mark.needs("{missing}")
def test_needs_marker():
    pass

def test_importorskip_at_run_time():
    pytest.importorskip("{missing}")

def test_plain_skip():
    pytest.skip("no such component")

@pytest.mark.modflow("{missing}")
def test_modflow_marker():
    pass

@pytest.mark.needs("json")
def test_present_module_runs():
    assert True

@pytest.mark.xfail(reason="expected failures are not skips")
def test_expected_failure():
    assert False
"""


def _run(pytester, monkeypatch, ci: str, *args):
    missing = "landsub_component_that_is_not_installed"
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    modflow: m\n    needs: n\n")
    pytester.makepyfile(test_collection=SUITE[0].format(missing=missing),
                        test_runtime=SUITE[1].format(missing=missing))
    monkeypatch.setenv("CI", ci)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args)


def test_missing_components_skip_locally(pytester, monkeypatch):
    run = _run(pytester, monkeypatch, "")
    run.assert_outcomes(passed=1, skipped=5, xfailed=1)
    assert run.ret == 0


def test_missing_components_fail_under_ci(pytester, monkeypatch):
    # a collection error stops the session by itself; go on to see the run-time skips
    run = _run(pytester, monkeypatch, "true", "--continue-on-collection-errors")
    outcomes = run.parseoutcomes()
    # the module skipped at collection is a collection error; the four run-time skips
    # fail (in set-up for the markers, in the call for the others)
    assert outcomes.get("skipped", 0) == 0
    assert outcomes.get("passed") == 1 and outcomes.get("xfailed") == 1
    assert outcomes.get("failed", 0) + outcomes.get("error", 0) + outcomes.get("errors", 0) == 5
    assert run.ret != 0
    text = run.stdout.str()
    assert text.count("skipped under CI=true") >= 5
    assert "no such component" in text

