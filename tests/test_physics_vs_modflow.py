"""The Numba solver's exact CSUB mirror (``terzaghi`` with scheme="csub") against
MODFLOW 6 CSUB itself, and every physics solver through the conformance suite."""

import numpy as np
import pytest

from engine.app.verify import terzaghi_step_case
from engine.case import build_case
from engine.conformance import check_solver
from physics.modflow.mf6_csub import Mf6CsubSolver
from physics.solver import TerzaghiSolver


def column_case():
    """Four cells, three aquifers, each with a delay system (two in the deep one),
    no-delay beds and coarse skeleton; overconsolidated starts; heads that fall, recover
    and fall again at different rates per cell. Ten-day steps over ~8 years."""
    days = np.arange(0, 3001, 10)
    rng = np.random.default_rng(7)
    aquifers = []
    for a in range(3):
        drop = (4.0 + 3 * a) * rng.uniform(0.6, 1.4, 4)[:, None]
        shape = np.interp(days, [0, 900, 1500, 2400, 3000], [0, -1.0, -0.55, -1.25, -1.1])
        seasonal = 0.4 * np.sin(2 * np.pi * days / 365.25)[None, :] * (days > 0)
        head = 10.0 * a + drop * shape[None, :] + seasonal
        beds = [{"thickness": rng.uniform(1.0, 4.0, 4), "count": 2.0 + a,
                 "kv": rng.uniform(2e-5, 8e-5, 4), "sske": 1e-5, "sskv": 3e-4,
                 "preconsolidation_head": head[:, 0] - rng.uniform(0.0, 3.0, 4)}]
        if a == 2:
            beds.append({"thickness": 0.8, "count": 5.0, "kv": 1e-5, "sske": 2e-5,
                         "sskv": 5e-4})
        aquifers.append({"name": f"aquifer-{a}", "head": head, "interbeds": beds,
                         "nodelay": {"thickness": 6.0, "sske": 5e-6, "sskv": 1.5e-4,
                                     "preconsolidation_head": head[:, 0] - 1.0},
                         "coarse": {"thickness": 50.0, "sske": 2e-6}})
    return build_case("column", days, aquifers)


@pytest.mark.modflow
@pytest.mark.parametrize("make_case, nodes, substeps", [
    (terzaghi_step_case, 19, 1), (column_case, 19, 1), (column_case, 7, 3)])
def test_csub_mirror_agrees_with_modflow_6(make_case, nodes, substeps):
    case = make_case()
    ours = TerzaghiSolver(scheme="csub", nodes=nodes, substeps=substeps).predict(case)
    theirs = Mf6CsubSolver(ndelaycells=nodes, substeps=substeps).predict(case)
    assert np.abs(ours.compaction).max() > 1e-3          # not a vacuous comparison
    # the README's claim (2e-12 m); measured 1.0e-13 on terzaghi-step, 1.0e-12 per
    # aquifer and 1.24e-12 summed over the column's three aquifers (compaction 0.1 m)
    assert np.abs(ours.compaction - theirs.compaction).max() <= 2e-12
    assert np.abs(ours.displacement - theirs.displacement).max() <= 2e-12


@pytest.mark.modflow
def test_modflow_delay_bed_error_is_what_csub_documents_and_ours_is_smaller():
    """MODFLOW 6 CSUB's 19-cell delay bed is off by about 1 % of ultimate on a step
    load (t >= 0.01 tau), falling with more cells; the default scheme is well under it."""
    from engine.app.verify import compare

    case = terzaghi_step_case()
    errors = {n: compare(case, Mf6CsubSolver(ndelaycells=n).predict(case))[0]
              ["max_error_percent"] for n in (19, 39)}
    assert 0.5 < errors[19] < 2.0
    assert errors[39] < errors[19] / 2
    ours = compare(case, TerzaghiSolver().predict(case))[0]["max_error_percent"]
    assert ours < errors[19] / 3


def test_terzaghi_passes_the_conformance_suite():
    assert "determinism" in " ".join(check_solver("terzaghi"))


@pytest.mark.modflow
def test_mf6_csub_passes_the_conformance_suite():
    check_solver("mf6-csub")


@pytest.mark.modflow("mfnwt")
def test_mf_sub_passes_the_conformance_suite():
    check_solver("mf-sub")
