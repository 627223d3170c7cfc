"""Spatial kernels of the GW-LSTM: neighbours, kernel weights, bandwidth selection.

As in geographically weighted regression, a cell borrows from the cells around it with
weights that decay with distance d (m) over a bandwidth h (m):

    gaussian:  w = exp(-(d/h)^2 / 2)
    bisquare:  w = (1 - (d/h)^2)^2 for d < h, else 0

The bandwidth is chosen on the training cells only, by leave-one-out cross-validation
of a kernel (Nadaraya-Watson) estimate of a per-cell value (the observed subsidence
rate): each training cell is estimated from its k nearest OTHER training cells.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

KERNELS = ("gaussian", "bisquare")


def kernel_weights(distance: np.ndarray, bandwidth: float, kernel: str) -> np.ndarray:
    """Weights in [0, 1] of points at ``distance`` (m) for ``bandwidth`` (m)."""
    u2 = (np.asarray(distance, dtype=np.float64) / bandwidth) ** 2
    if kernel == "gaussian":
        return np.exp(-0.5 * u2)
    if kernel == "bisquare":
        return np.where(u2 < 1.0, (1.0 - u2) ** 2, 0.0)
    raise ValueError(f"unknown kernel {kernel!r}; kernels: {KERNELS}")


def nearest(bank_xy: np.ndarray, query_xy: np.ndarray, k: int):
    """Distances (m) and indices [n, k] of the k nearest bank points of each query
    point, nearest first (a query point that is in the bank finds itself first)."""
    k = min(k, len(bank_xy))
    distance, index = cKDTree(bank_xy).query(query_xy, k=k)
    return distance.reshape(len(query_xy), k), index.reshape(len(query_xy), k)


def fit_bandwidth(xy: np.ndarray, value: np.ndarray, kernel: str, k: int) -> float:
    """Bandwidth (m) minimising the leave-one-out error of the kernel estimate of
    ``value`` [n] at the points ``xy`` [n, 2] from their k nearest other points; the
    candidates span the neighbour distances on a log grid."""
    if len(xy) < 3:
        return float(max(np.ptp(xy, axis=0).max(), 1.0))
    distance, index = nearest(xy, xy, k + 1)
    distance, index = distance[:, 1:], index[:, 1:]           # leave the cell itself out
    positive = distance[distance > 0]
    low = positive.min() if positive.size else 1.0
    candidates = np.geomspace(0.5 * low, 4.0 * distance.max() + low, 60)
    best, best_error = candidates[-1], np.inf
    for h in candidates:
        w = kernel_weights(distance, h, kernel)
        total = w.sum(axis=1)
        if np.any(total <= 0):
            continue
        error = np.mean(((w * value[index]).sum(axis=1) / total - value) ** 2)
        if error < best_error:
            best, best_error = h, error
    return float(best)


def inverse_distance(bank_xy: np.ndarray, values: np.ndarray, query_xy: np.ndarray,
                     k: int, power: float) -> np.ndarray:
    """values [n_bank, ...] at the query points [n, 2]: a bank point's own value where a
    query point coincides with it, else the inverse-distance weighted mean (weights
    1 / distance**power) of its k nearest bank points."""
    distance, index = nearest(bank_xy, query_xy, k)
    at_point = distance == 0.0
    with np.errstate(divide="ignore"):
        weight = np.where(at_point.any(axis=1, keepdims=True), at_point.astype(float),
                          distance ** -float(power))
    weight /= weight.sum(axis=1, keepdims=True)
    return np.einsum("nk,nk...->n...", weight, values[index])
