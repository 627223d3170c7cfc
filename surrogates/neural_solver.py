"""One solver for every network: fit on the training part, predict, save, load.

``NeuralSolver`` wraps any network (a ``surrogates.models.base.SequenceModel``) behind
the solver protocol. A network becomes a solver with ``register_network``, called in
its own module under ``surrogates.models``: it makes the NeuralSolver subclass that
holds the network's class, kind, defaults and presets, and registers it by name.

fit(case, split) reads observed displacement ONLY where the split's training and
validation masks allow (copied out entry by entry, so nothing else is ever read),
fits the input normalisation and any network state on the training part, and trains
with ``surrogates.train``. predict(case) never reads observations.

A saved model is a folder without pickles (``engine.persistence.save_model`` adds the
``solver.json`` manifest that finds this class again):

    config.json            solver, network, resolved configuration, fitted state,
                           target scale, fit report
    normalisation.json     the feature set and its normalisation (training data only)
    split.json             the split the model was fitted on (null: none)
    weights.safetensors    the network's tensors
"""

from __future__ import annotations

import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from engine import __version__
from engine.errors import InputError, SolverError
from engine.persistence import check_finite, safetensors_header
from engine.registry import names, register, solver_class
from engine.result import Result
from engine.solver import Limit, Solver
from engine.split import Split, allowed_target
from surrogates.features import FeatureSet
from surrogates.presets import COMMON, LIMITS, PRESETS, configuration
from surrogates.train import Sequences, resolve_device, torch_threads, train

FORMAT = 1
CONFIG_FILE = "config.json"
NORMALISATION_FILE = "normalisation.json"
SPLIT_FILE = "split.json"
WEIGHTS_FILE = "weights.safetensors"


def _target_scale(target: np.ndarray, mask: np.ndarray) -> float:
    """m: root mean square of the training observations about each cell's mean."""
    usable = mask & np.isfinite(target)
    values = np.where(usable, target, 0.0)
    count = usable.sum(axis=1, keepdims=True)
    mean = values.sum(axis=1, keepdims=True) / np.maximum(count, 1)
    spread = np.where(usable, values - mean, 0.0)
    rms = float(np.sqrt((spread**2).sum() / max(usable.sum(), 1)))
    return rms if rms > 0 else 1.0


class NeuralSolver(Solver):
    """Base of the registered neural solvers; ``register_network`` makes one subclass
    per network, setting the class attributes below."""

    network: ClassVar[str] = ""                 # the network's name (= the solver's)
    model_class: ClassVar[type]                 # its SequenceModel
    network_defaults: ClassVar[dict] = {}       # its keys over presets.COMMON
    presets: ClassVar[dict] = {}                # preset -> its keys over the generic layer
    has_attention: ClassVar[bool] = False       # attention() gives weights
    stateful = True

    def __init__(self, **options):
        super().__init__(**options)
        self.config = configuration(type(self), self.options["preset"], options)
        self.options = dict(self.config)
        FeatureSet(self.config["features"].split(","))   # an unknown feature fails here
        check_device(self.config["device"])
        self.model = None
        self.features = None
        self.fitted: dict = {}
        self.target_scale = 1.0
        self.split = None
        self.report: dict = {}

    # -- fit ---------------------------------------------------------------------------

    def fit(self, case, split: Split | None = None, *, extra=None, offset=None) -> dict:
        """Train on ``case``'s training part. ``extra``: caller-given features (dict of
        [N, T] arrays, e.g. "baseline"); ``offset`` [N, T] m is subtracted from the
        observations (the network then learns the remainder: residual models)."""
        split = split or Split("none")
        target, train_mask, validation_mask = allowed_target(case, split)
        if offset is not None:
            target = target - offset
        config = self.config
        network = self.model_class
        features = FeatureSet(config["features"].split(",")).fit(case, train_mask, extra)
        fitted = network.prepare(case, config, train_mask, np.where(train_mask, target, np.nan))
        scale = _target_scale(target, train_mask)

        def part(mask):
            cells = np.flatnonzero(mask.any(axis=1))
            if not len(cells):
                return None
            dynamic, static = network.inputs(case, cells, features, config, fitted, extra)
            return Sequences(dynamic, static, np.where(mask, target, np.nan)[cells] / scale)

        training, validation = part(train_mask), part(validation_mask)
        device = resolve_device(config["device"])
        torch.manual_seed(config["seed"])
        model = network(features.size, config, fitted)
        with torch_threads(config["threads"]):
            outcome = train(model, training, validation, config, device)
        self.model, self.features, self.fitted = model.cpu().eval(), features, fitted
        self.target_scale, self.split = scale, split.to_dict()
        self.report = {
            "solver": self.name, "network": self.network, "preset": config["preset"],
            "training_cells": len(training),
            "validation_cells": 0 if validation is None else len(validation),
            "training_values": int(np.isfinite(training.target).sum()),
            "target_scale_mm": scale * 1e3, "channels": features.channels(),
            "device": str(device), **self.model.describe(), **outcome.to_dict()}
        return self.report

    # -- predict -----------------------------------------------------------------------

    def _require_model(self):
        if self.model is None:
            raise SolverError(f"{self.name}: predict() before fit() or load()")

    def _map_chunks(self, case, cells, extra, run):
        """[run(chunk, model, inputs) for each chunk] over chunks of ``inference_batch``
        cells, on the solver's device. On CPU the chunks go to ``workers`` threads (0: as
        many as torch's threads) with one torch thread each: independent small chunks
        keep the cores busier than several threads splitting every small time step."""
        network = self.model_class
        device = resolve_device(self.config["device"])
        model = self.model.to(device)
        step = self.config["inference_batch"]
        chunks = [cells[start:start + step] for start in range(0, len(cells), step)]

        def one(chunk):
            dynamic, static = network.inputs(case, chunk, self.features, self.config,
                                             self.fitted, extra)
            inputs = {k: torch.as_tensor(v).to(device) for k, v in {**dynamic, **static}.items()}
            with torch.inference_mode():
                return run(chunk, model, inputs)

        if device.type != "cpu":
            return [one(chunk) for chunk in chunks]
        workers = self.config["workers"] or torch.get_num_threads()
        with torch_threads(1), ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, chunks))

    def predict_array(self, case, extra=None) -> np.ndarray:
        """[N, T] float64 displacement (m, up positive, 0 at the first time)."""
        self._require_model()
        out = np.empty((case.n_cells, case.n_times))

        def displacement(chunk, model, inputs):
            y = model(**inputs).double()
            out[chunk] = ((y - y[:, :1]) * self.target_scale).cpu().numpy()  # rows disjoint

        self._map_chunks(case, np.arange(case.n_cells), extra, displacement)
        return out

    def predict(self, case, *, extra=None) -> Result:
        started = time.perf_counter()
        displacement = self.predict_array(case, extra)
        return Result.for_case(case, self.name, self.kind, displacement,
                               options=self.config, split=self.split,
                               wall_seconds=time.perf_counter() - started)

    def attention(self, case, cells=None, extra=None) -> np.ndarray:
        """Attention weights at ``cells`` (all when None): [n, T, W] for am-gru and
        lag-am-gru, [n, heads, layers, T, W] for mhsa; index w = lag w steps."""
        self._require_model()
        if not self.model.has_attention:
            raise SolverError(f"{self.name} has no attention weights")
        cells = np.arange(case.n_cells) if cells is None else np.asarray(cells)
        parts = self._map_chunks(case, cells, extra, lambda chunk, model, inputs: model(
            **inputs, return_attention=True)[1].cpu().numpy())
        return np.concatenate(parts)

    # -- save / load -------------------------------------------------------------------

    def save(self, directory) -> None:
        self._require_model()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        config = {"format": FORMAT, "solver": self.name, "network": self.network,
                  "kind": self.kind, "config": self.config, "fitted": self.fitted,
                  "target_scale": self.target_scale, "report": self.report,
                  "landsub_version": __version__}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
        (path / NORMALISATION_FILE).write_text(json.dumps(self.features.to_dict(), indent=1),
                                               encoding="utf-8")
        (path / SPLIT_FILE).write_text(json.dumps(self.split), encoding="utf-8")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  path / WEIGHTS_FILE, metadata={"solver": self.name, "format": str(FORMAT)})

    @classmethod
    def load(cls, directory) -> "NeuralSolver":
        """The solver saved in ``directory``, every part validated before any tensor is
        used: the configuration by the solver's option limits (and the device by this
        machine), the normalisation and target scale finite and of the right size, the
        weights' names, shapes and dtypes those of the configured network (read from the
        file's header, before its tensors are read), their values finite."""
        path = Path(directory)
        try:
            saved = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
            features = FeatureSet.from_dict(
                json.loads((path / NORMALISATION_FILE).read_text(encoding="utf-8")))
            split = json.loads((path / SPLIT_FILE).read_text(encoding="utf-8"))
            config, fitted = saved["config"], saved["fitted"]
            scale, report = float(saved["target_scale"]), saved["report"]
            header = safetensors_header(path / WEIGHTS_FILE)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(path, "(folder)", f"not a saved neural solver ({exc})") from None
        if saved.get("solver") != cls.name or saved.get("format") != FORMAT:
            raise InputError(path / CONFIG_FILE, "solver", f'holds "{saved.get("solver")}" '
                             f'format {saved.get("format")}, not a {cls.name} model of '
                             f"format {FORMAT}")
        if not isinstance(config, dict):
            raise InputError(path / CONFIG_FILE, "config", "is not a table of options")
        solver = cls(**{k: v for k, v in config.items() if k in cls.defaults})
        _check_normalisation(path / NORMALISATION_FILE, features, scale)
        model = cls.model_class(features.size, solver.config, fitted)
        _check_header(path / WEIGHTS_FILE, header, model.state_dict())
        weights = load_file(path / WEIGHTS_FILE)
        check_finite(path / WEIGHTS_FILE, weights)
        model.load_state_dict(weights)
        solver.model, solver.features, solver.fitted = model.eval(), features, fitted
        solver.target_scale, solver.split = scale, split
        solver.report = report
        return solver


def _check_normalisation(path: Path, features: FeatureSet, scale: float) -> None:
    center, spread = features.center, features.scale
    size = features.size
    if center is None or spread is None or center.shape != (size,) or spread.shape != (size,):
        raise InputError(path, "center", f"the normalisation needs {size} centres and scales "
                         f"(one per channel: {', '.join(features.channels())})")
    if not (np.isfinite(center).all() and np.isfinite(spread).all() and (spread > 0).all()):
        raise InputError(path, "scale", "the normalisation holds NaN, infinite or non-positive "
                         "values")
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(path.with_name(CONFIG_FILE), "target_scale",
                         f"{scale!r} is not a positive finite number")


def _check_header(path: Path, header: dict, expected: dict) -> None:
    """Refuse weights whose names, shapes or dtypes are not the network's."""
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        raise InputError(path, f'tensor "{(missing or extra)[0]}"',
                         f"{'missing' if missing else 'not a tensor of the network'}; the "
                         f"configured network has {len(expected)} tensors, the file {len(header)}")
    dtypes = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
              torch.bfloat16: "BF16", torch.int64: "I64", torch.bool: "BOOL"}
    for name, tensor in expected.items():
        dtype, shape = header[name]
        if shape != tuple(tensor.shape) or dtype != dtypes.get(tensor.dtype):
            raise InputError(path, f'tensor "{name}"', f"is {dtype} {list(shape)}; the "
                             f"configured network has {dtypes.get(tensor.dtype)} "
                             f"{list(tensor.shape)}")


def check_device(name: str) -> None:
    """Refuse a device this machine does not have (before training or loading, not at
    the first tensor moved there): "auto", "cpu", "cuda", "cuda:N" with N < the GPUs
    present, or "mps" where torch has it."""
    match = re.fullmatch(r"(auto|cpu|cuda|mps)(?::(\d+))?", str(name))
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise InputError("solver options", "device", f'"{name}" is not a device: use auto, '
                         "cpu, cuda, cuda:N or mps")
    kind, index = match.group(1), match.group(2)
    if kind == "cuda":
        count = torch.cuda.device_count()
        if int(index or 0) >= count:
            raise InputError("solver options", "device", f'"{name}" is not available: this '
                             f"machine has {count} CUDA device(s)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise InputError("solver options", "device", '"mps" is not available on this machine')


def register_network(name: str, model_class: type, *, kind: str = "ml",
                     defaults: dict | None = None, presets: dict | None = None) -> type:
    """Make the solver of a network and register it as ``name``; returns its class.

    ``model_class``: the network, a ``SequenceModel``. ``kind``: "ml", or "hybrid" when a
    physics law is inside the network. ``defaults``: the network's keys over
    ``presets.COMMON`` (its own options, and sizes that differ). ``presets``: preset name
    -> keys over that preset's generic layer (``presets.GENERIC``); "seminar" only where
    the seminar gives the network a table."""
    if kind not in ("ml", "hybrid"):
        raise ValueError(f'network {name}: kind {kind!r} is not "ml" or "hybrid"')
    unknown = sorted(set(presets or {}) - set(PRESETS))
    if unknown:
        raise ValueError(f"network {name}: unknown preset {unknown[0]!r}; presets: "
                         f"{', '.join(PRESETS)}")
    solver = type(f"NeuralSolver[{name}]", (NeuralSolver,), {
        "name": name, "network": name, "kind": kind, "model_class": model_class,
        "network_defaults": dict(defaults or {}), "presets": dict(presets or {}),
        "defaults": {"preset": "default", **COMMON, **(defaults or {})},
        "limits": {**{k: v for k, v in LIMITS.items() if k in {**COMMON, **(defaults or {})}},
                   "preset": Limit(choices=PRESETS)},
        "has_attention": model_class.has_attention, "cellwise": model_class.cellwise,
        "__module__": model_class.__module__})
    return register(name, solver)


def network_names() -> list[str]:
    """The names of every registered network (the ``surrogates.models`` modules and any
    plug-in's)."""
    return [name for name in names() if issubclass(solver_class(name), NeuralSolver)]
