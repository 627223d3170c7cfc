"""Water-table aquifers: an unconfined aquifer's head changes the geostatic stress on
its beds (moist vs saturated unit weight) as MODFLOW 6 CSUB computes it; the physics
solvers hold that load constant, so they refuse an unconfined aquifer holding
compressible material, in one line naming the case file and the aquifer."""

from __future__ import annotations

import numpy as np
import pytest

from engine.app.cli import main
from engine.case import build_case
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.registry import make_solver

DAYS = np.arange(0, 60, 10)
BED = {"thickness": 1.0, "count": 1.0, "kv": 1e-4, "sske": 1e-5, "sskv": 1e-3}


def two_aquifers(top: dict, confined=None):
    """A water table falling through the top aquifer (top 0 m, land surface 0 m), a
    confined aquifer below it with interbeds."""
    falling = np.linspace(-2.0, -6.0, len(DAYS))
    return build_case("water-table", DAYS, [
        {"name": "phreatic", "head": falling, "top": 0.0, "bottom": 30.0,
         "confined": confined, **top},
        {"name": "deep", "head": falling - 20.0, "interbeds": [BED]}],
        geostatic={"sgm": 1.7, "sgs": 2.0, "land_surface": 0.0})


@pytest.mark.parametrize("solver", ["terzaghi", "mf6-csub", "mf-sub"])
@pytest.mark.parametrize("material", [{"interbeds": [BED]},
                                      {"coarse": {"thickness": 20.0, "sske": 1e-6}},
                                      {"nodelay": {"thickness": 2.0, "sske": 1e-5,
                                                   "sskv": 1e-4}}])
def test_physics_refuses_a_compressible_water_table_aquifer(tmp_path, solver, material):
    manifest = write_case(two_aquifers(material), tmp_path)
    case = load_case(manifest)
    with pytest.raises(InputError) as caught:
        make_solver(solver).predict(case)
    err = caught.value
    kind = next(iter(material))
    assert err.source == str(manifest) and err.field == "aquifers[0].confined"
    assert err.detail.startswith('aquifer "phreatic" is unconfined (its head is a water '
                                 "table inside it at 6 of 6 cell-times")
    assert f"holds compressible material ({kind}" in err.detail
    assert "moist vs saturated unit weight" in err.detail
    assert f"which {solver} does not model" in err.detail


def test_a_declared_unconfined_aquifer_is_refused_too():
    case = two_aquifers({"interbeds": [BED]}, confined=False)
    with pytest.raises(InputError, match=r'is unconfined \(declared\)'):
        make_solver("terzaghi").predict(case)


def test_without_compressible_material_or_declared_confined_it_runs():
    dry = make_solver("terzaghi").predict(two_aquifers({}))
    assert np.all(np.isfinite(dry.displacement)) and dry.displacement[0, -1] < 0
    held = make_solver("terzaghi").predict(two_aquifers({"interbeds": [BED]}, confined=True))
    assert held.compaction[0, 0, -1] > 0


def test_landsub_run_refuses_in_one_line(tmp_path, capsys):
    manifest = write_case(two_aquifers({"interbeds": [BED]}), tmp_path / "case")
    out = tmp_path / "r.h5"
    assert main(["run", str(manifest), "--solver", "terzaghi", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{manifest}: aquifers[0].confined:" in err[0]
    assert not out.exists()
