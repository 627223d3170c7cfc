"""The pastas transfer-function-noise baseline: it reproduces the cells it was fitted
on, a held-out cell takes the inverse-distance weighted (log) parameters, and a saved
model whose arrays are not finite or not of the configured shape is refused at load."""

import numpy as np
import pytest

from cases.synthetic import synthetic_case
from engine.app.cli import main
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.evaluate import evaluate
from engine.persistence import load_model, save_model
from engine.registry import make_solver
from engine.split import Split
from surrogates.tfn import PARAMETERS_FILE
from tests.model_files import rewritten


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


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A case file and a tfn model fitted on two of its cells, saved by save_model."""
    case = synthetic_case(n_cells=4, n_months=36, seed=4)
    folder = tmp_path_factory.mktemp("tfn")
    solver = make_solver("tfn", noise=False, max_cells=2)
    solver.fit(case)
    save_model(solver, folder / "model")
    return write_case(case, folder / "case"), folder / "model", solver


def test_a_saved_model_loads_and_predicts_the_same(saved):
    manifest, model, solver = saved
    case = load_case(manifest)
    np.testing.assert_array_equal(load_model(model).predict(case).displacement,
                                  solver.predict(case).displacement)


@pytest.mark.parametrize("array, index, bad", [("parameters", (0, 1), np.nan),
                                               ("parameters", (1, -1), -np.inf),
                                               ("x", (0,), np.inf), ("y", (1,), np.nan)])
def test_non_finite_stored_arrays_are_refused_at_load(saved, tmp_path, capsys, array, index,
                                                      bad):
    manifest, model, _ = saved

    def corrupt(arrays):
        arrays[array][index] = bad

    copy = rewritten(model, tmp_path / "model", PARAMETERS_FILE, corrupt)
    with pytest.raises(InputError, match=f'tensor "{array}": holds 1 NaN or infinite') as err:
        load_model(copy)
    assert err.value.source == str(copy / PARAMETERS_FILE)
    assert main(["run", str(manifest), "--model", str(copy), "--out",
                 str(tmp_path / "out.h5")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and PARAMETERS_FILE in lines[0] and f'"{array}"' in lines[0]
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize("change, words", [
    (lambda a: a["parameters"].__setitem__((0, 0), 0.0), 'tensor "parameters": holds a non-posi'),
    (lambda a: a.__setitem__("x", a["x"][:1]), 'tensor "x": is'),
    (lambda a: a.__setitem__("log", a["log"].astype(np.float64)), 'tensor "log": is F64'),
    (lambda a: a.pop("y"), 'tensor "y": is missing'),
])
def test_parameters_of_the_wrong_shape_or_sign_are_refused_at_load(saved, tmp_path, change,
                                                                   words):
    _, model, _ = saved
    with pytest.raises(InputError, match=words):
        load_model(rewritten(model, tmp_path / "model", PARAMETERS_FILE, change))
