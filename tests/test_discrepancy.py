"""The model's discrepancy (physics/calibration/discrepancy.py): the Gaussian-process
conditional mean, solved directly, held after the record; what it recovers of a discrepancy drawn from its
prior, at the cells with a record and kriged to those without; save and load."""

import numpy as np
import pytest

from physics.calibration.discrepancy import Discrepancy, months_since_epoch

TAU = 60.0
SD = 0.015
NOISE = 0.006


def monthly(n: int) -> np.ndarray:
    return np.datetime64("2000-01") + np.arange(n)


@pytest.mark.parametrize("sd", [SD, np.array([SD, 2 * SD, 0.5 * SD])],
                         ids=["one sd", "an sd per cell"])
def test_conditional_mean_is_the_gaussian_process_posterior_solved_directly(sd):
    rng = np.random.default_rng(1)
    times = monthly(40)
    residual = rng.normal(0.0, 0.01, (3, 40)) + 0.2        # a constant the fit does not see
    residual[1, 10:15] = np.nan                              # a gap: its own pattern
    noise = np.full(residual.shape, NOISE)
    field = Discrepancy.condition(["a", "b", "c"], [0.0, 1e3, 2e3], [0.0, 0.0, 0.0], times,
                                  residual, noise, sd, TAU, rng)
    months = months_since_epoch(times)
    sd = np.broadcast_to(sd, (3,))
    later = months_since_epoch(monthly(60))                # and 20 months past the record
    np.testing.assert_allclose(field.mean(np.arange(3), later)[:, 40:],
                               np.repeat(field.mean(np.arange(3), later[39:40]), 20, axis=1),
                               rtol=1e-12, atol=1e-15)   # m: summation order only
    for row in range(3):
        at = np.flatnonzero(np.isfinite(residual[row]))
        k = sd[row]**2 * np.exp(-np.abs(months[at, None] - months[at]) / TAU)
        r_inv = np.linalg.inv(k + NOISE**2 * np.eye(len(at)))
        one = np.ones(len(at))
        constant = one @ r_inv @ residual[row, at] / (one @ r_inv @ one)
        held = np.minimum(later, months[-1])                # held after the last reading
        k_star = sd[row]**2 * np.exp(-np.abs(held[:, None] - months[at]) / TAU)
        expected = k_star @ r_inv @ (residual[row, at] - constant)
        np.testing.assert_allclose(field.mean(np.array([row]), later)[0], expected,
                                   rtol=1e-9, atol=1e-12)
    # relative to the first time asked for, as displacement is stored
    at_cells = field.at(["a", "b", "c"], [0.0, 1e3, 2e3], [0.0] * 3, monthly(60))
    np.testing.assert_allclose(at_cells, field.mean(np.arange(3), later)
                               - field.mean(np.arange(3), later[:1]), atol=1e-15)


def test_a_discrepancy_drawn_from_its_prior_is_recovered_where_read_and_kriged_between(
        monkeypatch):
    """A field smooth in space (exponential, 8 km) and in time (the prior's tau) with
    white reading noise: the conditional mean leaves a third of the error of ignoring it
    at the cells that were read (0.21 measured), kriging about half at the cells that
    were not (0.36)."""
    rng = np.random.default_rng(7)
    side, n_t = 14, 96
    x, y = (g.ravel() * 1e3 for g in np.meshgrid(np.arange(side) * 2.0, np.arange(side) * 2.0))
    n = len(x)
    months = np.arange(n_t, dtype=float)
    space = np.exp(-np.hypot(x[:, None] - x, y[:, None] - y) / 8e3)
    time = np.exp(-np.abs(months[:, None] - months) / TAU)
    truth = (np.linalg.cholesky(space + 1e-9 * np.eye(n)) @ rng.standard_normal((n, n_t))
             @ np.linalg.cholesky(time).T) * SD
    truth -= truth[:, :1]
    reading = truth + rng.normal(0.0, NOISE, truth.shape)
    read = rng.random(n) < 0.7
    ids = np.arange(n).astype(str)
    field = Discrepancy.condition(ids[read], x[read], y[read], monthly(n_t), reading[read],
                                  np.full((read.sum(), n_t), NOISE), SD, TAU, rng)
    estimate = field.at(ids, x, y, monthly(n_t))

    def rms(a):
        return float(np.sqrt(np.mean(a**2)))

    assert rms(estimate[read] - truth[read]) < 0.35 * rms(truth[read])
    assert rms(estimate[~read] - truth[~read]) < 0.55 * rms(truth[~read])
    # kriged a few cells at a time (as a large case is), the same numbers
    from physics.calibration import discrepancy
    monkeypatch.setattr(discrepancy, "KRIGING_CHUNK", 7)
    np.testing.assert_array_equal(field.at(ids, x, y, monthly(n_t)), estimate)


@pytest.mark.parametrize("sd", [SD, np.array([SD, 2 * SD, SD, 3 * SD])],
                         ids=["one sd", "an sd per cell"])
def test_saved_and_loaded_it_predicts_the_same(sd):
    rng = np.random.default_rng(3)
    field = Discrepancy.condition(["p", "q", "r", "s"], [0.0, 5e2, 0.0, 5e2],
                                  [0.0, 0.0, 5e2, 5e2], monthly(24),
                                  rng.normal(0, 0.01, (4, 24)), np.full((4, 24), NOISE),
                                  sd, TAU, rng)
    again = Discrepancy.from_saved(field.to_dict(), field.arrays())
    where = (["p", "new"], [0.0, 2e2], [0.0, 2e2], monthly(30))
    np.testing.assert_array_equal(field.at(*where), again.at(*where))


def test_the_composition_is_its_physics_plus_the_discrepancy_of_its_record():
    """discrepancy:terzaghi predicts terzaghi's compaction and terzaghi's displacement
    plus the discrepancy conditioned on the readable residual, built here from the
    parts; a head change's effect is terzaghi's; it passes the conformance suite."""
    from dataclasses import replace

    from engine.conformance import check_solver, conformance_case, conformance_split
    from engine.registry import make_solver
    from physics.calibration.observations import readable_mask

    case = conformance_case()
    split = conformance_split(case)
    solver = make_solver("discrepancy:terzaghi", insar_model_error=0.01, error_months=12.0)
    report = solver.fit(case, split)
    physics = make_solver("terzaghi").predict(case)
    field = Discrepancy.of_record(case, readable_mask(case, split), physics.displacement,
                                  0.01, 12.0, 0)
    got = solver.predict(case)
    np.testing.assert_array_equal(got.compaction, physics.compaction)
    np.testing.assert_allclose(got.displacement, physics.displacement + field.at(
        case.cells.ids, case.cells.x, case.cells.y, case.times), rtol=0, atol=1e-15)
    assert report["discrepancy"]["rms_at_last_reading_mm"] > 0
    pumped = replace(case, aquifers=tuple(
        replace(a, head=a.head - np.where(np.arange(case.n_times) > 20, 3.0, 0.0))
        for a in case.aquifers))
    effect = solver.predict(pumped).displacement - got.displacement
    plain = make_solver("terzaghi")
    np.testing.assert_allclose(effect, plain.predict(pumped).displacement
                               - physics.displacement, rtol=0, atol=1e-12)
    assert {"no peeking", "determinism", "save/load"} <= set(
        check_solver("discrepancy:terzaghi"))


def test_the_composition_takes_physics_solvers_only_and_a_prior_it_can_use():
    import pytest

    from engine.errors import InputError
    from engine.registry import make_solver

    for name in ("discrepancy:lstm", "discrepancy:dpl:terzaghi", "discrepancy:"):
        with pytest.raises(InputError, match="physics solver|of the form"):
            make_solver(name)
    for key in ("insar_model_error", "error_months"):
        with pytest.raises(InputError, match=f"{key}.*out of range"):
            make_solver("discrepancy:terzaghi", **{key: 0.0})
