"""The pastas transfer-function-noise baseline: it reproduces the cells it was fitted
on, and a held-out cell takes the inverse-distance weighted (log) parameters."""

import numpy as np
import pytest

from cases.synthetic import synthetic_case
from engine.evaluate import evaluate
from engine.registry import make_solver
from engine.split import Split


@pytest.fixture(scope="module")
def fitted():
    case = synthetic_case(n_cells=16, n_months=48, seed=4)
    split = Split("spatial", train_fraction=0.75, validation_fraction=0.0, seed=0)
    solver = make_solver("tfn", noise=False)
    report = solver.fit(case, split)
    return case, split, solver, report


def test_tfn_reproduces_its_training_cells(fitted):
    case, split, solver, report = fitted
    assert report["fitted_cells"] == len(split.train_cells(case)) == 12
    assert report["parameters"][:3] == ["confined-1_A", "confined-1_n", "confined-1_a"]
    table = evaluate(solver.predict(case), case.observations.displacement,
                     split.train_mask(case))
    r2 = table[(table.series == "cumulative") & (table.zone == "all")
               & (table.statistic == "median") & (table.metric == "r2")].value.iloc[0]
    assert r2 > 0.95


def test_held_out_parameters_are_inverse_distance_weighted_in_log_space(fitted):
    case, split, solver, _ = fitted
    train = split.train_cells(case)
    own = solver.cell_parameters(case.cells.x[train], case.cells.y[train])
    np.testing.assert_array_equal(own, solver.parameters)
    # an independent IDW at a held-out cell, k nearest, weights 1/d^2
    cell = split.test_cells(case)[0]
    d = np.hypot(solver.x - case.cells.x[cell], solver.y - case.cells.y[cell])
    near = np.argsort(d)[:solver.options["k"]]
    w = d[near] ** -2.0 / np.sum(d[near] ** -2.0)
    p = solver.parameters[near]
    expected = np.where(solver.log, np.exp(w @ np.log(np.where(solver.log, p, 1.0))), w @ p)
    got = solver.cell_parameters(case.cells.x[[cell]], case.cells.y[[cell]])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert solver.log[:9].all() and not solver.log[-1]           # gains/shapes/scales; d
    assert np.all(solver.parameters[:, 2::3][:, :3] <= solver.options["max_scale_days"])


def test_max_cells_fits_a_seeded_subset_of_the_training_cells(fitted):
    case, split, _, _ = fitted
    subsets = []
    for seed in (0, 0, 1):
        solver = make_solver("tfn", noise=False, max_cells=5, seed=seed)
        assert solver.fit(case, split)["fitted_cells"] == 5
        assert set(np.flatnonzero(np.isin(case.cells.x, solver.x))) <= \
            set(split.train_cells(case))
        subsets.append(tuple(solver.x))
    assert subsets[0] == subsets[1] != subsets[2]
    with pytest.raises(Exception, match="max_cells"):
        make_solver("tfn", max_cells=-1)
