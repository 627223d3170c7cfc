"""engine.atomic: a write either replaces the target whole or leaves it as it was, and
never leaves a temporary name behind."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from engine import atomic


class Failure(Exception):
    pass


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_text_json_and_bytes_replace_the_target(tmp_path):
    target = tmp_path / "deep" / "er" / "notes.md"
    assert atomic.write_text(target, "first\n") == target
    atomic.write_text(target, "second: é\n")
    assert target.read_text(encoding="utf-8") == "second: é\n"
    atomic.write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    record = tmp_path / "run.json"
    atomic.write_json(record, {"solver": "terzaghi", "path": tmp_path})
    assert json.loads(record.read_text()) == {"solver": "terzaghi", "path": str(tmp_path)}
    assert record.read_text().endswith("}\n")
    assert _leftovers(tmp_path) == [] and _leftovers(target.parent) == []


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "whatif.h5"
    with atomic.replacing(target) as tmp:
        with h5py.File(tmp, "w") as f:
            f["x"] = np.arange(3.0)
    before = target.read_bytes()
    with pytest.raises(Failure), atomic.replacing(target) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path   # the writer creates it
        with h5py.File(tmp, "w") as f:
            f["x"] = np.zeros(1000)
        raise Failure
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_a_failed_flush_keeps_the_old_text(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    atomic.write_text(target, "old summary\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    # the new text is in the temporary file when the flush to disk fails
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic.write_text(target, "new summary\n")
    assert target.read_text() == "old summary\n"
    assert _leftovers(tmp_path) == []


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    figures = tmp_path / "figures"
    with atomic.replacing_folder(figures) as partial:
        partial.mkdir()
        (partial / "map.png").write_text("old map")
        (partial / "gone.png").write_text("only in the old folder")
    with pytest.raises(Failure), atomic.replacing_folder(figures) as partial:
        partial.mkdir()
        (partial / "map.png").write_text("half of a new map")
        raise Failure
    assert sorted(p.name for p in figures.iterdir()) == ["gone.png", "map.png"]
    assert (figures / "map.png").read_text() == "old map"
    assert _leftovers(tmp_path) == []
    with atomic.replacing_folder(figures) as partial:
        partial.mkdir()
        (partial / "map.png").write_text("new map")
    assert [p.name for p in figures.iterdir()] == ["map.png"]
    assert (figures / "map.png").read_text() == "new map"
    assert _leftovers(tmp_path) == []
