"""engine.horizon: rolling-origin forecast skill per horizon, against a brute-force loop
over cells, origins and horizons, and against cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from engine import horizon
from engine.case import build_case
from engine.errors import InputError
from engine.horizon import horizon_scores, prediction_horizon, skill_horizon
from engine.split import Split


def _brute_force(simulated, observed, mask, max_horizon, reference=None):
    """The definition, one (cell, origin, horizon) at a time: r2, rmse, count and the
    skill over persistence and over ``reference``."""
    cells, times = observed.shape
    changes = {h: [] for h in range(1, max_horizon + 1)}
    errors = {h: [] for h in range(1, max_horizon + 1)}
    reference_errors = {h: [] for h in range(1, max_horizon + 1)}
    for n in range(cells):
        targets = [t for t in range(times) if mask[n, t]]
        if not targets:
            continue
        last_before = targets[0] - 1
        for t0 in range(times):
            if not (mask[n, t0] or t0 == last_before) or np.isnan(observed[n, t0]):
                continue
            for h in range(1, max_horizon + 1):
                t = t0 + h
                if t >= times or not mask[n, t] or np.isnan(observed[n, t]):
                    continue
                change = observed[n, t] - observed[n, t0]
                forecast = observed[n, t0] + simulated[n, t] - simulated[n, t0]
                changes[h].append(change)
                errors[h].append(forecast - observed[n, t])
                if reference is not None:
                    reference_errors[h].append(observed[n, t0] + reference[n, t]
                                               - reference[n, t0] - observed[n, t])
    r2, rmse, count, persistence, versus = [], [], [], [], []
    for h in range(1, max_horizon + 1):
        c, e = np.array(changes[h]), np.array(errors[h])
        count.append(len(c))
        if len(c) < 2:
            r2.append(np.nan)
            rmse.append(np.nan)
            persistence.append(np.nan)
            versus.append(np.nan)
            continue
        r2.append(1.0 - np.sum(e**2) / np.sum((c - c.mean()) ** 2))
        rmse.append(1e3 * np.sqrt(np.mean(e**2)))
        persistence.append(1.0 - np.sum(e**2) / np.sum(c**2))   # persistence: no change
        versus.append(1.0 - np.sum(e**2) / np.sum(np.array(reference_errors[h]) ** 2)
                      if reference is not None else np.nan)
    return (np.array(r2), np.array(rmse), np.array(count), np.array(persistence),
            np.array(versus))


def _random_case(rng, cells, times, missing=0.25):
    observed = np.cumsum(rng.normal(-0.003, 0.004, (cells, times)), axis=1)
    simulated = 0.8 * observed + np.cumsum(rng.normal(0.0, 0.002, (cells, times)), axis=1)
    observed[rng.random((cells, times)) < missing] = np.nan
    return simulated, observed


@pytest.mark.parametrize("chunk_values", [200_000, 37])
def test_equals_the_brute_force_definition(monkeypatch, chunk_values):
    monkeypatch.setattr(horizon, "CHUNK_VALUES", chunk_values)   # 37: one cell a chunk
    rng = np.random.default_rng(11)
    simulated, observed = _random_case(rng, 23, 30)
    mask = rng.random((23, 30)) < 0.5
    mask[3] = False                                  # a cell without targets
    mask[4] = True                                   # a cell that is all targets
    mask[5, :] = False
    mask[5, 27:] = True                              # a cell with targets at the end only
    reference = np.cumsum(rng.normal(-0.002, 0.003, observed.shape), axis=1)
    scores = horizon_scores(simulated, observed, mask, max_horizon=31, reference=reference)
    r2, rmse, count, persistence, versus = _brute_force(simulated, observed, mask, 31,
                                                        reference)
    assert np.array_equal(scores["h"], np.arange(1, 32))
    assert np.array_equal(scores["n_pairs"], count)
    assert count[0] > 50 and count[-1] == 0          # both ends of the range exercised
    np.testing.assert_allclose(scores["r2"], r2, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(scores["rmse_mm"], rmse, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(scores["skill_persistence"], persistence, rtol=1e-9,
                               atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(scores["skill_reference"], versus, rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    assert np.all(np.isnan(horizon_scores(simulated, observed, mask, 31)["skill_reference"]))


def test_a_perfect_simulation_scores_perfectly_at_every_horizon():
    rng = np.random.default_rng(1)
    _, observed = _random_case(rng, 40, 60)
    scores = horizon_scores(np.nan_to_num(observed), observed, np.ones_like(observed, bool),
                            max_horizon=24)
    assert np.all(scores["n_pairs"] > 100)
    assert np.array_equal(scores["r2"], np.ones(24))
    assert np.array_equal(scores["rmse_mm"], np.zeros(24))


def test_anchoring_cancels_a_constant_offset_per_cell():
    rng = np.random.default_rng(2)
    _, observed = _random_case(rng, 40, 60)
    offset = rng.normal(0.0, 0.5, (40, 1))           # up to metres, per cell
    simulated = np.nan_to_num(observed) + offset
    scores = horizon_scores(simulated, observed, np.ones_like(observed, bool), max_horizon=24)
    np.testing.assert_allclose(scores["r2"], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["rmse_mm"], 0.0, rtol=0, atol=1e-9)


def test_independent_noise_gives_an_rmse_of_sqrt2_times_its_sd():
    rng = np.random.default_rng(3)
    sd = 0.004                                       # m
    _, observed = _random_case(rng, 2000, 60, missing=0.1)
    simulated = np.nan_to_num(observed) + rng.normal(0.0, sd, observed.shape)
    scores = horizon_scores(simulated, observed, np.ones_like(observed, bool), max_horizon=12)
    # over 80,000 pairs per h the sample RMSE is within ~0.5 % of sd * sqrt(2)
    np.testing.assert_allclose(scores["rmse_mm"], sd * np.sqrt(2) * 1e3, rtol=0.02)
    assert np.all(scores["r2"] < 1.0)


def test_a_temporal_split_uses_no_origin_before_the_last_training_time():
    cells, times = 12, 48
    case = build_case("monthly", np.arange(times) * 30, [{"head": np.zeros((cells, times))}])
    split = Split("temporal", train_until=str(case.times[35]))
    mask = split.test_mask(case)
    boundary = split.time_boundary(case)             # first test time: 36
    assert boundary == 36 and not mask[:, :boundary].any() and mask[:, boundary:].all()
    rng = np.random.default_rng(4)
    observed = np.cumsum(rng.normal(-0.003, 0.004, (cells, times)), axis=1)
    simulated = observed.copy()
    # a simulation that is wrong only before the last training time: an origin there
    # would show up as a forecast error
    simulated[:, :boundary - 1] += rng.normal(0.0, 1.0, (cells, boundary - 1))
    scores = horizon_scores(simulated, observed, mask, max_horizon=14)
    h = scores["h"]
    # origins boundary - 1 .. T - 1 - h, every one observed
    expected = np.maximum(cells * (times - (boundary - 1) - h), 0)
    assert np.array_equal(scores["n_pairs"], expected)
    valid = expected >= 2
    assert np.array_equal(scores["rmse_mm"][valid], np.zeros(valid.sum()))
    assert np.all(np.isnan(scores["rmse_mm"][~valid]))


def test_a_spatial_split_uses_every_time_of_held_out_cells():
    cells, times = 10, 20
    case = build_case("monthly", np.arange(times) * 30, [{"head": np.zeros((cells, times))}])
    mask = Split("spatial", train_fraction=0.7, seed=5).test_mask(case)
    held_out = int(mask.all(axis=1).sum())
    assert held_out == 3 and not mask[~mask.all(axis=1)].any()
    observed = np.cumsum(np.random.default_rng(6).normal(size=(cells, times)), axis=1)
    scores = horizon_scores(observed, observed, mask, max_horizon=5)
    assert np.array_equal(scores["n_pairs"], held_out * (times - scores["h"]))


def test_skill_horizon_is_the_longest_lead_skilled_over_both_references():
    scores = {"h": np.arange(1, 7),
              "skill_persistence": np.array([0.5, 0.4, 0.3, 0.05, 0.6, 0.05]),
              "skill_reference": np.full(6, np.nan)}
    assert skill_horizon(scores, 0.1) == 5           # persistence only, without a reference
    scores["skill_reference"] = np.array([0.2, -0.1, 0.5, 0.5, 0.05, 0.5])
    assert skill_horizon(scores, 0.1) == 3           # both at 3; lead 5 not over the trend
    assert skill_horizon({**scores, "skill_reference": np.full(6, -1.0)}, 0.1) == 0


def test_the_skill_horizon_discriminates_where_r2_does_not():
    """Extrapolating each cell's early trend scores a high R² at long leads (the change
    outgrows the noise) but has no skill over that trend; a simulation that follows the
    subsidence's slowing keeps its skill."""
    rng = np.random.default_rng(3)
    cells, times = 40, 120
    t = np.arange(times)[None, :]
    rate = rng.uniform(-0.004, -0.002, (cells, 1))
    truth = rate * t + 1.5e-6 * t**2                 # subsidence slowing down
    observed = truth + rng.normal(0, 0.002, (cells, times))
    trend = rate * t
    mask = np.zeros((cells, times), dtype=bool)
    mask[:, 60:] = True
    trend_scores = horizon_scores(trend, observed, mask, 36, reference=trend)
    good = horizon_scores(truth, observed, mask, 36, reference=trend)
    assert prediction_horizon(trend_scores, 0.5) >= 24         # R²: looks reliable
    assert skill_horizon(trend_scores, 0.1) == 0               # no better than itself
    assert skill_horizon(good, 0.1) == 36


def test_prediction_horizon_is_the_largest_skilled_h():
    scores = {"h": np.arange(1, 7), "r2": np.array([0.9, 0.8, np.nan, 0.75, 0.3, 0.71])}
    assert prediction_horizon(scores, 0.7) == 6
    assert prediction_horizon(scores, 0.76) == 2
    assert prediction_horizon(scores, 0.3) == 6
    assert prediction_horizon(scores, 0.95) == 0
    assert prediction_horizon({"h": np.arange(1, 4), "r2": np.full(3, np.nan)}, -1.0) == 0


@pytest.mark.parametrize("change, field", [
    (lambda s, o, m: (s[:, :-1], o, m), "simulated"),
    (lambda s, o, m: (s, o, m[:-1]), "mask"),
    (lambda s, o, m: (s, o, m.astype(float)), "mask"),
    (lambda s, o, m: (np.where(m, np.nan, s), o, m), "simulated"),
    (lambda s, o, m: (s, o[0], m[0]), "observed"),
])
def test_malformed_arguments_are_refused(change, field):
    rng = np.random.default_rng(0)
    simulated, observed = _random_case(rng, 4, 10)
    mask = rng.random((4, 10)) < 0.5
    with pytest.raises(InputError) as caught:
        horizon_scores(*change(simulated, observed, mask))
    assert caught.value.field == field


@pytest.mark.parametrize("max_horizon", [0, -3, 2.5, True])
def test_a_bad_max_horizon_is_refused(max_horizon):
    with pytest.raises(InputError, match="max_horizon"):
        horizon_scores(np.zeros((2, 5)), np.zeros((2, 5)), np.ones((2, 5), bool), max_horizon)
