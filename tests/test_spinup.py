"""Spin-up from data: ``make-case from-data`` turns the well record before the first
InSAR period into the case's spin-up and says so in summary.md."""

import numpy as np
import pytest
import readers_fixtures as fx

from cases.from_data import FromData, build_case

pytestmark = pytest.mark.needs("mintpy.utils.writefile")
TRUTH = fx.truth(n_dates=100)       # InSAR 2016-01-05 .. 2019-04-07; wells from 2015-06


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return build_case(FromData(
        out=str(tmp_path_factory.mktemp("out")), insar=str(fx.write_mintpy(d / "mintpy", TRUTH)),
        wells=str(fx.write_wells(d, TRUTH)), params=str(fx.write_params(d)),
        stratigraphy=str(fx.write_stratigraphy(d, TRUTH)), crs=fx.CRS))


def test_wells_before_the_first_insar_period_are_the_spinup(built):
    case = built.case
    expected = np.arange(np.datetime64("2015-06"), np.datetime64("2016-01")).astype(
        "datetime64[D]")
    np.testing.assert_array_equal(case.spinup_times, expected)
    ids = list(case.cells.ids)
    for _name, (r, c, aquifer, _, _) in fx.WELLS.items():
        a = case.aquifer_names.index(aquifer)
        spun = case.aquifers[a].spinup_head[ids.index(f"r{r}c{c}")]
        assert spun.shape == (7,) and np.all(np.isfinite(spun))
    text = built.summary.markdown()
    assert "7 MS periods 2015-06-01..2015-12-01 from the well record before the first case " \
           "period 2016-01-01" in text


def test_twin_spinup_keeps_the_history_and_joins_the_case_heads():
    from types import SimpleNamespace

    from cases.beijing.make import spinup_heads
    rng = np.random.default_rng(0)
    history = rng.normal(0.0, 5.0, (4, 6, 30))           # flow model, spin-up times
    true_case = rng.normal(0.0, 5.0, (4, 6, 12))         # flow model, case times
    case = true_case + rng.normal(0.0, 1.0, (4, 6, 1))   # the case's interpolated heads
    world = SimpleNamespace(spinup_heads=history, point_heads=true_case)
    spun = spinup_heads(world, case)
    # the drawdowns of the history are the flow model's; the join has the case's step
    np.testing.assert_allclose(np.diff(spun, axis=2), np.diff(history, axis=2), atol=1e-12)
    np.testing.assert_allclose(case[:, :, 0] - spun[:, :, -1],
                               true_case[:, :, 0] - history[:, :, -1], atol=1e-12)
