"""A hand-written multi-aquifer case (manifest + CSV files) shared by the case-IO tests,
and an exact comparison of two Case objects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

MANIFEST = """\
schema = 1
name = "two-aquifers"
description = "base case for the case-file tests"

[time]
start = "2000-01-01"
periods = 4
freq = "MS"

[cells]
file = "cells.csv"

[[aquifers]]
name = "upper"
head = { file = "heads.csv" }
top = 0.0
bottom = 50.0
  [aquifers.interbeds]
  thickness = 2.0
  count = 3
  kv = 1e-5
  sske = 1e-5
  sskv = 1e-3
  [aquifers.nodelay]
  thickness = 10.0
  sske = 2e-6
  sskv = 1e-4
  preconsolidation_head = 18.0

[[aquifers]]
name = "lower"
head = 12.0
top = 60.0
bottom = 120.0
  [[aquifers.interbeds]]
  thickness = { file = "params.csv", column = "b_lower" }
  kv = 1e-6
  storage = "indices"
  cc = 0.3
  cr = 0.03
  void_ratio = 0.8
  [[aquifers.interbeds]]
  thickness = 1.0
  kv = { file = "params.csv", column = "kv_lower" }
  sske = 1e-5
  sskv = 5e-4
  [aquifers.coarse]
  thickness = 40.0
  sske = 1e-6

[geostatic]
sgm = 1.7
sgs = 2.0

[observations]
displacement = { file = "insar.csv" }
extensometers = { file = "ext.csv" }
wells = { file = "wells.csv" }
"""

FILES = {
    "cells.csv": "id,x,y,zone\nA,100.5,200.25,north\nB,300.0,-50.0,north\nC,0.125,7.0,south\n",
    "heads.csv": ("time,A,B,C\n2000-01-01,20.0,21.5,19.0\n2000-02-01,19.5,21.0,18.25\n"
                  "2000-03-01,19.0,20.5,17.5\n2000-04-01,18.5,20.0,16.75\n"),
    "params.csv": "id,b_lower,kv_lower\nA,1.5,2e-6\nB,2.5,3e-6\nC,3.5,4e-6\n",
    "insar.csv": "time,A,C\n2000-02-01,-0.001,\n2000-04-01,-0.003,-0.002\n",
    "ext.csv": ("site,cell,aquifer,time,compaction\nE1,B,upper,2000-03-01,0.004\n"
                "E1,B,lower,2000-03-01,0.001\n"),
    "wells.csv": ("well,x,y,aquifer,time,head\nW1,10.0,20.0,lower,2000-01-15,12.5\n"
                  "W2,30.0,40.0,upper,2000-02-01,19.0\n"),
}


def write_base_case(folder: Path) -> Path:
    """Write the hand-written case into ``folder``; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    manifest = folder / "case.toml"
    manifest.write_text(MANIFEST)
    return manifest


def assert_same(a, b, where: str = "case") -> None:
    """Equal field by field (arrays exactly, NaN equal to NaN, dtypes of the same kind)."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.name != "source":
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype.kind == b.dtype.kind, (where, a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b, err_msg=where, strict=False)
    else:
        assert a == b, (where, a, b)
