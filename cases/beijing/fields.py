"""Spatial fields of the twin: Gaussian random fields drawn on a regular grid, and
bilinear sampling of gridded values at arbitrary points.

A grid here is described by its first cell centre (x0, y0), its spacing (m) and its
shape (ny, nx); rows run south to north (y ascending), columns west to east.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class Grid:
    """Cell centres x0 + j*spacing (j < nx), y0 + i*spacing (i < ny), metres."""

    x0: float
    y0: float
    spacing: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, x0: float, y0: float, width: float, height: float,
                 spacing: float) -> "Grid":
        """The grid of square cells of side ``spacing`` tiling the rectangle whose
        south-west corner is (x0, y0)."""
        nx = max(1, int(round(width / spacing)))
        ny = max(1, int(round(height / spacing)))
        return cls(x0 + 0.5 * spacing, y0 + 0.5 * spacing, float(spacing), nx, ny)

    @property
    def x(self) -> np.ndarray:
        return self.x0 + self.spacing * np.arange(self.nx)

    @property
    def y(self) -> np.ndarray:
        return self.y0 + self.spacing * np.arange(self.ny)

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """[ny, nx] x and y of every cell centre."""
        return np.meshgrid(self.x, self.y)

    def cell_of(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cell holding each point (clipped to the grid)."""
        col = np.floor((np.asarray(x) - self.x0) / self.spacing + 0.5).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.spacing + 0.5).astype(np.int64)
        return np.clip(row, 0, self.ny - 1), np.clip(col, 0, self.nx - 1)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres as flat point arrays, row by row from the south."""
        x, y = self.mesh()
        return x.ravel(), y.ravel()


def random_fields(rng, grid: Grid, length: float, count: int | None = None) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random fields with the Gaussian covariance
    exp(-r^2 / (2 length^2)) on ``grid``: [ny, nx], or [count, ny, nx].

    White noise on a grid padded by three lengths on every side (so the periodic
    wrap of the filter never correlates opposite edges) is smoothed by a Gaussian
    kernel of width length / sqrt(2); such noise has variance 1 / (4 pi s^2) for a
    kernel of s cells, which is divided out exactly.
    """
    s = length / np.sqrt(2.0) / grid.spacing
    pad = int(np.ceil(3.0 * length / grid.spacing))
    shape = (grid.ny + 2 * pad, grid.nx + 2 * pad)
    noise = rng.standard_normal(((1 if count is None else count),) + shape)
    smooth = gaussian_filter(noise, sigma=(0.0, s, s), mode="wrap")
    smooth *= np.sqrt(4.0 * np.pi) * s
    out = smooth[:, pad:pad + grid.ny, pad:pad + grid.nx]
    return out[0] if count is None else out


def bilinear(grid: Grid, values: np.ndarray, x, y) -> np.ndarray:
    """``values`` [..., ny, nx] on the cell centres of ``grid``, interpolated bilinearly at
    points (x, y) [P]: [..., P]. Points beyond the outermost centres take the value at
    the nearest edge (no extrapolation)."""
    fx = np.clip((np.asarray(x, float) - grid.x0) / grid.spacing, 0.0, grid.nx - 1.0)
    fy = np.clip((np.asarray(y, float) - grid.y0) / grid.spacing, 0.0, grid.ny - 1.0)
    j = np.minimum(np.floor(fx).astype(np.int64), max(grid.nx - 2, 0))
    i = np.minimum(np.floor(fy).astype(np.int64), max(grid.ny - 2, 0))
    wx, wy = fx - j, fy - i
    j1, i1 = np.minimum(j + 1, grid.nx - 1), np.minimum(i + 1, grid.ny - 1)
    return ((values[..., i, j] * (1 - wx) + values[..., i, j1] * wx) * (1 - wy)
            + (values[..., i1, j] * (1 - wx) + values[..., i1, j1] * wx) * wy)


def smooth(grid: Grid, values: np.ndarray, length: float) -> np.ndarray:
    """``values`` [ny, nx] smoothed by a Gaussian kernel of standard deviation ``length``
    (m), the edges continued by reflection."""
    return gaussian_filter(values, sigma=length / grid.spacing, mode="reflect")
