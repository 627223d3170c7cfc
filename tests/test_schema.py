"""One set of rules for a case, whether it comes from a file (load_case) or is built in
Python (validate_case, which the physics solvers call)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from case_files import MANIFEST, write_base_case

from engine.case import build_case
from engine.caseio import load_case
from engine.errors import InputError
from engine.schema import RULES, validate_case
from physics.solver import TerzaghiSolver

DAYS = np.arange(0, 400, 10)
# down 10 m in 200 days, then back up 6 m
HEAD = np.where(DAYS < 200, -0.05 * DAYS, -10 + 0.03 * (DAYS - 200))
BED = {"thickness": 2.0, "count": 1.0, "kv": 1e-4, "sske": 1e-5, "sskv": 1e-3}


def one_bed(**changes):
    return build_case("bed", DAYS, [{"head": HEAD, "interbeds": [{**BED, **changes}]}])


def test_every_case_file_parameter_has_a_rule():
    assert set(RULES) >= {"thickness", "count", "kv", "sske", "sskv", "cc", "cr", "void_ratio",
                          "preconsolidation_head", "top", "bottom", "land_surface", "sgm", "sgs"}


@pytest.mark.parametrize("key,value,kept", [
    ("kv", 0.0, False), ("thickness", 0.0, False), ("count", 0.5, False),
    ("sskv", 0.0, False), ("sske", 0.0, True), ("sske", np.nan, False)])
def test_the_file_and_a_built_case_take_the_same_bounds(tmp_path, key, value, kept):
    manifest = write_base_case(tmp_path)
    # the upper aquifer's interbed: thickness 2, count 3, kv 1e-5, sske 1e-5, sskv 1e-3
    line = {"thickness": "thickness = 2.0", "count": "count = 3", "kv": "kv = 1e-5",
            "sske": "sske = 1e-5", "sskv": "sskv = 1e-3"}[key]
    assert line in MANIFEST
    manifest.write_text(MANIFEST.replace(line, f"{key} = {value!r}", 1))
    built = one_bed(**{key: value})
    if kept:
        load_case(manifest)
        validate_case(built)
        return
    with pytest.raises(InputError, match=rf"aquifers\[0\]\.interbeds\.{key}"):
        load_case(manifest)
    with pytest.raises(InputError, match=rf'aquifers\[0\]\.interbeds\[0\]\.{key}: cell "0": '
                                         rf"{key} = "):
        validate_case(built)


def test_virgin_storage_below_elastic_storage_is_refused_in_a_built_case():
    with pytest.raises(InputError, match=r"sskv = 1e-06 must be >= sske = 1e-05"):
        validate_case(one_bed(sskv=1e-6))


def test_a_rigid_elastic_skeleton_compacts_without_rebound():
    """sske = 0 is allowed: the kernels keep the compaction once the head rises again."""
    parts = TerzaghiSolver().compaction_parts(one_bed(sske=0.0))
    compaction = parts[(0, "interbeds[0]")][0]
    assert compaction[-1] >= compaction[DAYS < 200].max() > 0


def test_indices_storage_needs_the_geostatic_load_and_depths():
    bed = {"thickness": 1.0, "count": 1.0, "kv": 1e-4, "storage": "indices", "cc": 0.2,
           "cr": 0.02, "void_ratio": 0.7}
    case = build_case("x", DAYS, [{"head": HEAD, "interbeds": [bed]}])
    with pytest.raises(InputError, match=r"geostatic: missing.*aquifers\[0\]\.interbeds\[0\]"):
        validate_case(case)
    case = build_case("x", DAYS, [{"head": HEAD, "interbeds": [bed]}], geostatic={
        "sgm": 1.7, "sgs": 2.0})
    with pytest.raises(InputError, match=r"aquifers\[0\]\.top: missing"):
        validate_case(case)
    case = build_case("x", DAYS, [{"head": HEAD, "interbeds": [bed], "top": 50.0,
                                   "bottom": 40.0}], geostatic={"sgm": 1.7, "sgs": 2.0})
    with pytest.raises(InputError, match=r"aquifers\[0\]\.bottom.*bottom = 40.0 must be > top"):
        validate_case(case)


def test_a_case_named_by_its_file_is_named_so_in_errors(tmp_path):
    case = load_case(write_base_case(tmp_path))
    upper = case.aquifers[0]
    broken = replace(case, aquifers=(replace(upper, interbeds=(replace(
        upper.interbeds[0], kv=np.array([1e-5, -1.0, 1e-5])),)),) + case.aquifers[1:])
    with pytest.raises(InputError) as caught:
        validate_case(broken)
    assert caught.value.source == case.source
    assert caught.value.detail == 'cell "B": kv = -1.0 must be > 0 (m/d)'


def test_a_params_file_takes_the_case_schemas_rules(tmp_path):
    """cases.readers.params accepts exactly what a case file accepts: a rigid skeleton
    (sske = 0) loads, virgin storage below elastic storage is refused, by the same rule."""
    import readers_fixtures as fx

    from cases.readers.params import read_params

    rigid = fx.PARAMS.replace("  sske = 5.0e-6\n", "  sske = 0.0\n", 1)
    (tmp_path / "rigid").mkdir()
    (tmp_path / "rigid" / "params.toml").write_text(rigid)
    params = read_params(tmp_path / "rigid" / "params.toml")
    assert params.aquifers[1].nodelay["sske"] == 0.0

    inverted = fx.PARAMS.replace("  sskv = 1.0e-4\n", "  sskv = 1.0e-6\n", 1)
    (tmp_path / "inverted").mkdir()
    (tmp_path / "inverted" / "params.toml").write_text(inverted)
    with pytest.raises(InputError) as err:
        read_params(tmp_path / "inverted" / "params.toml")
    assert "aquifers[1].nodelay.sskv" in str(err.value) and "sske" in str(err.value)


BARE = """schema = 1
name = "bare"
[time]
start = "2000-01-01"
periods = 3
freq = "MS"
[cells]
count = 2
[[aquifers]]
name = "upper"
head = 1.0
[[aquifers]]
name = "lower"
head = 2.0
"""


@pytest.mark.parametrize("material", ["", "[aquifers.coarse]\nthickness = 30.0\nsske = 0.0\n"],
                         ids=["none", "rigid-skeleton"])
def test_a_case_with_nothing_compressible_is_refused_by_name(tmp_path, capsys, material):
    """terzaghi returned exactly 0 mm on such a case, without a word."""
    from engine.app.cli import main

    manifest = tmp_path / "bare.toml"
    manifest.write_text(BARE + material)
    with pytest.raises(InputError) as caught:
        load_case(manifest)
    assert caught.value.source == str(manifest) and caught.value.field == "aquifers"
    assert caught.value.detail.startswith('case "bare": no aquifer (upper, lower) has '
                                          "compressible material")
    assert main(["run", str(manifest), "--solver", "terzaghi", "--out",
                 str(tmp_path / "r.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{manifest}: aquifers: " in err[0]
    assert not (tmp_path / "r.h5").exists()


def test_a_built_case_with_nothing_compressible_is_refused_by_the_solvers():
    bare = build_case("bare", DAYS, [{"head": HEAD, "coarse": {"thickness": 10.0, "sske": 0.0}}])
    with pytest.raises(InputError, match=r'aquifers: case "bare": no aquifer \(aquifer-0\)'):
        validate_case(bare)
    with pytest.raises(InputError, match="no aquifer"):
        TerzaghiSolver().predict(bare)
    # an elastic skeleton alone is compressible
    validate_case(build_case("coarse", DAYS, [{"head": HEAD, "coarse": {"thickness": 10.0,
                                                                       "sske": 1e-6}}]))
