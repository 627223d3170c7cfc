"""What every forward run of one calibration is compared with, the run itself, and how
its misfit and its extensometer compaction are laid out against the record (shared by
the smoother and the Gauss-Newton method)."""

from __future__ import annotations

import numpy as np

from engine.units import DAYS_PER_MONTH
from physics.calibration.forward import simulate
from physics.calibration.smoother import ErrorModel


class Record:
    """The calibrated cells' case ``sub``, the readable ``data``
    (``observations.TrainingData``), the extensometer ``sites`` (indices into the cells)
    and each record's site (``site_of``), the localization ``weights`` (InSAR,
    extensometers; the smoother's), the readings' ``months`` since the first time and
    the model ``errors`` (InSAR, extensometer ErrorModel; white until set)."""

    def __init__(self, sub, data, sites, site_of, weights):
        self.sub, self.data, self.sites, self.site_of = sub, data, sites, site_of
        self.weights = weights
        self.months = np.asarray(sub.days, dtype=np.float64) / DAYS_PER_MONTH
        self.errors = (ErrorModel(), ErrorModel())

    def sites_buffer(self, members: int) -> np.ndarray:
        """[M, A, sites, T] zeros for ``run`` to fill with the sites' compaction."""
        return np.zeros((members, len(self.sub.aquifers), len(self.sites), self.sub.n_times))

    def run(self, space, members, physics: dict, chunk: int, at_sites):
        """One batched run of ``members`` [M, P, U] (the space's units) at the calibrated
        cells, a chunk at a time (``forward.simulate``): yields (cells [n], displacement
        [M, n, T] m, observed [n, T], seen [n, T]); the compaction at the extensometer
        sites goes into ``at_sites`` (``sites_buffer``) on the way."""
        for cells, compaction in simulate(self.sub, space, members, physics, chunk):
            hit = np.flatnonzero(np.isin(self.sites, cells))
            at_sites[:, :, hit] = compaction[:, :, self.sites[hit] - cells[0]]
            observed = self.data.displacement[cells]
            yield cells, -compaction.sum(axis=1), observed, np.isfinite(observed)

    def insar_layout(self, observed) -> tuple:
        """(noise sd, months, series) [n, T] of the InSAR readings ``observed`` [n, T], as
        the error model places them: one noise, the record's months, a series per point."""
        return (np.full(observed.shape, self.data.displacement_noise),
                np.broadcast_to(self.months, observed.shape),
                np.zeros(observed.shape, dtype=np.int64))

    @staticmethod
    def misfit(squared: float, count: int, extensometer_error) -> dict:
        """The reported misfit (mm): the InSAR RMSE from its sum of squares over
        ``count`` readings, the extensometers' from their errors [R] (m)."""
        return {"insar_rmse_mm": 1e3 * float(np.sqrt(squared / max(count, 1))),
                "extensometer_rmse_mm": 1e3 * float(np.sqrt(np.mean(extensometer_error**2)))
                if np.size(extensometer_error) else 0.0}

    def extensometer_changes(self, compaction) -> np.ndarray:
        """[R, M] the change of each extensometer record since its reference, from the
        compaction [M, A, sites, T] of M runs at the sites."""
        data = self.data
        c = compaction[:, data.ext_aquifer, self.site_of]           # [M, R, T]
        rows = np.arange(len(self.site_of))
        return (c[:, rows, data.ext_time] - c[:, rows, data.ext_reference]).T

    def extensometer_series(self, values) -> np.ndarray:
        """[series, T] ``values`` [R] of the extensometer records, one row per (site,
        aquifer) on the time axis, NaN where a series has no record."""
        data = self.data
        key = data.ext_cell * (int(data.ext_aquifer.max(initial=0)) + 1) + data.ext_aquifer
        series, row = np.unique(key, return_inverse=True)
        out = np.full((len(series), self.sub.n_times), np.nan)
        out[row, data.ext_time] = values
        return out

    def by_site(self, simulated) -> tuple:
        """The records padded per site, as the smoother's points: (observed [S, K] (NaN
        padding), noise [S, K], simulated [S, K, M] from ``simulated`` [R, M], months
        [S, K], series [S, K]: the aquifer, each aquifer's record its own series)."""
        data, site_of, n_sites = self.data, self.site_of, len(self.sites)
        counts = np.bincount(site_of, minlength=n_sites)
        order = np.argsort(site_of, kind="stable")
        slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
        shape = (n_sites, int(counts.max()))
        observed = np.full(shape, np.nan)
        noise = np.ones(shape)
        padded = np.zeros(shape + (simulated.shape[1],))
        months = np.zeros(shape)
        aquifer = np.zeros(shape, dtype=np.int64)
        where = (site_of[order], slot)
        observed[where] = data.ext_change[order]
        noise[where] = data.ext_noise[order]
        padded[where] = simulated[order]
        months[where] = self.months[data.ext_time[order]]
        aquifer[where] = data.ext_aquifer[order]
        return observed, noise, padded, months, aquifer
