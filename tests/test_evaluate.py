"""The evaluator against hand-computed values and invariants."""

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from engine.evaluate import (
    cell_metrics,
    evaluate,
    linear_rate,
    markdown,
    subsidence_zone,
    write_csv,
    write_markdown,
)
from engine.result import Result

MONTHS = np.arange(np.datetime64("2000-01"), np.datetime64("2002-01")).astype("datetime64[D]")


def result_of(sim, times=None):
    sim = np.asarray(sim, dtype=float)
    times = MONTHS[:sim.shape[1]] if times is None else times
    n = len(sim)
    return Result(solver="s", kind="ml", case="c", times=times,
                  cell_ids=np.array([f"c{i}" for i in range(n)]), x=np.zeros(n),
                  y=np.zeros(n), displacement=sim)


def value(table, metric, series="cumulative", zone="all", statistic="pooled"):
    row = table[(table.metric == metric) & (table.series == series) & (table.zone == zone)
                & (table.statistic == statistic)]
    assert len(row) == 1
    return row["value"].iloc[0]


# obs and sim in mm (converted to m below); the expected values are worked by hand:
# cumulative errors 0,-1,1,0 -> RMSE sqrt(1/2); SST about mean -2 is 10 -> R2 0.8;
# r = 8 / sqrt(10 * 8). Increments obs -1,-2,-1 vs sim -2,0,-2 -> errors -1,2,-1:
# RMSE sqrt(2), bias 0, SST 2/3 -> R2 = 1 - 6/(2/3) = -8, r = -1.
OBS_MM = [[0.0, -1.0, -3.0, -4.0]]
SIM_MM = [[0.0, -2.0, -2.0, -4.0]]


def test_hand_computed_single_cell():
    table = evaluate(result_of(np.array(SIM_MM) / 1e3), np.array(OBS_MM) / 1e3)
    assert value(table, "rmse_mm") == pytest.approx(np.sqrt(0.5))
    assert value(table, "r2") == pytest.approx(0.8)
    assert value(table, "pearson_r") == pytest.approx(8 / np.sqrt(80))
    assert value(table, "bias_mm") == pytest.approx(0.0, abs=1e-12)
    assert value(table, "rmse_mm", "increment") == pytest.approx(np.sqrt(2.0))
    assert value(table, "r2", "increment") == pytest.approx(-8.0)
    assert value(table, "pearson_r", "increment") == pytest.approx(-1.0)
    # a single cell: its median is the pooled value and the spread is 0
    assert value(table, "r2", statistic="median") == pytest.approx(0.8)
    assert value(table, "r2", statistic="iqr") == 0.0


def test_missing_and_masked_values_are_skipped_and_increments_bridge_them():
    obs = np.array([[0.0, np.nan, -3.0, -4.0]]) / 1e3
    sim = np.array([[0.0, 5.0, -2.0, -4.0]]) / 1e3
    by_nan = evaluate(result_of(sim), obs)
    masked = evaluate(result_of(sim), np.array(OBS_MM) / 1e3,
                      mask=np.array([[True, False, True, True]]))
    pd.testing.assert_frame_equal(by_nan, masked)
    # pairs (0,0), (-3,-2), (-4,-4); increments obs -3,-1 vs sim -2,-2
    assert value(by_nan, "rmse_mm") == pytest.approx(np.sqrt(1 / 3))
    assert value(by_nan, "bias_mm") == pytest.approx(1 / 3)
    assert value(by_nan, "rmse_mm", "increment") == pytest.approx(1.0)
    assert value(by_nan, "bias_mm", "increment") == pytest.approx(0.0, abs=1e-12)
    assert by_nan[(by_nan.series == "increment") & (by_nan.statistic == "pooled")
                  ]["n_values"].iloc[0] == 2


def test_perfect_prediction():
    rng = np.random.default_rng(0)
    obs = np.cumsum(rng.normal(-0.002, 0.003, (6, 24)), axis=1)
    table = evaluate(result_of(obs), obs)
    for series in ("cumulative", "increment"):
        for statistic in ("pooled", "median"):
            assert value(table, "rmse_mm", series, statistic=statistic) == 0.0
            assert value(table, "r2", series, statistic=statistic) == 1.0
            assert value(table, "pearson_r", series, statistic=statistic) == pytest.approx(1.0)
            assert value(table, "bias_mm", series, statistic=statistic) == 0.0


def test_mean_predictor_scores_zero_r2_and_offset_shows_as_bias():
    rng = np.random.default_rng(1)
    obs = np.cumsum(rng.normal(-0.002, 0.003, (5, 24)), axis=1)
    per_cell_mean = np.repeat(obs.mean(axis=1, keepdims=True), 24, axis=1)
    table = evaluate(result_of(per_cell_mean), obs)
    assert value(table, "r2", statistic="median") == pytest.approx(0.0, abs=1e-12)
    assert value(table, "r2", statistic="iqr") == pytest.approx(0.0, abs=1e-12)
    pooled_mean = np.full_like(obs, obs.mean())
    assert value(evaluate(result_of(pooled_mean), obs), "r2") == pytest.approx(0.0, abs=1e-12)

    shifted = evaluate(result_of(obs + 0.004), obs)
    assert value(shifted, "bias_mm") == pytest.approx(4.0)
    assert value(shifted, "rmse_mm") == pytest.approx(4.0)
    assert value(shifted, "pearson_r") == pytest.approx(1.0)
    assert value(shifted, "rmse_mm", "increment") == pytest.approx(0.0, abs=1e-9)


def test_r2_is_not_the_squared_correlation():
    obs = np.array([[0.0, -1.0, -2.0, -4.0, -5.0]]) / 1e3
    table = evaluate(result_of(2 * obs), obs)
    assert value(table, "pearson_r") == pytest.approx(1.0)
    sse = np.sum((obs) ** 2)
    sst = np.sum((obs - obs.mean()) ** 2)
    assert value(table, "r2") == pytest.approx(1 - sse / sst)
    assert value(table, "r2") < 0.5


def test_linear_rate_matches_polyfit_on_masked_rows():
    rng = np.random.default_rng(2)
    days = np.sort(rng.uniform(0, 2000, 40))
    values = rng.normal(size=(7, 40)) + np.linspace(-1, 1, 7)[:, None] * days[None, :] / 365
    mask = rng.random((7, 40)) < 0.6
    mask[6] = False
    mask[6, 3] = True                                  # one point: no rate
    rates = linear_rate(days, values, mask)
    for i in range(6):
        assert rates[i] == pytest.approx(np.polyfit(days[mask[i]], values[i, mask[i]], 1)[0])
    assert np.isnan(rates[6])


def test_zones_from_observed_rates():
    assert list(subsidence_zone([5.0, 0.0, -10.0, -30.0, -30.1, np.nan])) == [
        "rebound", "moderate", "moderate", "moderate", "severe", ""]
    days = (MONTHS - MONTHS[0]).astype(float)
    rates_mm_per_year = np.array([4.0, -12.0, -55.0, -80.0])
    obs = rates_mm_per_year[:, None] / 1e3 / 365.25 * days[None, :]
    sim = obs.copy()
    sim[2:] *= 0.5                                       # only the severe cells are wrong
    cells = cell_metrics(result_of(sim), obs)
    cum = cells[cells.series == "cumulative"]
    np.testing.assert_allclose(cum["rate_mm_per_year"], rates_mm_per_year)
    assert list(cum["zone"]) == ["rebound", "moderate", "severe", "severe"]
    table = evaluate(result_of(sim), obs)
    assert value(table, "rmse_mm", zone="moderate") == 0.0
    assert value(table, "rmse_mm", zone="severe") > 1.0
    severe = table[(table.zone == "severe") & (table.statistic == "pooled")]
    assert set(severe["n_cells"]) == {2}


def test_zone_uses_all_observations_even_outside_the_mask():
    days = (MONTHS - MONTHS[0]).astype(float)
    obs = (-50.0 / 1e3 / 365.25 * days)[None, :]
    mask = np.zeros(obs.shape, bool)
    mask[0, -6:] = True
    cells = cell_metrics(result_of(obs), obs, mask)
    assert cells["zone"].iloc[0] == "severe"


def test_shape_mismatch_is_refused():
    with pytest.raises(InputError):
        evaluate(result_of(np.zeros((2, 4))), np.zeros((2, 5)))
    with pytest.raises(InputError):
        evaluate(result_of(np.zeros((2, 4))), np.zeros((2, 4)), mask=np.ones((4, 2), bool))


def test_csv_and_markdown(tmp_path):
    rng = np.random.default_rng(3)
    obs = np.cumsum(rng.normal(-0.004, 0.003, (6, 24)), axis=1)
    table = evaluate(result_of(obs + rng.normal(0, 0.001, obs.shape)), obs, part="test")
    write_csv(table, tmp_path / "m.csv")
    again = pd.read_csv(tmp_path / "m.csv")
    assert list(again.columns) == list(table.columns) and len(again) == len(table)
    np.testing.assert_allclose(again["value"], table["value"], rtol=1e-5, equal_nan=True)
    write_markdown(table, tmp_path / "m.md")
    text = (tmp_path / "m.md").read_text()
    assert "1 - SSE/SST" in text
    rmse = value(table, "rmse_mm")
    row = next(line for line in text.splitlines()
               if line.startswith("| s | test | cumulative | all | pooled |"))
    assert f"{rmse:.2f}" in row
    # zones with no cell are not listed
    present = set(table[table.n_cells > 0]["zone"])
    for zone in {"rebound", "moderate", "severe"} - present:
        assert f"| {zone} |" not in markdown(table)
