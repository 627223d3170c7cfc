"""Terzaghi's analytical solution for a doubly drained compressible bed.

A bed of thickness b (m) drains at both faces to its aquifer; inside it the head obeys
Ss dh/dt = Kv d2h/dz2 with constant specific storage Ss (1/m) and vertical hydraulic
conductivity Kv (m/d). With the drainage path b/2 the consolidation time constant is

    tau = (b/2)^2 Ss / Kv            (days; ``lag_time``)

and the dimensionless time is T = t / tau = cv t / (b/2)^2 with cv = Kv / Ss. For a step
drop of the face head the degree of consolidation is the eigen-series

    U(T) = 1 - sum_m 2/M^2 exp(-M^2 T),     M = pi (2m + 1) / 2,

which for T <= 0.02 equals the short-time (image) solution 2 sqrt(T / pi) to double
precision (the first image term is of order exp(-1/T) / T < 1e-21 there), so both
branches are exact. A ramp of the face head at unit rate gives the time integral
R(T) = int_0^T U = T - 1/3 + sum_m 2/M^4 exp(-M^2 T) (sum_m 2/M^4 = 1/3), and
R(T) = (4/3) T^(3/2) / sqrt(pi) for T <= 0.02. Because the problem is linear with
constant storage, a piecewise-linear face-head history is an exact superposition of
ramps, one per change of slope.

Signs follow DESIGN.md: heads in m above datum, compaction positive = shortening, so a
head drop gives positive compaction Ss b (h0 - h) once the bed has equilibrated.
"""

from __future__ import annotations

import numpy as np

#: Below this dimensionless time the short-time forms are exact in double precision.
SHORT_TIME = 0.02
#: Above this dimensionless time every exponential term is below 1e-17.
LONG_TIME = 20.0
# Eigenvalues M = pi (2m + 1) / 2 needed for T >= SHORT_TIME: exp(-M^2 T) < 1e-19 beyond.
_M = np.pi * (2 * np.arange(24) + 1) / 2


def lag_time(thickness, kv, ss):
    """Consolidation time constant tau = (b/2)^2 Ss / Kv (days) of a doubly drained bed.

    thickness : m, full thickness b of the bed; kv : m/d; ss : 1/m.
    """
    thickness, kv, ss = (np.asarray(v, dtype=np.float64) for v in (thickness, kv, ss))
    return (0.5 * thickness) ** 2 * ss / kv


def equivalent_thickness(thicknesses):
    """Thickness (m) of the equivalent bed of a set of beds b_i: sqrt(mean(b_i^2)).

    The b_equiv of MODFLOW's SUB and CSUB packages: n beds of this thickness keep the
    set's sum of b_i^2, and so its time constant (tau grows as b^2).
    """
    b = np.asarray(thicknesses, dtype=np.float64)
    return float(np.sqrt(np.mean(b * b)))


def degree_of_consolidation(time_factor):
    """U(T) for a step load; T = t / tau (dimensionless, array or scalar). U(T<=0) = 0."""
    t = np.asarray(time_factor, dtype=np.float64)
    flat = np.atleast_1d(t).ravel()
    out = np.zeros_like(flat)
    short = (flat > 0) & (flat <= SHORT_TIME)
    out[short] = 2.0 * np.sqrt(flat[short] / np.pi)
    series = (flat > SHORT_TIME) & (flat < LONG_TIME)
    tail = np.exp(-np.outer(flat[series], _M**2)) @ (2.0 / _M**2)
    out[series] = 1.0 - tail
    out[flat >= LONG_TIME] = 1.0
    return out.reshape(t.shape) if t.ndim else float(out[0])


def ramp_integral(time_factor):
    """R(T) = integral of U from 0 to T (dimensionless): the response to a unit-rate ramp."""
    t = np.asarray(time_factor, dtype=np.float64)
    flat = np.atleast_1d(t).ravel()
    out = np.zeros_like(flat)
    short = (flat > 0) & (flat <= SHORT_TIME)
    out[short] = (4.0 / 3.0) * flat[short] ** 1.5 / np.sqrt(np.pi)
    series = (flat > SHORT_TIME) & (flat < LONG_TIME)
    tail = np.exp(-np.outer(flat[series], _M**2)) @ (2.0 / _M**4)
    out[series] = flat[series] - 1.0 / 3.0 + tail
    late = flat >= LONG_TIME
    out[late] = flat[late] - 1.0 / 3.0
    return out.reshape(t.shape) if t.ndim else float(out[0])


def excess_head(z, t, thickness, kv, ss, drop=1.0):
    """Excess head (m) inside the bed after a step drop ``drop`` (m) of the face head at t=0.

    z : m, depth below the top face (0 <= z <= b); t : days. The excess head is the
    bed head minus the (new) face head: ``drop`` everywhere inside at t = 0+, zero at
    the faces, decaying as sum_m (2/M) sin(M z / (b/2)) exp(-M^2 t / tau). Returns an
    array broadcast over z and t. Enough terms are summed for every exponential left
    out to be below 1e-17 (many at very early times, a handful late).
    """
    z, t = np.broadcast_arrays(np.asarray(z, dtype=np.float64),
                               np.asarray(t, dtype=np.float64))
    half = 0.5 * float(thickness)
    tf = t / float(lag_time(thickness, kv, ss))
    positive = tf[tf > 0]
    smallest = positive.min() if positive.size else LONG_TIME
    n_terms = int(np.ceil(np.sqrt(40.0 / smallest) / np.pi)) + 2
    m_values = np.pi * (2 * np.arange(n_terms) + 1) / 2
    u = np.zeros(z.shape)
    for m_value in m_values:  # one term at a time keeps memory flat for large grids
        u += (2.0 / m_value) * np.sin(m_value * z / half) * np.exp(-m_value**2 * tf)
    inside = (z > 0) & (z < 2 * half)
    u = np.where(tf > 0, u, np.where(inside, 1.0, 0.0))
    return drop * u


def step_compaction(t, thickness, kv, ss, drop=1.0):
    """Compaction (m, shortening positive) of one bed after a step drop ``drop`` (m) at t=0."""
    tau = lag_time(thickness, kv, ss)
    return ss * thickness * drop * degree_of_consolidation(np.asarray(t, float) / tau)


def compaction_piecewise_linear(t, times, heads, thickness, kv, ss):
    """Compaction (m, shortening positive) of one bed whose face head is piecewise linear.

    times : [K] days, strictly increasing; heads : [K] m, the face head at those times,
    linear in between and held at heads[-1] afterwards. The bed starts in equilibrium
    with heads[0] and has constant storage ss (1/m). Exact: a superposition of ramps
    starting at each knot with the change of slope there, each contributing
    -Ss b tau dslope R((t - t_k) / tau).
    """
    times = np.asarray(times, dtype=np.float64)
    heads = np.asarray(heads, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    tau = float(lag_time(thickness, kv, ss))
    slopes = np.diff(heads) / np.diff(times)
    slope_change = np.diff(np.concatenate([[0.0], slopes, [0.0]]))
    knots = np.flatnonzero(slope_change)
    out = np.zeros(t.shape)
    for k in knots:
        out -= slope_change[k] * ramp_integral((t - times[k]) / tau)
    return ss * thickness * tau * out
