"""Repository-wide pytest set-up.

``@pytest.mark.modflow`` (optionally ``modflow("mf2005", ...)``; default mf6) marks a
test that runs MODFLOW. It is skipped when a named program, or a system library it
links against, is missing, except under CI=true, where that fails the test: CI's
set-up installs them, so a missing one there is a set-up bug.
"""

import os

import pytest


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("modflow")
    if marker is None:
        return
    from physics.modflow import executables

    for program in marker.args or ("mf6",):
        path = executables.locate(program)
        if path is None:
            problem = f"{program} is not installed ({executables.INSTALL_COMMAND})"
        else:
            libs = executables.missing_libraries(path)
            if not libs:
                continue
            problem = f"{program} lacks {', '.join(libs)} ({executables.apt_command(libs)})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
