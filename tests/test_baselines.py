"""The zero and trend baselines: conformance, exact rates, IDW, training-only fit, state."""

from dataclasses import replace

import numpy as np
import pytest

from engine.case import Observations
from engine.conformance import check_solver, conformance_case
from engine.errors import InputError, SolverError
from engine.registry import make_solver
from engine.split import Split
from surrogates.baselines import TrendSolver


@pytest.mark.parametrize("name, options", [("zero", {}), ("trend", {}),
                                           ("trend", {"k": 1}), ("trend", {"k": 7, "power": 1.0})])
def test_baselines_pass_the_conformance_suite(name, options):
    passed = check_solver(name, **options)
    assert "no peeking" in passed
    assert ("save/load" in passed) == (name == "trend")


def linear_case(rates_m_per_day):
    """The conformance case at scattered points (no distance ties) with linear motion."""
    case = conformance_case()
    rng = np.random.default_rng(0)
    cells = replace(case.cells, x=rng.uniform(0, 5000, case.n_cells),
                    y=rng.uniform(0, 5000, case.n_cells))
    obs = rates_m_per_day[:, None] * case.days[None, :]
    return replace(case, cells=cells, observations=Observations(displacement=obs))


def test_zero_predicts_no_movement():
    case = conformance_case()
    result = make_solver("zero").predict(case)
    assert result.displacement.shape == (case.n_cells, case.n_times)
    assert not result.displacement.any()


def test_trend_recovers_rates_and_interpolates_held_out_cells():
    rates = -np.linspace(1e-5, 2e-4, 12)
    case = linear_case(rates)
    split = Split.parse("spatial:0.6", case, seed=2, validation_fraction=0.0)
    solver = TrendSolver(k=3, power=2.0)
    solver.fit(case, split)
    predicted = solver.predict(case).displacement[:, -1] / case.days[-1]
    train, test = split.train_cells(case), split.test_cells(case)
    np.testing.assert_allclose(predicted[train], rates[train], rtol=1e-12)
    for cell in test:
        d = np.hypot(case.cells.x[train] - case.cells.x[cell],
                     case.cells.y[train] - case.cells.y[cell])
        nearest = np.argsort(d, kind="stable")[:3]
        w = d[nearest] ** -2.0
        assert predicted[cell] == pytest.approx(np.sum(w * rates[train][nearest]) / w.sum())


def test_trend_learns_only_from_training_times():
    case = conformance_case()
    days = case.days
    split = Split.parse("temporal:2001-06", case, validation_fraction=0.0)
    b = split.time_boundary(case)
    before = -1e-4 * days
    after = before[b - 1] + 3e-4 * (days - days[b - 1])  # rebound the fit must not see
    case = replace(case, observations=Observations(
        displacement=np.tile(np.where(np.arange(case.n_times) < b, before, after),
                             (case.n_cells, 1))))
    solver = TrendSolver()
    solver.fit(case, split)
    np.testing.assert_allclose(solver.rate, -1e-4, rtol=1e-10)
    solver.fit(case, None)
    assert np.all(solver.rate > -1e-4)


def test_trend_state_round_trip_and_errors(tmp_path):
    case = linear_case(-np.linspace(1e-5, 2e-4, 12))
    solver = TrendSolver(k=2)
    with pytest.raises(SolverError):
        solver.predict(case)
    solver.fit(case, Split.parse("spatial:0.5", case, seed=9))
    solver.save(tmp_path / "state")
    loaded = TrendSolver.load(tmp_path / "state")
    assert loaded.options == solver.options
    np.testing.assert_array_equal(loaded.predict(case).displacement,
                                  solver.predict(case).displacement)
    with pytest.raises(InputError):
        TrendSolver.load(tmp_path / "nothing-here")
    with pytest.raises(InputError):
        TrendSolver().fit(case.without_observations())
    with pytest.raises(InputError):
        TrendSolver(k=0)
    with pytest.raises(InputError, match="did you mean"):
        TrendSolver(powr=2.0)
