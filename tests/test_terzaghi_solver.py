"""The ``terzaghi`` solver on whole cases: accuracy against the analytical solution,
refinement, closed forms of every compressible part, hysteresis, stress-dependent
storage, signs and input errors."""

import numpy as np
import pytest

from engine.app.verify import refinement_table, terzaghi_error
from engine.case import build_case
from engine.errors import InputError
from engine.registry import make_solver
from physics.analytical import compaction_piecewise_linear
from physics.solver import TerzaghiSolver
from physics.storage import LOG10_E

MONTHS = np.round(np.arange(241) * 30.4375).astype(int)
YEARS = MONTHS / 365.25


def test_registered_under_its_name():
    assert isinstance(make_solver("terzaghi", nodes=9), TerzaghiSolver)


def test_default_scheme_within_half_a_percent_on_terzaghi_step():
    assert terzaghi_error() <= 0.005
    # ... and more accurate than CSUB's discretisation with as many cells
    assert terzaghi_error(scheme="csub") > 2 * terzaghi_error()


def test_refinement_converges_at_second_order():
    rows = refinement_table(nodes=(19, 39, 79), substeps=(1, 4, 16))
    errors = [r["error"] for r in rows]
    assert errors[0] > errors[1] > errors[2]
    for r in rows[1:]:
        assert 1.8 < r["order"] < 2.3


def test_schemes_converge_to_the_same_solution_through_regime_switches():
    days = np.arange(0, 1001, 10)
    head = np.interp(days, [0, 200, 400, 700, 1000], [0.0, -3.0, -1.0, -5.0, -5.0])
    bed = {"thickness": [2.0, 1.0], "count": [1.0, 2.5], "kv": [1e-5, 4e-6],
           "sske": [2e-5, 1e-5], "sskv": [3e-3, 1e-3], "preconsolidation_head": [-2.0, 0.0]}
    case = build_case("switching", days, [{"head": np.tile(head, (2, 1)), "interbeds": [bed]}])
    fine = TerzaghiSolver(scheme="default", nodes=79, substeps=16).predict(case).displacement
    csub = TerzaghiSolver(scheme="csub", nodes=319, substeps=32).predict(case).displacement
    scale = np.abs(csub).max(axis=1, keepdims=True)
    assert np.max(np.abs(fine - csub) / scale) < 5e-4


def column_aquifers():
    aquifers = []
    for a, (rate, b, kv, count, sskv) in enumerate([
            (1.0, [2.0, 4.0, 6.0], 2e-6, 2.0, 2e-4),
            (1.5, [3.0, 5.0, 8.0], 1e-6, 3.0, 3e-4),
            (2.0, [4.0, 6.0, 10.0], [1e-6, 3e-6, 5e-6], 2.0, 2e-4)]):
        head = -rate * np.outer([0.8, 1.0, 1.2], YEARS) - 0.3 * YEARS**1.5
        aquifers.append({
            "name": f"aquifer-{a}", "head": head,
            "interbeds": [{"thickness": b, "count": count, "kv": kv, "sske": 1e-5,
                           "sskv": sskv}],
            "nodelay": {"thickness": 5.0 + a, "sske": 5e-6, "sskv": 1e-4},
            "coarse": {"thickness": 40.0 + 20 * a, "sske": 2e-6}})
    # a second interbed system in the deepest aquifer
    aquifers[2]["interbeds"].append({"thickness": 1.5, "count": 6.0, "kv": 1e-6,
                                     "sske": 1e-5, "sskv": 4e-4})
    return aquifers


def test_three_aquifer_column_parts_and_total():
    aquifers = column_aquifers()
    case = build_case("column", MONTHS, aquifers)
    solver = TerzaghiSolver()
    parts = solver.compaction_parts(case)
    result = solver.predict(case)
    assert result.displacement.shape == (3, len(MONTHS))
    assert result.compaction.shape == (3, 3, len(MONTHS))
    for a, aq in enumerate(aquifers):
        drawdown = aq["head"][:, :1] - aq["head"]
        # heads only fall from a normally consolidated start: virgin storage throughout
        np.testing.assert_allclose(parts[(a, "nodelay")],
                                   aq["nodelay"]["thickness"] * 1e-4 * drawdown, rtol=1e-12)
        np.testing.assert_allclose(parts[(a, "coarse")],
                                   aq["coarse"]["thickness"] * 2e-6 * drawdown, rtol=1e-12)
        for j, ib in enumerate(aq["interbeds"]):
            got = parts[(a, f"interbeds[{j}]")]
            for n in range(3):
                b = np.broadcast_to(ib["thickness"], 3)[n]
                kv = np.broadcast_to(ib["kv"], 3)[n]
                exact = ib["count"] * compaction_piecewise_linear(
                    case.days, case.days, aq["head"][n], b, kv, ib["sskv"])
                assert np.max(np.abs(got[n] - exact)) <= 0.005 * exact[-1]
        own = [p for (k, _), p in parts.items() if k == a]
        np.testing.assert_allclose(result.compaction[a], sum(own), rtol=1e-14)
    np.testing.assert_allclose(result.displacement, -result.compaction.sum(axis=0),
                               rtol=1e-14)
    # signs: falling heads, shortening beds, ground going down
    assert np.all(result.displacement[:, 0] == 0.0)
    assert np.all(result.displacement[:, 1:] < 0) and np.all(result.compaction[:, :, 1:] > 0)


def test_overconsolidated_start():
    # preconsolidation -3 m below a start at 0 m: elastic to -3, virgin beyond
    days = np.arange(0, 3001, 5)
    head = np.interp(days, [0, 1000, 3000], [0.0, -8.0, -8.0])
    bed = {"thickness": 2.0, "count": 3.0, "kv": 1e-5, "sske": 1e-5, "sskv": 5e-4,
           "preconsolidation_head": -3.0}
    nodelay = {"thickness": 4.0, "sske": 1e-5, "sskv": 5e-4, "preconsolidation_head": -3.0}
    case = build_case("oc", days, [{"head": head, "interbeds": [bed], "nodelay": nodelay}])
    parts = TerzaghiSolver().compaction_parts(case)
    law = (1e-5 * np.minimum(-head, 3.0) + 5e-4 * np.maximum(-head - 3.0, 0.0))
    np.testing.assert_allclose(parts[(0, "nodelay")][0], 4.0 * law, rtol=1e-12, atol=1e-15)
    # tau = 1000 d, so the bed has equilibrated by day 3000
    assert parts[(0, "interbeds[0]")][0, -1] == pytest.approx(2.0 * 3.0 * law[-1], rel=1e-5)
    # a preconsolidation head above the start is the start (normally consolidated)
    above = build_case("above", days, [{"head": head, "nodelay": dict(
        nodelay, preconsolidation_head=2.0)}])
    normal = build_case("normal", days, [{"head": head, "nodelay": dict(
        nodelay, preconsolidation_head=None)}])
    np.testing.assert_array_equal(TerzaghiSolver().predict(above).displacement,
                                  TerzaghiSolver().predict(normal).displacement)


def test_elastic_cycle_returns_to_zero_and_is_linear():
    # elastic-cycle: 2 m down over 500 d, back by 1000 d, rest; preconsolidation at -10
    days = np.arange(0, 4001)
    head = np.interp(days, [0, 500, 1000, 4000], [0.0, -2.0, 0.0, 0.0])
    bed = {"thickness": 5.0, "count": 2.0, "kv": 1e-5, "sske": 2e-4, "sskv": 5e-3,
           "preconsolidation_head": -10.0}
    case = build_case("elastic-cycle", days, [{"head": head, "interbeds": [bed]}])
    displacement = TerzaghiSolver().predict(case).displacement[0]
    assert abs(displacement[-1]) <= 1e-9
    # elastic storage is linear: the analytical superposition with Sske applies
    exact = 2.0 * compaction_piecewise_linear(days, [0, 500, 1000], [0.0, -2.0, 0.0],
                                              5.0, 1e-5, 2e-4)
    assert np.max(np.abs(-displacement - exact)) <= 0.005 * np.max(exact)


def test_inelastic_compaction_is_not_recovered():
    days = np.arange(0, 4001, 2)
    head = np.interp(days, [0, 100, 2000, 2100, 4000], [0.0, -5.0, -5.0, -2.0, -2.0])
    bed = {"thickness": 1.0, "count": 2.0, "kv": 1e-4, "sske": 1e-5, "sskv": 1e-3}
    case = build_case("unload", days, [{"head": head, "interbeds": [bed]}])
    compaction = -TerzaghiSolver().predict(case).displacement[0]  # tau = 2.5 d
    # 5 m of virgin compaction, 3 m of elastic rebound; the rest stays
    assert compaction[-1] == pytest.approx(2.0 * (1e-3 * 5.0 - 1e-5 * 3.0), rel=1e-9)
    peak = compaction[days == 2000][0]
    assert compaction[-1] >= peak - 2.0 * 1e-5 * 3.0 - 1e-12


def stress_case(storage_part):
    # water table at 5 m under a land surface at 10 m; aquifer middle at 40 m depth
    days = np.arange(0, 1001)
    head = np.interp(days, [0, 1000], [5.0, -15.0])
    aquifer = {"head": head, "top": 30.0, "bottom": 50.0, **storage_part}
    return build_case("indices", days, [aquifer],
                      geostatic={"sgm": 1.7, "sgs": 2.0, "land_surface": 10.0})


def test_stress_dependent_storage_follows_the_log_law():
    # by hand: total stress at z = -30 m is 1.7*5 + 2.0*35 = 78.5 m of water,
    # effective stress 78.5 - (h + 30)
    sigma0, sigma1 = 78.5 - (5.0 + 30.0), 78.5 - (-15.0 + 30.0)
    cc, cr, e0 = 0.3, 0.03, 0.8
    nodelay = {"thickness": 10.0, "storage": "indices", "cc": cc, "cr": cr, "void_ratio": e0}
    log_law = 10.0 * LOG10_E * cc / (1 + e0) * np.log(sigma1 / sigma0)
    case = stress_case({"nodelay": nodelay})
    coarse1, coarse10 = (TerzaghiSolver(substeps=s).compaction_parts(case)[(0, "nodelay")]
                         [0, -1] for s in (1, 10))
    # Ss lagged per step: first order in the step, towards the exact log law
    assert coarse1 == pytest.approx(log_law, rel=2e-3)
    assert abs(coarse10 - log_law) < 0.2 * abs(coarse1 - log_law)
    bed = {"thickness": 1.0, "count": 2.0, "kv": 1e-4, "storage": "indices", "cc": cc,
           "cr": cr, "void_ratio": e0}
    held = stress_case({"interbeds": [bed]})
    delay = TerzaghiSolver().compaction_parts(held)[(0, "interbeds[0]")][0, -1]
    assert delay == pytest.approx(2.0 * log_law / 10.0, rel=2e-3)


def test_input_errors_name_the_field():
    days = np.arange(0, 11)
    head = -0.1 * days
    with pytest.raises(InputError, match=r"geostatic"):
        TerzaghiSolver().predict(build_case("x", days, [{"head": head, "nodelay": {
            "thickness": 1.0, "storage": "indices", "cc": 0.2, "cr": 0.02,
            "void_ratio": 0.7}}]))
    with pytest.raises(InputError, match=r"aquifers\[0\]\.interbeds\[0\]\.kv.*-1"):
        TerzaghiSolver().predict(build_case("x", days, [{"head": head, "interbeds": [{
            "thickness": 1.0, "count": 1.0, "kv": -1.0, "sske": 1e-5, "sskv": 1e-3}]}]))
    with pytest.raises(InputError, match=r"aquifers\[0\]\.head"):
        TerzaghiSolver().predict(build_case("x", days, [{"head": np.where(
            days == 3, np.nan, head), "coarse": {"thickness": 1.0, "sske": 1e-6}}]))
    with pytest.raises(InputError, match=r'scheme.*"csub"'):
        TerzaghiSolver(scheme="cusb")
    with pytest.raises(InputError, match=r"nodes"):
        TerzaghiSolver(nodes=2)
    with pytest.raises(InputError, match=r"substeps"):
        TerzaghiSolver(substeps=0)


@pytest.mark.parametrize("scheme", ["default", "csub"])
def test_spinup_is_the_concatenated_record_less_its_value_at_the_first_case_time(scheme):
    from spinup_cases import spun_up_column
    case, record, skip = spun_up_column()
    solver = TerzaghiSolver(scheme=scheme, nodes=9, substeps=2)
    spun = solver.predict(case)
    whole = solver.predict(record)
    expected = whole.compaction[:, :, skip:] - whole.compaction[:, :, skip:skip + 1]
    assert spun.compaction.shape == (2, 3, case.n_times)
    assert np.abs(expected).max() > 1e-2               # not a vacuous comparison
    assert np.abs(spun.compaction - expected).max() <= 1e-12
    assert np.abs(spun.displacement + expected.sum(axis=0)).max() <= 1e-12
    assert np.all(spun.displacement[:, 0] == 0.0)
    # the spin-up matters: without it the first drawdown of the case counts as virgin
    fresh = solver.predict(replace_spinup(case))
    assert np.abs(fresh.compaction - spun.compaction).max() > 1e-3


def replace_spinup(case):
    """``case`` without its spin-up (the beds start at its first head)."""
    from dataclasses import replace
    return replace(case, spinup_times=None, aquifers=tuple(
        replace(a, spinup_head=None) for a in case.aquifers))


def test_preconsolidation_offset_is_measured_from_the_first_spinup_head():
    from spinup_cases import spun_up_column
    as_offset, _, _ = spun_up_column(offset_form=True)
    as_head, _, _ = spun_up_column(offset_form=False)
    solver = TerzaghiSolver(nodes=9)
    assert np.array_equal(solver.predict(as_offset).compaction,
                          solver.predict(as_head).compaction)
