"""One solver for every network: fit on the training part, predict, save, load.

``NeuralSolver`` wraps any network of ``surrogates.models`` behind the solver
protocol; the registered solvers below differ only in their network (and kind).

fit(case, split) reads observed displacement ONLY where the split's training and
validation masks allow (copied out entry by entry, so nothing else is ever read),
fits the input normalisation and any network state on the training part, and trains
with ``surrogates.train``. predict(case) never reads observations.

A saved model is a folder without pickles:

    config.json            solver, network, resolved configuration, fitted state,
                           target scale, fit report
    normalisation.json     the feature set and its normalisation (training data only)
    split.json             the split the model was fitted on (null: none)
    weights.safetensors    the network's tensors

``fit_command`` and ``load_model`` are the command line's entry points; they work for
any registered solver (stateful ones are saved with a ``solver.json`` manifest).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from engine import __version__
from engine.errors import InputError, SolverError
from engine.registry import register
from engine.result import Result
from engine.solver import Solver
from engine.split import Split
from surrogates.features import FeatureSet
from surrogates.models import network_class
from surrogates.presets import network_defaults, resolve
from surrogates.train import Sequences, resolve_device, torch_threads, train

FORMAT = 1
CONFIG_FILE = "config.json"
NORMALISATION_FILE = "normalisation.json"
SPLIT_FILE = "split.json"
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "solver.json"


def allowed_target(case, split: Split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target [N, T] m, train mask, validation mask): observed displacement copied
    only at the entries the training and validation parts may use, NaN elsewhere."""
    observed = case.observations.displacement
    if observed is None:
        raise InputError(case.source or case.name, "observations.displacement",
                         "training needs observed displacement")
    train_mask, validation_mask = split.train_mask(case), split.validation_mask(case)
    allowed = train_mask | validation_mask
    target = np.full((case.n_cells, case.n_times), np.nan)
    target[allowed] = observed[allowed]
    if not np.isfinite(target[train_mask]).any():
        raise InputError(case.source or case.name, "observations.displacement",
                         "no observation in the training part of the split")
    return target, train_mask, validation_mask


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
    """Base of the registered neural solvers; subclasses set ``network`` and ``kind``."""

    network: ClassVar[str] = ""
    stateful = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.network:
            cls.name = cls.name or cls.network
            cls.defaults = {"preset": "default", **network_defaults(cls.network)}
            register(cls.name, cls)

    def __init__(self, **options):
        super().__init__(**options)
        self.config = resolve(self.network, self.options["preset"], options)
        self.options = dict(self.config)
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
        cls = network_class(self.network)
        features = FeatureSet(config["features"].split(",")).fit(case, train_mask, extra)
        fitted = cls.prepare(case, config, train_mask, np.where(train_mask, target, np.nan))
        scale = _target_scale(target, train_mask)

        def part(mask):
            cells = np.flatnonzero(mask.any(axis=1))
            if not len(cells):
                return None
            dynamic, static = cls.inputs(case, cells, features, config, fitted, extra)
            return Sequences(dynamic, static, np.where(mask, target, np.nan)[cells] / scale)

        training, validation = part(train_mask), part(validation_mask)
        device = resolve_device(config["device"])
        torch.manual_seed(config["seed"])
        model = cls(features.size, config, fitted)
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
        cls = network_class(self.network)
        device = resolve_device(self.config["device"])
        model = self.model.to(device)
        step = self.config["inference_batch"]
        chunks = [cells[start:start + step] for start in range(0, len(cells), step)]

        def one(chunk):
            dynamic, static = cls.inputs(case, chunk, self.features, self.config,
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
        path = Path(directory)
        try:
            saved = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
            features = FeatureSet.from_dict(
                json.loads((path / NORMALISATION_FILE).read_text(encoding="utf-8")))
            split = json.loads((path / SPLIT_FILE).read_text(encoding="utf-8"))
            weights = load_file(path / WEIGHTS_FILE)
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(path, "(folder)", f"not a saved neural solver ({exc})") from None
        if saved.get("solver") != cls.name or saved.get("format") != FORMAT:
            raise InputError(path / CONFIG_FILE, "solver", f'holds "{saved.get("solver")}" '
                             f'format {saved.get("format")}, not a {cls.name} model of '
                             f"format {FORMAT}")
        config = saved["config"]
        solver = cls(**{k: v for k, v in config.items() if k in cls.defaults})
        model = network_class(cls.network)(features.size, solver.config, saved["fitted"])
        model.load_state_dict(weights)
        solver.model, solver.features, solver.fitted = model.eval(), features, saved["fitted"]
        solver.target_scale, solver.split = saved["target_scale"], split
        solver.report = saved["report"]
        return solver


class RNNSolver(NeuralSolver):
    network, kind = "rnn", "ml"


class LSTMSolver(NeuralSolver):
    network, kind = "lstm", "ml"


class GRUSolver(NeuralSolver):
    network, kind = "gru", "ml"


class RNNCNNSolver(NeuralSolver):
    network, kind = "rnn-cnn", "ml"


class AttentionGRUSolver(NeuralSolver):
    network, kind = "am-gru", "ml"


class LagAttentionGRUSolver(NeuralSolver):
    network, kind = "lag-am-gru", "ml"


class SelfAttentionSolver(NeuralSolver):
    network, kind = "mhsa", "ml"


class GeographicLSTMSolver(NeuralSolver):
    network, kind = "gw-lstm", "ml"
    cellwise = False     # each cell's inputs weigh its neighbours'


class PhysicsRNNSolver(NeuralSolver):
    network, kind = "pc-rnn", "hybrid"


class LinearPhysicsRNNSolver(NeuralSolver):
    network, kind = "pc-rnn-linear", "hybrid"


# -- command-line entry points ------------------------------------------------------------

def fit_command(case_path, solver: str, preset: str | None = None, split="spatial:0.7",
                out_dir="model-out", options: dict | None = None) -> dict:
    """Fit ``solver`` on the case at ``case_path`` and write, under ``out_dir``:
    ``model/`` (the saved solver, if stateful), ``result.h5`` (its prediction on the
    whole case), ``metrics.csv`` and ``metrics.md`` (on the test part, and on every
    observation when the split holds nothing out) and ``report.json``. ``split`` is a
    Split or a text such as "spatial:0.7" (validation fraction from the solver's
    configuration); ``options`` values may be typed or command-line strings. Returns
    the report."""
    from engine.caseio import load_case
    from engine.evaluate import evaluate, write_csv, write_markdown
    from engine.registry import parse_option, solver_class

    case = load_case(case_path)
    cls = solver_class(solver)
    options = {k: parse_option(cls, k, v) if isinstance(v, str) else v
               for k, v in (options or {}).items()}
    if preset is not None:
        if "preset" not in cls.defaults:
            raise InputError("command line", "preset", f"solver {solver} has no presets")
        options["preset"] = preset
    model = cls(**options)
    if isinstance(split, str):
        config = getattr(model, "config", model.options)
        split = Split.parse(split, case, seed=int(config.get("seed", 0)),
                            validation_fraction=float(config.get("validation_fraction", 0.1)))
    report = model.fit(case, split)
    result = model.predict(case)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cls.stateful:
        save_model(model, out / "model")
    result.write(out / "result.h5")
    if case.observations.displacement is not None:
        test = (split or Split("none")).test_mask(case)
        part = "test" if test.any() else "all"
        table = evaluate(result, case.observations.displacement,
                         test if test.any() else None, part=part)
        write_csv(table, out / "metrics.csv")
        write_markdown(table, out / "metrics.md")
    report = {**report, "out_dir": str(out), "split": None if split is None else split.to_dict()}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str),
                                     encoding="utf-8")
    return report


def save_model(solver: Solver, directory) -> None:
    """``solver.save(directory)`` plus the manifest ``load_model`` reads."""
    solver.save(directory)
    manifest = {"solver": solver.name, "kind": solver.kind, "landsub_version": __version__}
    (Path(directory) / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def load_model(model_dir) -> Solver:
    """The solver saved in ``model_dir`` by ``save_model`` (or ``fit_command``)."""
    from engine.registry import solver_class

    path = Path(model_dir) / MANIFEST_FILE
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["solver"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(path, "solver", f"not a saved landsub model ({exc})") from None
    return solver_class(name).load(model_dir)
