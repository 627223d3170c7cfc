"""Posterior parameters at cells that had no observation: ordinary kriging.

The calibrated parameters are log multipliers (and an offset in m), so kriging them is
kriging in log space. Per parameter an exponential variogram

    gamma(h) = nugget + sill (1 - exp(-h / range)),   h in m,

is fitted to the posterior means at the calibrated cells (the solver then folds the
nugget into the sill, see ``solver.py``) (binned empirical
semivariogram of a seeded sample of pairs; range by a grid search, nugget and sill by
non-negative least squares for each range). An unseen cell then takes the ordinary
kriging weights of its ``neighbours`` nearest calibrated cells (local kriging, so the
cost is linear in cells); the same weights carry the posterior mean and every member,
and the kriging variance (0 next to the data, the field's sill plus nugget far from
it) is added to the members as independent noise, so the spread grows away from data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import cKDTree

PAIRS = 20000
BINS = 15


@dataclass(frozen=True)
class Variogram:
    """Exponential variogram: nugget and sill in squared parameter units, range in m."""

    nugget: float
    sill: float
    range: float

    def without_nugget(self) -> "Variogram":
        """The same total variance, all of it spatially correlated (exact interpolation)."""
        return Variogram(0.0, self.sill + self.nugget, self.range)

    def covariance(self, h: np.ndarray) -> np.ndarray:
        """C(h) of the spatially correlated part (the nugget only on the diagonal)."""
        return self.sill * np.exp(-np.asarray(h) / self.range)


def fit_variogram(x, y, values, rng: np.random.Generator) -> Variogram:
    """The exponential variogram of ``values`` [D] at (x, y) [D] (m)."""
    n = len(values)
    var = float(np.var(values))
    extent = float(np.hypot(np.ptp(x), np.ptp(y)))
    if n < 3 or extent == 0.0 or var == 0.0:
        return Variogram(var, 0.0, max(extent, 1.0))
    i = rng.integers(0, n, PAIRS)
    j = rng.integers(0, n, PAIRS)
    h = np.hypot(x[i] - x[j], y[i] - y[j])
    g = 0.5 * (values[i] - values[j]) ** 2
    edges = np.linspace(0.0, 0.5 * extent, BINS + 1)
    which = np.digitize(h, edges) - 1
    filled = [b for b in range(BINS) if np.sum(which == b) >= 10 and edges[b + 1] > 0]
    if len(filled) < 3:
        return Variogram(var, 0.0, max(extent, 1.0))
    lag = np.array([h[which == b].mean() for b in filled])
    gamma = np.array([g[which == b].mean() for b in filled])
    count = np.array([np.sum(which == b) for b in filled], dtype=np.float64)
    best = None
    for length in np.geomspace(edges[1] / 4.0, 2.0 * extent, 40):
        design = np.column_stack([np.ones_like(lag), 1.0 - np.exp(-lag / length)])
        w = np.sqrt(count)
        coef, residual = nnls(design * w[:, None], gamma * w)
        if best is None or residual < best[0]:
            best = (residual, coef, length)
    _, (nugget, sill), length = best
    return Variogram(float(nugget), float(sill), float(length))


def kriging_weights(x, y, x_new, y_new, variogram: Variogram, neighbours: int):
    """Ordinary kriging at (x_new, y_new) [Q] from the data at (x, y) [D]: returns the
    data indices [Q, k], the weights [Q, k] and the kriging variance [Q]."""
    k = min(neighbours, len(x))
    data = np.column_stack([x, y])
    _, index = cKDTree(data).query(np.column_stack([x_new, y_new]), k=k)
    index = index.reshape(len(x_new), k)
    near = data[index]                                                   # [Q, k, 2]
    between = np.linalg.norm(near[:, :, None, :] - near[:, None, :, :], axis=-1)
    to_target = np.hypot(near[..., 0] - np.asarray(x_new)[:, None],
                         near[..., 1] - np.asarray(y_new)[:, None])
    system = np.ones((len(x_new), k + 1, k + 1))
    system[:, :k, :k] = variogram.covariance(between) + variogram.nugget * np.eye(k)
    system[:, k, k] = 0.0
    rhs = np.ones((len(x_new), k + 1))
    rhs[:, :k] = variogram.covariance(to_target)
    if variogram.sill + variogram.nugget == 0.0:   # a constant field: plain mean
        solution = np.full((len(x_new), k + 1), 1.0 / k)
        solution[:, k] = 0.0
    else:
        solution = np.linalg.solve(system, rhs[..., None])[..., 0]
    weights = solution[:, :k]
    variance = (variogram.sill + variogram.nugget - np.sum(weights * rhs[:, :k], axis=1)
                - solution[:, k])
    return index, weights, np.maximum(variance, 0.0)


def krige_members(x, y, members: np.ndarray, x_new, y_new, variograms, neighbours: int,
                  rng: np.random.Generator):
    """Posterior at unseen cells: members [Ne, P, D] at (x, y) -> (mean [P, Q],
    members [Ne, P, Q], kriging sd [P, Q]) at (x_new, y_new), one variogram per P."""
    ne, p, _ = members.shape
    q = len(x_new)
    mean = np.empty((p, q))
    out = np.empty((ne, p, q))
    sd = np.empty((p, q))
    noise = rng.normal(size=(ne, p, q))
    centre = members.mean(axis=0)
    for j, variogram in enumerate(variograms):
        index, weights, variance = kriging_weights(x, y, x_new, y_new, variogram, neighbours)
        mean[j] = np.sum(weights * centre[j][index], axis=1)
        out[:, j] = np.sum(weights[None] * members[:, j][:, index], axis=2)
        sd[j] = np.sqrt(variance)
        out[:, j] += sd[j] * noise[:, j]
    return mean, out, sd
