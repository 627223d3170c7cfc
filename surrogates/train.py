"""The one trainer of every network.

Adam on a masked, per-sequence de-meaned squared error: a model's output and the
observed displacement are compared up to a constant per sequence (the displacement of
a sequence is relative to its first step, and an observed series has its own reference),
over the entries the part may use (NaN elsewhere). Mini-batches of cells, shuffled with
the seed; with ``window`` > 0, each epoch takes one random window of that many steps
from every training cell (truncated back-propagation through time) while validation
and prediction run over whole series. Early stopping on the validation loss (the
training loss when there is no validation part) with ``patience`` epochs; the weights
of the best epoch are kept. Gradient-norm clipping at ``clip``. A model with a
``penalty()`` method (the negative log prior density of what its last forward pass
produced, in the units of the summed squared residuals: a maximum a posteriori fit) has
it added to each training batch's loss. A part may carry a ``Whitening`` (the inverse
Cholesky factor of its readings' error covariance, one per pattern of readings): the
residuals are then whitened before they are squared, and the constant is the
generalised least-squares one (with white errors of one size, the plain de-meaning);
windows are refused with it. The reported losses are the data's misfit;
early stopping monitors the validation misfit, or without a validation part the
training objective (misfit and penalty). Seeded and, on CPU,
deterministic. Ctrl-C stops training cleanly: the best weights so far are kept and the
report says ``interrupted``.

Progress: with ``progress`` in the configuration a tqdm bar in this process (epoch,
losses, best validation, an ETA that assumes no early stop); an application that runs
fits elsewhere (a Dask worker) listens with ``on_epoch`` instead, which leaves the
configuration, hence a saved model, unchanged.
"""

from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm


@dataclass
class Whitening:
    """The error covariance R of each sequence's readings, as W = L^-1 (L L^T = R) in
    the target's units: ``factors`` [K, T, T], one per pattern of readings, zero in the
    rows and columns of the times that pattern has no reading; ``pattern`` [n] the
    factor of each sequence (whose finite targets must be that pattern's times)."""

    factors: np.ndarray
    pattern: np.ndarray


@dataclass
class Sequences:
    """One part of the data: ``dynamic`` inputs [n, T, ...], ``static`` inputs [n, ...],
    ``target`` [n, T] (in target-scale units, NaN where not usable) and, optionally,
    the ``whitening`` of its residuals."""

    dynamic: dict
    static: dict
    target: np.ndarray
    whitening: Whitening | None = None

    def __len__(self) -> int:
        return len(self.target)

    def horizon(self) -> int:
        """Steps up to the last usable target: causal models need nothing later."""
        usable = np.isfinite(self.target).any(axis=0)
        return int(np.flatnonzero(usable)[-1]) + 1 if usable.any() else 0

    def tensors(self, device) -> "_Tensors":
        end = self.horizon()
        w = self.whitening
        if w is not None:
            inside = np.isfinite(self.target)
            for k, factor in enumerate(w.factors):
                if not (inside[w.pattern == k] == factor.any(axis=1)).all():
                    raise ValueError("a sequence's readings are not its whitening pattern's")
        return _Tensors(
            {k: torch.as_tensor(v[:, :end]).to(device) for k, v in self.dynamic.items()},
            {k: torch.as_tensor(v).to(device) for k, v in self.static.items()},
            torch.as_tensor(self.target[:, :end], dtype=torch.float32).to(device),
            None if w is None else torch.as_tensor(w.factors[:, :end, :end]).to(device),
            None if w is None else torch.as_tensor(w.pattern).to(device))


@dataclass
class _Tensors:
    dynamic: dict
    static: dict
    target: torch.Tensor
    factors: torch.Tensor | None = None
    pattern: torch.Tensor | None = None

    def batch(self, rows: torch.Tensor, steps: torch.Tensor | None = None):
        """Inputs (keywords), target and the loss's whitening (keywords) of ``rows``;
        ``steps`` [B, W] picks a window per row."""
        if steps is None:
            dynamic = {k: v[rows] for k, v in self.dynamic.items()}
            target = self.target[rows]
        else:
            r = rows[:, None]
            dynamic = {k: v[r, steps] for k, v in self.dynamic.items()}
            target = self.target[r, steps]
        whitening = ({} if self.factors is None
                     else {"factors": self.factors, "pattern": self.pattern[rows]})
        return {**dynamic, **{k: v[rows] for k, v in self.static.items()}}, target, whitening


def sequence_loss(output: torch.Tensor, target: torch.Tensor, factors=None, pattern=None):
    """(sum of squared residuals about each sequence's constant, degrees of freedom)
    over the finite targets; output and target [B, L]. Without ``factors`` the constant
    is the mean residual; with them ([K, L, L] and each row's ``pattern`` [B], see
    ``Whitening``) the residual e is whitened, w = W e, and the constant c minimises
    |w - c W 1|^2 (the generalised least-squares constant)."""
    mask = torch.isfinite(target)
    count = mask.sum(dim=1)
    dof = int((count - (count > 0).long()).sum())
    error = torch.where(mask, output - torch.nan_to_num(target), 0.0)
    if factors is None:
        mean = error.sum(dim=1) / count.clamp(min=1)
        residual = torch.where(mask, error - mean[:, None], 0.0)
        return (residual * residual).sum(), dof
    total = error.new_zeros(())
    for k in torch.unique(pattern).tolist():
        w_k = factors[k].to(error.dtype)
        white = error[pattern == k] @ w_k.T
        ones = w_k.sum(dim=1)
        constant = white @ ones / (ones @ ones).clamp(min=torch.finfo(error.dtype).tiny)
        residual = white - constant[:, None] * ones
        total = total + (residual * residual).sum()
    return total, dof


_LISTENER = contextvars.ContextVar("epoch_listener", default=None)


@contextmanager
def on_epoch(listener):
    """Call ``listener(info)`` after every epoch of the fits run inside the block, in
    their thread; ``info``: model (class name), epoch (1-based), epochs (the most that
    will run), train and validation (losses, validation None without a validation
    part), best (the monitored loss kept so far), best_epoch, seconds (since the start).
    A listener never changes what is trained."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


@dataclass
class TrainingReport:
    epochs: int = 0                  # epochs completed
    best_epoch: int = 0              # 1-based epoch whose weights were kept
    best_loss: float = float("inf")  # its monitored loss (validation, else training)
    monitored: str = "validation"
    stopped_early: bool = False
    interrupted: bool = False
    seconds: float = 0.0
    history: list = field(default_factory=list)   # per epoch: train, validation losses

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@contextmanager
def torch_threads(n: int):
    """Run with ``n`` torch CPU threads (0: leave torch's setting), restored after."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _evaluate(model, data: _Tensors, batch_size: int) -> float:
    total, dof = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data.target), batch_size):
            rows = torch.arange(start, min(start + batch_size, len(data.target)),
                                device=data.target.device)
            inputs, target, whitening = data.batch(rows)
            s, n = sequence_loss(model(**inputs), target, **whitening)
            total += float(s)
            dof += n
    return total / dof if dof else float("nan")


def train(model: torch.nn.Module, training: Sequences, validation: Sequences | None,
          config: dict, device: torch.device) -> TrainingReport:
    """Fit ``model`` in place (it ends with the best epoch's weights); see the module
    docstring. ``config`` keys: lr, weight_decay, batch_size, epochs, patience, clip,
    window, seed, inference_batch, progress."""
    started = time.perf_counter()
    deterministic = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _train(model, training, validation, config, device, started)
    finally:
        torch.use_deterministic_algorithms(deterministic)


def _train(model, training, validation, config, device, started) -> TrainingReport:
    model.to(device)
    train_data = training.tensors(device)
    val_data = validation.tensors(device) if validation is not None else None
    if val_data is not None and not torch.isfinite(val_data.target).any():
        val_data = None
    report = TrainingReport(monitored="validation" if val_data is not None else "training")
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"],
                                 weight_decay=config["weight_decay"])
    rng = np.random.default_rng(config["seed"])
    n, length = train_data.target.shape
    window = config["window"] if 0 < config["window"] < length else 0
    if window and train_data.factors is not None:
        raise ValueError("windowed training cannot whiten: a window cuts the readings' "
                         "pattern")
    # a window may start anywhere it still ends on or before the cell's last target
    last = np.array([np.flatnonzero(np.isfinite(row))[-1] + 1 if np.isfinite(row).any() else 0
                     for row in training.target[:, :length]])
    latest_start = np.maximum(last - window, 0)
    best_state, waited = None, 0
    listener = _LISTENER.get()
    batch = config["batch_size"]
    penalty = getattr(model, "penalty", None)
    bar = tqdm(range(config["epochs"]), desc=type(model).__name__, unit="epoch",
               disable=not config["progress"], leave=False)
    try:
        for epoch in bar:
            model.train()
            order = rng.permutation(n)
            starts = rng.integers(0, latest_start + 1) if window else None
            # the epoch's rows (and windows) become tensors once; each batch is a slice
            rows_all = torch.as_tensor(order, device=device)
            steps_all = (torch.as_tensor(starts[order][:, None] + np.arange(window),
                                         device=device) if window else None)
            total, prior, dof = 0.0, 0.0, 0
            for b in range(0, n, batch):
                rows = rows_all[b:b + batch]
                steps = steps_all[b:b + batch] if window else None
                inputs, target, whitening = train_data.batch(rows, steps)
                s, count = sequence_loss(model(**inputs), target, **whitening)
                if count == 0:
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = s
                if penalty:
                    p = penalty()
                    loss = s + p
                    prior += float(p.detach())
                (loss / count).backward()
                if config["clip"] > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
                optimizer.step()
                total += float(s.detach())
                dof += count
            model.eval()
            train_loss = total / dof if dof else float("nan")
            val_loss = (_evaluate(model, val_data, config["inference_batch"])
                        if val_data is not None else None)
            monitored = (val_loss if val_data is not None
                         else (total + prior) / dof if dof else float("nan"))
            report.history.append({"epoch": epoch + 1, "train": train_loss,
                                   "validation": val_loss})
            report.epochs = epoch + 1
            improved = bool(np.isfinite(monitored) and monitored < report.best_loss)
            if improved:
                report.best_loss, report.best_epoch, waited = monitored, epoch + 1, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            bar.set_postfix(train=f"{train_loss:.4g}",
                            validation="-" if val_loss is None else f"{val_loss:.4g}",
                            best=f"{report.best_loss:.4g}@{report.best_epoch}")
            if listener is not None:
                listener({"model": type(model).__name__, "epoch": epoch + 1,
                          "epochs": config["epochs"], "train": train_loss,
                          "validation": val_loss, "best": report.best_loss,
                          "best_epoch": report.best_epoch,
                          "seconds": time.perf_counter() - started})
            if not improved:
                waited += 1
                if config["patience"] and waited >= config["patience"]:
                    report.stopped_early = True
                    break
    except KeyboardInterrupt:
        if best_state is None:
            raise
        report.interrupted = True
    finally:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    report.seconds = time.perf_counter() - started
    return report
