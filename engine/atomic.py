"""Atomic replacement of output files and folders.

Every writer here puts the new content under a temporary name beside the target (so
the final rename stays within one file system), flushes it to disk and only then
renames it onto the target. A crash or an exception at any moment leaves either the old
target or the new one, never half of one, and no temporary name behind (after a hard
kill, a dot-named temporary may remain; it never shadows a target, and the next write
in that folder sweeps it: ``sweep``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path


def _beside(path: Path, suffix: str) -> Path:
    """A fresh hidden name in ``path``'s folder, unique to this process and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{suffix}")


#: the temporary names of ``_beside``: .NAME.PID.HEX.SUFFIX
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\."
                        r"(?P<suffix>tmp|partial|old|probe)$")


def sweep(folder: Path) -> None:
    """Remove the temporaries that killed processes left in ``folder`` (their pid is no
    longer running), so that a SIGKILL's leftovers go with the next write there."""
    for entry, match in left_by_dead_processes(folder, _TEMPORARY):
        target = Path(folder) / match.group("name")
        if match.group("suffix") == "old" and not os.path.lexists(target):
            # killed between moving the old folder aside and renaming the new one in:
            # the old one is the last whole version, so it comes back
            with contextlib.suppress(OSError):
                os.rename(entry.path, target)
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def left_by_dead_processes(folder, pattern: re.Pattern):
    """(entry, match) for the entries of ``folder`` whose name ``pattern`` matches, with
    a group "pid" naming a process that no longer runs (none if the folder is unreadable)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return [(entry, match) for entry in entries
            if (match := pattern.match(entry.name)) and not process_alive(int(match.group("pid")))]


def process_alive(pid: int) -> bool:
    """True while process ``pid`` runs (this one, or another user's that we cannot signal)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:       # someone else's process: alive
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replacing(path):
    """Yield a temporary path beside ``path`` for a writer that opens files itself
    (h5py, savefig): the writer creates it; on a normal exit it is synced and renamed
    onto ``path``; on an exception it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent)
    tmp = _beside(path, "tmp")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise _out_of_room(err, path, tmp) from None
    finally:
        tmp.unlink(missing_ok=True)


def _written(path: Path) -> int:
    """Bytes under ``path`` (a file or a folder), 0 where there is nothing."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def _out_of_room(err: OSError, target: Path, temporary: Path) -> OSError:
    """``err`` as the user can act on it: a write that ran out of room (disk, quota, file
    size) names the target, the bytes it had written and the bytes still free, in one
    line (h5py's own message spans lines and names only the temporary file)."""
    from engine.errors import OUT_OF_ROOM
    from engine.resources import human

    if err.errno not in OUT_OF_ROOM:
        return err
    written = _written(temporary)
    free = shutil.disk_usage(target.parent).free
    return OSError(err.errno, f"{os.strerror(err.errno)} ({human(written)} written when it "
                   f"failed, {human(free)} free there: it needs more room than that)",
                   str(target))


def write_bytes(path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically; returns ``path``."""
    path = Path(path)
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(path, text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8) atomically; returns ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, payload) -> Path:
    """Replace ``path`` with ``payload`` as indented JSON (values JSON does not know are
    written as their str) atomically; returns ``path``."""
    return write_text(path, json.dumps(payload, indent=1, default=str) + "\n")


@contextmanager
def replacing_folder(folder):
    """Yield a temporary folder path beside ``folder`` (not yet created: the writer
    makes it); on a normal exit it takes the place of ``folder`` (the old one, if any,
    is moved aside first and then deleted); on an exception it is deleted and
    ``folder`` is left as it was."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    sweep(folder.parent)
    partial = _beside(folder, "partial")
    old = _beside(folder, "old")
    try:
        yield partial
        if folder.exists():
            folder.rename(old)
        try:
            partial.rename(folder)
        except BaseException:
            if old.exists():
                old.rename(folder)
            raise
    except OSError as err:
        raise _out_of_room(err, folder, partial) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def check_output(path, kind: str, source: str = "--out") -> Path:
    """Refuse, before any work, an output path the command could not write at the end:
    empty, an existing folder where a file is written (``kind`` "file") or an existing
    file where a folder is (``kind`` "folder"), under a file, or in a folder this process
    cannot create files in (read-only, no permission, read-only file system). Returns the
    path."""
    from engine.errors import InputError

    if path is None or not str(path).strip():
        raise InputError(source, "(path)", f"{str(path)!r} is not a path: give a {kind} name")
    path = Path(path)
    if path.is_dir() and kind == "file":
        raise InputError(source, str(path), "is an existing folder; a file name is needed")
    if path.exists() and not path.is_dir() and kind == "folder":
        raise InputError(source, str(path), "is an existing file; a folder name is needed")
    existing = path if path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(source, str(path), f'is under "{existing}", which is a file, not a '
                         "folder")
    try:
        # a real probe: root ignores permission bits and a read-only mount shows none
        probe = _beside(existing / "probe", "probe")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as e:
        raise InputError(source, str(path), f'cannot write in "{existing}": '
                         f"{e.strerror or e}") from None
    return path
