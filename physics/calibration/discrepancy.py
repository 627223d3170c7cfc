"""The model's discrepancy: what the physics leaves of the record, predicted where and
when there is no reading.

Kennedy and O'Hagan's split of a record, reading = simulation + discrepancy + noise,
with the calibration's error model as the discrepancy's prior: within one InSAR series
it has sd s and correlation exp(-|t - t'| / tau) (``smoother.ErrorModel``; the
calibration whitens by the same R = s^2 K + noise^2 I; s may differ between cells, as
with dpl's ``insar_relative_error``, a model error that grows with the cell's signal).
Given a cell's residual r at its read times o (readings minus the simulation, m), the
discrepancy's conditional mean at any time t is

    m(t) = s^2 sum_o exp(-|t - t_o| / tau) alpha_o,   alpha = R^-1 (r - c),

with c the generalised least-squares constant (the record is compared up to one). So a
cell keeps ``alpha`` and its read times. After the record's last reading the
discrepancy is held at its value then: it is displacement the physics missed (most of
it inelastic compaction, which does not come back), so the forecast keeps it rather
than let it relax to 0 over tau as the stationary prior would (measured on the small
twin's regime shift, README: held 21.48 mm, relaxing 27.13, none 42.78). At a cell
without a record, ``alpha`` is kriged from the cells with one (ordinary kriging,
``kriging.py``; the same weights carry every time, as the mean is linear in alpha), with
an exponential variogram fitted to the conditional means at the last read time, where
the discrepancy of a cumulative record is largest. The displacement predicted is the
simulation plus m(t) - m(t0), t0 the predicted case's first time, as displacement is
stored relative to it.

A pumping scenario and its baseline on the same cells and times get the same m, so the
discrepancy never changes a what-if's effect: it corrects the record the physics misses
(interpolated heads that miss the cones of depression, one equivalent bed per aquifer),
not the physics' answer to a change of pumping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from safetensors.numpy import load_file, save_file

from engine.errors import InputError
from engine.persistence import check_finite
from engine.units import DAYS_PER_MONTH
from physics.calibration.kriging import Variogram, fit_variogram, kriging_weights
from physics.calibration.observations import training_data

#: the kriging neighbourhood (nearest cells with a record)
NEIGHBOURS = 16
#: cells kriged at once (their neighbours' weights: chunk x NEIGHBOURS x read times)
KRIGING_CHUNK = 4096


def months_since_epoch(times) -> np.ndarray:
    """[T] months (of DAYS_PER_MONTH days) since 1970-01-01: one clock for every case."""
    days = (np.asarray(times, dtype="datetime64[D]") - np.datetime64("1970-01-01", "D"))
    return days.astype(np.float64) / DAYS_PER_MONTH


@dataclass
class Discrepancy:
    """The conditional discrepancy of the cells with a record: their ids [D], x, y [D]
    (m), read times [K] (months since the epoch), weights ``alpha`` [D, K] (1/m; 0 where
    a cell has no reading at that time), ``structural`` s [D] (m), ``months`` tau and the
    variogram kriging s^2 alpha to other cells."""

    cell_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    months: np.ndarray
    alpha: np.ndarray
    structural: np.ndarray
    correlation_months: float
    variogram: Variogram

    @classmethod
    def condition(cls, cell_ids, x, y, times, residual: np.ndarray, noise: np.ndarray,
                  structural, correlation_months: float,
                  rng: np.random.Generator) -> "Discrepancy":
        """From ``residual`` [D, K] (m, NaN: no reading) at ``times`` [K], the
        readings' ``noise`` sd [D, K] (m) and the prior's sd ``structural`` (m, one for
        every cell or [D])."""
        months = months_since_epoch(times)
        seen = np.isfinite(residual)
        structural = np.broadcast_to(np.asarray(structural, np.float64), (len(residual),))
        alpha = np.zeros(residual.shape)
        patterns = {}
        for row in range(len(residual)):
            at = np.flatnonzero(seen[row])
            patterns.setdefault((at.tobytes(), noise[row, at].tobytes(),
                                 structural[row].tobytes()), []).append(row)
        for rows in patterns.values():
            at = np.flatnonzero(seen[rows[0]])
            if len(at) == 0:
                continue
            prior = structural[rows[0]]**2 * np.exp(-np.abs(months[at, None] - months[at]) /
                                           correlation_months)
            factor = np.linalg.cholesky(prior + np.diag(noise[rows[0], at] ** 2))
            r = residual[np.ix_(rows, at)].T                                # [k, rows]
            solve = np.linalg.solve
            r_inv = solve(factor.T, solve(factor, r))
            one_inv = solve(factor.T, solve(factor, np.ones(len(at))))
            constant = (one_inv @ r) / one_inv.sum()
            alpha[np.ix_(rows, at)] = (r_inv - one_inv[:, None] * constant).T
        field = cls(np.asarray(cell_ids).astype(str), np.asarray(x, float),
                    np.asarray(y, float), months, alpha, structural.copy(),
                    float(correlation_months), Variogram(0.0, 0.0, 1.0))
        last = field.mean(np.arange(len(alpha)), months[seen.any(axis=0)][-1:])[:, 0]
        field.variogram = fit_variogram(field.x, field.y, last, rng)
        return field

    @classmethod
    def of_record(cls, case, mask: np.ndarray, displacement: np.ndarray, structural,
                  correlation_months: float, seed: int) -> "Discrepancy":
        """Conditioned on the InSAR readings of ``case`` under ``mask`` [N, T] (the
        entries a fit may read) minus the simulated ``displacement`` [N, T] (m), with
        the prior's sd ``structural`` (m, one for every cell or [N])."""
        data = training_data(case, mask)
        cells = data.cells
        residual = data.displacement - displacement[cells, :data.n_times]
        structural = np.broadcast_to(np.asarray(structural, np.float64), (case.n_cells,))
        return cls.condition(np.asarray(case.cells.ids)[cells], case.cells.x[cells],
                             case.cells.y[cells], case.times[:data.n_times], residual,
                             np.full(residual.shape, data.displacement_noise),
                             structural[cells], correlation_months,
                             np.random.default_rng(seed))

    def mean(self, rows: np.ndarray, months: np.ndarray) -> np.ndarray:
        """[len(rows), len(months)] m: the conditional mean of the cells ``rows``."""
        return self._weights(rows) @ self._correlation(months).T

    def _weights(self, rows=slice(None)) -> np.ndarray:
        """[len(rows), K] s^2 alpha (m) of the cells ``rows`` (default all): what the
        correlation carries to any time."""
        return self.alpha[rows] * self.structural[rows, None] ** 2

    def _correlation(self, months: np.ndarray) -> np.ndarray:
        """[M, K] the prior correlation between ``months`` and the read times, times
        after the last read one taken at it (the discrepancy is held there)."""
        months = np.minimum(months, self.months[-1])
        return np.exp(-np.abs(months[:, None] - self.months) / self.correlation_months)

    def at(self, cell_ids, x, y, times) -> np.ndarray:
        """[N, T] m: the discrepancy at cells (ids, x, y) and ``times``, relative to
        the first of them; kriged at the cells without a record."""
        months = months_since_epoch(times)
        ids = np.asarray(cell_ids).astype(str)
        row_of = {c: i for i, c in enumerate(self.cell_ids)}
        rows = np.array([row_of.get(c, -1) for c in ids])
        known = rows >= 0
        weights_read = self._weights()
        alpha = np.empty((len(ids), self.alpha.shape[1]))
        alpha[known] = weights_read[rows[known]]
        unseen = np.flatnonzero(~known)
        x, y = np.asarray(x, float), np.asarray(y, float)
        for first in range(0, len(unseen), KRIGING_CHUNK):   # [chunk, k, K] at a time
            part = unseen[first:first + KRIGING_CHUNK]
            index, weights, _ = kriging_weights(self.x, self.y, x[part], y[part],
                                                self.variogram, NEIGHBOURS)
            alpha[part] = np.einsum("qk,qkm->qm", weights, weights_read[index])
        m = alpha @ self._correlation(months).T
        return m - m[:, :1]

    # -- persistence (plain arrays and a dict: no pickle) ------------------------------

    def arrays(self) -> dict:
        return {"x": self.x, "y": self.y, "months": self.months, "alpha": self.alpha}

    def write(self, path) -> dict:
        """Its arrays to the safetensors file ``path``; returns the rest (``to_dict``),
        for the model's config."""
        save_file({k: np.ascontiguousarray(v) for k, v in self.arrays().items()}, path)
        return self.to_dict()

    @classmethod
    def read(cls, path, meta: dict) -> "Discrepancy":
        """What ``write`` wrote: its arrays from ``path``, the rest from ``meta``;
        an unreadable file or a non-finite value refused naming the file."""
        try:
            arrays = load_file(path)
        except (OSError, ValueError) as exc:
            raise InputError(path, "(file)", f"not a saved discrepancy ({exc})") from None
        check_finite(path, arrays)
        return cls.from_saved(meta, arrays)

    def summary(self) -> dict:
        """For a fit's report: its size, prior and variogram (nugget, sill in m^2,
        range in m) and the RMS of the conditional mean at the last read time (mm)."""
        last = self.mean(np.arange(len(self.alpha)), self.months[-1:])
        return {"cells": len(self.cell_ids), "structural_m": self._structural_meta(),
                "correlation_months": self.correlation_months,
                "variogram": [self.variogram.nugget, self.variogram.sill,
                              self.variogram.range],
                "rms_at_last_reading_mm": float(np.sqrt(np.mean(last**2)) * 1e3)}

    def _structural_meta(self):
        """s (m) as saved: one number when every cell has the same (the only kind before
        s could differ between cells), else one per cell."""
        if np.all(self.structural == self.structural[0]):
            return float(self.structural[0])
        return self.structural.tolist()

    def to_dict(self) -> dict:
        return {"cell_ids": self.cell_ids.tolist(), "structural": self._structural_meta(),
                "correlation_months": self.correlation_months,
                "variogram": [self.variogram.nugget, self.variogram.sill,
                              self.variogram.range]}

    @classmethod
    def from_saved(cls, meta: dict, arrays: dict) -> "Discrepancy":
        return cls(np.asarray(meta["cell_ids"]).astype(str), *(
            np.asarray(arrays[k], dtype=np.float64) for k in ("x", "y", "months", "alpha")),
            np.broadcast_to(np.asarray(meta["structural"], np.float64),
                            (len(meta["cell_ids"]),)).copy(), float(meta["correlation_months"]),
            Variogram(*map(float, meta["variogram"])))
