"""Layers and spatial kernels: causality of every network, attention weights, the
physics cell's homogeneity (what makes n identifiable), the geographic weights and
the bandwidth selection."""

import numpy as np
import pytest
import torch

from engine.registry import solver_class
from surrogates.geography import fit_bandwidth, inverse_distance, kernel_weights, nearest
from surrogates.layers import (
    AdditiveAttention,
    GeographicWeights,
    PhysicsCell,
    WindowedSelfAttention,
    causal_windows,
    run_rnn,
    window_mask,
)
from surrogates.neural_solver import network_names
from surrogates.presets import resolve


def test_causal_windows_hold_lagged_values():
    x = torch.arange(5, dtype=torch.float32).view(1, 5, 1)
    w = causal_windows(x, 3)[0, :, :, 0]
    expected = torch.tensor([[0, 0, 0], [1, 0, 0], [2, 1, 0], [3, 2, 1], [4, 3, 2]],
                            dtype=torch.float32)
    assert torch.equal(w, expected)
    assert torch.equal(window_mask(5, 3)[:2], torch.tensor([[True, False, False],
                                                           [True, True, False]]))


@pytest.mark.parametrize("layer", [AdditiveAttention(8, 6, 4), WindowedSelfAttention(8, 2, 4)])
def test_attention_weights_sum_to_one_over_existing_lags_only(layer):
    torch.manual_seed(0)
    _, weights = layer(torch.randn(3, 7, 8))
    if weights.dim() == 4:                                    # [B, heads, L, W]
        weights = weights.flatten(0, 1)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    assert torch.all(weights[:, 0, 1:] == 0) and torch.all(weights[:, 2, 3:] == 0)


def _inputs(name, config, batch, length, n_features, generator):
    x = torch.randn(batch, length, n_features, generator=generator)
    if name == "gw-lstm":
        k = config["neighbours"]
        return {"neighbours": torch.randn(batch, length, k, n_features, generator=generator),
                "weights": torch.rand(batch, k, generator=generator)}
    if name.startswith("pc-rnn"):
        return {"x": x, "stiffness": 0.5 + torch.rand(batch, generator=generator)}
    return {"x": x}


@pytest.mark.parametrize("name", network_names())
def test_every_network_is_causal(name):
    """The output at month t never depends on inputs after t."""
    config = resolve(name, "fast")
    torch.manual_seed(0)
    model = solver_class(name).model_class(5, config, {}).eval()
    g = torch.Generator().manual_seed(1)
    inputs = _inputs(name, config, 2, 30, 5, g)
    later = {k: v.clone() for k, v in inputs.items()}
    for key in ("x", "neighbours"):
        if key in later:
            later[key][:, 20:] += 3.0
    with torch.no_grad():
        a, b = model(**inputs), model(**later)
    assert a.shape == (2, 30)
    assert torch.equal(a[:, :20], b[:, :20])
    assert not torch.equal(a[:, 20:], b[:, 20:])


def test_physics_cell_is_homogeneous_in_load_and_scales_as_stiffness_to_minus_n():
    torch.manual_seed(0)
    cell = PhysicsCell(3, 8, 2, exponent=1.7, learn_exponent=True)
    loads = torch.randn(4, 25, 3, dtype=torch.float32)
    stiffness = torch.tensor([0.5, 1.0, 2.0, 3.0])
    with torch.no_grad():
        base = cell(loads, stiffness)
        torch.testing.assert_close(cell(2.5 * loads, stiffness), 2.5 * base)
        torch.testing.assert_close(cell(loads, 2.0 * stiffness), 2.0 ** -1.7 * base)
    assert cell.exponent.item() == pytest.approx(1.7)
    assert cell.log_exponent.requires_grad


def test_linear_physics_cell_keeps_n_fixed_at_one():
    cell = PhysicsCell(2, 4, 1, exponent=1.0, learn_exponent=False)
    assert "log_exponent" not in dict(cell.named_parameters())
    assert cell.exponent.item() == 1.0


@pytest.mark.parametrize("nonlinearity,bias,layers,dropout", [
    ("relu", False, 2, 0.0), ("tanh", True, 1, 0.0), ("tanh", True, 3, 0.3),
    ("relu", True, 1, 0.0)])
def test_run_rnn_is_bit_for_bit_torch_rnn_gradients_included(nonlinearity, bias, layers,
                                                              dropout):
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 8, num_layers=layers, nonlinearity=nonlinearity, bias=bias,
                       batch_first=True, dropout=dropout)
    x = torch.randn(5, 40, 3, requires_grad=True)
    runs = []
    for run in (lambda: rnn(x)[0], lambda: run_rnn(rnn, x)):
        torch.manual_seed(1)                     # the same dropout masks
        rnn.zero_grad(set_to_none=True)
        x.grad = None
        out = run()
        (out.sin() * torch.linspace(-1, 1, 40)[:, None]).sum().backward()
        runs.append([out.detach(), x.grad, *(p.grad for p in rnn.parameters())])
    for ours, torchs in zip(*runs):
        assert torch.equal(ours, torchs)
    with torch.inference_mode():
        assert torch.equal(run_rnn(rnn.eval(), x), rnn(x)[0])


def test_geographic_weights_scale_each_neighbour():
    neighbours = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    weights = torch.tensor([[1.0, 0.5], [1.0, 0.0]])
    out = GeographicWeights()(neighbours, weights)
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out[0, 1], torch.cat([neighbours[0, 1, 0], 0.5 * neighbours[0, 1, 1]]))
    assert torch.all(out[1, :, 2:] == 0)


def test_kernels():
    d = np.array([0.0, 50.0, 100.0, 200.0])
    np.testing.assert_allclose(kernel_weights(d, 100.0, "gaussian"), np.exp(-0.5 * (d / 100) ** 2))
    np.testing.assert_allclose(kernel_weights(d, 100.0, "bisquare"), [1.0, 0.5625, 0.0, 0.0])


def test_nearest_finds_itself_first():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 30.0]])
    distance, index = nearest(xy, xy, 2)
    assert np.array_equal(index[:, 0], [0, 1, 2]) and np.all(distance[:, 0] == 0)
    assert np.array_equal(index[:, 1], [1, 0, 0])


def test_bandwidth_follows_the_spatial_scale_of_the_field():
    """Leave-one-out selection: a smooth field wants a small bandwidth (neighbours are
    informative), pure noise a large one (the mean of many is the best estimate)."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10_000, size=(300, 2))
    smooth = np.sin(xy[:, 0] / 1500.0) + np.cos(xy[:, 1] / 2000.0)
    noise = rng.normal(size=300)
    h_smooth = fit_bandwidth(xy, smooth, "gaussian", 12)
    h_noise = fit_bandwidth(xy, noise, "gaussian", 12)
    spacing = np.median(nearest(xy, xy, 2)[0][:, 1])
    assert h_smooth < 2 * spacing < h_noise


def test_inverse_distance_is_exact_at_bank_points_and_keeps_constants():
    bank = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    values = np.array([[1.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    out = inverse_distance(bank, values, np.array([[100.0, 0.0], [30.0, 40.0]]), 3, 2.0)
    np.testing.assert_allclose(out[0], [2.0, 10.0])
    assert out[1, 1] == pytest.approx(10.0) and 1.0 < out[1, 0] < 4.0
