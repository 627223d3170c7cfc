"""Repository-wide pytest set-up: the `modflow` marker needs the MODFLOW executables."""

import os
import shutil

import pytest


def _modflow_missing() -> list[str]:
    import flopy  # noqa: F401  (importing flopy puts its bin folder on PATH)

    return [exe for exe in ("mf6", "mfnwt", "mf2005") if shutil.which(exe) is None]


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if "modflow" in item.keywords]
    if not marked:
        return
    missing = _modflow_missing()
    if not missing:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(
            f"MODFLOW executables missing under CI: {', '.join(missing)}; "
            "scripts/setup.sh should have installed them (python scripts/install_modflow.py)")
    skip = pytest.mark.skip(reason=f"MODFLOW executables missing ({', '.join(missing)}); "
                                   "run: python scripts/install_modflow.py")
    for item in marked:
        item.add_marker(skip)
