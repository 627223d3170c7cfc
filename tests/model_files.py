"""Saved model folders changed behind the writer's back, for the loaders' tests."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from safetensors.numpy import load_file, save_file

from engine.persistence import MANIFEST_FILE


def rewritten(model: Path, copy: Path, file: str, change) -> Path:
    """A copy of the model folder ``model`` at ``copy`` whose safetensors or JSON
    ``file`` ``change(values)`` rewrote (values: name -> numpy array, or the JSON
    document, changed in place), with its manifest's SHA-256 updated, so that only the
    loader's own checks can refuse it."""
    shutil.copytree(model, copy)
    if file.endswith(".json"):
        document = json.loads((copy / file).read_text())
        change(document)
        (copy / file).write_text(json.dumps(document))
    else:
        arrays = load_file(copy / file)
        change(arrays)
        save_file(arrays, copy / file)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["files"][file] = hashlib.sha256((copy / file).read_bytes()).hexdigest()
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    return copy
