"""Thinning dense persistent-scatterer sets before a spatial split (the seminar thins its
PS points before the 70/30 holdout, so that held-out points are not near-copies of
training points).

- ``grid``: one point per square of side ``spacing`` (m), drawn at random (seeded).
- ``min_distance``: points taken in a seeded random order, each kept only when no kept
  point lies closer than ``spacing`` (m); kept points are then at least ``spacing``
  apart, and every dropped point has a kept one within ``spacing``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

from engine.errors import InputError

METHODS = ("grid", "min-distance")


def thin(x, y, method: str, spacing: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of the points kept."""
    if not spacing > 0:
        raise InputError("--params", "insar.thinning.spacing",
                         f"spacing {spacing} must be a positive distance in metres")
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    order = np.random.default_rng(seed).permutation(len(x))
    if method == "grid":
        cells = np.stack([np.floor(x / spacing), np.floor(y / spacing)], axis=1)[order]
        _, first = np.unique(cells, axis=0, return_index=True)
        return np.sort(order[first])
    if method == "min-distance":
        keep = _min_distance_keep(x, y, order.astype(np.int64), float(spacing))
        return np.flatnonzero(keep)
    raise InputError("--params", "insar.thinning.method",
                     f'"{method}" is not one of {", ".join(METHODS)}')


@njit(cache=True)
def _min_distance_keep(x, y, order, spacing):
    """Greedy Poisson-disc selection over a hash grid of side spacing/sqrt(2), so that a
    grid square holds at most one kept point and only the 5 x 5 squares around a
    candidate can hold a kept point closer than ``spacing``."""
    side = spacing / np.sqrt(2.0)
    x0 = x.min()
    y0 = y.min()
    ny = np.int64((y.max() - y0) / side) + 5
    occupant = Dict.empty(key_type=types.int64, value_type=types.int64)
    keep = np.zeros(len(x), dtype=np.bool_)
    limit = spacing * spacing
    for i in order:
        cx = np.int64((x[i] - x0) / side)
        cy = np.int64((y[i] - y0) / side)
        free = True
        for ix in range(cx - 2, cx + 3):
            for iy in range(cy - 2, cy + 3):
                key = ix * ny + iy
                if key in occupant:
                    j = occupant[key]
                    if (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 < limit:
                        free = False
        if free:
            keep[i] = True
            occupant[cx * ny + cy] = i
    return keep
