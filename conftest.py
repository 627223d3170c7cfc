"""Repository-wide pytest set-up.

Missing components skip locally and fail under CI=true. CI's set-up (scripts/setup.sh,
.ci/run) installs every one of them, so a skip there means a set-up bug or an import
regression, and a green run must not hide it. This file is the one place that decides:

- ``@pytest.mark.modflow`` (optionally ``modflow("mf2005", ...)``; default mf6) marks a
  test that runs MODFLOW; it skips when a named program, or a system library it links
  against, is missing.
- ``@pytest.mark.needs("mintpy.utils.writefile", ...)`` marks a test that needs an
  optional Python module (test-only fixtures writers); it skips when one cannot be
  imported.
- Under CI=true every skip, whatever raised it (these markers, ``pytest.skip``,
  ``pytest.importorskip``, at collection or at run time), is turned into a failure that
  keeps the skip's reason.
"""

import importlib
import os

import pytest

# pytester runs this file's hooks on small generated suites (tests/test_ci_skips.py)
pytest_plugins = ["pytester"]


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _modflow_problem(marker) -> str | None:
    from physics.modflow import executables

    for program in marker.args or ("mf6",):
        path = executables.locate(program)
        if path is None:
            return f"{program} is not installed ({executables.INSTALL_COMMAND})"
        libs = executables.missing_libraries(path)
        if libs:
            return f"{program} lacks {', '.join(libs)} ({executables.apt_command(libs)})"
    return None


def _needs_problem(marker) -> str | None:
    for module in marker.args:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"{module} cannot be imported ({exc}); scripts/setup.sh installs it"
    return None


def pytest_runtest_setup(item):
    for marker in item.iter_markers("modflow"):
        problem = _modflow_problem(marker)
        if problem:
            pytest.skip(problem)
    for marker in item.iter_markers("needs"):
        problem = _needs_problem(marker)
        if problem:
            pytest.skip(problem)


def _fail_skip(report) -> None:
    """Turn a skipped report into a failure under CI, keeping the reason."""
    if not (under_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every component is installed: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # a module-level importorskip skips the whole file at collection
    outcome = yield
    _fail_skip(outcome.get_result())
