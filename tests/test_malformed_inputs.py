"""Every bad input is refused with an InputError naming the file, the field and the
offending value. Each case spoils one thing in the valid hand-written case."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from case_files import FILES, MANIFEST, write_base_case

from engine.caseio import load_case
from engine.errors import InputError


def manifest(old: str, new: str):
    def spoil(folder: Path):
        path = folder / "case.toml"
        text = path.read_text()
        assert old in text, f"the base manifest has no {old!r} to replace"
        path.write_text(text.replace(old, new, 1))
    return spoil


def table(name: str, old: str, new: str):
    def spoil(folder: Path):
        path = folder / name
        text = path.read_text()
        assert old in text, f"{name} has no {old!r} to replace"
        path.write_text(text.replace(old, new, 1))
    return spoil


def write(name: str, content):
    def spoil(folder: Path):
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return spoil


def remove(name: str):
    def spoil(folder: Path):
        (folder / name).unlink()
    return spoil


def heads_h5(shape):
    def spoil(folder: Path):
        with h5py.File(folder / "heads.h5", "w") as f:
            f["head"] = np.zeros(shape)
    return spoil


MONTHS = "time\n2000-01-01\n2000-02-01\n2000-03-01\n2000-04-01\n"
USE_TIMES_FILE = manifest('start = "2000-01-01"\nperiods = 4\nfreq = "MS"', 'file = "times.csv"')
SYNTAX_LINE = MANIFEST.splitlines().index("sgm = 1.7") + 1

# id: (spoilers, file that must be named, field fragment, fragment of the message)
CASES = {
    "missing-required-key": (
        [manifest('name = "two-aquifers"\n', "")], "case.toml", "name", "missing"),
    "misspelled-key-suggests": (
        [manifest("kv = 1e-6", "kvv = 1e-6")], "case.toml", "aquifers[1].interbeds[0].kvv",
        'did you mean "kv"'),
    "misspelled-top-level-table": (
        [manifest("[geostatic]", "[geostatc]")], "case.toml", "geostatc",
        'did you mean "geostatic"'),
    "negative-thickness": (
        [manifest("thickness = 10.0", "thickness = -10.0")], "case.toml",
        "aquifers[0].nodelay.thickness", "-10.0"),
    "kv-zero": (
        [manifest("kv = 1e-5", "kv = 0.0")], "case.toml", "aquifers[0].interbeds.kv", "kv = 0.0"),
    "count-below-one": (
        [manifest("count = 3", "count = 0.5")], "case.toml", "aquifers[0].interbeds.count", "0.5"),
    "count-not-a-number": (
        [manifest("count = 3", "count = true")], "case.toml", "aquifers[0].interbeds.count",
        "true"),
    "thickness-as-text": (
        [manifest("thickness = 1.0", 'thickness = "1.0"')], "case.toml",
        "aquifers[1].interbeds[1].thickness", '"1.0"'),
    "nan-head": (
        [table("heads.csv", "2000-02-01,19.5,21.0", "2000-02-01,19.5,nan")], "heads.csv",
        'column "B"', "2000-02-01"),
    "empty-head": (
        [table("heads.csv", "2000-03-01,19.0,20.5,17.5", "2000-03-01,19.0,20.5,")], "heads.csv",
        'column "C"', "2000-03-01"),
    "infinite-head": (
        [table("heads.csv", "2000-01-01,20.0", "2000-01-01,inf")], "heads.csv", 'column "A"',
        "inf"),
    "non-monotone-dates": (
        [USE_TIMES_FILE, write("times.csv", MONTHS.replace("02-01\n2000-03", "03-01\n2000-02"))],
        "times.csv", "time", "line 4: 2000-02-01 comes before line 3"),
    "duplicated-dates": (
        [USE_TIMES_FILE, write("times.csv", MONTHS.replace("2000-03-01", "2000-02-01"))],
        "times.csv", "time", "2000-02-01 repeats"),
    "not-a-date": (
        [USE_TIMES_FILE, write("times.csv", MONTHS.replace("2000-03-01", "2000-03-32"))],
        "times.csv", "time", "2000-03-32"),
    "head-times-differ-from-case": (
        [table("heads.csv", "2000-03-01", "2000-03-02")], "heads.csv", 'column "time"',
        "2000-03-02"),
    "head-column-missing": (
        [write("heads.csv", "time,A,B\n2000-01-01,1,2\n2000-02-01,1,2\n2000-03-01,1,2\n"
                            "2000-04-01,1,2\n")], "heads.csv", "header", '"C"'),
    "head-column-extra": (
        [table("heads.csv", "time,A,B,C\n", "time,A,B,C,D\n")], "heads.csv", 'column "D"',
        '"D" is not a cell id'),
    "head-column-twice": (
        [table("heads.csv", "time,A,B,C\n", "time,A,B,B\n")], "heads.csv", 'column "B"', "twice"),
    "binary-garbage-csv": (
        [write("params.csv", bytes(range(256)) * 8)], "params.csv", "(file)", "binary"),
    "non-utf8-csv": (
        [table("cells.csv", "north", "nörth"), lambda folder: (folder / "cells.csv").write_bytes(
            (folder / "cells.csv").read_text().encode("latin-1"))],
        "cells.csv", "(file)", "0xf6"),
    "ragged-csv-row": (
        [table("cells.csv", "B,300.0,-50.0,north", "B,300.0,-50.0,north,extra")], "cells.csv",
        "(file)", "line 3"),
    "every-row-longer-than-header": (
        [write("cells.csv", FILES["cells.csv"].replace("\n", ",1\n").replace("zone,1", "zone"))],
        "cells.csv", "(file)", "line 2 has 5 fields"),
    "missing-file": (
        [remove("params.csv")], "case.toml", "aquifers[1].interbeds[0].thickness.file",
        '"params.csv" does not exist'),
    "missing-manifest": (
        [remove("case.toml")], "case.toml", "(file)", "does not exist"),
    "wrong-schema": (
        [manifest("schema = 1", "schema = 2")], "case.toml", "schema", "2 is not supported"),
    "nodelay-with-only-preconsolidation": (
        [manifest("  thickness = 10.0\n  sske = 2e-6\n  sskv = 1e-4\n", "")], "case.toml",
        "aquifers[0].nodelay.thickness", "missing"),
    "stray-preconsolidation-key": (
        [manifest("top = 0.0\n", "top = 0.0\npreconsolidation_head = 18.0\n")], "case.toml",
        "aquifers[0].preconsolidation_head", 'unknown key "preconsolidation_head"'),
    "indices-without-geostatic": (
        [manifest("[geostatic]\nsgm = 1.7\nsgs = 2.0\n", "")], "case.toml", "geostatic",
        "aquifers[1].interbeds[0]"),
    "indices-without-cc": (
        [manifest("  cc = 0.3\n", "")], "case.toml", "aquifers[1].interbeds[0].cc", "missing"),
    "indices-without-aquifer-top": (
        [manifest("top = 60.0\n", "")], "case.toml", "aquifers[1].top", "missing"),
    "sske-given-with-indices": (
        [manifest("  cc = 0.3\n", "  cc = 0.3\n  sske = 1e-5\n")], "case.toml",
        "aquifers[1].interbeds[0].sske", "sske = 1e-05"),
    "storage-misspelled": (
        [manifest('storage = "indices"', 'storage = "indexes"')], "case.toml",
        "aquifers[1].interbeds[0].storage", 'did you mean "indices"'),
    "sskv-below-sske": (
        [manifest("sskv = 1e-3", "sskv = 1e-6")], "case.toml", "aquifers[0].interbeds.sskv",
        "sskv = 1e-06"),
    "cc-below-cr": (
        [manifest("cc = 0.3", "cc = 0.01")], "case.toml", "aquifers[1].interbeds[0].cc",
        "cc = 0.01"),
    "bottom-not-below-top": (
        [manifest("bottom = 120.0", "bottom = 55.0")], "case.toml", "aquifers[1].bottom",
        "bottom = 55.0 must be > top = 60.0"),
    "bad-freq": (
        [manifest('freq = "MS"', 'freq = "M"')], "case.toml", "time.freq", 'did you mean "MS"'),
    "periods-zero": (
        [manifest("periods = 4", "periods = 0")], "case.toml", "time.periods", "0 should be"),
    "month-start-not-on-first": (
        [manifest('start = "2000-01-01"', 'start = "2000-01-15"')], "case.toml", "time.start",
        "2000-01-15"),
    "duplicate-cell-ids": (
        [table("cells.csv", "C,0.125", "B,0.125")], "cells.csv", 'column "id"',
        'line 4: cell id "B" repeats line 3'),
    "cells-column-misspelled": (
        [table("cells.csv", "id,x,y,zone", "id,x,y,zonee")], "cells.csv", 'column "zonee"',
        'did you mean "zone"'),
    "duplicate-aquifer-names": (
        [manifest('name = "lower"', 'name = "upper"')], "case.toml", "aquifers[1].name",
        '"upper" is already'),
    "param-file-missing-column": (
        [manifest('column = "kv_lower"', 'column = "kv_lowr"')], "case.toml",
        "aquifers[1].interbeds[1].kv.column", 'params.csv has no column "kv_lowr"'),
    "param-file-missing-id": (
        [table("params.csv", "C,3.5,4e-6\n", "")], "params.csv", 'column "id"', '"C"'),
    "non-numeric-parameter": (
        [table("params.csv", "B,2.5,3e-6", "B,2.5,fast")], "params.csv", 'column "kv_lower"',
        'line 3: "fast" is not a number'),
    "empty-parameter": (
        [table("params.csv", "B,2.5,3e-6", "B,2.5,")], "params.csv", 'column "kv_lower"',
        'line 3 (cell "B")'),
    "negative-parameter-in-file": (
        [table("params.csv", "B,2.5", "B,-2.5")], "params.csv", 'column "b_lower"', "-2.5"),
    "observation-time-not-in-axis": (
        [table("insar.csv", "2000-02-01", "2000-02-15")], "insar.csv", 'column "time"',
        "line 2: 2000-02-15"),
    "observation-unknown-cell": (
        [table("insar.csv", "time,A,C", "time,A,Z")], "insar.csv", 'column "Z"', '"Z"'),
    "extensometer-unknown-aquifer": (
        [table("ext.csv", "B,lower", "B,middle")], "ext.csv", 'column "aquifer"', '"middle"'),
    "extensometer-unknown-cell": (
        [table("ext.csv", "E1,B,upper", "E1,Q,upper")], "ext.csv", 'column "cell"', '"Q"'),
    "well-head-not-a-number": (
        [table("wells.csv", "12.5", "high")], "wells.csv", 'column "head"', '"high"'),
    "toml-syntax-error": (
        [manifest("sgm = 1.7", "sgm = = 1.7")], "case.toml", "(syntax)", f"line {SYNTAX_LINE}"),
    "negative-specific-gravity": (
        [manifest("sgm = 1.7", "sgm = -1.7")], "case.toml", "geostatic.sgm", "-1.7"),
    "stray-key-in-file-reference": (
        [manifest('head = { file = "heads.csv" }', 'head = { file = "heads.csv", column = "A" }')],
        "case.toml", "aquifers[0].head.column", 'unknown key "column"'),
    "hdf5-wrong-shape": (
        [heads_h5((3, 3)), manifest('"heads.csv" }', '"heads.h5", dataset = "head" }')],
        "heads.h5", 'dataset "head"', "(3, 3)"),
    "hdf5-referenced-as-csv": (
        [heads_h5((3, 4)), manifest('{ file = "heads.csv" }', '{ file = "heads.h5" }')],
        "heads.h5", "(file)", "dataset = "),
    "hdf5-missing-dataset": (
        [heads_h5((3, 4)), manifest('"heads.csv" }', '"heads.h5", dataset = "heds" }')],
        "heads.h5", 'dataset "heds"', 'did you mean "head"'),
}


@pytest.mark.parametrize("spoilers,source,field,fragment", CASES.values(), ids=CASES.keys())
def test_malformed_input_is_refused_by_name(tmp_path, spoilers, source, field, fragment):
    manifest_path = write_base_case(tmp_path)
    load_case(manifest_path)  # the unspoiled case is valid
    for spoil in spoilers:
        spoil(tmp_path)
    with pytest.raises(InputError) as caught:
        load_case(manifest_path)
    error = caught.value
    assert Path(error.source).name == source
    assert field in error.field
    assert fragment in error.detail
    assert str(error) == f"{error.source}: {error.field}: {error.detail}"



def assert_valid_case(case, base) -> None:
    """What a case that loads must be, whatever its files said: the manifest's time axis,
    cells and aquifers; finite heads and coordinates; every compressible parameter
    finite and positive (the preconsolidation head finite); observations of the case's
    shape, never infinite, records of equal length pointing at real cells and aquifers.
    A corrupted file that loads is a value change the format allows, or nothing at all."""
    np.testing.assert_array_equal(case.times, base.times)
    assert len(case.cells.ids) == len(base.cells.ids) == len(set(case.cells.ids))
    assert np.isfinite(case.cells.x).all() and np.isfinite(case.cells.y).all()
    names = [a.name for a in case.aquifers]
    # a truncated manifest may validly declare fewer aquifers; never others
    assert names and names == [a.name for a in base.aquifers][:len(names)]
    shape = (len(case.cells.ids), len(case.times))
    for a in case.aquifers:
        assert a.head.shape == shape and np.isfinite(a.head).all(), a.name
        for bed in (*a.interbeds, a.nodelay, a.coarse):
            if bed is None:
                continue
            for key in ("thickness", "sske", "sskv", "kv", "cc", "cr", "void_ratio"):
                values = getattr(bed, key)
                assert values is None or (np.isfinite(values) & (values > 0)).all(), key
            assert bed.count is None or (bed.count >= 1).all()
            assert bed.preconsolidation_head is None or np.isfinite(
                bed.preconsolidation_head).all()
    observed = case.observations
    if observed.displacement is not None:
        assert observed.displacement.shape == shape
        assert not np.isinf(observed.displacement).any()
    for records in (observed.extensometers, observed.wells):
        if records is None:
            continue
        assert len({len(v) for v in records.values()}) == 1
        for key, values in records.items():
            if key == "cell":
                assert ((values >= 0) & (values < shape[0])).all()
            elif key == "aquifer":
                assert ((values >= 0) & (values < len(case.aquifers))).all()
            elif values.dtype.kind == "f":
                assert np.isfinite(values).all(), key


@pytest.mark.parametrize("name", ["case.toml", *FILES])
def test_corrupted_files_are_refused_by_name_or_load_as_valid_cases(tmp_path, name):
    # truncations, deletions, duplications and byte swaps at random places: each load
    # either raises InputError naming the corrupted file (the refusal), or gives a valid
    # case (the mutation changed a value within the format's rules, or nothing); never a
    # parser's own exception, never a case with impossible values
    manifest_path = write_base_case(tmp_path)
    base = load_case(manifest_path)
    original = (tmp_path / name).read_bytes()
    rng = np.random.default_rng(list(name.encode()))
    alphabet = b',"\n\r\t =[]{}.-+e0123456789abcxyz#\xff\x00'
    refused = 0
    for trial in range(60):
        data = bytearray(original)
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(0, len(data) + 1))
            action = rng.integers(0, 4)
            if action == 0:
                del data[at:]
            elif action == 1:
                del data[at:at + int(rng.integers(1, 8))]
            elif action == 2:
                data[at:at] = data[at:at + int(rng.integers(1, 20))]
            else:
                data[at:at + 1] = alphabet[int(rng.integers(0, len(alphabet)))].to_bytes(1, "big")
        (tmp_path / name).write_bytes(bytes(data))
        where = f"{name}, mutation {trial}: {bytes(data)!r}"
        try:
            case = load_case(manifest_path)
        except InputError as error:
            refused += 1
            # the corrupted file is named: as the source, or (a column a manifest
            # reference no longer finds) in the manifest's message
            assert name in str(error), where
            assert Path(error.source).name in (name, "case.toml"), where
            assert str(error) == f"{error.source}: {error.field}: {error.detail}", where
            assert error.detail.strip(), where
        else:
            assert_valid_case(case, base)
    # a loader that let everything through would fail here even if its cases looked
    # valid: nearly all these corruptions break the file (measured: 51 to 59 of 60)
    assert refused >= 45, f"{name}: only {refused} of 60 corruptions refused"
