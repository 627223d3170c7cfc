"""The analytical Terzaghi solution against limits, brute-force series, an exact-in-time
fine finite-difference solution and numerical convolution."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.linalg import eigh_tridiagonal

from physics.analytical import (
    compaction_piecewise_linear,
    degree_of_consolidation,
    equivalent_thickness,
    excess_head,
    lag_time,
    ramp_integral,
    step_compaction,
)

B, KV, SS = 1.0, 2.5e-6, 1.0e-2  # terzaghi-step: tau = 1000 d


def brute_series_u(t, terms=200_000):
    m = np.pi * (2 * np.arange(terms) + 1) / 2
    return 1.0 - np.sum(2.0 / m**2 * np.exp(-(m**2) * t))


def fine_fd(times, cells=400):
    """Compaction and mid-bed excess head after a unit step drop: the bed in ``cells``
    finite volumes, integrated exactly in time through the eigenvectors of the
    (symmetric) semi-discrete operator. Independent of the series solution."""
    dz = B / cells
    cv = KV / SS
    diag = np.full(cells, -2.0)
    diag[[0, -1]] = -3.0  # Dirichlet faces at half a cell
    lam, vec = eigh_tridiagonal(diag * cv / dz**2, np.full(cells - 1, cv / dz**2))
    coeff = vec.T @ np.ones(cells)  # initial excess head 1 everywhere
    excess = vec @ (coeff[:, None] * np.exp(np.outer(lam, times)))
    compaction = SS * dz * (cells - excess.sum(axis=0))
    middle = 0.5 * (excess[cells // 2 - 1] + excess[cells // 2])
    return compaction, middle


def test_lag_time_and_equivalent_thickness():
    assert lag_time(B, KV, SS) == pytest.approx(1000.0, rel=1e-12)
    # tau scales with the square of the drainage path (b/2)
    assert lag_time(2 * B, KV, SS) == pytest.approx(4 * lag_time(B, KV, SS), rel=1e-12)
    b = np.array([1.0, 2.0, 4.0])
    assert equivalent_thickness(b) == pytest.approx(np.sqrt(7.0), rel=1e-12)
    assert equivalent_thickness([3.0, 3.0]) == pytest.approx(3.0)


def test_degree_of_consolidation_limits():
    assert degree_of_consolidation(0.0) == 0.0
    assert degree_of_consolidation(-1.0) == 0.0
    assert degree_of_consolidation(50.0) == 1.0
    # late time: one eigenmode, U = 1 - 8/pi^2 exp(-pi^2 T / 4); next term ~1e-10
    t = np.array([1.0, 1.5, 3.0])
    one_mode = 1 - 8 / np.pi**2 * np.exp(-np.pi**2 * t / 4)
    np.testing.assert_allclose(degree_of_consolidation(t), one_mode, rtol=0, atol=2e-9)
    u = degree_of_consolidation(np.logspace(-6, 0.5, 400))
    assert np.all(np.diff(u) > 0) and u[0] > 0 and u[-1] < 1


def test_early_time_is_two_sqrt_t_over_pi():
    # the eigen-series branch (T > 0.02) against the short-time law; they differ only
    # by image terms ~ exp(-1/T)
    t = np.array([0.021, 0.03, 0.05])
    np.testing.assert_allclose(degree_of_consolidation(t), 2 * np.sqrt(t / np.pi),
                               rtol=1e-7)
    # and T is t / tau with tau built on the half thickness
    u_10_days = step_compaction(10.0, B, KV, SS) / (SS * B)
    assert u_10_days == pytest.approx(2 * np.sqrt(0.01 / np.pi), rel=1e-12)


@pytest.mark.parametrize("t", [1e-4, 1e-3, 0.019, 0.021, 0.1, 0.5, 2.0])
def test_series_converges_to_brute_force(t):
    assert degree_of_consolidation(t) == pytest.approx(brute_series_u(t), abs=2e-12)


def test_ramp_integral_is_integral_of_u():
    for t in (0.005, 0.02, 0.3, 2.0, 30.0):
        integral, _ = quad(degree_of_consolidation, 0.0, t, limit=200, epsabs=1e-14)
        assert ramp_integral(t) == pytest.approx(integral, rel=1e-9, abs=1e-15)


def test_step_compaction_against_fine_finite_differences():
    times = np.array([10.0, 50.0, 200.0, 700.0, 2000.0])
    fd, _ = fine_fd(times)
    exact = step_compaction(times, B, KV, SS)
    np.testing.assert_allclose(exact, fd, rtol=0, atol=2e-5 * SS * B)


def test_excess_head_against_fine_finite_differences_and_u():
    times = np.array([20.0, 300.0, 1500.0])
    _, middle = fine_fd(times)
    np.testing.assert_allclose(excess_head(0.5, times, B, KV, SS), middle, atol=2e-5)
    # the mean excess head over the bed is 1 - U (the water still to drain)
    z = np.linspace(0.0, B, 20001)
    for t in times:
        u = excess_head(z, t, B, KV, SS)
        mean = np.trapezoid(u, z) / B
        assert mean == pytest.approx(1 - degree_of_consolidation(t / 1000.0), abs=1e-7)
        np.testing.assert_allclose(u, u[::-1], atol=1e-12)  # symmetric about the centre
    assert excess_head(0.0, 100.0, B, KV, SS) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(excess_head(np.array([0.0, 0.3, 1.0]), 0.0, B, KV, SS),
                                  [0.0, 1.0, 0.0])


def test_excess_head_series_has_enough_terms_at_early_time():
    # at T = 1e-4 the profile is an error function of depth
    from scipy.special import erf
    t = 0.1  # days, T = 1e-4
    z = np.array([0.001, 0.005, 0.01, 0.02])
    semi_infinite = erf(z / (2 * np.sqrt(KV / SS * t)))
    np.testing.assert_allclose(excess_head(z, t, B, KV, SS), semi_infinite, atol=1e-9)


def test_piecewise_linear_superposition():
    tau = lag_time(B, KV, SS)
    t = np.linspace(0.0, 3000.0, 301)
    # one ramp (1 m over 1 day) against the convolution of the step response
    ramp = compaction_piecewise_linear(t, [0.0, 1.0], [0.0, -1.0], B, KV, SS)
    conv = np.array([quad(lambda s: degree_of_consolidation((x - s) / tau), 0.0,  # noqa: B023
                          min(x, 1.0))[0] for x in t]) * SS * B
    np.testing.assert_allclose(ramp, conv, atol=1e-12)
    # a fall and a full recovery: linear, so the bed returns to zero
    cycle = compaction_piecewise_linear(np.array([1e6]), [0, 100, 200], [0, -2, 0],
                                        B, KV, SS)
    assert cycle[0] == pytest.approx(0.0, abs=1e-12)
    # equilibrium: Ss b (h0 - h_end)
    final = compaction_piecewise_linear(np.array([1e6]), [0, 50, 80, 400],
                                        [3, 1, 2, -4], B, KV, SS)
    assert final[0] == pytest.approx(SS * B * 7, rel=1e-12)
    # superposition of two histories is the history of the sum
    knots = [0.0, 100.0, 250.0, 600.0]
    h1, h2 = np.array([0.0, -1.0, -1.5, 0.5]), np.array([0.0, 0.3, -2.0, -2.0])
    both = compaction_piecewise_linear(t, knots, h1 + h2, B, KV, SS)
    apart = (compaction_piecewise_linear(t, knots, h1, B, KV, SS)
             + compaction_piecewise_linear(t, knots, h2, B, KV, SS))
    np.testing.assert_allclose(both, apart, atol=1e-15)
