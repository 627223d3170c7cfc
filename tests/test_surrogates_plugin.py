"""Networks declare themselves: a network from one module (tests/toy_network.py) is
registered, configured by the presets and benched beside the baselines like the built-in
ones, and what the bench and the benchmarks ask of a network is a property of its
registered class, not a list of names."""

import importlib
import sys

import numpy as np
import pytest
import torch

from cases.synthetic import synthetic_case
from engine import registry
from engine.app.bench import bench
from engine.app.bench.metrics import value
from engine.app.bench.runner import finished
from engine.caseio import load_case, write_case
from engine.persistence import load_model
from engine.result import read_result
from surrogates.models.base import SequenceModel
from surrogates.neural_solver import network_names, register_network
from surrogates.presets import resolve


@pytest.fixture
def toy_network(monkeypatch):
    """Registers "toy-net" for one test; the registry is as before afterwards."""
    # the built-in providers first, into the real registry: loaded under the patch, their
    # networks would leave with it (their modules are imported only once)
    registry.load_providers()
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    monkeypatch.delitem(sys.modules, "toy_network", raising=False)
    return importlib.import_module("toy_network")


def test_a_network_in_one_module_is_registered_and_configured(toy_network):
    assert "toy-net" in network_names()
    cls = registry.solver_class("toy-net")
    assert cls.model_class is toy_network.ToyNetwork and cls.kind == "ml"
    assert resolve("toy-net")["hidden"] == 8 and resolve("toy-net")["epochs"] == 100
    fast = resolve("toy-net", "fast")    # the generic fast layer, then the toy's own entry
    assert (fast["hidden"], fast["epochs"]) == (4, 60)


def test_a_network_in_one_module_is_benched(toy_network, tmp_path):
    manifest = write_case(synthetic_case(n_cells=40, n_months=48, seed=3), tmp_path / "case")
    out = tmp_path / "bench"
    # in this process: the toy network is registered here, by importing a test module,
    # not as a module of surrogates/models that spawned Dask workers would import too
    outcome = bench(str(manifest), ["toy-net", "trend"], "spatial:0.7", out, preset="fast",
                    log=lambda *a: None, scheduler="serial")
    assert set(finished(out)) == {"toy-net", "trend"}
    result = read_result(out / "results.h5", group="toy-net")
    assert np.isfinite(result.displacement).all() and result.options["hidden"] == 4
    table = outcome["table"]
    assert (table.solver == "toy-net").sum() > 0
    assert np.isfinite(value(table, "toy-net", "cumulative", "rmse_mm"))
    # saved by the bench, loaded back through the manifest alone
    model = load_model(out / "solvers" / "toy-net" / "model")
    again = model.predict(load_case(manifest).without_observations())
    np.testing.assert_array_equal(again.displacement, result.displacement)


def test_the_toy_network_leaves_the_registry_as_it_was():
    assert "toy-net" not in network_names()


def test_attention_and_cellwise_are_properties_of_the_registered_network():
    attention = {n for n in network_names() if registry.solver_class(n).has_attention}
    assert attention == {"am-gru", "lag-am-gru", "mhsa"}
    neighbours = {n for n in network_names() if not registry.solver_class(n).cellwise}
    assert neighbours == {"gw-lstm"}
    assert registry.solver_class("pc-rnn").kind == "hybrid"


def test_a_network_declaring_an_unknown_preset_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))

    class Constant(SequenceModel):
        def forward(self, x):
            return torch.zeros(x.shape[:2])

    with pytest.raises(ValueError, match="seminr"):
        register_network("constant", Constant, presets={"seminr": {}})
