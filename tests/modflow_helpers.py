"""Shared by the MODFLOW tests: skip a test when a MODFLOW program is not installed,
except under CI=true, where a missing executable is an error (setup.cfg, marker
``modflow``)."""

import os

import pytest

from physics.modflow.executables import INSTALL_COMMAND, locate


def require_program(program: str) -> None:
    if locate(program) is not None:
        return
    message = f"{program} is not installed ({INSTALL_COMMAND})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
