"""The ensemble smoother with multiple data assimilation (ES-MDA), localized per cell.

ES-MDA (Emerick & Reynolds 2013; as in PEST++ IES's MDA mode and pyEMU): the prior
ensemble is run, then updated Na times; at assimilation k every member m moves by

    m_a = m + C_MD (C_DD + alpha_k R)^-1 (d_obs + sqrt(alpha_k) e - d_m),
    e ~ N(0, R),

with C_MD, C_DD the ensemble (cross-)covariances of parameters and simulated data, R
the observation noise covariance (diagonal here) and inflation factors with
sum(1 / alpha_k) = 1, so that for a linear model the Na damped updates together equal
one Bayesian update. The factors decrease geometrically (large steps first, where the
model is least linear in the parameters).

Localization, in ensemble space. With the anomalies S = R^-1/2 dD / sqrt(Ne - 1) and
innovations Y = R^-1/2 (d_obs + sqrt(alpha) e - d), the update is
m_a = m + dM (S^T S + alpha I)^-1 S^T Y, dM the parameter anomalies / sqrt(Ne - 1)
(push-through identity): an Ne x Ne system whatever the number of observations.
Parameters are per cell and each observation belongs to one cell (an InSAR point, an
extensometer site), so S^T S and S^T Y are sums over observing cells j of small
Ne x Ne blocks A_j, B_j. Cell i is updated from its own and nearby observations by
weighting those blocks with the Gaspari-Cohn taper rho(d_ij) (1 on the cell, 0 beyond
the localization radius): the observation noise of cell j is inflated by 1 / rho_ij
for the update of cell i (R-localization, as in the LETKF). The weighted sums are one
sparse matrix product and the U updates one batched solve (numpy), so the cost is
linear in cells.

Model error. R is the noise of the readings plus the model's own error (``ErrorModel``):
heads interpolated from wells and one equivalent bed per aquifer leave a misfit that is
smooth in time and no parameter removes. Counted as white noise, each of a series' ~250
monthly readings would be an independent witness against it, and the ensemble collapses
onto parameters that fit that error (a what-if band covering a third of the true
effects). With R_j = diag(noise^2) + s^2 exp(-|t - t'| / tau) within a series, a smooth
misfit weighs as the few independent pieces it is; S and Y are then whitened by
L_j^-1 (R_j = L_j L_j^T, one Cholesky per pattern of readings, cached) instead of
divided by the noise, and the perturbation is drawn white in the whitened space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.linalg import solve_triangular
from scipy.spatial import cKDTree

#: Cells whose Ne x Ne products are formed at once (memory: cells x times x Ne floats).
PRODUCT_CHUNK = 128


def inflation_factors(assimilations: int, ratio: float = 2.0) -> np.ndarray:
    """[Na] alpha_k decreasing geometrically by ``ratio``, sum(1 / alpha_k) = 1."""
    steps = ratio ** np.arange(assimilations - 1, -1, -1, dtype=np.float64)
    return steps * np.sum(1.0 / steps)


def gaspari_cohn(distance: np.ndarray, radius: float) -> np.ndarray:
    """The Gaspari-Cohn (1999) fifth-order taper: 1 at 0, 0 from ``radius`` on (m)."""
    r = 2.0 * np.asarray(distance, dtype=np.float64) / radius
    near = r <= 1.0
    far = (r > 1.0) & (r < 2.0)
    out = np.zeros_like(r)
    q = r[near]
    out[near] = -0.25 * q**5 + 0.5 * q**4 + 0.625 * q**3 - 5.0 / 3.0 * q**2 + 1.0
    q = r[far]
    out[far] = (q**5 / 12.0 - 0.5 * q**4 + 0.625 * q**3 + 5.0 / 3.0 * q**2 - 5.0 * q + 4.0
                - 2.0 / (3.0 * q))
    return out


def localization(x_cells, y_cells, x_obs, y_obs, radius: float) -> sparse.csr_matrix:
    """[U, J] taper weights of the J observing points for the U updated cells (m)."""
    cells = np.column_stack([x_cells, y_cells])
    points = np.column_stack([x_obs, y_obs])
    near = cKDTree(points).query_ball_point(cells, r=radius)
    rows = np.repeat(np.arange(len(cells)), [len(n) for n in near])
    cols = np.concatenate([np.asarray(n, dtype=np.int64) for n in near]) if len(rows) else \
        np.zeros(0, dtype=np.int64)
    distance = np.hypot(*(cells[rows] - points[cols]).T)
    weight = gaspari_cohn(distance, radius)
    keep = weight > 0.0
    return sparse.csr_matrix((weight[keep], (rows[keep], cols[keep])),
                             shape=(len(cells), len(points)))


@dataclass(frozen=True)
class ErrorModel:
    """The model's error in one kind of record: sd ``structural`` (m), correlated between
    two readings of one series as exp(-|dt| / ``months``); 0: none (white noise only)."""

    structural: float = 0.0
    months: float = 1.0
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def whitening(self, noise: np.ndarray, months: np.ndarray, series: np.ndarray):
        """[m, m] L^-1, L L^T = R of m readings: noise sd [m] (m), times [m] (months),
        series [m] (readings of different series are independent)."""
        key = (noise.tobytes(), months.tobytes(), series.tobytes())
        if key not in self.cache:
            lag = np.abs(months[:, None] - months[None, :])
            r = (self.structural**2 * (series[:, None] == series[None, :])
                 * np.exp(-lag / self.months) + np.diag(noise**2))
            self.cache[key] = solve_triangular(np.linalg.cholesky(r), np.eye(len(r)),
                                               lower=True)
        return self.cache[key]


def products(simulated: np.ndarray, observed: np.ndarray, noise: np.ndarray, alpha: float,
             rng: np.random.Generator, error: ErrorModel | None = None, months=None,
             series=None):
    """The Ne x Ne blocks of J observing points.

    simulated [J, n, Ne] and observed [J, n] (NaN: no observation, which then weighs
    nothing), noise [J, n] (m, sd); the observation perturbations are drawn from ``rng``
    for every (point, reading, member), observed or not, so the draws do not depend on
    which observations exist. With a model ``error``: ``months`` and ``series`` [J, n]
    place each reading in time and in its series (see ErrorModel). Returns A = S^T S
    and B = S^T Y, each [J, Ne, Ne]."""
    members = simulated.shape[-1]
    a = np.empty((len(simulated), members, members))
    b = np.empty_like(a)
    for first in range(0, len(simulated), PRODUCT_CHUNK):
        part = slice(first, first + PRODUCT_CHUNK)
        seen = np.isfinite(observed[part])
        d = simulated[part]
        anomalies = (d - d.mean(axis=-1, keepdims=True)) / np.sqrt(members - 1.0)
        perturbation = np.sqrt(alpha) * rng.standard_normal(d.shape) * seen[..., None]
        innovation = np.where(seen, observed[part], 0.0)[..., None] - d
        s, y = whiten((anomalies, innovation), seen, noise[part],
                      None if months is None else months[part],
                      None if series is None else series[part], error)
        y = y + perturbation
        st = np.transpose(s, (0, 2, 1))
        a[part] = st @ s
        b[part] = st @ y
    return a, b


def whiten(arrays: tuple, seen, noise, months, series, error: ErrorModel | None) -> tuple:
    """Each of ``arrays`` ([J, n, K]: K columns per reading of J points) whitened per
    point, L^-1 x with L L^T = R the covariance of the point's seen readings, and 0 where
    not seen: divided by the noise sd [J, n] (m) without a model ``error`` (or one of sd
    0); with one, ``months`` and ``series`` [J, n] place each reading in time and in its
    series (see ErrorModel). The points that share their readings' pattern, noise, times
    and series share L, and each such group is one batched product."""
    if error is None or error.structural <= 0.0:
        scale = np.where(seen, 1.0 / noise, 0.0)[..., None]
        return tuple(np.where(seen[..., None], x, 0.0) * scale for x in arrays)
    out = tuple(np.zeros_like(x) for x in arrays)
    groups = {}
    for j, row in enumerate(seen):
        at = np.flatnonzero(row)
        w = error.whitening(noise[j, at], months[j, at], series[j, at])
        groups.setdefault(id(w), (w, at, []))[2].append(j)
    for w, at, rows in groups.values():
        rows = np.asarray(rows)[:, None]
        for x, white in zip(arrays, out):
            white[rows, at] = w @ x[rows, at]
    return out


def update(members: np.ndarray, blocks, alpha: float) -> np.ndarray:
    """members [Ne, P, U] after one assimilation; ``blocks``: (weights [U, J],
    A [J, Ne, Ne], B [J, Ne, Ne]) per kind of observation."""
    ne, _, u = members.shape
    gram = np.zeros((u, ne * ne))
    cross = np.zeros((u, ne * ne))
    for weights, a, b in blocks:
        gram += weights @ a.reshape(len(a), ne * ne)
        cross += weights @ b.reshape(len(b), ne * ne)
    gram = gram.reshape(u, ne, ne) + alpha * np.eye(ne)
    weights = np.linalg.solve(gram, cross.reshape(u, ne, ne))          # [U, Ne, Ne]
    anomalies = (members - members.mean(axis=0)) / np.sqrt(ne - 1.0)  # [Ne, P, U]
    return members + np.einsum("mpu,umk->kpu", anomalies, weights)
