"""Figures of benchmark and what-if results: valid, reproducible PNGs; robust colour
scales, one per map figure, the truth's panel first; NaN handling; shape mismatches
refused with a message naming the culprit."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest

from engine.app import plots
from engine.registry import make_solver, names

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(7)
N, T = 300, 48
X = RNG.uniform(4.0e5, 4.6e5, N)
Y = RNG.uniform(4.37e6, 4.42e6, N)
TIMES = np.arange("2015-01", "2019-01", dtype="datetime64[M]").astype("datetime64[D]")
OBS = RNG.normal(-40.0, 25.0, N)
NOISE = RNG.normal(0.0, 5.0, N)
TREND = np.linspace(0.0, -120.0, T)


def _figures():
    """name -> function(path) drawing that figure from the fixed inputs above."""
    h = np.arange(1, 13)
    return {
        "map": lambda p: plots.map_panels(
            p, X, Y, {"observed": OBS, "lstm": OBS + NOISE}, title="maps",
            marked=np.arange(N) % 3 == 0),
        "map_diverging": lambda p: plots.map_panels(
            p, X, Y, {"lstm - observed": np.where(np.arange(N) < 10, np.nan, OBS + 40)},
            title="errors", diverging=True, truth=OBS + 35),
        "series": lambda p: plots.series_panels(
            p, TIMES, [{"title": f"cell {i}", "observed": TREND + i, "truth": TREND + 1, "lines": {
                "terzaghi": TREND, "lstm": TREND + 2}, "bands": {"lstm": (TREND, TREND + 4)},
                "mark": np.datetime64("2018-01-01")} for i in range(4)], title="series"),
        "scatter": lambda p: plots.scatter_panels(
            p, OBS, {"lstm": OBS + 3, "zero": np.zeros(N)}, title="scatter"),
        "hexbin": lambda p: plots.scatter_panels(
            p, OBS, {"lstm": OBS + 3}, title="density", hexbin_above=100),
        "confusion": lambda p: plots.confusion_panels(
            p, {"lstm": np.array([[5, 1, 0], [2, 30, 4], [0, 3, 20]])},
            ["rebound", "moderate", "severe"], title="zones"),
        "horizon": lambda p: plots.horizon_panels(
            p, h, {"lstm": {"r2": 1 - h / 10, "rmse_mm": 0.5 * h, "horizon": 5},
                   "tfn": {"r2": -3 + 0 * h, "rmse_mm": h, "horizon": None}},
            threshold=0.5, title="horizon"),
        "attention": lambda p: plots.attention_panels(
            p, {"am-gru": np.full((T, 6), 1 / 6)}, TIMES, title="attention"),
        "bars": lambda p: plots.bar_panels(
            p, {"all": {"lstm": 3.0, "gru": 4.0}, "rebound": {"lstm": np.nan, "gru": 2.0}},
            title="RMSE per zone", ylabel="RMSE (mm)"),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_figure_is_a_reproducible_png(tmp_path, name):
    draw = _figures()[name]
    first = draw(tmp_path / "a" / f"{name}.png")   # parent folder created
    second = draw(tmp_path / f"{name}.png")
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    image = mpimg.imread(first)
    assert image.shape[0] > 200 and image.shape[1] > 300 and image.shape[2] in (3, 4)
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 20   # not blank
    assert second.read_bytes() == data


def test_colour_limits_ignore_one_outlier_and_nan():
    values = np.concatenate([np.linspace(-20.0, 10.0, 100), [1e6, np.nan]])
    low, high = plots.colour_limits(values)
    assert -20.0 <= low < -19.0 and 9.0 < high <= 10.0
    small = np.array([1.0, 2.0, 3.0, 4.0, 5.0, -1e6])   # robust even for a few values
    low, high = plots.colour_limits(small)
    assert 1.0 <= low < high <= 5.0


def test_diverging_limits_are_symmetric_and_cover_most_values():
    values = np.concatenate([RNG.normal(3.0, 2.0, 500), [-1e5]])
    low, high = plots.colour_limits(values, diverging=True)
    assert low == -high and high < 20.0
    assert np.mean(np.abs(values) <= high) >= 0.97


def test_degenerate_limits_are_widened():
    assert plots.colour_limits([np.nan, np.nan]) == (0.0, 1.0)
    assert plots.colour_limits([np.nan], diverging=True) == (-1.0, 1.0)
    assert plots.colour_limits([2.0, 2.0, 2.0]) == (1.5, 2.5)
    assert plots.colour_limits([0.0, 0.0], diverging=True) == (-1.0, 1.0)
    assert plots.colour_limits([5.0, 1.0]) == (1.0, 5.0)   # two values: the full range


def test_scatter_draws_finite_pairs_only(tmp_path):
    """NaN on either side drops the pair: the same image as without those pairs."""
    sim = OBS + 3
    with_nan_obs, with_nan_sim = OBS.copy(), sim.copy()
    with_nan_obs[:5] = np.nan
    with_nan_sim[5:9] = np.nan
    keep = np.arange(N) >= 9
    gapped = plots.scatter_panels(tmp_path / "gapped.png", with_nan_obs,
                                  {"lstm": with_nan_sim}, title="t")
    clean = plots.scatter_panels(tmp_path / "clean.png", OBS[keep], {"lstm": sim[keep]},
                                 title="t")
    assert gapped.read_bytes() == clean.read_bytes()


def _grey_pixels(path) -> int:
    rgb = mpimg.imread(path)[..., :3]
    return int(np.all(np.abs(rgb - 0.8) < 1.5 / 255, axis=-1).sum())


def test_map_draws_missing_values_grey(tmp_path):
    values = OBS.copy()
    values[::2] = np.nan
    gappy = plots.map_panels(tmp_path / "nan.png", X, Y, {"observed": values}, title="t")
    full = plots.map_panels(tmp_path / "full.png", X, Y, {"observed": OBS}, title="t")
    assert _grey_pixels(gappy) > 10 * max(_grey_pixels(full), 10)


def test_solver_colours_distinct_for_registered_solvers():
    colours = [plots.solver_colour(name) for name in names()]
    assert len(set(colours)) == len(colours)
    assert plots.solver_colour("residual:terzaghi+gru") in plots._PALETTE


@pytest.mark.parametrize("draw, culprit", [
    (lambda p: plots.map_panels(p, X, Y, {"lstm": OBS[:-1]}, title="t"), "panel 'lstm'"),
    (lambda p: plots.map_panels(p, X, Y[:5], {"lstm": OBS}, title="t"), "y has 5"),
    (lambda p: plots.map_panels(p, X, Y, {"a": OBS}, title="t", marked=[True]), "marked"),
    (lambda p: plots.map_panels(p, X, Y, {}, title="t"), "panels is empty"),
    (lambda p: plots.map_panels(p, [], [], {"a": []}, title="t"), "x is empty"),
    (lambda p: plots.map_panels(p, X, Y, {"a": OBS}, title="t", truth=OBS[:3]),
     "panel 'the truth'"),
    (lambda p: plots.series_panels(p, TIMES, [{"title": "c", "truth": TREND[1:]}], title="t"),
     "panel 0 .* truth"),
    (lambda p: plots.series_panels(p, TIMES, [{"title": "c", "lines": {"gru": TREND[1:]}}],
                                   title="t"), "line 'gru'"),
    (lambda p: plots.series_panels(p, TIMES, [{"title": "c", "bands": {
        "gru": (TREND, TREND[:3])}}], title="t"), "band 'gru' high"),
    (lambda p: plots.scatter_panels(p, OBS, {"tfn": OBS[:7]}, title="t"), "simulated 'tfn'"),
    (lambda p: plots.confusion_panels(p, {"gru": np.ones((2, 2))}, ["a", "b", "c"],
                                      title="t"), "matrix 'gru'"),
    (lambda p: plots.horizon_panels(p, [1, 2, 3], {"gru": {"r2": [1, 2], "rmse_mm": [1, 2, 3],
                                    "horizon": None}}, threshold=0.5, title="t"), "'gru' r2"),
    (lambda p: plots.attention_panels(p, {"am-gru": np.ones((T - 1, 4))}, TIMES, title="t"),
     "weights 'am-gru'"),
    (lambda p: plots.bar_panels(p, {}, title="t", ylabel="mm"), "values is empty"),
])
def test_mismatched_input_is_refused_naming_it(tmp_path, draw, culprit):
    with pytest.raises(ValueError, match=culprit):
        draw(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.fixture
def kept(monkeypatch):
    """The figures drawn, kept open (not written) to look inside."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or Path(path))
    yield figures
    plt.close("all")


def _map_panels(fig) -> list[tuple[str, list]]:
    """(title, the coloured scatters) of each map panel of ``fig``."""
    return [(ax.get_title(), [c for c in ax.collections if c.get_array() is not None])
            for ax in fig.axes if ax.get_xlabel() == "easting (km)"]


def test_map_panels_share_one_norm_the_truth_first(kept):
    """A ten-fold overstatement reads as ten-fold: every panel on the norm of the pooled
    values, stated under the colour bar; each title gives the panel's own range."""
    panels = {"small": NOISE, "ten-fold": 10 * NOISE}
    norm = plots.shared_norm([NOISE, *panels.values()], diverging=True)
    assert norm.vmin == -norm.vmax
    assert norm.vmax == plots.colour_limits(np.concatenate([NOISE, *panels.values()]),
                                            diverging=True)[1]
    plots.map_panels("m.png", X, Y, panels, title="t", diverging=True, truth=NOISE,
                     marked=np.arange(N) % 4 == 0)
    drawn = _map_panels(kept[0])
    assert [title.split("\n")[0] for title, _ in drawn] == [plots.TRUTH, "small", "ten-fold"]
    for _, scatters in drawn:
        assert len(scatters) == 2          # plain and outlined cells, on the one norm
        assert all((c.norm.vmin, c.norm.vmax) == (norm.vmin, norm.vmax) for c in scatters)
    own = plots.colour_limits(10 * NOISE, diverging=True)[1]
    assert f"its own: ±{own:.3g}" in drawn[2][0]
    bar = kept[0].axes[-1].get_ylabel()
    assert f"one scale: ±{norm.vmax:.3g}" in bar and "percentile 98 of |values|" in bar


def test_fixed_limits_replace_the_shared_scale(kept):
    plots.map_panels("m.png", X, Y, {"a": np.sign(NOISE), "b": np.zeros(N)}, title="t",
                     diverging=True, limits=(-1.0, 1.0), label="classes")
    for title, scatters in _map_panels(kept[0]):
        assert (scatters[0].norm.vmin, scatters[0].norm.vmax) == (-1.0, 1.0)
        assert "its own" not in title
    assert kept[0].axes[-1].get_ylabel() == "classes"


def test_series_draw_the_truth_dashed_first_in_the_legend(kept):
    plots.series_panels("s.png", TIMES, [{"title": "c", "truth": TREND,
                                          "lines": {"lstm": TREND + 2}}], title="t")
    fig = kept[0]
    truth = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(truth) == 1 and np.array_equal(truth[0].get_ydata(), TREND)
    assert [t.get_text() for t in fig.legends[0].get_texts()][0] == plots.TRUTH


def test_bench_maps_put_the_twin_truth_first_on_one_scale(tmp_path, kept):
    """On a twin the truth's panel (engine.app.truth, noise-free, at the map's time)
    stands first in the maps and the error maps, on the same scale as the solvers'."""
    from cases.synthetic import synthetic_case
    from engine.app import truth
    from engine.app.bench.figures import MM, displacement_maps
    from engine.caseio import load_case, write_case
    from tests.test_truth import write_truth

    made = write_case(synthetic_case(n_cells=24, n_months=24, seed=3), tmp_path / "case")
    assert truth.true_displacement(load_case(made)) is None      # not a twin
    write_truth(made, load_case(made))
    case = load_case(made)
    true = truth.true_displacement(case) * MM
    sim = {"terzaghi": make_solver("terzaghi").predict(case).displacement * MM}
    t_last = 20
    captions = [c for c, _ in displacement_maps(tmp_path, case, sim, t_last, None, true)]
    assert all("the noise-free truth first" in c for c in captions)
    observed = case.observations.displacement[:, t_last] * MM
    for fig, expected in zip(kept, (true[:, t_last], true[:, t_last] - observed)):
        drawn = _map_panels(fig)
        assert drawn[0][0].startswith(plots.TRUTH)
        np.testing.assert_allclose(drawn[0][1][0].get_array(), expected)
        assert len({(c.norm.vmin, c.norm.vmax) for _, cs in drawn for c in cs}) == 1
