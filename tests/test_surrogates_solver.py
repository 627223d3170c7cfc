"""The neural solver around the networks: no leakage of test observations (NaN
poisoning), bit-identical save -> load -> predict, presets that reproduce the seminar's
tables, residual composition by name, and the command-line entry points."""

from dataclasses import replace

import numpy as np
import pytest

from cases.synthetic import synthetic_case
from engine.app.fit import fit_command
from engine.case import Observations
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.persistence import load_model, save_model
from engine.registry import make_solver, solver_class
from engine.result import read_result
from engine.split import Split
from surrogates.neural_solver import network_names
from surrogates.presets import resolve
from tests.model_files import rewritten

NAMES = network_names() + ["residual:terzaghi+gru"]


@pytest.fixture(scope="module")
def case():
    return synthetic_case(n_cells=30, n_months=48, seed=3)


@pytest.fixture(scope="module")
def split(case):
    s = Split("both", train_fraction=0.7, train_until=str(case.times[35]),
              validation_fraction=0.25, seed=1)
    s.check(case)
    return s


def _state(solver):
    network = getattr(solver, "neural", solver)
    return {k: v.clone() for k, v in network.model.state_dict().items()}


@pytest.mark.parametrize("name", NAMES)
def test_nan_in_test_cells_and_test_times_never_reaches_the_fit(name, case, split):
    """NaN propagates through any arithmetic, so equal weights prove that fit() read no
    observation outside the training and validation parts."""
    test = split.test_mask(case)
    assert test.all(axis=1).any() and test.any(axis=1).all()    # test cells and test times
    observed = case.observations.displacement
    poisoned = replace(case, observations=Observations(np.where(test, np.nan, observed)))
    clean = make_solver(name, preset="fast", epochs=4)
    clean.fit(case, split)
    blind = make_solver(name, preset="fast", epochs=4)
    blind.fit(poisoned, split)
    a, b = _state(clean), _state(blind)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert np.array_equal(clean.predict(case).displacement, blind.predict(case).displacement)


@pytest.mark.parametrize("name", NAMES + ["tfn"])
def test_save_load_predict_is_bit_identical(name, case, split, tmp_path):
    options = {} if name == "tfn" else {"preset": "fast", "epochs": 4}
    solver = make_solver(name, **options)
    solver.fit(case.take_cells(np.arange(12)) if name == "tfn" else case, split if name != "tfn" else None)
    save_model(solver, tmp_path / "model")
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pt"))
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(solver)
    before, after = solver.predict(case), loaded.predict(case.without_observations())
    assert np.array_equal(before.displacement, after.displacement)
    assert after.options == before.options


def test_presets_reproduce_the_seminar_tables():
    gw = resolve("gw-lstm", "seminar")
    assert (gw["layers"], gw["hidden"], gw["window"]) == (4, 64, 36)
    for name in ("am-gru", "lag-am-gru"):
        c = resolve(name, "seminar")
        assert (c["lr"], c["layers"], c["batch_size"], c["epochs"],
                c["validation_fraction"]) == (1e-3, 3, 16, 500, 0.3)
    for name in ("pc-rnn", "pc-rnn-linear"):
        c = resolve(name, "seminar")
        assert (c["lr"], c["layers"], c["batch_size"], c["epochs"],
                c["validation_fraction"]) == (1e-3, 7, 16, 2000, 0.2)
    assert resolve("pc-rnn", "seminar")["learn_exponent"]
    assert not resolve("pc-rnn-linear", "seminar")["learn_exponent"]
    assert "lagged_head_change" in resolve("lag-am-gru")["features"]
    assert "lagged_head_change" not in resolve("am-gru")["features"]


def test_explicit_options_override_the_preset_and_bad_ones_are_named():
    solver = make_solver("gw-lstm", preset="seminar", hidden=8)
    assert solver.config["hidden"] == 8 and solver.config["layers"] == 4
    with pytest.raises(InputError, match="seminar.*gru"):
        make_solver("gru", preset="seminar")
    with pytest.raises(InputError, match="hiden.*did you mean"):
        make_solver("gru", hiden=8)
    with pytest.raises(InputError, match="heads"):
        make_solver("mhsa", hidden=10, heads=4)
    with pytest.raises(InputError, match="kernel"):
        make_solver("gw-lstm", kernel="tricube")


def test_residual_names_compose_and_bad_ones_are_refused():
    cls = solver_class("residual:terzaghi+gru")
    assert cls is solver_class("residual:terzaghi+gru")
    assert cls.name == "residual:terzaghi+gru" and cls.kind == "hybrid"
    assert "physics.nodes" in cls.defaults and "baseline" in cls.defaults["features"]
    with pytest.raises(InputError, match="not a physics solver"):
        solver_class("residual:gru+gru")
    with pytest.raises(InputError, match="not a neural solver"):
        solver_class("residual:terzaghi+trend")
    with pytest.raises(InputError, match="residual:<physics>\\+<ml>"):
        solver_class("residual:terzaghi")
    with pytest.raises(InputError, match="did you mean"):
        solver_class("residual:terzagi+gru")


def test_residual_learns_the_correction_of_the_physics(case, split):
    """Physics with half the true storage explains half the subsidence; the residual
    network recovers the rest on held-out cells."""
    from engine.evaluate import evaluate

    half = replace(case, aquifers=tuple(
        replace(a, interbeds=tuple(replace(ib, sskv=0.5 * ib.sskv, sske=0.5 * ib.sske,
                                           kv=0.5 * ib.kv) for ib in a.interbeds))
        for a in case.aquifers))
    solver = make_solver("residual:terzaghi+gru", preset="fast")
    solver.fit(half, split)
    hybrid = solver.predict(half)
    physics = make_solver("terzaghi").predict(half)

    def rmse(result):
        t = evaluate(result, case.observations.displacement, split.test_mask(case))
        return float(t[(t.series == "cumulative") & (t.zone == "all") & (t.statistic == "pooled")
                       & (t.metric == "rmse_mm")].value.iloc[0])

    assert rmse(hybrid) < 0.5 * rmse(physics)


def test_fit_command_writes_model_result_metrics_and_loads_back(case, tmp_path):
    path = write_case(case, tmp_path / "case")
    report = fit_command(path, "lag-am-gru", preset="fast", split="spatial:0.7",
                         out_dir=tmp_path / "out", options={"epochs": "3", "hidden": "8"})
    out = tmp_path / "out"
    for name in ("model/solver.json", "model/config.json", "model/weights.safetensors",
                 "model/normalisation.json", "model/split.json", "result.h5", "metrics.csv",
                 "metrics.md", "report.json"):
        assert (out / name).is_file(), name
    assert report["epochs"] == 3 and report["split"]["validation_fraction"] == 0.1
    model = load_model(out / "model")
    assert model.config["hidden"] == 8
    again = model.predict(load_case(path))
    np.testing.assert_array_equal(again.displacement, read_result(out / "result.h5").displacement)


def test_fit_command_takes_the_preset_validation_fraction(case, tmp_path):
    path = write_case(case, tmp_path / "case")
    report = fit_command(path, "pc-rnn", preset="seminar", split="spatial:0.7",
                         out_dir=tmp_path / "out", options={"epochs": "2", "layers": "2"})
    assert report["split"]["validation_fraction"] == 0.2


def test_load_model_refuses_weights_that_are_not_finite(case, tmp_path):
    solver = make_solver("lstm", preset="fast", epochs=2, hidden=8)
    solver.fit(case, Split("spatial", train_fraction=0.7, validation_fraction=0.2))
    save_model(solver, tmp_path / "model")
    name = next(iter(solver.model.state_dict()))

    def corrupt(arrays):
        arrays[name].flat[0] = np.nan

    copy = rewritten(tmp_path / "model", tmp_path / "copy", "weights.safetensors", corrupt)
    with pytest.raises(InputError, match=f'weights.safetensors: tensor "{name}": holds 1 NaN'):
        load_model(copy)


def test_load_model_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(InputError, match="not a saved landsub model"):
        load_model(tmp_path)
