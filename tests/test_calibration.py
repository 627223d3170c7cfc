"""calibrated:terzaghi: the smoother's algebra, kriging, parameter recovery on a case whose
truth is the same physics, no use of test observations, conformance and persistence."""

from dataclasses import replace

import numpy as np
import pytest

from engine.case import Cells, Observations, build_case
from engine.conformance import check_solver, poisoned
from engine.registry import make_solver
from engine.split import Split
from physics.calibration import kriging, smoother
from physics.calibration.observations import model_error
from physics.calibration.parameters import CLIP_SD, ParameterSpace
from physics.calibration.solver import calibrated_class

#: the twin below runs the model's own physics on exact heads: no model error, no drift
FAST = {"members": 32, "iterations": 4, "nodes": 9, "radius": 1500.0,
        "extensometer_radius": 5000.0, "prior_length": 3000.0, "insar_model_error": 0.0,
        "extensometer_model_error": 0.0, "drift_spread": 0.0}
#: the defaults' model error, estimated by a pilot, and the head drift
PILOT = {**FAST, "insar_model_error": -1.0, "extensometer_model_error": -1.0,
         "error_months": 0.0, "drift_spread": 2.0, "pilot_members": 8, "pilot_iterations": 2}
#: ln multipliers of the truth against the prior: thickness, kv, sskv, sske per aquifer
TRUE_LOG = {"interbed_thickness": 0.2, "kv": -0.8, "sskv": 0.4, "sske": -0.3}


def twin(n_side=5, months=48, seed=0):
    """A truth run by terzaghi with known parameters on an n_side^2 grid (1 km), two
    aquifers with one interbed system each; the case carries the prior (the truth's
    parameters divided by exp(TRUE_LOG)) and the truth's observations with noise.
    Returns (case, truth case)."""
    rng = np.random.default_rng(seed)
    n = n_side * n_side
    t = np.arange(months)
    days = np.round(t * 30.4375).astype(int)
    aquifers, prior = [], []
    for a in range(2):
        trend = (8.0 + 6.0 * rng.random(n))[:, None] * (t / months)[None, :]
        season = (1.5 + a) * np.sin(2 * np.pi * t / 12.0)[None, :]
        head = 20.0 - 10.0 * a - trend - season + season[:, :1]
        truth = {"thickness": 3.0 + a + 0.5 * rng.random(n), "count": 4.0,
                 "kv": 1e-5 * np.exp(0.5 * rng.standard_normal(n)),
                 "sskv": 4e-4 * np.exp(0.3 * rng.standard_normal(n)), "sske": 2e-5}
        aquifers.append({"name": f"confined-{a + 1}", "head": head, "interbeds": [truth]})
        prior.append({**truth, **{
            key: truth[key] / np.exp(TRUE_LOG[kind]) for key, kind in (
                ("thickness", "interbed_thickness"), ("kv", "kv"), ("sskv", "sskv"),
                ("sske", "sske"))}})
    cells = Cells(np.array([f"c{i}" for i in range(n)]), 1000.0 * (np.arange(n) % n_side),
                  1000.0 * (np.arange(n) // n_side))
    truth_case = replace(build_case("truth", days, aquifers), cells=cells)
    run = make_solver("terzaghi", nodes=9).predict(truth_case)
    noisy = run.displacement + rng.normal(0.0, 2e-3, run.displacement.shape)
    noisy[:, 0] = 0.0
    sites = [0, n // 2]
    rows = [(c, a, k) for c in sites for a in range(2) for k in range(months)]
    ext = {"site": np.array([f"e{r[0]}" for r in rows]), "cell": np.array([r[0] for r in rows]),
           "aquifer": np.array([r[1] for r in rows]),
           "time": truth_case.times[[r[2] for r in rows]],
           "compaction": np.array([run.compaction[r[1], r[0], r[2]] for r in rows])}
    case = replace(build_case("twin", days, [{**aq, "interbeds": [p]}
                                             for aq, p in zip(aquifers, prior)]),
                   cells=cells, observations=Observations(noisy, ext))
    return case, truth_case


def _fit(**options):
    case, truth = twin()
    split = Split("spatial", train_fraction=0.7, seed=1)
    solver = make_solver("calibrated:terzaghi", **options)
    report = solver.fit(case, split)
    return case, truth, split, solver, report


@pytest.fixture(scope="module")
def fitted():
    return _fit(**FAST)


@pytest.fixture(scope="module")
def fitted_gradient():
    return _fit(**FAST, method="gradient")


def test_inflation_factors_sum_to_one():
    alphas = smoother.inflation_factors(4, 2.0)
    assert np.isclose(np.sum(1.0 / alphas), 1.0) and np.all(np.diff(alphas) < 0)
    assert np.allclose(smoother.inflation_factors(3, 1.0), 3.0)


def test_linear_gaussian_update_matches_the_kalman_posterior():
    """One parameter, 5 direct noisy readings: ES-MDA over 4 assimilations gives the
    analytic posterior mean and variance (up to sampling error of 2000 members)."""
    rng = np.random.default_rng(0)
    members = rng.normal(0.0, 1.0, size=(2000, 1, 1))
    noise, truth = 0.5, 0.8
    observed = truth + rng.normal(0.0, noise, size=(1, 5))
    weights = smoother.localization([0.0], [0.0], [0.0], [0.0], 1.0)
    for alpha in smoother.inflation_factors(4):
        simulated = np.repeat(members[:, 0, :].T[:, None, :], 5, axis=1)   # [1, 5, Ne]
        a, b = smoother.products(simulated, observed, np.full((1, 5), noise), alpha, rng)
        members = smoother.update(members, [(weights, a, b)], alpha)
    precision = 1.0 + 5 / noise**2
    assert abs(members.mean() - observed.sum() / noise**2 / precision) < 0.02
    assert abs(members.var() - 1.0 / precision) < 0.1 / precision


def test_correlated_model_error_matches_the_kalman_posterior():
    """As above with R = noise^2 I + s^2 exp(-|dt| / tau): the update weighs the readings
    by R^-1, so 12 readings sharing one smooth error count as far fewer than 12; a model
    error of 0 is exactly the white-noise update."""
    rng = np.random.default_rng(1)
    members = rng.normal(0.0, 1.0, size=(4000, 1, 1))
    noise, months = 0.5, np.arange(12.0)
    error = smoother.ErrorModel(0.8, 24.0)
    r = error.structural**2 * np.exp(-np.abs(months[:, None] - months) / error.months) \
        + noise**2 * np.eye(12)
    observed = 0.8 + rng.multivariate_normal(np.zeros(12), r)[None, :]
    weights = smoother.localization([0.0], [0.0], [0.0], [0.0], 1.0)
    args = (np.full((1, 12), noise),)
    for alpha in smoother.inflation_factors(4):
        simulated = np.repeat(members[:, 0, :].T[:, None, :], 12, axis=1)
        a, b = smoother.products(simulated, observed, *args, alpha, rng, error,
                                 months[None, :], np.zeros((1, 12), dtype=np.int64))
        members = smoother.update(members, [(weights, a, b)], alpha)
    inverse = np.linalg.inv(r)
    precision = 1.0 + inverse.sum()
    assert precision < 1.0 + 12 / noise**2 / 5
    assert abs(members.mean() - (inverse @ observed[0]).sum() / precision) < 0.03
    assert abs(members.var() - 1.0 / precision) < 0.1 / precision
    simulated = rng.normal(size=(3, 12, 8))
    gappy = np.where(rng.random((3, 12)) < 0.2, np.nan, rng.normal(size=(3, 12)))
    white = smoother.products(simulated, gappy, np.full((3, 12), noise), 2.0,
                              np.random.default_rng(2))
    none = smoother.products(simulated, gappy, np.full((3, 12), noise), 2.0,
                             np.random.default_rng(2), smoother.ErrorModel(0.0, 1.0),
                             np.tile(months, (3, 1)), np.zeros((3, 12), dtype=np.int64))
    np.testing.assert_array_equal(white[0], none[0])
    np.testing.assert_array_equal(white[1], none[1])


def test_model_error_is_estimated_from_the_residuals_autocovariance():
    rng = np.random.default_rng(0)
    rho = np.exp(-1.0 / 20.0)
    smooth = np.zeros((300, 240))
    smooth[:, 0] = rng.standard_normal(300)
    for t in range(1, 240):
        smooth[:, t] = rho * smooth[:, t - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(300)
    residual = 0.005 * smooth + 0.006 * rng.standard_normal((300, 240))
    residual[:, 30] = np.nan
    sd, months = model_error(residual, 1.0)
    assert abs(sd - 0.005) < 0.0005 and 16.0 < months < 25.0
    assert model_error(0.006 * rng.standard_normal((300, 240)), 1.0)[0] < 0.0005


def test_head_drift_ramps_over_the_calibrated_record():
    case, _ = twin(n_side=2, months=12)
    spreads = {"interbed_thickness": 0.3, "kv": 1.0, "sskv": 0.5, "sske": 0.5,
               "preconsolidation_offset": 3.0}
    assert "head_drift" not in ParameterSpace.for_case(case, spreads).kind
    space = ParameterSpace.for_case(case, {**spreads, "head_drift": 2.0}, last_time=4)
    assert ParameterSpace.from_dict(space.to_dict()).drift_window == space.drift_window
    values = np.zeros((space.size, case.n_cells))
    values[space.kind == "head_drift"] = 1.5
    moved = space.apply(case, values)
    change = moved.aquifers[0].head - case.aquifers[0].head
    np.testing.assert_allclose(change[:, 0], 0.0)
    np.testing.assert_allclose(change[:, 4:], 1.5)
    assert np.all(np.diff(change[0, :5]) > 0)


def test_localization_taper():
    w = smoother.gaspari_cohn(np.array([0.0, 500.0, 999.0, 1000.0, 5000.0]), 1000.0)
    assert w[0] == 1.0 and 1.0 > w[1] > w[2] > 0.0 and w[3] == 0.0 and w[4] == 0.0


def test_kriging_spread_grows_away_from_data():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 10000, 200), rng.uniform(0, 10000, 200)
    values = np.sin(x / 3000.0) + 0.1 * rng.standard_normal(200)
    v = kriging.fit_variogram(x, y, values, rng)
    assert 1000.0 < v.range < 50000.0 and v.sill > 0
    _, weights, variance = kriging.kriging_weights(x, y, [x[0] + 10.0, 40000.0],
                                                   [y[0], 40000.0], v, 16)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert variance[0] < 0.5 * variance[1]


@pytest.mark.parametrize("method", ["smoother", "gradient"])
def test_recovers_the_truths_parameters(method, request):
    case, truth, split, solver, report = request.getfixturevalue(
        {"smoother": "fitted", "gradient": "fitted_gradient"}[method])
    assert report["method"] == method
    mean, _, _ = solver.parameters(case)
    prior_error, posterior_error = [], []
    for p, kind in enumerate(solver.space.kind):
        if kind not in ("interbed_thickness", "sskv", "kv"):
            continue
        assert np.all(np.abs(mean[p]) <= CLIP_SD * solver.space.spread[p])   # within the prior
    # identifiable combinations: ln(b Sskv) (storage-thickness) and ln(b^2 Sskv / Kv) (lag)
    k = dict(zip(solver.space.names, mean))
    for a in ("confined-1", "confined-2"):
        storage = k[f"{a}.interbed_thickness"] + k[f"{a}.sskv"]
        lag = 2 * k[f"{a}.interbed_thickness"] + k[f"{a}.sskv"] - k[f"{a}.kv"]
        true_storage = TRUE_LOG["interbed_thickness"] + TRUE_LOG["sskv"]
        true_lag = 2 * TRUE_LOG["interbed_thickness"] + TRUE_LOG["sskv"] - TRUE_LOG["kv"]
        prior_error += [abs(true_storage), abs(true_lag)]
        posterior_error += [np.median(np.abs(storage - true_storage)),
                            np.median(np.abs(lag - true_lag))]
    # the storage is well determined by the record, the lag time less so
    limit = np.array([0.3, 0.5] * 2) * np.array(prior_error)
    assert np.all(np.array(posterior_error) < limit), posterior_error
    # and the run fits the truth at held-out cells far better than the prior
    test = split.test_cells(case)
    truth_run = make_solver("terzaghi", nodes=9).predict(truth).displacement[test]
    prior_run = make_solver("terzaghi", nodes=9).predict(case).displacement[test]
    calibrated = solver.predict(case).displacement[test]
    assert np.sqrt(np.mean((calibrated - truth_run) ** 2)) < \
        0.25 * np.sqrt(np.mean((prior_run - truth_run) ** 2))
    history = report["ensemble_mean_misfit" if method == "smoother" else "map_misfit"]
    assert report["posterior_mean_misfit"]["insar_rmse_mm"] < history[0]["insar_rmse_mm"]
    # runs of every cell: the smoother's assimilations, Gauss-Newton's Jacobians and
    # trial steps, then the posterior members' run
    n_params = solver.space.size
    if method == "smoother":
        assert report["member_runs"] == FAST["members"] * (FAST["iterations"] + 1)
    else:
        iterations = len(history)
        assert (n_params + 1) * (iterations + 1) + iterations + FAST["members"] \
            <= report["member_runs"] <= (n_params + 4) * (iterations + 1) + FAST["members"]


def test_predict_is_the_posterior_predictive_mean(fitted):
    """predict averages the runs of the posterior members, each run on its own by the
    physics solver, at calibrated and at kriged cells alike; the run of the mean
    parameters differs from it (compaction is not linear in them)."""
    case, _, _, solver, _ = fitted
    predicted = solver.predict(case)
    runs = [solver.physics_solver.predict(member) for member in solver.posterior_members(case)]
    np.testing.assert_allclose(predicted.displacement,
                               np.mean([r.displacement for r in runs], axis=0), atol=1e-12)
    np.testing.assert_allclose(predicted.compaction,
                               np.mean([r.compaction for r in runs], axis=0), atol=1e-12)
    mean, _, _ = solver.parameters(case)
    at_mean = solver.physics_solver.predict(solver.space.apply(case, mean)).displacement
    assert np.abs(at_mean - predicted.displacement).max() > 1e-5


def test_fit_reads_no_test_observation(fitted):
    case, _, split, solver, _ = fitted
    test = split.test_mask(case)
    nan = replace(case, observations=replace(
        case.observations, displacement=np.where(test, np.nan, case.observations.displacement)))
    for bad in (poisoned(case, split), nan):
        again = make_solver("calibrated:terzaghi", **FAST)
        again.fit(bad, split)
        np.testing.assert_array_equal(again.posterior, solver.posterior)
    # the pilot that estimates the model error reads only what the fit reads
    piloted = [make_solver("calibrated:terzaghi", **PILOT) for _ in range(2)]
    reports = [s.fit(c, split) for s, c in zip(piloted, (case, poisoned(case, split)))]
    assert reports[0]["model_error"] == reports[1]["model_error"]
    assert reports[0]["model_error"]["insar"]["sd_m"] > 0.0
    np.testing.assert_array_equal(piloted[0].posterior, piloted[1].posterior)


def test_save_load_and_posterior_members(fitted, tmp_path):
    case, _, split, solver, _ = fitted
    solver.save(tmp_path)
    saved = {p.name for p in tmp_path.iterdir()}
    assert {"solver.json", "calibration.json", "posterior.h5"} <= saved
    loaded = calibrated_class("terzaghi", "calibrated:terzaghi").load(tmp_path)
    a, b = solver.predict(case), loaded.predict(case)
    np.testing.assert_array_equal(a.displacement, b.displacement)
    np.testing.assert_array_equal(a.compaction, b.compaction)
    members = loaded.posterior_members(case)
    assert len(members) == FAST["members"]
    _, _, sd = loaded.parameters(case)
    test = split.test_cells(case)
    assert np.all(sd[:, test] >= 0) and np.all(sd[:, split.train_cells(case)] == 0)


@pytest.mark.parametrize("method", ["smoother", "gradient"])
def test_conformance(method):
    passed = check_solver("calibrated:terzaghi", members=16, nodes=9, method=method)
    assert {"no peeking", "determinism", "save/load", "compaction sum"} <= set(passed)


def test_gauss_newton_gradient_matches_central_differences_and_the_twin():
    """The Gauss-Newton gradient J^T r of the readings' misfit (J by forward
    differences of the Numba physics, the residual whitened by a correlated model error)
    against central differences of that misfit, and at the cells without an extensometer
    against the differentiable twin's exact gradient of the same misfit."""
    torch = pytest.importorskip("torch")
    from physics.calibration import gradient as gn
    from surrogates.differentiable import consolidation as dtwin

    case, _ = twin(n_side=3, months=36)
    solver = make_solver("calibrated:terzaghi", **FAST)
    record = solver.record(case)
    record.errors = (smoother.ErrorModel(0.004, 12.0), smoother.ErrorModel(0.001, 12.0))
    space, physics = solver.space, solver._physics()
    z = 0.3 * np.random.default_rng(4).standard_normal((space.size, case.n_cells))
    phi, grad, curvature, _ = gn.linearise(record, space, z, physics, 8192)
    assert np.all(np.linalg.eigvalsh(curvature) >= -1e-9 * np.abs(curvature).max())  # J^T J
    h = 1e-4
    central = np.empty_like(grad)
    for p in range(space.size):
        step = np.zeros_like(z)
        step[p] = h
        central[p] = (gn.objective(record, space, z + step, physics, 8192)[0]
                      - gn.objective(record, space, z - step, physics, 8192)[0]) / (2 * h)
    np.testing.assert_allclose(grad, central, rtol=0.02, atol=0.02 * np.abs(central).max())
    # the twin: white InSAR error only, so that the misfit is 1/2 |r / noise|^2
    record.errors = (smoother.ErrorModel(), smoother.ErrorModel())
    _, grad, _, _ = gn.linearise(record, space, z, physics, 8192)
    heads, days, sediments, skip = dtwin.case_tensors(record.sub)
    zt = torch.tensor(z, requires_grad=True)
    values = torch.as_tensor(space.spread)[:, None] * zt
    compaction = dtwin.case_part(dtwin.compaction(
        heads, days, dtwin.with_parameters(sediments, space.aquifer, space.kind, values),
        physics["nodes"]), skip)
    observed = torch.as_tensor(record.data.displacement)
    seen = torch.isfinite(observed)
    residual = torch.where(seen, -compaction.sum(dim=0) - torch.nan_to_num(observed), 0.0)
    no_site = np.setdiff1d(np.arange(case.n_cells), record.sites)
    objective = (0.5 * (residual[no_site] / record.data.displacement_noise) ** 2).sum()
    objective.backward()
    exact = zt.grad.numpy()[:, no_site]
    np.testing.assert_allclose(grad[:, no_site], exact, rtol=0.02,
                               atol=0.02 * np.abs(exact).max())


def test_laplace_members_have_the_curvatures_inverse_as_covariance():
    from physics.calibration.gradient import laplace_members

    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 3))
    curvature = a @ np.transpose(a, (0, 2, 1)) + np.eye(3)              # [U, P, P]
    z = np.array([[0.5, -0.2], [0.1, 0.0], [-0.3, 0.4]])                # [P, U]
    draws = laplace_members(z, curvature, 40000, rng)                   # [M, P, U]
    for u in range(2):
        np.testing.assert_allclose(draws[:, :, u].mean(axis=0), z[:, u], atol=0.02)
        np.testing.assert_allclose(np.cov(draws[:, :, u].T), np.linalg.inv(curvature[u]),
                                   atol=0.02)


def test_unknown_method_is_refused():
    from engine.errors import InputError
    with pytest.raises(InputError, match="method"):
        make_solver("calibrated:terzaghi", method="newton")


def test_unknown_physics_is_refused():
    from engine.errors import InputError
    with pytest.raises(InputError, match="calibrated:terzaghi"):
        make_solver("calibrated:nope")
