"""Where the MODFLOW executables are, which version they are, and what is missing.

Standard library only at import time: scripts/install_modflow.py loads this file by
path before landsub's dependencies (or landsub itself) are installed.

Programs are looked up on PATH, then in FloPy's own bin folder
(``~/.local/share/flopy/bin``), which ``import flopy`` appends to PATH by itself
(flopy/mbase.py), so whatever is found here is also what FloPy runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

INSTALL_COMMAND = "python scripts/install_modflow.py"

# program -> what it is, for messages and the doctor table
PROGRAMS = {
    "mf6": "MODFLOW 6 (CSUB package; solver mf6-csub)",
    "mfnwt": "MODFLOW-NWT (SUB package; solver mf-sub)",
    "mf2005": "MODFLOW-2005 (SUB package; solver mf-sub with program=mf2005)",
}

# Debian package that provides a shared library the executables may need
DEBIAN_PACKAGE_OF = {"libgfortran.so.5": "libgfortran5", "libquadmath.so.0": "libquadmath0"}

_VERSION = re.compile(r"\b(\d+\.\d+(?:\.\d+)?)\b")


def flopy_bindir() -> Path:
    """FloPy's default install folder for executables (``get-modflow :flopy``)."""
    if os.name == "nt":
        return Path(os.path.expandvars(r"%LOCALAPPDATA%\flopy\bin"))
    return Path.home() / ".local" / "share" / "flopy" / "bin"


def locate(program: str) -> Path | None:
    """The executable for ``program`` on PATH or in FloPy's bin folder, else None."""
    found = shutil.which(program) or shutil.which(program, path=str(flopy_bindir()))
    return Path(found).resolve() if found else None


def missing_libraries(path: Path) -> list[str]:
    """Shared libraries ``path`` links against that the loader cannot find (ldd)."""
    if shutil.which("ldd") is None:
        return []
    try:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]


def apt_command(libraries: list[str]) -> str:
    """The Debian command that installs the packages providing ``libraries``."""
    packages = sorted({DEBIAN_PACKAGE_OF.get(lib, lib) for lib in libraries})
    return "apt-get install -y " + " ".join(packages)


def version_banner(path: Path, program: str) -> str:
    """What the program prints about itself. mf6 has ``-v``; the MODFLOW-2005 family
    prints its banner and then stops at a name file that does not exist (run in an
    empty folder so nothing is written or read)."""
    args = ["-v"] if program == "mf6" else ["landsub-no-such-namefile"]
    with tempfile.TemporaryDirectory() as empty:
        proc = subprocess.run([str(path), *args], cwd=empty, capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    return proc.stdout + proc.stderr


def program_version(path: Path, program: str) -> str:
    """Version string reported by the executable, e.g. "6.4.1"; raises RuntimeError
    (with the reason) when it does not run or reports no version."""
    libs = missing_libraries(path)
    if libs:
        raise RuntimeError(f"missing shared libraries {', '.join(libs)}; "
                           f"install them with: {apt_command(libs)}")
    try:
        banner = version_banner(path, program)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"does not run: {exc}") from None
    lines = banner.splitlines()
    if program == "mf6":        # "mf6: 6.4.1 Release 12/09/2022"
        candidates = [line.split(":", 1)[1] for line in lines if ":" in line]
    else:                       # "Version 1.3.0 07/01/2022"; NWT then names its base
        candidates = [line for line in lines if "version" in line.lower()]
    for line in candidates:
        match = _VERSION.search(line)
        if match:
            return match.group(1)
    raise RuntimeError("reports no version; output was: " + " ".join(banner.split())[:200])


def doctor_report() -> list[dict]:
    """One row per MODFLOW program: program, status ("ok" | "missing" | "broken"),
    version, path, what it is used for, and a hint saying how to fix it."""
    rows = []
    for program, purpose in PROGRAMS.items():
        path = locate(program)
        row = {"program": program, "status": "missing", "version": "", "path": "",
               "purpose": purpose, "hint": f"install with: {INSTALL_COMMAND}"}
        if path is not None:
            row["path"] = str(path)
            try:
                row.update(status="ok", version=program_version(path, program), hint="")
            except RuntimeError as exc:
                row.update(status="broken", hint=str(exc))
        rows.append(row)
    return rows


def require(program: str) -> Path:
    """The path of ``program``; raises SolverError naming the install command when
    it is missing (whether it runs is left to the run itself, which reports it)."""
    path = locate(program)
    if path is None:
        from engine.errors import SolverError
        raise SolverError(
            f"the MODFLOW program {program} ({PROGRAMS.get(program, program)}) was not "
            f"found on PATH or in {flopy_bindir()}; install it with: {INSTALL_COMMAND}")
    return path
