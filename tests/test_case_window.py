"""``Case.window``: a case cut to a period runs the physics of the whole stress history
(the earlier times join the spin-up) and compares with observations rebased to its first
time; bad periods are refused naming the case."""

from dataclasses import replace

import numpy as np
import pytest
from spinup_cases import spun_up_column

from cases.synthetic import synthetic_case
from engine.errors import InputError
from engine.registry import make_solver


def test_the_physics_of_a_window_is_the_whole_run_rebased():
    case, _, _ = spun_up_column()
    i0, i1 = 40, 120
    start, end = (str(case.times[i]) for i in (i0, i1 - 1))
    part = case.window(start, end)
    np.testing.assert_array_equal(part.times, case.times[i0:i1])
    assert len(part.spinup_times) == len(case.spinup_times) + i0
    whole = make_solver("terzaghi").predict(case).displacement
    cut = make_solver("terzaghi").predict(part).displacement
    np.testing.assert_allclose(cut, whole[:, i0:i1] - whole[:, i0:i0 + 1], atol=1e-12)


def test_observations_are_rebased_to_the_first_time_of_the_window():
    case = synthetic_case(n_cells=5, n_months=36, seed=1)
    observed = case.observations.displacement.copy()
    observed[:, 12] = np.nan                    # not acquired at the window's first month
    observed[4, :12] = np.nan                   # nothing before it at this cell
    ext = {"site": np.array(["E", "E"]), "cell": np.array([0, 0]),
           "aquifer": np.array([0, 0]), "time": case.times[[3, 20]],
           "compaction": np.array([0.0, 0.01])}
    case = replace(case, observations=replace(case.observations, displacement=observed,
                                              extensometers=ext))
    part = case.window("2006", "2006-12")       # the synthetic case starts 2005-01
    assert part.n_times == 12 and str(part.times[0]) == "2006-01-01"
    between = observed[:3, 11] + (observed[:3, 13] - observed[:3, 11]) * (
        (case.days[12] - case.days[11]) / (case.days[13] - case.days[11]))
    np.testing.assert_allclose(part.observations.displacement[:3, 1:],
                               observed[:3, 13:24] - between[:, None])
    assert np.isnan(part.observations.displacement[4]).all()
    assert list(part.observations.extensometers["time"]) == [case.times[20]]
    # the networks' inputs start afresh: the first head change is 0
    assert part.aquifers[0].spinup_head.shape == (5, 12)
    whole = case.window("2005-01", "2007")
    np.testing.assert_array_equal(whole.times, case.times)
    assert whole.spinup_times is None


@pytest.mark.parametrize("start, end, why", [
    ("2006-13", "2007", "is not a date"), ("2006", "then", "is not a date"),
    ("2009", "2010", "holds 0 of the case times"), ("2007-12", "2007-12", "holds 1")])
def test_a_bad_window_is_refused_naming_the_case(start, end, why):
    case = synthetic_case(n_cells=2, n_months=36, seed=1)
    with pytest.raises(InputError, match=why) as caught:
        case.window(start, end)
    assert f'case "{case.name}"' in str(caught.value)
