"""``calibrated:<physics>``: a physics solver whose parameters are fitted to the record.

``fit(case, split)`` reads only the readable part of the observations (training, and
validation unless ``validation=False``; ``observations.py``), draws a prior ensemble
of per-cell parameters around the case's own (``parameters.py``), and updates it by a
localized ES-MDA (``smoother.py``), each assimilation one batched forward run of all
members and cells (``forward.py``). Cells without observations get the posterior by
ordinary kriging (``kriging.py``). ``predict(case)`` is the posterior predictive
mean (every member run, averaged); ``posterior_members(case)`` gives one case per member for
ensemble what-ifs. The posterior is saved as HDF5 + JSON (no pickle).

Options: method ("smoother", the default, or "gradient": Gauss-Newton with a
Laplace posterior, ``gradient.py``), members (>= 2; 64 by default), iterations
(assimilations, or Gauss-Newton iterations), seed, radius (m:
InSAR localization), extensometer_radius (m), prior_length (m: correlation of the prior
error), the prior spreads (ln units; offset_spread in m), insar_noise and
extensometer_noise (m; 0 = estimated from the data), insar_model_error and
extensometer_model_error (m: sd of the model's own error, correlated in time over
error_months; -1 = estimated, with error_months, from the residual of a pilot
calibration of pilot_members members and pilot_iterations assimilations; 0 = none,
white noise only, see smoother.py), inflation_ratio (between successive ES-MDA
inflation factors), drift_spread (m: prior sd of the head drift; 0 = no drift
parameter, see parameters.py), neighbours (kriging), validation (also learn from
the validation part), chunk (member-cells per forward batch), and the physics'
options (nodes, substeps, scheme, threads).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import h5py
import numpy as np

from engine import __version__
from engine.errors import InputError
from engine.persistence import saved_config
from engine.registry import composed_class, register_composition
from engine.result import Result
from engine.solver import Limit, Solver
from engine.units import DAYS_PER_MONTH
from physics.calibration.forward import first_times, simulate
from physics.calibration.gradient import gauss_newton
from physics.calibration.kriging import Variogram, fit_variogram, krige_members
from physics.calibration.observations import model_error, readable_mask, training_data
from physics.calibration.parameters import ParameterSpace
from physics.calibration.record import Record
from physics.calibration.smoother import ErrorModel, inflation_factors, localization, products, update
from physics.solver import TerzaghiSolver

PHYSICS = {"terzaghi": TerzaghiSolver}
PHYSICS_OPTIONS = ("nodes", "substeps", "scheme", "threads")
#: how ``fit`` finds the posterior: the ensemble smoother or Gauss-Newton (gradient.py)
METHODS = ("smoother", "gradient")
POSTERIOR_FILE = "posterior.h5"
STATE_FILE = "calibration.json"
MANIFEST_FILE = "solver.json"


class CalibratedSolver(Solver):
    """Base of the ``calibrated:<physics>`` classes made by ``calibrated_class``."""

    kind = "physics"
    stateful = True
    physics = "terzaghi"
    defaults = {
        "method": "smoother", "members": 64, "iterations": 8, "seed": 0, "radius": 3000.0,
        "extensometer_radius": 20000.0, "prior_length": 15000.0,
        "thickness_spread": 0.3, "kv_spread": 1.0, "sskv_spread": 0.5,
        "sske_spread": 0.5, "offset_spread": 3.0, "drift_spread": 2.0,
        "insar_noise": 0.0, "extensometer_noise": 0.0, "insar_model_error": 0.015,
        "extensometer_model_error": 0.005, "error_months": 60.0, "pilot_members": 16,
        "pilot_iterations": 4, "inflation_ratio": 2.0,
        "neighbours": 32, "validation": True, "chunk": 8192,
        "nodes": 19, "substeps": 1, "scheme": "default", "threads": 0,
    }
    limits = {"method": Limit(choices=METHODS)}

    def __init__(self, **options):
        super().__init__(**options)
        o = self.options
        if o["members"] < 2 or o["iterations"] < 1:
            raise InputError("solver options", "members", "members >= 2 and iterations >= 1 "
                             f"are needed (got {o['members']}, {o['iterations']})")
        self.physics_solver = PHYSICS[self.physics](
            **{k: o[k] for k in PHYSICS_OPTIONS})
        self.space = None          # ParameterSpace, set by fit or load
        self.cell_ids = None       # [U] ids of the calibrated cells
        self.x = self.y = None     # [U] their coordinates (m)
        self.prior = None          # [Ne, P, U] prior members
        self.posterior = None      # [Ne, P, U] posterior members
        self.variograms = []       # one per parameter, for kriging to unseen cells
        self.report = {}

    # -- fit ---------------------------------------------------------------------------

    def fit(self, case, split=None) -> dict:
        started = time.perf_counter()
        o = self.options
        record = self.record(case, split)
        data, x, y = record.data, record.sub.cells.x, record.sub.cells.y
        rng = np.random.default_rng(o["seed"])
        ensemble = self.space.draw_prior(rng, x, y, o["members"], o["prior_length"])
        self.prior = ensemble.copy()
        # its own stream: the main smoother draws the same with or without a pilot
        record.errors = self._model_errors(record, ensemble,
                                           np.random.default_rng(o["seed"] + 3))
        if o["method"] == "gradient":
            ensemble, history, interrupted, runs = gauss_newton(
                record, self.space, self._physics(), o["chunk"], o["iterations"],
                o["members"], rng, f"{self.name} Gauss-Newton")
            progress = {"map_misfit": history}
        else:
            alphas = inflation_factors(o["iterations"], o["inflation_ratio"])
            ensemble, history, interrupted = self._smooth(record, ensemble, alphas, rng,
                                                          f"{self.name} ES-MDA")
            progress = {"inflation_factors": alphas.tolist(), "ensemble_mean_misfit": history}
            runs = o["members"] * len(history)
        self.posterior = ensemble
        self.cell_ids = np.asarray(case.cells.ids)[data.cells].astype(str)
        self.x, self.y = np.asarray(x, float), np.asarray(y, float)
        mean = ensemble.mean(axis=0)
        vrng = np.random.default_rng(o["seed"] + 1)
        # the nugget is folded into the sill, so that kriging interpolates the posterior
        # exactly: smoothing each parameter on its own breaks the combinations (storage,
        # lag time) the record fixes jointly (small twin, spatial 70/30 test RMSE:
        # 18.8 mm with the fitted nugget, 12.5 mm without)
        self.variograms = [fit_variogram(self.x, self.y, mean[p], vrng).without_nugget()
                           for p in range(self.space.size)]
        final, _ = self._assimilation(record, ensemble, None, None)
        self.report = {
            "calibrated_cells": int(len(data.cells)), "observations": data.n_values,
            "insar_noise_m": data.displacement_noise,
            "extensometer_noise_m": float(data.ext_noise[0]) if len(data.ext_noise) else None,
            "model_error": {kind: {"sd_m": e.structural, "months": e.months}
                            for kind, e in zip(("insar", "extensometer"), record.errors)},
            "method": o["method"], **progress,
            # runs of every calibrated cell, the posterior members' last one included
            # (not a pilot's: model errors of -1 estimate them first)
            "member_runs": runs + o["members"],
            "posterior_mean_misfit": final, "interrupted": interrupted,
            "fit_seconds": time.perf_counter() - started}
        return dict(self.report)

    def record(self, case, split=None) -> Record:
        """What the fit compares its runs with (white errors until set); sets the
        parameter space."""
        o = self.options
        data = training_data(case, readable_mask(case, split, o["validation"]),
                             o["insar_noise"], o["extensometer_noise"])
        self.space = ParameterSpace.for_case(case, {
            "interbed_thickness": o["thickness_spread"], "kv": o["kv_spread"],
            "sskv": o["sskv_spread"], "sske": o["sske_spread"],
            "preconsolidation_offset": o["offset_spread"], "head_drift": o["drift_spread"]},
            last_time=data.n_times - 1)
        # the forward runs need the calibrated cells up to the last readable time only
        sub = first_times(case.take_cells(data.cells).without_observations(), data.n_times)
        x, y = sub.cells.x, sub.cells.y
        sites, site_of = np.unique(data.ext_cell, return_inverse=True)
        weights = (localization(x, y, x, y, o["radius"]),
                   localization(x, y, x[sites], y[sites], o["extensometer_radius"]))
        return Record(sub, data, sites, site_of, weights)

    def _smooth(self, record, ensemble, alphas, rng, label):
        """ES-MDA from ``ensemble`` with inflation factors ``alphas``: (the last
        completed ensemble, the misfit history, whether it was interrupted)."""
        from tqdm import tqdm

        history, interrupted = [], False
        progress = tqdm(alphas, desc=label, unit="assimilation", leave=False)
        try:
            for alpha in progress:
                misfit, blocks = self._assimilation(record, ensemble, alpha, rng)
                history.append(misfit)
                progress.set_postfix(insar_mm=f"{misfit['insar_rmse_mm']:.1f}",
                                     ext_mm=f"{misfit['extensometer_rmse_mm']:.2f}")
                ensemble = self.space.clip(update(
                    ensemble, [(w,) + b for w, b in zip(record.weights, blocks)
                               if b is not None], alpha))
        except KeyboardInterrupt:
            interrupted = True   # keep the last completed assimilation
        finally:
            progress.close()
        return ensemble, history, interrupted

    def _model_errors(self, record, prior, rng) -> tuple:
        """(InSAR, extensometer) ErrorModel: as given, or estimated (observations.
        model_error) from the residual of the mean of a pilot calibration that counts
        the noise alone, on the first pilot_members prior members. The pilot's fit is
        looser than the final one, so its residual errs on the side of a larger error."""
        o = self.options
        given = (o["insar_model_error"], o["extensometer_model_error"])
        months = o["error_months"]
        estimated = [None, None]
        if min(given) < 0.0:
            pilot = prior[:max(2, min(o["pilot_members"], len(prior)))]
            alphas = inflation_factors(o["pilot_iterations"], o["inflation_ratio"])
            pilot, _, _ = self._smooth(record, pilot, alphas, rng, f"{self.name} pilot")
            _, residual = self._assimilation(record, pilot.mean(axis=0)[None], None, None)
            step = float(np.median(np.diff(record.sub.days))) / DAYS_PER_MONTH \
                if record.sub.n_times > 1 else 1.0
            estimated = [model_error(r, step) for r in residual]
        errors = []
        for sd, guess in zip(given, estimated):
            if sd >= 0.0:
                errors.append(ErrorModel(sd, months or (guess or (0.0, 1.0))[1]))
            else:
                errors.append(ErrorModel(guess[0], months or guess[1]))
        return tuple(errors)

    def _assimilation(self, record, ensemble, alpha, rng):
        """One forward run of ``ensemble`` [Ne, P, U]: the misfit of its mean and, with
        ``alpha``, the smoother's (A, B) blocks for InSAR and extensometers (None
        without extensometers); without ``alpha``, the residuals of its mean (InSAR
        [U, T] and extensometers [series, T], NaN where not observed) instead. The InSAR
        blocks are formed chunk by chunk, as the forward run yields them, so no
        [Ne, U, T] array is ever held."""
        data = record.data
        ne = len(ensemble)
        residual = np.full(data.displacement.shape, np.nan)
        insar = (np.empty((len(data.cells), ne, ne)), np.empty((len(data.cells), ne, ne)))
        at_sites = record.sites_buffer(ne)
        squared, count = 0.0, 0
        for cells, displacement, observed, seen in record.run(
                self.space, ensemble, self._physics(), self.options["chunk"], at_sites):
            residual[cells] = displacement.mean(axis=0) - observed
            squared += float(np.sum(residual[cells][seen] ** 2))
            count += int(seen.sum())
            if alpha is not None:
                noise, months, series = record.insar_layout(observed)
                insar[0][cells], insar[1][cells] = products(
                    np.transpose(displacement, (1, 2, 0)), observed, noise, alpha, rng,
                    record.errors[0], months, series)
        simulated_ext = record.extensometer_changes(at_sites)
        ext_error = simulated_ext.mean(axis=1) - data.ext_change
        misfit = record.misfit(squared, count, ext_error)
        if alpha is None:
            return misfit, (residual, record.extensometer_series(ext_error))
        ext = (self._extensometer_products(record, simulated_ext, alpha, rng)
               if len(record.sites) else None)
        return misfit, (insar, ext)

    def _physics(self) -> dict:
        return {k: self.options[k] for k in PHYSICS_OPTIONS}

    @staticmethod
    def _extensometer_products(record, simulated, alpha, rng):
        """Ne x Ne blocks per extensometer site: its records padded into [K, n, Ne]."""
        observed, noise, padded, months, series = record.by_site(simulated)
        return products(padded, observed, noise, alpha, rng, record.errors[1], months, series)

    # -- predict -----------------------------------------------------------------------

    def _require_fit(self):
        if self.posterior is None:
            raise InputError("solver", self.name, "predict() before fit(): nothing calibrated")

    def parameters(self, case):
        """Posterior at the cells of ``case``: (mean [P, N], members [Ne, P, N], kriging
        sd [P, N], 0 at calibrated cells). Calibrated cells are matched by id, the others
        kriged from the calibrated cells at their x, y."""
        self._require_fit()
        if tuple(case.aquifer_names) != self.space.aquifer_names:
            raise InputError(case.source or case.name, "aquifers",
                             f"{case.aquifer_names} differ from the calibrated "
                             f"{list(self.space.aquifer_names)}")
        index = {cell: i for i, cell in enumerate(self.cell_ids)}
        ids = np.asarray(case.cells.ids).astype(str)
        known = np.array([cell in index for cell in ids], dtype=bool)
        ne = len(self.posterior)
        mean = np.empty((self.space.size, case.n_cells))
        members = np.empty((ne, self.space.size, case.n_cells))
        sd = np.zeros((self.space.size, case.n_cells))
        at = np.array([index[cell] for cell in ids[known]], dtype=np.int64)
        mean[:, known] = self.posterior.mean(axis=0)[:, at]
        members[:, :, known] = self.posterior[:, :, at]
        if (~known).any():
            rng = np.random.default_rng(self.options["seed"] + 2)
            m, mem, s = krige_members(self.x, self.y, self.posterior, case.cells.x[~known],
                                      case.cells.y[~known], self.variograms,
                                      self.options["neighbours"], rng)
            mean[:, ~known], members[:, :, ~known], sd[:, ~known] = m, mem, s
        return mean, members, sd

    def predict(self, case) -> Result:
        """The posterior predictive mean: every posterior member run, their compaction
        averaged. Not the run of the posterior-mean parameters: compaction is not linear
        in them, least of all at unseen cells, whose kriged members spread widely (small
        twin, spatial 70/30, test cumulative RMSE 14.1 mm for the members' mean against
        17.1 mm for the mean's run; temporal 2015-01: 22.3 against 27.1)."""
        started = time.perf_counter()
        _, members, _ = self.parameters(case)
        compaction = np.zeros((len(case.aquifers), case.n_cells, case.n_times))
        for cells, part in simulate(case, self.space, members, self._physics(),
                                    self.options["chunk"]):
            compaction[:, cells] = part.mean(axis=0)
        return Result.for_case(case, self.name, self.kind, -compaction.sum(axis=0) + 0.0,
                               compaction=compaction, options=dict(self.options),
                               wall_seconds=time.perf_counter() - started)

    def posterior_members(self, case) -> list:
        """One case per posterior member: ``case`` with that member's parameters (for an
        ensemble run of a what-if: run each with the physics solver)."""
        _, members, _ = self.parameters(case)
        return [self.space.apply(case, member) for member in members]

    # -- persistence -------------------------------------------------------------------

    def save(self, directory) -> None:
        self._require_fit()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()     # in memory, then bytes: see engine.result on a full disk
        with h5py.File(buffer, "w") as f:
            f["cell_ids"] = self.cell_ids.astype("S")
            f["x"], f["y"] = self.x, self.y
            f["prior"], f["posterior"] = self.prior, self.posterior
            f["posterior"].attrs["dims"] = "member, parameter, cell"
            f["posterior"].attrs["parameters"] = json.dumps(self.space.names)
        (directory / POSTERIOR_FILE).write_bytes(buffer.getbuffer())
        state = {"solver": self.name, "options": self.options,
                 "parameters": self.space.to_dict(),
                 "variograms": [vars(v) for v in self.variograms], "report": self.report}
        (directory / STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")
        manifest = {"solver": self.name, "kind": self.kind, "landsub_version": __version__}
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")

    @classmethod
    def load(cls, directory) -> "CalibratedSolver":
        directory = Path(directory)
        state = saved_config(directory / STATE_FILE, cls.name)
        solver = cls(**state["options"])
        solver.space = ParameterSpace.from_dict(state["parameters"])
        solver.variograms = [Variogram(**v) for v in state["variograms"]]
        solver.report = state["report"]
        with h5py.File(directory / POSTERIOR_FILE, "r") as f:
            solver.cell_ids = f["cell_ids"][...].astype(str)
            solver.x, solver.y = f["x"][...], f["y"][...]
            solver.prior, solver.posterior = f["prior"][...], f["posterior"][...]
        return solver


def calibrated_class(physics: str, name: str) -> type:
    """The class of ``calibrated:<physics>``."""
    if physics not in PHYSICS:
        raise InputError("solver name", "solver", f'"{name}": calibration is available '
                         f"for {', '.join(f'calibrated:{p}' for p in PHYSICS)}")
    return composed_class(CalibratedSolver, name, f"Calibrated_{physics}", physics=physics)


register_composition(
    "calibrated", "calibrated:<physics>",
    "physics with per-cell parameters fitted to the training record (localized ES-MDA, "
    "or Gauss-Newton with method=gradient; kriged to unseen cells)",
    "calibrated:terzaghi", lambda rest, name: calibrated_class(rest, name))
