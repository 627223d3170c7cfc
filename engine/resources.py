"""Memory bounds: work whose arrays cannot fit is refused before anything is allocated,
with the estimate and the machine's memory, instead of dying in the allocator (or
swapping for an hour first). The bound is the machine's physical memory unless a caller
(the command line's ``--max-memory``) sets another for the duration of a command."""

from __future__ import annotations

import contextvars
import os
import re
from contextlib import contextmanager

from engine.errors import InputError

_LIMIT = contextvars.ContextVar("landsub_memory_limit", default=None)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


def machine_memory() -> int:
    """Physical memory of this machine, bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return ""


def parse_size(text: str, source: str = "--max-memory") -> int:
    """"64G", "1.5T", "500000000" -> bytes (binary units, an optional "B"/"iB")."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([KMGTP]?)(?:i?B)?\s*",
                         str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise InputError(source, str(text), "not a memory size such as 64G, 1.5T or "
                         "500000000 (bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@contextmanager
def memory_limit(nbytes: int | None):
    """Within it, ``check_memory`` allows up to ``nbytes`` (None: the machine's memory)."""
    token = _LIMIT.set(nbytes)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def check_memory(nbytes: float, what: str, source, field: str) -> None:
    """Refuse ``what`` (e.g. "8 cells x 1000000000000 times") needing about ``nbytes``
    when that is more than the bound, naming ``source`` and ``field``."""
    limit = _LIMIT.get()
    machine = machine_memory()
    if nbytes > (limit or machine):
        bound = f"the --max-memory bound of {human(limit)}" if limit else "this machine has"
        raise InputError(source, field, f"{what} needs about {human(nbytes)} of memory, more "
                         f"than {bound} ({human(machine)} on this machine); on a bigger machine "
                         "pass --max-memory SIZE (e.g. 2T) to allow it")


def case_bytes(cells: int, times: int, aquifers: int) -> int:
    """Memory of a case and one result on it: 8 bytes x cells x times x (2 x aquifers +
    2) -- heads and compaction per aquifer, displacement and observations."""
    return 8 * int(cells) * int(times) * (2 * max(int(aquifers), 1) + 2)


def result_bytes(cells: int, times: int, aquifers: int) -> int:
    """Bytes of one result on disk, uncompressed: displacement and the compaction of
    every aquifer, 8 bytes x cells x times each."""
    return 8 * int(cells) * int(times) * (max(int(aquifers), 1) + 1)


def check_disk(path, nbytes: float, what: str, source: str = "--out") -> None:
    """Refuse, before any work, to write ``what`` (about ``nbytes``) under ``path`` when
    its file system has less room free, naming both."""
    import shutil
    from pathlib import Path

    existing = Path(path)
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if nbytes > free:
        raise InputError(source, str(path), f"{what} needs about {human(nbytes)} of disk, but "
                         f"only {human(free)} is free there")
