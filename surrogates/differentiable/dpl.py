"""``dpl:<physics>``: differentiable parameter learning through the consolidation physics.

A small network reads what is known about a cell without looking at its record: x, y,
the case's prior sediments (ln of thickness, count, kv, sske, sskv of every
compressible system), the ln lag time of every interbed system
(``physics.analytical.lag_time`` with Sskv) and statistics of its aquifer heads over
the training period (change, deepest drawdown and spread, m; ``head_statistics`` =
false leaves them out: where the heads are interpolated from wells, their errors then
do not become a rule the network applies to every cell alike). It outputs the five
calibration parameters of ``physics.calibration.parameters`` per compressible aquifer,
bounded to the calibration prior's range: ln multipliers of interbed_thickness, kv, sskv
and sske in +-CLIP_SD prior spreads (tanh), the preconsolidation_offset in
[0, CLIP_SD x offset_spread] m (sigmoid; a negative offset would be clipped anyway);
with ``drift_spread`` > 0 (m) also the calibration's head drift per aquifer, in
+-CLIP_SD x drift_spread (tanh), ramped onto the heads from the first case time to the
last training time and held, as ``ParameterSpace.apply`` does (0, the default: none).
The network starts at the prior (multipliers 1, a small offset, no drift).

Training (``fit``), end to end through the torch twin (``consolidation``), with the one
trainer ``surrogates.train`` (its loss compares each sequence up to a constant). The
white loss (``insar_model_error`` = 0): one
sequence per training cell with InSAR (displacement = -sum of the aquifers'
compaction), one per extensometer series (that aquifer's compaction), weighted by the
ratio of their noise levels (capped at EXTENSOMETER_WEIGHT_CAP) so that a sub-mm
extensometer weighs as its precision says. With ``prior_error`` > 0 (m) the
calibration's prior is kept as a penalty (a maximum a posteriori fit): each sequence
adds (prior_error / scale)^2 x the sum over parameters of (value / prior spread)^2, the
Gaussian prior of ``physics.calibration.parameters`` weighed against readings of that
error. The error the calibration assumes for one InSAR reading, counted as
independent, is about 0.16 m: the reading noise (3 mm) and the model's own error
(15 mm), the latter correlated over 60 months, so that a monthly series holds about
(1 + rho) / (1 - rho) = 120 times fewer independent model errors than readings
(rho = exp(-1/60)). The default, 0, is the maximum-likelihood fit: on the small twin
the penalty brought the pumping cut's area-mean effect nearer the truth but not its
severe-zone effect (README).

With ``insar_model_error`` > 0 (m; the default, the calibration's 15 mm; 0 gives the
white loss above) the loss is instead the calibration's own objective
(``physics.calibration``'s Gauss-Newton method minimises the same per cell): each
sequence's residual is whitened by its readings' covariance, noise^2 I + s^2
exp(-|t - t'| / ``error_months``) (``smoother.ErrorModel``: s = insar_model_error for
InSAR, ``extensometer_model_error`` for an extensometer series; each reading weighs as
its noise says, so the extensometer weight above is not applied), and each sequence adds
its parameters' Gaussian prior in full, sum of (value / prior spread)^2. A smooth misfit
that the heads or the one-bed structure leave then counts as the model's error rather
than as a fact the parameters must fit. ``prior_error`` is the white loss's stand-in for
that prior and is refused with it. ``insar_relative_error`` f (a share of the signal;
used only with the whitened loss, as ``discrepancy``) lets an InSAR series' model error
grow with what the cell subsides: s = hypot(insar_model_error, f x the range of the
cell's readings a fit may read), rounded to MODEL_ERROR_STEP_M. What the physics leaves
of the record grows so (``benchmarks/model_error.py``: dpl's residual at the training
cells goes from 8 mm where a cell subsides 0.1 m to 27 mm where it subsides 1.2 m),
mostly where the interpolated heads miss a cone of depression; with one s for every
cell the parameters there take up that misfit (on the small twin, kv cut far in the
cones), and a pumping cut's effect with them (README). Only the training part of the
split is read
(``engine.split`` masks through ``physics.calibration.observations.training_data``);
the validation part drives early stopping. ``predict`` maps every cell, seen or not, by
the network and runs ``terzaghi`` (the twin matches it to 1e-15 m) with those
parameters, or the twin itself when a smoothed switch was trained.

With the whitened loss, the model error it whitens by is also predicted
(``discrepancy``, default true; ``physics.calibration.discrepancy``): after training,
the InSAR residual of the training and validation parts conditions a Gaussian process
with that covariance (Kennedy and O'Hagan's discrepancy), kriged to the cells without a
record and held after the record's last reading. ``predict``'s
displacement is the physics' plus it; its compaction per aquifer is the physics' alone
(the record does not say in which aquifer the physics falls short), and a scenario and
its baseline get the same discrepancy, so a what-if's effect is the physics'.

Saved model (no pickles): ``config.json`` (options, parameter space, covariate names
and normalisation, report), ``weights.safetensors`` (the network),
``parameters.safetensors`` + ``parameters.json`` (the learned parameters at the fitted
case's cells, with their names and cell ids, for maps) and, with a discrepancy,
``discrepancy.safetensors`` (its arrays; ids, prior and variogram in config.json).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from engine import __version__
from engine.errors import InputError, SolverError
from engine.persistence import check_finite, saved_config
from engine.registry import composed_class, register_composition
from engine.result import Result
from engine.solver import Solver
from engine.split import Split
from engine.units import DAYS_PER_MONTH
from physics.analytical import lag_time
from physics.calibration.discrepancy import Discrepancy
from physics.calibration.observations import readable_mask, training_data
from physics.calibration.parameters import CLIP_SD, ParameterSpace
from physics.calibration.smoother import ErrorModel
from physics.calibration.solver import CalibratedSolver
from physics.solver import TerzaghiSolver
from surrogates.differentiable import consolidation as twin
from surrogates.train import Sequences, Whitening, resolve_device, torch_threads, train

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
PARAMETERS_FILE = "parameters.safetensors"
PARAMETER_NAMES_FILE = "parameters.json"
DISCREPANCY_FILE = "discrepancy.safetensors"
#: An extensometer series weighs at most this many InSAR series (noise ratio, capped).
EXTENSOMETER_WEIGHT_CAP = 10.0
#: m: the InSAR model error's sd per cell is rounded to this, so that series of one
#: pattern of readings share their whitening factor (a few dozen, not one per cell)
MODEL_ERROR_STEP_M = 0.001
#: m: the offset the untrained network gives (a little overconsolidation, so that the
#: sigmoid starts where it has slope).
INITIAL_OFFSET_M = 0.5
PHYSICS = {"terzaghi": TerzaghiSolver}
SPREAD_OPTIONS = {"interbed_thickness": "thickness_spread", "kv": "kv_spread",
                  "sskv": "sskv_spread", "sske": "sske_spread",
                  "preconsolidation_offset": "offset_spread", "head_drift": "drift_spread"}


def covariates(case, until: int, head_statistics: bool) -> tuple[np.ndarray, list[str]]:
    """[N, F] per-cell covariates and their names; head statistics over times
    [0, until) (the training period: a forecast must not see later heads' statistics
    shape the parameters), or none without ``head_statistics``."""
    columns, names = [np.asarray(case.cells.x, float), np.asarray(case.cells.y, float)], ["x", "y"]
    n = case.n_cells

    def add(name, values):
        columns.append(np.broadcast_to(np.asarray(values, dtype=np.float64), (n,)))
        names.append(name)

    for aquifer in case.aquifers:
        if head_statistics:
            head = np.asarray(aquifer.head[:, :until], dtype=np.float64)
            add(f"{aquifer.name}.head_change", head[:, -1] - head[:, 0])
            add(f"{aquifer.name}.deepest_drawdown", head[:, 0] - head.min(axis=1))
            add(f"{aquifer.name}.head_spread", head.std(axis=1))
        for j, ib in enumerate(aquifer.interbeds):
            for key in ("thickness", "count", "kv", "sske", "sskv"):
                add(f"{aquifer.name}.interbeds[{j}].ln_{key}", np.log(getattr(ib, key)))
            add(f"{aquifer.name}.interbeds[{j}].ln_lag_time",
                np.log(lag_time(ib.thickness, ib.kv, ib.sskv)))
        for label in ("nodelay", "coarse"):
            m = getattr(aquifer, label)
            if m is None:
                continue
            for key in ("thickness", "sske") + (("sskv",) if label == "nodelay" else ()):
                add(f"{aquifer.name}.{label}.ln_{key}", np.log(getattr(m, key)))
    return np.column_stack(columns), names


class ParameterNetwork(torch.nn.Module):
    """Covariates -> bounded calibration parameters, and the twin run on them.

    forward(heads [B, T, A] m, days [B, T] d, covariates [B, F] (normalised), selector
    [B, A], weight [B], sediment arrays [B] named by ``sediment_keys``) -> [B, T]
    weight x selector . compaction / scale (the trainer's target units)."""

    def __init__(self, n_covariates: int, space: ParameterSpace, sediment_keys: list,
                 config: dict, scale: float, prior_weight: float = 0.0):
        super().__init__()
        self.space, self.sediment_keys, self.config, self.scale = space, sediment_keys, config, scale
        self.prior_weight = prior_weight
        self.last_values = None        # [P, B] of the last forward pass, for the penalty
        layers, width = [], n_covariates
        for _ in range(config["layers"]):
            layers += [torch.nn.Linear(width, config["hidden"], dtype=torch.float64),
                       torch.nn.Tanh()]
            width = config["hidden"]
        last = torch.nn.Linear(width, space.size, dtype=torch.float64)
        offset = space.kind == "preconsolidation_offset"
        bound = CLIP_SD * space.spread
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.as_tensor(np.where(
                offset, np.log(INITIAL_OFFSET_M / (bound - INITIAL_OFFSET_M)), 0.0)))
        self.net = torch.nn.Sequential(*layers, last)
        self.register_buffer("bound", torch.as_tensor(bound))
        # not saved: a model saved before the prior penalty loads as it was
        self.register_buffer("spread", torch.as_tensor(space.spread, dtype=torch.float64),
                             persistent=False)
        self.register_buffer("offset", torch.as_tensor(offset))
        # [R] the head drift's share at the record's times (fit sets it; not saved)
        self.register_buffer("ramp", torch.zeros(0, dtype=torch.float64), persistent=False)
        drift = space.kind == "head_drift"
        self.drift = [(int(space.aquifer[p]), int(p)) for p in np.flatnonzero(drift)]
        self.sediment_rows = np.flatnonzero(~drift)

    def parameters_of(self, covariates: torch.Tensor) -> torch.Tensor:
        """[P, B] calibration parameters (ln multipliers; offset in m)."""
        raw = self.net(covariates)
        return torch.where(self.offset, self.bound * torch.sigmoid(raw),
                           self.bound * torch.tanh(raw)).T

    def sediments(self, arrays: dict) -> twin.Sediments:
        out = twin.Sediments()
        for s, (label, a, keys) in enumerate(self.sediment_keys):
            getattr(out, label).append((a, {k: arrays[f"system{s}_{k}"] for k in keys}))
        return out

    def compaction(self, heads, days, covariates, arrays):
        """[A, B, T] m: the twin on the network's parameters (the head drift added to
        the heads as ``ParameterSpace.apply`` adds it)."""
        values = self.last_values = self.parameters_of(covariates)
        rows = self.sediment_rows
        sediments = twin.with_parameters(self.sediments(arrays), self.space.aquifer[rows],
                                         self.space.kind[rows], values[rows])
        heads = heads.permute(2, 0, 1)
        if self.drift:
            drift = [torch.zeros_like(heads[0, :, 0])] * heads.shape[0]
            for a, p in self.drift:
                drift[a] = values[p]
            # the trainer may hand the record's first times only
            heads = heads + torch.stack(drift)[:, :, None] * self.ramp[:heads.shape[-1]]
        c = self.config
        return twin.compaction(heads, days[0], sediments, c["nodes"],
                               c["substeps"], c["smoothing"], c["checkpoint"])

    def penalty(self) -> torch.Tensor:
        """The prior's penalty on the last forward pass's parameters (module docstring),
        in the trainer's units."""
        return self.prior_weight * ((self.last_values / self.spread[:, None]) ** 2).sum()

    def forward(self, heads, days, covariates, selector, weight, **arrays):
        compaction = self.compaction(heads, days, covariates, arrays)
        combined = torch.einsum("ba,abt->bt", selector, compaction)
        return combined * (weight / self.scale)[:, None]


def _sediment_arrays(case) -> tuple[dict, list]:
    """Prior sediment arrays [N] keyed "system<s>_<key>" and the layout [(label,
    aquifer, keys)] per system s from which the network rebuilds ``Sediments``."""
    _, _, sediments, _ = twin.case_tensors(case)
    arrays, layout = {}, []
    for label in ("interbeds", "nodelay", "coarse"):
        for a, params in getattr(sediments, label):
            layout.append((label, a, sorted(params)))
            arrays.update({f"system{len(layout) - 1}_{k}": v.numpy() for k, v in params.items()})
    return arrays, layout


class DplSolver(Solver):
    """Base of the ``dpl:<physics>`` classes made by ``dpl_class``."""

    kind = "hybrid"
    stateful = True
    defaults = {
        "hidden": 32, "layers": 2, "lr": 0.02, "weight_decay": 0.0, "batch_size": 512,
        "epochs": 20, "patience": 6, "clip": 1.0, "seed": 0, "inference_batch": 2048,
        "progress": False, "threads": 1, "device": "cpu",
        "nodes": 19, "substeps": 1, "smoothing": 0.0, "checkpoint": 24,
        "thickness_spread": 0.3, "kv_spread": 1.0, "sskv_spread": 0.5,
        "sske_spread": 0.5, "offset_spread": 3.0, "drift_spread": 0.0, "prior_error": 0.0,
        "head_statistics": False, "discrepancy": True, "insar_relative_error": 0.022,
        **{k: CalibratedSolver.defaults[k]
           for k in ("insar_model_error", "extensometer_model_error", "error_months")},
    }

    def __init__(self, **options):
        super().__init__(**options)
        for key, unit in (("smoothing", "m of head"), ("prior_error", "m"),
                          ("insar_model_error", "m"), ("extensometer_model_error", "m"),
                          ("insar_relative_error", "a fraction of the signal")):
            if not self.options[key] >= 0:
                raise InputError("solver options", key, f"{self.options[key]} is not >= 0 ({unit})")
        if not self.options["error_months"] > 0:
            raise InputError("solver options", "error_months",
                             f"{self.options['error_months']} is not > 0 (months)")
        if self.options["prior_error"] > 0 and self.whitened:
            raise InputError("solver options", "prior_error", "the whitened loss "
                             "(insar_model_error > 0) carries the prior in full: set one")
        self.model = None
        self.space = None
        self.normalisation = None      # {"names", "mean", "sd"}
        self.until = None              # time index ending the training period (heads)
        self.scale = 1.0               # m, the trainer's target unit
        self.learned = None            # {"cell_ids", "values" [P, N]} at the fitted case
        self.discrepancy = None        # Discrepancy, conditioned on the readable record
        self.insar_error = None        # [N] m: the InSAR model error's sd per cell (fit)
        self.report: dict = {}

    @property
    def whitened(self) -> bool:
        return self.options["insar_model_error"] > 0

    # -- fit ---------------------------------------------------------------------------

    def fit(self, case, split: Split | None = None) -> dict:
        started = time.perf_counter()
        o = self.options
        split = split or Split("none")
        train_mask, validation_mask = split.train_mask(case), split.validation_mask(case)
        self.until = int(np.flatnonzero(train_mask.any(axis=0))[-1]) + 1
        self.space = ParameterSpace.for_case(case, {k: o[v] for k, v in SPREAD_OPTIONS.items()},
                                             last_time=self.until - 1)
        raw, names = covariates(case, self.until, self.options["head_statistics"])
        seen = train_mask.any(axis=1)
        mean, sd = raw[seen].mean(axis=0), raw[seen].std(axis=0)
        self.normalisation = {"names": names, "mean": mean.tolist(),
                              "sd": np.where(sd > 0, sd, 1.0).tolist()}
        arrays, keys = _sediment_arrays(case)
        training = training_data(case, train_mask)
        self.insar_error = self._insar_error(case, readable_mask(case, split))
        # m: the trainer's target unit (the spread of the training displacement)
        scale = self.scale = float(np.nanstd(training.displacement)) or 1.0
        config = {k: o[k] for k in ("hidden", "layers", "nodes", "substeps", "smoothing",
                                    "checkpoint")}
        sequences = [self._sequences(case, training, arrays)]
        if validation_mask.any():
            try:
                sequences.append(self._sequences(
                    case, training_data(case, validation_mask), arrays))
            except ValueError:          # no readable validation observation
                sequences.append(None)
        else:
            sequences.append(None)
        device = resolve_device(o["device"])
        torch.manual_seed(o["seed"])
        prior_weight = 1.0 if self.whitened else (o["prior_error"] / scale) ** 2
        model = ParameterNetwork(len(names), self.space, keys, config, scale, prior_weight)
        if model.drift:
            model.ramp = torch.as_tensor(self.space.ramp(case.spinup_record()[0].times))
        trainer = {k: o[k] for k in ("lr", "weight_decay", "batch_size", "epochs", "patience",
                                     "clip", "seed", "inference_batch", "progress")}
        with torch_threads(o["threads"]):
            outcome = train(model, sequences[0], sequences[1], {**trainer, "window": 0},
                            device)
        self.model = model.cpu().eval()
        values = self._parameters(case)
        self.learned = {"cell_ids": np.asarray(case.cells.ids).astype(str).tolist(),
                        "values": values}
        self.discrepancy = None
        if o["discrepancy"] and self.whitened:
            self.discrepancy = self._condition(case, split)
        self.report = {"solver": self.name, "training_cells": int(len(training.cells)),
                       "training_sequences": len(sequences[0]),
                       "insar_noise_m": training.displacement_noise,
                       "loss": "whitened, with the prior" if self.whitened else "white",
                       "extensometer_series": int(np.count_nonzero(
                           sequences[0].static["selector"].sum(axis=1) > 0)),
                       "target_scale_mm": scale * 1e3, "device": str(device),
                       "discrepancy": None if self.discrepancy is None
                       else self.discrepancy.summary(),
                       **outcome.to_dict(), "fit_seconds": time.perf_counter() - started}
        return dict(self.report)

    def _condition(self, case, split) -> Discrepancy:
        """The model's discrepancy conditioned on the InSAR record fit() may read (its
        training and validation parts): readings minus the physics on the learned
        parameters, with the loss's error model as its prior."""
        o = self.options
        return Discrepancy.of_record(case, readable_mask(case, split),
                                     -self._compaction(case).sum(axis=0),
                                     self.insar_error, o["error_months"], o["seed"])

    def _insar_error(self, case, mask) -> np.ndarray:
        """[N] m: the sd of the model's error in each cell's InSAR series,
        hypot(insar_model_error, insar_relative_error x the range of the cell's readings
        under ``mask``), to MODEL_ERROR_STEP_M (cells without one: insar_model_error)."""
        o = self.options
        if o["insar_relative_error"] == 0:
            return np.full(case.n_cells, float(o["insar_model_error"]))
        readings = np.where(mask, case.observations.displacement, np.nan)
        seen = np.isfinite(readings).any(axis=1)
        signal = np.zeros(case.n_cells)
        signal[seen] = np.nanmax(readings[seen], axis=1) - np.nanmin(readings[seen], axis=1)
        sd = np.hypot(o["insar_model_error"], o["insar_relative_error"] * signal)
        return np.round(sd / MODEL_ERROR_STEP_M) * MODEL_ERROR_STEP_M

    def _inputs(self, case, cells):
        """Dynamic and static inputs of the network at case cells ``cells`` [C]: the heads
        of the record the physics runs (a spin-up first, ``Case.spinup_record``)."""
        record, _ = case.spinup_record()
        heads = np.stack([a.head[cells] for a in record.aquifers], axis=-1).astype(np.float64)
        days = np.broadcast_to(np.asarray(record.days, dtype=np.float64),
                               (len(cells), record.n_times)).copy()
        return {"heads": heads, "days": days}, {"covariates": self._normalised(case)[cells]}

    def _normalised(self, case):
        raw, names = covariates(case, self.until, self.options["head_statistics"])
        if names != self.normalisation["names"]:
            raise InputError(case.source or case.name, "aquifers", "the case's sediments "
                             "and aquifers differ from those dpl was fitted on")
        return (raw - np.asarray(self.normalisation["mean"])) / np.asarray(
            self.normalisation["sd"])

    def _sequences(self, case, data, arrays) -> Sequences:
        """InSAR rows (one per observed cell) then extensometer rows (one per site and
        aquifer), target in metres (the network divides by the scale)."""
        n_aq = len(case.aquifers)
        insar = np.flatnonzero(np.isfinite(data.displacement).any(axis=1))
        cells = list(data.cells[insar])
        selector = [-np.ones(n_aq)] * len(cells)
        target = list(data.displacement[insar])
        noise = [np.full(data.n_times, data.displacement_noise)] * len(cells)
        weight = [1.0] * len(cells)
        if len(data.ext_change):
            w_ext = 1.0 if self.whitened else float(np.clip(
                data.displacement_noise / data.ext_noise[0], 1.0, EXTENSOMETER_WEIGHT_CAP))
            pairs = sorted(set(zip(data.ext_cell.tolist(), data.ext_aquifer.tolist())))
            for local, a in pairs:
                rows = (data.ext_cell == local) & (data.ext_aquifer == a)
                series = np.full(data.n_times, np.nan)
                series[data.ext_reference[rows][0]] = 0.0
                series[data.ext_time[rows]] = data.ext_change[rows]
                sd = np.full(data.n_times, data.ext_noise[rows][0])
                sd[data.ext_time[rows]] = data.ext_noise[rows]
                cells.append(data.cells[local])
                selector.append(np.eye(n_aq)[a])
                target.append(series)
                noise.append(sd)
                weight.append(w_ext)
        cells = np.asarray(cells)
        weight = np.asarray(weight)
        dynamic, static = self._inputs(case, cells)
        static.update(selector=np.asarray(selector, dtype=np.float64), weight=weight,
                      **{k: v[cells] for k, v in arrays.items()})
        # targets on the record's times: none during a spin-up (the trainer compares a
        # sequence up to a constant, so the record's compaction before the case is free)
        record, skip = case.spinup_record()
        full = np.full((len(cells), record.n_times), np.nan)
        full[:, skip:skip + data.n_times] = np.asarray(target) * weight[:, None]
        whitening = (self._whitening(full, np.asarray(noise), skip,
                                     self.insar_error[data.cells[insar]],
                                     np.asarray(record.days, dtype=np.float64))
                     if self.whitened else None)
        # the trainer wants the target in the network's output units
        return Sequences(dynamic, static, full / self.scale, whitening)

    def _whitening(self, target, noise, skip: int, insar_error, days) -> Whitening:
        """The loss's whitening of sequences ``target`` [n, R] on the record's times
        (``days`` [R]): InSAR rows first, their model error's sd ``insar_error`` [n_insar]
        (m), then extensometer rows; reading ``noise`` [n, T] (m) on the case's times,
        which start at record time ``skip``."""
        o = self.options
        months = days / DAYS_PER_MONTH
        insar = {sd: ErrorModel(sd, o["error_months"]) for sd in np.unique(insar_error)}
        extensometer = ErrorModel(o["extensometer_model_error"], o["error_months"])
        factors, pattern, index = [], np.empty(len(target), dtype=np.int64), {}
        for row, values in enumerate(target):
            at = np.flatnonzero(np.isfinite(values))
            error = insar[insar_error[row]] if row < len(insar_error) else extensometer
            w = error.whitening(noise[row, at - skip], months[at],
                                np.zeros(len(at), dtype=np.int64))
            if id(w) not in index:
                index[id(w)] = len(factors)
                full = np.zeros((len(values), len(values)))
                full[np.ix_(at, at)] = w * self.scale  # in the target's units
                factors.append(full)
            pattern[row] = index[id(w)]
        return Whitening(np.stack(factors), pattern)

    def estimated_case(self, case):
        """``case`` with the parameters the network gives its cells (what ``predict``
        runs), for the bench's parameter maps and its scores against a twin's truth."""
        self._require_fit()
        return self.space.apply(case, self._parameters(case))

    # -- predict -----------------------------------------------------------------------

    def _require_fit(self):
        if self.model is None:
            raise SolverError(f"{self.name}: predict() before fit() or load()")

    def _parameters(self, case) -> np.ndarray:
        """[P, N] learned calibration parameters at every cell of ``case``."""
        x = torch.as_tensor(self._normalised(case))
        with torch.no_grad():
            return self.model.parameters_of(x).numpy()

    def parameters(self, case) -> tuple[list[str], np.ndarray]:
        """(names "aquifer.kind", [P, N] values) at the cells of ``case``."""
        self._require_fit()
        return self.space.names, self._parameters(case)

    def _compaction(self, case) -> np.ndarray:
        """[A, N, T] m: the physics on the learned parameters."""
        o = self.options
        changed = self.estimated_case(case.without_observations())
        if o["smoothing"] > 0:
            return twin.simulate_case(changed, o["nodes"], o["substeps"], o["smoothing"])
        physics = TerzaghiSolver(nodes=o["nodes"], substeps=o["substeps"])
        return physics.predict(changed).compaction

    def predict(self, case) -> Result:
        """The physics' compaction per aquifer; the displacement adds the model's
        discrepancy (where fitted with one), which the compaction does not share out."""
        started = time.perf_counter()
        self._require_fit()
        compaction = self._compaction(case)
        displacement = -compaction.sum(axis=0) + 0.0
        if self.discrepancy is not None:
            displacement += self.discrepancy.at(case.cells.ids, case.cells.x, case.cells.y,
                                                case.times)
        return Result.for_case(case, self.name, self.kind, displacement,
                               compaction=compaction, options=dict(self.options),
                               wall_seconds=time.perf_counter() - started)

    # -- save / load -------------------------------------------------------------------

    def save(self, directory) -> None:
        self._require_fit()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        config = {"solver": self.name, "options": self.options,
                  "parameters": self.space.to_dict(), "normalisation": self.normalisation,
                  "until": self.until, "scale": self.scale,
                  "sediment_keys": self.model.sediment_keys, "report": self.report,
                  "discrepancy": None if self.discrepancy is None
                  else self.discrepancy.write(path / DISCREPANCY_FILE),
                  "landsub_version": __version__}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  path / WEIGHTS_FILE, metadata={"solver": self.name})
        save_file({"values": torch.as_tensor(self.learned["values"]).contiguous()},
                  path / PARAMETERS_FILE, metadata={"dims": "parameter, cell"})
        (path / PARAMETER_NAMES_FILE).write_text(json.dumps(
            {"parameters": self.space.names, "cell_ids": self.learned["cell_ids"],
             "units": "ln multiplier (offset: m)"}), encoding="utf-8")

    @classmethod
    def load(cls, directory) -> "DplSolver":
        path = Path(directory)
        saved = saved_config(path / CONFIG_FILE, cls.name)
        try:
            weights = load_file(path / WEIGHTS_FILE)
            values = load_file(path / PARAMETERS_FILE)["values"].numpy()
            names = json.loads((path / PARAMETER_NAMES_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(path, "(folder)", f"not a saved dpl model ({exc})") from None
        check_finite(path / WEIGHTS_FILE, weights)
        check_finite(path / PARAMETERS_FILE, {"values": values})
        # a model saved before these options existed was fitted with the heads'
        # statistics, the white loss, no discrepancy and one model error for every cell
        solver = cls(**{"head_statistics": True, "insar_model_error": 0.0,
                        "discrepancy": False, "insar_relative_error": 0.0,
                        **saved["options"]})
        solver.space = ParameterSpace.from_dict(saved["parameters"])
        solver.normalisation, solver.until = saved["normalisation"], saved["until"]
        solver.scale = saved["scale"]
        o = solver.options
        config = {k: o[k] for k in ("hidden", "layers", "nodes", "substeps", "smoothing",
                                    "checkpoint")}
        model = ParameterNetwork(len(solver.normalisation["names"]), solver.space,
                                 [tuple(k) for k in saved["sediment_keys"]], config,
                                 saved["scale"])
        model.load_state_dict(weights)
        solver.model, solver.report = model.eval(), saved["report"]
        solver.learned = {"cell_ids": names["cell_ids"], "values": values}
        if saved.get("discrepancy") is not None:
            solver.discrepancy = Discrepancy.read(path / DISCREPANCY_FILE,
                                                  saved["discrepancy"])
        return solver


def dpl_class(physics: str, name: str) -> type:
    """The class of ``dpl:<physics>``."""
    if physics not in PHYSICS:
        raise InputError("solver name", "solver", f'"{name}": differentiable parameter '
                         f"learning is available for {', '.join(f'dpl:{p}' for p in PHYSICS)}")
    return composed_class(DplSolver, name, f"Dpl_{physics}")


register_composition(
    "dpl", "dpl:<physics>",
    "a network maps per-cell covariates to the physics' parameters, trained end to end "
    "through a differentiable twin of the physics on the training record",
    "dpl:terzaghi", lambda rest, name: dpl_class(rest, name))
