"""Atomic replacement of output files and folders.

Every writer here puts the new content under a temporary name beside the target (so
the final rename stays within one file system), flushes it to disk and only then
renames it onto the target. A crash or an exception at any moment leaves either the old
target or the new one, never half of one, and no temporary name behind (after a hard
kill, a dot-named temporary may remain; it never shadows a target).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path


def _beside(path: Path, suffix: str) -> Path:
    """A fresh hidden name in ``path``'s folder, unique to this process and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{suffix}")


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
    tmp = _beside(path, "tmp")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
