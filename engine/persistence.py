"""Saving and loading fitted solvers, whatever their kind.

A saved model is a folder: what the solver's own ``save`` writes (weights, fitted
parameters; never pickles) plus the manifest ``solver.json``, which names the solver so
that ``load_model`` finds its class through the registry and calls its ``load``, and
lists every file of the folder with its SHA-256. The folder is written under a temporary
name and renamed as a whole (``engine.atomic.replacing_folder``), and ``load_model``
refuses one whose files do not match the manifest, so a folder killed half-way, or
half-overwritten, never loads. Nothing here knows how any solver stores its state, so
this module needs neither torch nor any other library of the solvers
(``safetensors_header`` reads the safetensors format's JSON header itself).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path, PurePosixPath

import numpy as np

from engine import __version__
from engine.atomic import replacing_folder
from engine.errors import InputError
from engine.registry import solver_class
from engine.solver import Solver

MANIFEST_FILE = "solver.json"
MANIFEST_FORMAT = 2      # 2: with the "files" list and their SHA-256
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(solver: Solver, directory) -> None:
    """``solver.save`` into a temporary folder beside ``directory``, the manifest, then
    the folder renamed onto ``directory`` (the old one, if any, replaced whole)."""
    with replacing_folder(directory) as partial:
        solver.save(partial)
        files = {}
        for path in sorted(partial.rglob("*")):
            if path.is_file() and path.name != MANIFEST_FILE:
                files[path.relative_to(partial).as_posix()] = _sha256(path)
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        manifest = {"solver": solver.name, "kind": solver.kind, "format": MANIFEST_FORMAT,
                    "landsub_version": __version__, "files": files}
        (partial / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def load_model(directory) -> Solver:
    """The solver saved in ``directory`` by ``save_model`` (or ``landsub fit``), after
    its files are checked against the manifest."""
    directory = Path(directory)
    if not directory.is_dir():
        why = "is a file" if directory.exists() else "does not exist"
        raise InputError(directory, "(folder)", f"the model folder {why}")
    path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, "(file)", f"not a saved landsub model ({exc})") from None
    name = manifest.get("solver") if isinstance(manifest, dict) else None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(name, str) or not isinstance(files, dict):
        raise InputError(path, "files" if isinstance(name, str) else "solver",
                         "not a manifest of a whole saved model (no solver name and file list "
                         "with SHA-256); fit the model again")
    check_files(directory, files)
    return solver_class(name).load(directory)


def check_files(directory: Path, files: dict) -> None:
    """Refuse a model folder whose files are not exactly those of its manifest."""
    listed = set()
    for name, digest in files.items():
        parts = PurePosixPath(name).parts
        if not isinstance(digest, str) or PurePosixPath(name).is_absolute() or ".." in parts:
            raise InputError(directory / MANIFEST_FILE, "files", f'"{name}" is not a file of '
                             "the folder")
        listed.add(name)
        path = directory / name
        if not path.is_file() or path.is_symlink():
            raise InputError(path, "(file)", f"missing from the model folder {directory} "
                             "(its manifest lists it): the folder is not whole; fit again")
        if _sha256(path) != digest:
            raise InputError(path, "sha256", f"does not match the manifest of {directory}: "
                             "the file was changed or half-written; fit the model again")
    extra = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*")
                   if p.is_file() and p.name != MANIFEST_FILE
                   and p.relative_to(directory).as_posix() not in listed)
    if extra:
        raise InputError(directory / extra[0], "(file)", f"is not in the manifest of "
                         f"{directory}: the folder mixes files of another save; fit again")


def saved_config(path, solver: str) -> dict:
    """The JSON file ``path`` a solver's ``save`` wrote, refused in one line naming the
    file when it is missing, unreadable or saved by another solver than ``solver``."""
    path = Path(path)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, "(file)", f"not a saved {solver} ({exc})") from None
    if not isinstance(saved, dict) or saved.get("solver") != solver:
        found = saved.get("solver") if isinstance(saved, dict) else None
        raise InputError(path, "solver", f'holds "{found}", not {solver}')
    return saved


def check_finite(path, arrays: dict) -> None:
    """Refuse stored arrays (name -> numpy array or torch tensor) of the file ``path``
    that hold NaN or infinite values, naming the file and the array: the manifest's
    SHA-256 only proves the file is the one that was saved, and a fit that diverged
    saves its NaN faithfully, to fail (or predict NaN) far from the cause."""
    for name, values in arrays.items():
        # a tensor has its own isfinite; numpy's would convert it first (and fails on
        # dtypes numpy lacks, such as bfloat16), so this module needs no torch
        finite = values.isfinite() if hasattr(values, "isfinite") else np.isfinite(values)
        bad = int((~finite).sum())
        if bad:
            raise InputError(path, f'tensor "{name}"', f"holds {bad} NaN or infinite "
                             "value(s); fit the model again")


#: safetensors dtype -> bytes per value
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                "I8": 1, "U8": 1, "BOOL": 1}


def safetensors_header(path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} of a safetensors file, checked against the file's
    size before any tensor is read: a header length or offsets past the end, unknown
    dtypes and sizes that disagree with the shape are refused naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            if not 2 <= length <= size - 8:
                raise InputError(path, "(header)", f"header length {length} does not fit a "
                                 f"file of {size} bytes: truncated or not a safetensors file")
            header = json.loads(f.read(length).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, "(header)", f"not a safetensors file ({exc})") from None
    if not isinstance(header, dict):
        raise InputError(path, "(header)", "not a safetensors header (not a JSON object)")
    data = size - 8 - length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape = entry["dtype"], tuple(entry["shape"])
            start, stop = entry["data_offsets"]
            count = 1
            for n in shape:
                count *= int(n)
            valid = (dtype in _DTYPE_BYTES and all(isinstance(n, int) and n >= 0 for n in shape)
                     and 0 <= start <= stop <= data and stop - start == count * _DTYPE_BYTES[dtype])
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise InputError(path, f'tensor "{name}"', f"header entry {str(entry)[:200]} does not "
                             f"describe a tensor inside the file's {data} data bytes")
        tensors[name] = (dtype, shape)
    return tensors
