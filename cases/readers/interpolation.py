"""Spreading point measurements (heads at wells, bed properties at boreholes) over the
case cells, with the interpolation error measured by leave-one-out cross-validation.

- inverse distance weighting: w_i = d_i^-p / sum_j d_j^-p (exact at a measured point);
- ordinary kriging with an exponential variogram
  gamma(h) = nugget + partial_sill (1 - exp(-h / range)), fitted by weighted least
  squares to the empirical semivariogram pooled over all periods (each period's heads
  may have their own mean; the variogram is the same). gamma(0) = 0, so kriging honours
  the measurements.

Values [S, T] may be NaN where a site did not measure: each period uses the sites that
did, and periods sharing the same sites share one set of weights.

The leave-one-out RMSE is also given as a fraction of the range of the measured values
(``Interpolated.loo_fraction``); above LOO_WARNING_FRACTION the interpolated field is
called poorly constrained (``make-case from-data`` warns and says so in summary.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from engine.errors import InputError

METHODS = ("idw", "kriging")
#: leave-one-out RMSE, as a fraction of the measured range, above which the values between
#: the sites are poorly known: an error of a quarter of the range blurs most of the
#: spatial pattern the sites show
LOO_WARNING_FRACTION = 0.25


@dataclass(frozen=True)
class Variogram:
    """Exponential variogram: units of the values squared, range in metres."""

    nugget: float
    partial_sill: float
    range: float

    def __call__(self, h):
        h = np.asarray(h, dtype=np.float64)
        return np.where(h > 0, self.nugget + self.partial_sill * (1 - np.exp(-h / self.range)),
                        0.0)


def _distances(xa, ya, xb, yb):
    return np.hypot(np.subtract.outer(xa, xb), np.subtract.outer(ya, yb))


def idw_weights(xt, yt, xs, ys, power: float) -> np.ndarray:
    """[Nt, Ns] inverse-distance weights of sources (xs, ys) at targets (xt, yt)."""
    d = _distances(np.asarray(xt, float), np.asarray(yt, float), xs, ys)
    at_source = d == 0
    with np.errstate(divide="ignore"):
        w = np.where(at_source, 0.0, d ** -power)
    hit = at_source.any(axis=1)
    w[hit] = at_source[hit]
    return w / w.sum(axis=1, keepdims=True)


def kriging_weights(xt, yt, xs, ys, variogram: Variogram) -> np.ndarray:
    """[Nt, Ns] ordinary-kriging weights (they sum to one)."""
    n = len(xs)
    system = np.ones((n + 1, n + 1))
    system[:n, :n] = variogram(_distances(xs, ys, xs, ys))
    system[n, n] = 0.0
    rhs = np.ones((n + 1, len(xt)))
    rhs[:n] = variogram(_distances(xs, ys, np.asarray(xt, float), np.asarray(yt, float)))
    try:
        solution = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return solution[:n].T


def fit_variogram(xs, ys, values: np.ndarray, n_bins: int = 12) -> Variogram:
    """Exponential variogram fitted to the semivariances of all site pairs measured in
    the same period, binned by distance up to half the largest separation."""
    values = np.atleast_2d(np.asarray(values, float).T).T  # [S, T]
    d = _distances(xs, ys, xs, ys)
    i, j = np.triu_indices(len(xs), k=1)
    sq = 0.5 * (values[i] - values[j]) ** 2          # [pairs, T]
    h = np.repeat(d[i, j][:, None], values.shape[1], axis=1)
    ok = np.isfinite(sq)
    h, sq = h[ok], sq[ok]
    if len(h) < 3 or h.max() <= 0:
        raise ValueError("too few pairs of sites to fit a variogram")
    edges = np.linspace(0.0, h.max() / 2 if len(np.unique(h)) > n_bins else h.max(),
                        n_bins + 1)
    which = np.clip(np.digitize(h, edges) - 1, 0, n_bins - 1)
    inside = h <= edges[-1]
    counts = np.bincount(which[inside], minlength=n_bins)
    gamma = np.bincount(which[inside], sq[inside], minlength=n_bins)
    mids = np.bincount(which[inside], h[inside], minlength=n_bins)
    used = counts > 0
    gamma, mids, counts = gamma[used] / counts[used], mids[used] / counts[used], counts[used]
    scale = max(float(gamma.max()), 1e-12)

    def residual(p):
        model = Variogram(p[0] * scale, p[1] * scale, p[2] * edges[-1])
        return np.sqrt(counts) * (model(mids) - gamma) / scale

    fit = least_squares(residual, x0=[0.1, 1.0, 0.3],
                        bounds=([0.0, 1e-9, 1e-3], [np.inf, np.inf, 10.0]))
    return Variogram(fit.x[0] * scale, fit.x[1] * scale, fit.x[2] * edges[-1])


def _weights(method, xt, yt, xs, ys, power, variogram):
    if method == "idw":
        return idw_weights(xt, yt, xs, ys, power)
    return kriging_weights(xt, yt, xs, ys, variogram)


def _patterns(values):
    """Groups of periods by which sites measured: {mask bytes: (mask, [periods])}."""
    groups = {}
    have = ~np.isnan(values)
    for t in range(values.shape[1]):
        key = have[:, t].tobytes()
        groups.setdefault(key, (have[:, t], []))[1].append(t)
    return groups.values()


@dataclass(frozen=True)
class Interpolated:
    """values [N, T] at the targets; loo_rmse: leave-one-out RMSE over every (site,
    period) with another site measured (NaN when none); loo_count: how many;
    value_range: largest minus smallest measured value (NaN when none)."""

    values: np.ndarray
    method: str
    loo_rmse: float
    loo_count: int
    variogram: Variogram | None = None
    value_range: float = float("nan")

    @property
    def loo_fraction(self) -> float:
        """loo_rmse / value_range (NaN when either is unknown or the range is 0)."""
        if not (self.value_range > 0):
            return float("nan")
        return self.loo_rmse / self.value_range


def interpolate(xt, yt, xs, ys, values, method: str = "idw", power: float = 2.0,
                source="--params", field="wells.interpolation") -> Interpolated:
    """Interpolate ``values`` [S, T] at sites (xs, ys) to targets (xt, yt): [N, T]."""
    if method not in METHODS:
        raise InputError(source, field, f'"{method}" is not one of {", ".join(METHODS)}')
    values = np.atleast_2d(np.asarray(values, float).T).T
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    variogram = None
    if method == "kriging":
        if len(xs) < 3:
            raise InputError(source, field, f"kriging needs at least 3 sites, there are "
                                            f"{len(xs)}: use idw")
        variogram = fit_variogram(xs, ys, values)
    out = np.full((len(xt), values.shape[1]), np.nan)
    residuals = []
    for mask, periods in _patterns(values):
        sites = np.flatnonzero(mask)
        if len(sites) == 0:
            continue
        w = _weights(method, xt, yt, xs[sites], ys[sites], power, variogram)
        out[:, periods] = w @ values[np.ix_(sites, periods)]
        if len(sites) < 2:
            continue
        for k, s in enumerate(sites):
            others = np.delete(sites, k)
            w1 = _weights(method, xs[[s]], ys[[s]], xs[others], ys[others], power, variogram)
            residuals.append((w1 @ values[np.ix_(others, periods)])[0] - values[s, periods])
    residuals = np.concatenate(residuals) if residuals else np.array([])
    rmse = float(np.sqrt(np.mean(residuals ** 2))) if len(residuals) else float("nan")
    measured = values[np.isfinite(values)]
    return Interpolated(values=out, method=method, loo_rmse=rmse, loo_count=len(residuals),
                        variogram=variogram, value_range=float(np.ptp(measured)) if
                        len(measured) else float("nan"))
