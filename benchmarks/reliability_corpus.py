"""Malformed-input corpus of every command and file kind, and its tally (issue 13).

Each input is something a hostile or clumsy user gives landsub: a mutated case manifest,
CSV or HDF5 array, a path out of the case folder, a bad solver option, an output path
that cannot be written, a corrupted model folder, a bad bench or whatif argument or
scenario file, a damaged result file. Every one is run through the command line's entry
point (``engine.app.cli.main``, in this process: 150+ fresh interpreters would take
minutes) and classified:

    refused   exit 2 and exactly one line on stderr (the goal for every input)
    traceback an exception escaped the command's error handler
    silent    exit 0: accepted without a word
    hang      still running after --timeout seconds (SIGALRM)

    python benchmarks/reliability_corpus.py [--timeout 60] [--only SUBSTRING]

Writes benchmarks/results/reliability_corpus.json (every input with its outcome and
first stderr line) and prints the tally per kind.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cases.synthetic import synthetic_case  # noqa: E402
from engine.app.cli import main  # noqa: E402
from engine.caseio import write_case  # noqa: E402


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run(argv: list[str], timeout: int) -> tuple[str, str]:
    """(outcome, first line of stderr) of ``landsub *argv``."""
    err = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except Hang:
        return "hang", ""
    except SystemExit as e:  # argparse: exit 2 with usage + one error line
        code = e.code
        lines = [line for line in err.getvalue().splitlines() if "error:" in line]
        return ("refused" if code == 2 and lines else f"exit {code}"), (lines or [""])[0]
    except BaseException as e:  # noqa: BLE001 -- that is what is counted
        return "traceback", "".join(traceback.format_exception_only(type(e), e)).strip()[:300]
    finally:
        signal.alarm(0)
    lines = err.getvalue().strip().splitlines()
    if code == 0:
        return "silent", ""
    if code == 2 and len([line for line in lines if "error:" in line]) == 1:
        return "refused", [line for line in lines if "error:" in line][0][:300]
    if "Traceback" in err.getvalue():
        return "traceback", lines[-1][:300] if lines else ""
    return f"exit {code}", (lines or [""])[-1][:300]


# -- the base case and its mutations ---------------------------------------------------


def base_case(folder: Path) -> Path:
    """A 4-cell, 24-month synthetic case with observations (every command runs on it)."""
    return write_case(synthetic_case(n_cells=4, n_months=24, seed=1), folder)


MANIFEST_EDITS = [  # (what, old text, new text) in case.toml
    ("schema 2", "schema = 1", "schema = 2"),
    ("schema text", "schema = 1", 'schema = "1"'),
    ("no schema", "schema = 1\n", ""),
    ("name empty", 'name = "synthetic-1"', 'name = ""'),
    ("name number", 'name = "synthetic-1"', "name = 3"),
    ("unknown top key", "schema = 1", "schema = 1\nshema = 2"),
    ("periods 0", "periods = 24", "periods = 0"),
    ("periods -3", "periods = 24", "periods = -3"),
    ("periods float", "periods = 24", "periods = 24.5"),
    ("periods 1e12", "periods = 24", "periods = 1000000000000"),
    ("periods text", "periods = 24", 'periods = "24"'),
    ("freq W", 'freq = "MS"', 'freq = "W"'),
    ("start bad", 'start = "2005-01-01"', 'start = "2005-13-01"'),
    ("start mid-month", 'start = "2005-01-01"', 'start = "2005-01-15"'),
    ("cells count 1e12", 'file = "cells.csv"', "count = 1000000000000"),
    ("cells count 0", 'file = "cells.csv"', "count = 0"),
    ("cells both", 'file = "cells.csv"', 'file = "cells.csv"\ncount = 4'),
    ("cells file missing", 'file = "cells.csv"', 'file = "nope.csv"'),
    ("cells file dir", 'file = "cells.csv"', 'file = "."'),
    ("aquifers table", '[[aquifers]]\nname = "confined-1"', '[aquifers]\nname = "confined-1"'),
    ("head text", 'head = { file = "heads_0.csv" }', 'head = "high"'),
    ("head nan", 'head = { file = "heads_0.csv" }', "head = nan"),
    ("head inf", 'head = { file = "heads_0.csv" }', "head = inf"),
    ("head 1e300", 'head = { file = "heads_0.csv" }', "head = 1e300"),
    (
        "count 1e308",
        'count = { file = "params.csv", column = "aquifers[0].interbeds[0].count" }',
        "count = 1e308",
    ),
    (
        "thickness 1e-320",
        'thickness = { file = "params.csv", column = "aquifers[0].interbeds[0].thickness" }',
        "thickness = 1e-320",
    ),
    (
        "thickness -1",
        'thickness = { file = "params.csv", column = "aquifers[0].interbeds[0].thickness" }',
        "thickness = -1.0",
    ),
    ("kv 0", 'kv = { file = "params.csv", column = "aquifers[0].interbeds[0].kv" }', "kv = 0.0"),
    (
        "sske > sskv",
        'sske = { file = "params.csv", column = "aquifers[0].interbeds[0].sske" }',
        "sske = 1.0",
    ),
    ("storage bogus", 'storage = "specific"', 'storage = "magic"'),
    ("column missing", 'column = "aquifers[0].interbeds[0].kv"', 'column = "kv_nope"'),
    ("dataset on csv", 'column = "aquifers[0].interbeds[0].kv"', 'dataset = "kv"'),
    ("unknown interbed key", 'storage = "specific"', 'storage = "specific"\nporosity = 0.3'),
    ("not toml", "[time]", "[time"),
    ("dup aquifer name", 'name = "confined-2"', 'name = "confined-1"'),
    (
        "obs file missing",
        'displacement = { file = "displacement.csv" }',
        'displacement = { file = "gone.csv" }',
    ),
    (
        "obs dataset missing file",
        'displacement = { file = "displacement.csv" }',
        'displacement = { file = "displacement.csv", dataset = "d" }',
    ),
    ("description table", 'description = "', 'description = { a = 1 }\nx = "'),
    ("file number", 'file = "cells.csv"', "file = 5"),
    ("file empty", 'file = "cells.csv"', 'file = ""'),
]

ESCAPES = [  # (what, new file reference of cells, setup(folder))
    ("dot-dot", "../outside/cells.csv", None),
    ("deep dot-dot", "../../../../../../etc/passwd", None),
    ("absolute", "/etc/passwd", None),
    ("absolute /dev/zero", "/dev/zero", None),
    (
        "symlink out",
        "link.csv",
        lambda f: (f / "link.csv").symlink_to(f.parent / "outside" / "cells.csv"),
    ),
    ("symlink to /etc/passwd", "pw.csv", lambda f: (f / "pw.csv").symlink_to("/etc/passwd")),
    (
        "symlinked folder out",
        "sub/cells.csv",
        lambda f: (f / "sub").symlink_to(f.parent / "outside"),
    ),
    ("fifo", "fifo.csv", lambda f: os.mkfifo(f / "fifo.csv")),
]

CSV_EDITS = [  # (what, file, new content or a function of the old content)
    ("heads empty", "heads_0.csv", ""),
    ("heads header only", "heads_0.csv", lambda t: t.splitlines()[0] + "\n"),
    ("heads binary", "heads_0.csv", "\x00\x01\x02garbage"),
    ("heads latin-1", "heads_0.csv", lambda t: t.replace("time", "tim\xe9", 1)),
    ("heads truncated", "heads_0.csv", lambda t: t[: len(t) // 2]),
    (
        "heads text value",
        "heads_0.csv",
        lambda t: t.replace(",", ",abc,", 2).replace(",abc,", ",", 1),
    ),
    ("heads nan", "heads_0.csv", lambda t: _cell(t, 3, "nan")),
    ("heads inf", "heads_0.csv", lambda t: _cell(t, 3, "inf")),
    ("heads 1e300", "heads_0.csv", lambda t: _cell(t, 3, "1e300")),
    ("heads extra field", "heads_0.csv", lambda t: t.replace("\n", ",9\n", 3)),
    ("heads date bad", "heads_0.csv", lambda t: t.replace("2005-03-01", "2005-02-30")),
    ("heads date repeat", "heads_0.csv", lambda t: t.replace("2005-03-01", "2005-02-01")),
    ("heads unknown cell", "heads_0.csv", lambda t: _field(t, 0, 1, "zz")),
    ("heads dup column", "heads_0.csv", lambda t: _field(t, 0, 2, t.split(",")[1])),
    ("heads no time", "heads_0.csv", lambda t: t.replace("time", "date", 1)),
    ("cells dup id", "cells.csv", lambda t: _field(t, 2, 0, t.splitlines()[1].split(",")[0])),
    ("cells x text", "cells.csv", lambda t: _field(t, 1, 1, "west")),
    ("cells id time", "cells.csv", lambda t: _field(t, 1, 0, "time")),
    ("cells header only", "cells.csv", "id,x,y\n"),
    ("params missing row", "params.csv", lambda t: "\n".join(t.splitlines()[:-1]) + "\n"),
    ("params nan", "params.csv", lambda t: _cell(t, 1, "nan")),
    ("params dup id", "params.csv", lambda t: _field(t, 2, 0, t.splitlines()[1].split(",")[0])),
    ("displacement inf", "displacement.csv", lambda t: _cell(t, 3, "inf")),
    ("displacement off axis", "displacement.csv", lambda t: t.replace("2005-03-01", "2005-03-02")),
    ("displacement hdf5 bytes", "displacement.csv", "\x89HDF\r\n\x1a\n"),
]


def _field(text: str, line: int, column: int, value: str) -> str:
    """``text`` with field ``column`` of line ``line`` (0: the header) set to ``value``."""
    lines = text.splitlines()
    fields = lines[line].split(",")
    fields[column] = value
    lines[line] = ",".join(fields)
    return "\n".join(lines) + "\n"


def _cell(text: str, line: int, value: str) -> str:
    """``text`` with the last field of data line ``line`` replaced by ``value``."""
    lines = text.splitlines()
    fields = lines[line].split(",")
    fields[-1] = value
    lines[line] = ",".join(fields)
    return "\n".join(lines) + "\n"


def hdf5_inputs(folder: Path) -> list[tuple[str, callable]]:
    """(what, build(case folder) -> None) for cases whose kv comes from arrays.h5."""
    outside = folder / "outside" / "outside.h5"
    raw = folder / "outside" / "raw.bin"

    def dataset(data=None, **kw):
        def build(f):
            with h5py.File(f / "arrays.h5", "w") as h:
                if data is None:
                    h.create_dataset("kv", **kw)
                else:
                    h["kv"] = data

        return build

    def external_link(f):
        with h5py.File(f / "arrays.h5", "w") as h:
            h["kv"] = h5py.ExternalLink(str(outside), "/kv")

    def external_storage(f):
        with h5py.File(f / "arrays.h5", "w") as h:
            h.create_dataset("kv", shape=(4,), dtype="<f8", external=[(str(raw), 0, 32)])

    def not_hdf5(f):
        (f / "arrays.h5").write_text("id,kv\n")

    return [
        ("hdf5 external link", external_link),
        ("hdf5 external storage", external_storage),
        ("hdf5 wrong shape", dataset(np.ones(5))),
        ("hdf5 strings", dataset(np.array([b"a"] * 4))),
        ("hdf5 nan", dataset(np.array([1e-6, np.nan, 1e-6, 1e-6]))),
        ("hdf5 not hdf5", not_hdf5),
        ("hdf5 2-d", dataset(np.ones((4, 2)) * 1e-6)),
    ]


RUN_OPTIONS = [
    "terzaghi:nodes=1e10",
    "terzaghi:nodes=100000",
    "terzaghi:nodes=2",
    "terzaghi:substeps=1000000000000",
    "terzaghi:substeps=0",
    "terzaghi:scheme=fast",
    "terzaghi:threads=-1",
    "terzaghi:threads=99999",
    "terzaghi:nodez=9",
    "terzaghi:nodes=",
    "terzaghi:nodes=nan",
    "nodes=9",
    "trend:k=0",
    "trend:power=nan",
    "trend:power=inf",
    "other:k=1",
]
FIT_OPTIONS = [
    "device=tpu",
    "device=cuda:7",
    "seed=-1",
    "dropout=2.0",
    "dropout=-0.1",
    "clip=nan",
    "lr=inf",
    "lr=0",
    "lr=-1",
    "hidden=100000",
    "hidden=0",
    "layers=1000",
    "epochs=1e3",
    "epochs=0",
    "batch_size=0",
    "window=-1",
    "validation_fraction=1.0",
    "threads=-2",
    "preset=huge",
    "progress=maybe",
    "features=nope",
    "inference_batch=0",
]


def corrupt_models(model: Path, work: Path) -> list[tuple[str, Path]]:
    """Copies of the saved lstm model folder ``model``, each corrupted one way."""
    out = []

    def variant(what, change):
        folder = work / f"model-{len(out)}"
        shutil.copytree(model, folder)
        change(folder)
        out.append((what, folder))

    weights = "weights.safetensors"

    def header(length):
        def change(f):
            data = (f / weights).read_bytes()
            (f / weights).write_bytes(length.to_bytes(8, "little") + data[8:])

        return change

    def json_edit(name, edit):
        def change(f):
            saved = json.loads((f / name).read_text())
            edit(saved)
            (f / name).write_text(json.dumps(saved))
            _reseal(f)

        return change

    def renamed(f):
        data = (f / weights).read_bytes()
        length = int.from_bytes(data[:8], "little")
        head = json.loads(data[8 : 8 + length])
        key = next(k for k in head if k != "__metadata__")
        head["renamed." + key] = head.pop(key)
        text = json.dumps(head).encode()
        text += b" " * (length - len(text)) if len(text) <= length else b""
        (f / weights).write_bytes(len(text).to_bytes(8, "little") + text + data[8 + length :])
        _reseal(f)

    def nan_weights(f):
        from safetensors.numpy import load_file, save_file

        arrays = load_file(f / weights)
        key = sorted(arrays)[0]
        arrays[key] = np.full_like(arrays[key], np.nan)
        save_file(arrays, f / weights)
        _reseal(f)

    def wrong_dtype(f):
        from safetensors.numpy import load_file, save_file

        arrays = {k: v.astype(np.float64) for k, v in load_file(f / weights).items()}
        save_file(arrays, f / weights)
        _reseal(f)

    variant(
        "truncated weights", lambda f: (f / weights).write_bytes((f / weights).read_bytes()[:50])
    )
    variant("random weights", lambda f: (f / weights).write_bytes(os.urandom(2000)))
    variant("header length 2**62", header(2**62))
    variant(
        "weights edited, manifest not",
        lambda f: (f / weights).write_bytes((f / weights).read_bytes()[:-4] + b"\0\0\0\0"),
    )
    variant("renamed tensor", renamed)
    variant("NaN weights", nan_weights)
    variant("float64 weights", wrong_dtype)
    variant("solver.json list", lambda f: (f / "solver.json").write_text("[1, 2]"))
    variant("solver.json solver number", json_edit("solver.json", lambda s: s.update(solver=5)))
    variant(
        "solver.json unknown solver", json_edit("solver.json", lambda s: s.update(solver="nope"))
    )
    variant("no manifest", lambda f: (f / "solver.json").unlink())
    variant("missing split file", lambda f: (f / "split.json").unlink())
    variant("stray file", lambda f: (f / "old-weights.bin").write_bytes(b"x"))
    variant(
        "config hidden huge", json_edit("config.json", lambda s: s["config"].update(hidden=10**7))
    )
    variant(
        "config device cuda:7",
        json_edit("config.json", lambda s: s["config"].update(device="cuda:7")),
    )
    variant(
        "config lr inf", json_edit("config.json", lambda s: s["config"].update(lr=float("inf")))
    )
    variant(
        "NaN normalisation",
        json_edit(
            "normalisation.json", lambda s: s.update(center=[float("nan")] * len(s["center"]))
        ),
    )
    variant(
        "short normalisation",
        json_edit("normalisation.json", lambda s: s.update(scale=s["scale"][:1])),
    )
    variant(
        "target scale NaN", json_edit("config.json", lambda s: s.update(target_scale=float("nan")))
    )
    return out


def _reseal(folder: Path) -> None:
    """Rewrite the manifest's SHA-256 list, so that a corruption is judged by the model's
    own checks rather than only by the manifest's."""
    from engine.persistence import MANIFEST_FILE, _sha256

    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"] = {
        p.relative_to(folder).as_posix(): _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))


def build_corpus(work: Path) -> list[tuple[str, str, list[str]]]:
    """(kind, what, argv) of every input; files are made under ``work``."""
    base = base_case(work / "base")
    (work / "outside").mkdir()
    shutil.copy(work / "base" / "cells.csv", work / "outside" / "cells.csv")
    with h5py.File(work / "outside" / "outside.h5", "w") as h:
        h["kv"] = np.full(4, 1e-6)
    np.full(4, 1e-6).tofile(work / "outside" / "raw.bin")
    corpus = []

    def variant(kind, what, change) -> Path:
        folder = work / f"case-{len(corpus)}"
        shutil.copytree(work / "base", folder, symlinks=True)
        change(folder)
        return folder / "case.toml"

    def edit_manifest(old, new):
        def change(folder):
            text = (folder / "case.toml").read_text()
            assert old in text, old
            (folder / "case.toml").write_text(text.replace(old, new, 1))

        return change

    for what, old, new in MANIFEST_EDITS:
        path = variant("manifest", what, edit_manifest(old, new))
        corpus.append(
            (
                "manifest",
                what,
                ["run", str(path), "--solver", "terzaghi", "--out", str(path.parent / "r.h5")],
            )
        )
    for what, name, setup in ESCAPES:

        def change(folder, name=name, setup=setup):
            edit_manifest('file = "cells.csv"', f'file = "{name}"')(folder)
            if setup:
                setup(folder)

        path = variant("escape", what, change)
        corpus.append(("escape", what, ["info", str(path)]))
    for what, name, new in CSV_EDITS:

        def change(folder, name=name, new=new):
            old = (folder / name).read_text()
            (folder / name).write_text(
                new(old) if callable(new) else new, encoding="utf-8", errors="surrogateescape"
            )

        path = variant("csv", what, change)
        corpus.append(
            (
                "csv",
                what,
                ["run", str(path), "--solver", "terzaghi", "--out", str(path.parent / "r.h5")],
            )
        )
    for what, build in hdf5_inputs(work):

        def change(folder, build=build):
            build(folder)
            edit_manifest(
                'kv = { file = "params.csv", column = "aquifers[0].interbeds[0].kv" }',
                'kv = { file = "arrays.h5", dataset = "kv" }',
            )(folder)

        path = variant("hdf5", what, change)
        corpus.append(("hdf5", what, ["info", str(path)]))
    for option in RUN_OPTIONS:
        corpus.append(
            (
                "run option",
                option,
                [
                    "run",
                    str(base),
                    "--solver",
                    option.split(":")[0] if ":" in option else "terzaghi",
                    "--option",
                    option,
                    "--out",
                    str(work / "r.h5"),
                ],
            )
        )
    for option in FIT_OPTIONS:
        corpus.append(
            (
                "fit option",
                option,
                [
                    "fit",
                    str(base),
                    "--solver",
                    "lstm",
                    "--preset",
                    "fast",
                    "--option",
                    f"lstm:{option}",
                    "--out",
                    str(work / "fit-out"),
                ],
            )
        )
    (work / "a-file").write_text("x")
    (work / "a-folder").mkdir()
    for command, target, what in [
        (["run", str(base), "--solver", "zero", "--out"], "", "run --out empty"),
        (["run", str(base), "--solver", "zero", "--out"], "a-folder", "run --out folder"),
        (["run", str(base), "--solver", "zero", "--out"], "a-file/r.h5", "run --out under file"),
        (["fit", str(base), "--solver", "trend", "--out"], "a-file", "fit --out file"),
        (["fit", str(base), "--solver", "trend", "--out"], "", "fit --out empty"),
        (["fit", str(base), "--solver", "trend", "--out"], "a-file/m", "fit --out under file"),
        (["bench", str(base), "--solvers", "trend", "--out"], "a-file", "bench --out file"),
        (["bench", str(base), "--solvers", "trend", "--out"], "a-file/b", "bench --out under file"),
        (["make-case", "beijing", "--size", "tiny", "--out"], "a-file", "make-case --out file"),
        (
            ["make-case", "beijing", "--size", "tiny", "--out"],
            "a-file/x",
            "make-case --out under file",
        ),
        (
            [
                "whatif",
                str(base),
                "--scenario",
                str(work / "scenario.toml"),
                "--solvers",
                "zero",
                "--out",
            ],
            "a-file",
            "whatif --out file",
        ),
    ]:
        corpus.append(("output path", what, command + [str(work / target) if target else ""]))
    for what, args in [
        ("threshold nan", ["--threshold", "nan"]),
        ("threshold 5", ["--threshold", "5"]),
        ("split none", ["--split", "none"]),
        ("max-horizon -5", ["--max-horizon", "-5"]),
        ("seed -1", ["--seed", "-1"]),
        ("split bogus", ["--split", "sideways"]),
        ("unknown solver", ["--solvers", "nope"]),
        ("option unknown solver", ["--option", "nope:k=1"]),
        ("option bad value", ["--option", "trend:k=-1"]),
    ]:
        argv = ["bench", str(base), "--solvers", "trend", "--out", str(work / "bench-out"), *args]
        corpus.append(("bench argument", what, argv))
    scenarios = {
        "not toml": "name = \n",
        "unknown key": 'name = "s"\nuntil = "2008-12"\nfoo = 1\n',
        "until before case": 'name = "s"\nuntil = "2001-01"\n',
        "heads offset text": 'name = "s"\nuntil = "2008-12"\n[[heads]]\naquifer = "all"\n'
        'start = "2007-01"\nend = "2007-06"\noffset = "up"\n',
        "heads offset nan": 'name = "s"\nuntil = "2008-12"\n[[heads]]\naquifer = "all"\n'
        'start = "2007-01"\nend = "2007-06"\noffset = nan\n',
        "unknown aquifer": 'name = "s"\nuntil = "2008-12"\n[[heads]]\naquifer = "x"\n'
        'start = "2007-01"\nend = "2007-06"\noffset = 1.0\n',
    }
    (work / "scenario.toml").write_text(scenarios["unknown key"].replace("foo = 1\n", ""))
    for what, text in scenarios.items():
        path = work / f"scenario-{len(corpus)}.toml"
        path.write_text(text)
        corpus.append(
            (
                "whatif scenario",
                what,
                [
                    "whatif",
                    str(base),
                    "--scenario",
                    str(path),
                    "--solvers",
                    "zero",
                    "--members",
                    "2",
                    "--scheduler",
                    "serial",
                    "--out",
                    str(work / "whatif-out"),
                ],
            )
        )
    for what, args in [
        ("members 0", ["--members", "0"]),
        ("members -1", ["--members", "-1"]),
        ("spread nan", ["--spread", "kv=nan"]),
        ("until bad", ["--until", "2008-13"]),
        ("scenario missing", ["--scenario", str(work / "missing.toml")]),
    ]:
        argv = [
            "whatif",
            str(base),
            "--scenario",
            str(work / "scenario.toml"),
            "--solvers",
            "zero",
            "--scheduler",
            "serial",
            "--out",
            str(work / "whatif-out"),
            *args,
        ]
        corpus.append(("whatif argument", what, argv))
    for what, args in [
        ("size huge", ["--size", "huge"]),
        ("seed text", ["--seed", "x"]),
        ("settings missing", ["--settings", str(work / "none.toml")]),
        ("scenario missing", ["--scenario", str(work / "none.toml")]),
    ]:
        corpus.append(
            (
                "make-case argument",
                what,
                ["make-case", "beijing", *args, "--out", str(work / "twin")],
            )
        )
    # result files for `info`
    results = work / "results"
    results.mkdir()
    good = results / "good.h5"
    main(["run", str(base), "--solver", "zero", "--out", str(good)])
    for what, change in [
        ("options not JSON", lambda h: h.attrs.__setitem__("options", "{not json")),
        ("split not JSON", lambda h: h.attrs.__setitem__("split", "[")),
        ("no displacement", lambda h: h.__delitem__("displacement")),
        ("schema 99", lambda h: h.attrs.__setitem__("schema_version", 99)),
        ("no solver attr", lambda h: h.attrs.__delitem__("solver")),
    ]:
        path = results / f"{len(corpus)}.h5"
        shutil.copy(good, path)
        with h5py.File(path, "a") as h:
            change(h)
        corpus.append(("result file", what, ["info", str(path)]))
    (results / "text.h5").write_text("not hdf5")
    corpus.append(("result file", "text as .h5", ["info", str(results / "text.h5")]))
    corpus.append(("result file", "/dev/zero", ["info", "/dev/zero"]))
    os.mkfifo(results / "pipe.h5")
    corpus.append(("result file", "fifo", ["info", str(results / "pipe.h5")]))
    # model folders: one lstm fitted (fast preset), then corrupted copies
    fitted = work / "fitted"
    main(
        [
            "fit",
            str(base),
            "--solver",
            "lstm",
            "--preset",
            "fast",
            "--option",
            "lstm:epochs=2",
            "--out",
            str(fitted),
        ]
    )
    for what, folder in corrupt_models(fitted / "model", work):
        corpus.append(
            (
                "model folder",
                what,
                ["run", str(base), "--model", str(folder), "--out", str(work / "m.h5")],
            )
        )
    corpus.append(
        (
            "model folder",
            "a file",
            ["run", str(base), "--model", str(work / "a-file"), "--out", str(work / "m.h5")],
        )
    )
    corpus.append(
        (
            "model folder",
            "missing",
            ["run", str(base), "--model", str(work / "nope"), "--out", str(work / "m.h5")],
        )
    )
    corpus.append(
        (
            "run",
            "model and option",
            [
                "run",
                str(base),
                "--model",
                str(fitted / "model"),
                "--option",
                "lstm:hidden=3",
                "--out",
                str(work / "m.h5"),
            ],
        )
    )
    corpus.append(("global", "max-memory junk", ["--max-memory", "lots", "info", str(base)]))
    return corpus


def main_corpus() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=int, default=60)
    p.add_argument("--only", default="")
    p.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "reliability_corpus.json")
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="landsub-corpus-") as tmp:
        corpus = [c for c in build_corpus(Path(tmp)) if args.only in f"{c[0]} {c[1]}"]
        rows = []
        for kind, what, argv in corpus:
            outcome, line = run(argv, args.timeout)
            rows.append(
                {
                    "kind": kind,
                    "input": what,
                    "argv": " ".join(a.replace(tmp, "$TMP") for a in argv),
                    "outcome": outcome,
                    "message": line.replace(tmp, "$TMP"),
                }
            )
            print(f"{outcome:9s} {kind:18s} {what:32s} {rows[-1]['message'][:110]}", flush=True)
    tally = {}
    for row in rows:
        tally.setdefault(row["kind"], {}).setdefault(row["outcome"], 0)
        tally[row["kind"]][row["outcome"]] += 1
    total = {
        o: sum(1 for r in rows if r["outcome"] == o) for o in sorted({r["outcome"] for r in rows})
    }
    print(f"\n{len(rows)} inputs: " + ", ".join(f"{o} {n}" for o, n in total.items()))
    for kind, counts in tally.items():
        print(f"  {kind:18s} " + ", ".join(f"{o} {n}" for o, n in sorted(counts.items())))
    if not args.only:
        Path(args.out).write_text(
            json.dumps({"total": total, "per_kind": tally, "inputs": rows}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main_corpus())
