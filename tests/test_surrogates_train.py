"""The shared trainer: its loss, early stopping with the best weights kept, a clean
Ctrl-C, determinism and windowed training."""

import numpy as np
import pytest
import torch

from surrogates.presets import resolve
from surrogates.train import Sequences, Whitening, _evaluate, sequence_loss, train


class Cumulative(torch.nn.Module):
    """y_t = w . sum_{s<=t} x_s: a linear model of displacement since the start."""

    def __init__(self, n_features):
        super().__init__()
        self.w = torch.nn.Linear(n_features, 1, bias=False)

    def forward(self, x):
        return self.w(x.cumsum(dim=1)).squeeze(-1)


def _data(n=40, t=30, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 2)).astype(np.float32)
    truth = np.cumsum(x @ np.array([0.7, -0.3], dtype=np.float32), axis=1)
    target = truth + rng.normal(0, noise, truth.shape) + rng.normal(0, 5, (n, 1))  # offsets
    target[rng.random(target.shape) < 0.2] = np.nan
    return x, target


def _config(**kw):
    return {**resolve("gru", "fast"), "lr": 0.05, "epochs": 40, "patience": 5, **kw}


def test_loss_ignores_a_constant_per_sequence_and_missing_values():
    out = torch.tensor([[1.0, 2.0, 4.0], [0.0, 1.0, 1.0]])
    target = torch.tensor([[11.0, 12.0, 14.0], [5.0, float("nan"), 7.0]])
    s, dof = sequence_loss(out, target)
    # row 0 is out + 10 exactly; row 1 residuals -5, -6 about their mean -5.5
    assert float(s) == pytest.approx(0.5) and dof == 2 + 1
    s, dof = sequence_loss(out, torch.full_like(target, float("nan")))
    assert float(s) == 0.0 and dof == 0


def _covariance(rng, m):
    """A random symmetric positive-definite m x m matrix."""
    a = rng.normal(size=(m, m))
    return a @ a.T + m * np.eye(m)


def test_a_whitened_loss_is_the_generalised_least_squares_misfit():
    """With a Whitening, each row's loss is min over c of (e - c)^T R^-1 (e - c), e its
    residual on its readings, R its pattern's covariance (solved here directly); with
    W = I / sd it is the plain loss / sd^2."""
    rng = np.random.default_rng(3)
    length, rows = 7, 5
    readings = [np.arange(length), np.array([0, 2, 3, 6])]
    pattern = np.array([0, 1, 0, 1, 1])
    covariances = [_covariance(rng, len(at)) for at in readings]
    factors = np.zeros((2, length, length))
    for k, (at, r) in enumerate(zip(readings, covariances)):
        factors[k][np.ix_(at, at)] = np.linalg.inv(np.linalg.cholesky(r))
    target = np.full((rows, length), np.nan)
    for row, k in enumerate(pattern):
        target[row, readings[k]] = rng.normal(size=len(readings[k]))
    output = rng.normal(size=(rows, length))
    expected = 0.0
    for row, k in enumerate(pattern):
        at, inverse = readings[k], np.linalg.inv(covariances[k])
        e = output[row, at] - target[row, at]
        one = np.ones(len(at))
        c = (one @ inverse @ e) / (one @ inverse @ one)
        expected += (e - c) @ inverse @ (e - c)
    data = Sequences({}, {}, target, Whitening(factors, pattern)).tensors(torch.device("cpu"))
    _, batch_target, whitening = data.batch(torch.arange(rows))
    got, dof = sequence_loss(torch.as_tensor(output), batch_target.double(), **whitening)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    assert dof == sum(len(readings[k]) - 1 for k in pattern)
    sd = 0.3
    diagonal = np.stack([np.diag(np.isfinite(target[row]) / sd) for row in range(rows)])
    white, _ = sequence_loss(torch.as_tensor(output), batch_target.double(),
                             torch.as_tensor(diagonal), torch.arange(rows))
    unwhitened, _ = sequence_loss(torch.as_tensor(output), batch_target.double())
    assert float(white) == pytest.approx(float(unwhitened) / sd**2, rel=1e-6)
    # a row whose readings are not its pattern's is refused
    wrong = target.copy()
    wrong[0, 0] = np.nan
    with pytest.raises(ValueError, match="pattern"):
        Sequences({}, {}, wrong, Whitening(factors, pattern)).tensors(torch.device("cpu"))
    # a window would cut the readings' pattern
    x = np.ones((rows, length, 2))
    with pytest.raises(ValueError, match="window"):
        train(Cumulative(2).double(), Sequences({"x": x}, {}, target, Whitening(factors, pattern)),
              None, _config(window=3), torch.device("cpu"))


def test_training_recovers_a_linear_law_and_keeps_the_best_epoch():
    x, target = _data()
    train_part = Sequences({"x": x[:30]}, {}, target[:30])
    validation = Sequences({"x": x[30:]}, {}, target[30:])
    torch.manual_seed(0)
    model = Cumulative(2)
    report = train(model, train_part, validation, _config(), torch.device("cpu"))
    np.testing.assert_allclose(model.w.weight.detach().numpy()[0], [0.7, -0.3], atol=0.02)
    assert 1 <= report.best_epoch <= report.epochs
    assert report.monitored == "validation"
    # the weights kept are those of the best epoch, not the last
    losses = [h["validation"] for h in report.history]
    assert report.best_loss == min(losses)
    kept = _evaluate(model, validation.tensors(torch.device("cpu")), 64)
    assert kept == pytest.approx(report.best_loss, rel=1e-6)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    x, target = _data()
    torch.manual_seed(0)
    report = train(Cumulative(2), Sequences({"x": x[:30]}, {}, target[:30]),
                   Sequences({"x": x[30:]}, {}, target[30:]),
                   _config(epochs=500, patience=3), torch.device("cpu"))
    assert report.stopped_early and report.epochs == report.best_epoch + 3 < 500


def test_without_validation_the_training_loss_is_monitored():
    x, target = _data()
    torch.manual_seed(0)
    report = train(Cumulative(2), Sequences({"x": x}, {}, target), None, _config(epochs=5),
                   torch.device("cpu"))
    assert report.monitored == "training" and report.best_loss < np.inf


def test_ctrl_c_keeps_the_best_weights_so_far():
    x, target = _data()

    class Interrupted(Cumulative):
        calls = 0

        def forward(self, x):
            if self.training:
                Interrupted.calls += 1
                if Interrupted.calls == 7:          # during the 4th epoch (2 batches each)
                    raise KeyboardInterrupt
            return super().forward(x)

    torch.manual_seed(0)
    model = Interrupted(2)
    validation = Sequences({"x": x[30:]}, {}, target[30:])
    report = train(model, Sequences({"x": x[:30]}, {}, target[:30]), validation,
                   _config(batch_size=16), torch.device("cpu"))
    assert report.interrupted and report.epochs == 3
    kept = _evaluate(model, validation.tensors(torch.device("cpu")), 64)
    assert kept == pytest.approx(report.best_loss, rel=1e-6)


def test_ctrl_c_before_any_epoch_propagates():
    class Broken(Cumulative):
        def forward(self, x):
            raise KeyboardInterrupt

    x, target = _data()
    with pytest.raises(KeyboardInterrupt):
        train(Broken(2), Sequences({"x": x}, {}, target), None, _config(), torch.device("cpu"))


def test_same_seed_same_weights_other_seed_other_weights():
    x, target = _data()

    def fit(seed):
        torch.manual_seed(0)
        model = torch.nn.GRU(2, 4, batch_first=True)
        head = torch.nn.Linear(4, 1)

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gru, self.head = model, head

            def forward(self, x):
                return self.head(self.gru(x)[0]).squeeze(-1)

        net = Net()
        train(net, Sequences({"x": x}, {}, target), None, _config(epochs=3, seed=seed),
              torch.device("cpu"))
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(fit(0), fit(0))
    assert not torch.equal(fit(0), fit(1))


def test_windowed_training_learns_from_windows_and_validates_on_whole_series():
    x, target = _data(t=60)
    torch.manual_seed(0)
    model = Cumulative(2)
    report = train(model, Sequences({"x": x[:30]}, {}, target[:30]),
                   Sequences({"x": x[30:]}, {}, target[30:]), _config(window=12),
                   torch.device("cpu"))
    np.testing.assert_allclose(model.w.weight.detach().numpy()[0], [0.7, -0.3], atol=0.03)
    assert report.best_loss < 0.05


def test_an_epoch_listener_sees_every_epoch_and_changes_nothing():
    from surrogates.train import on_epoch

    x, target = _data()
    config = _config(window=12, batch_size=7)
    weights, seen = [], []
    for listen in (False, True):
        torch.manual_seed(0)
        model = Cumulative(2)
        training, validation = Sequences({"x": x[:30]}, {}, target[:30]), Sequences(
            {"x": x[30:]}, {}, target[30:])
        if listen:
            with on_epoch(seen.append):
                report = train(model, training, validation, config, torch.device("cpu"))
        else:
            train(model, training, validation, config, torch.device("cpu"))
        weights.append(model.w.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])
    assert [s["epoch"] for s in seen] == list(range(1, report.epochs + 1))
    assert seen[-1]["epochs"] == config["epochs"]
    assert seen[-1]["best"] == report.best_loss and seen[-1]["best_epoch"] == report.best_epoch


class PenalisedCumulative(Cumulative):
    """``Cumulative`` with a Gaussian prior on its weights, counted once per sequence of
    the last forward pass (as dpl counts its prior once per cell)."""

    def __init__(self, n_features, weight):
        super().__init__(n_features)
        self.weight, self.rows = weight, 0

    def forward(self, x):
        self.rows = len(x)
        return super().forward(x)

    def penalty(self):
        return self.weight * self.rows * (self.w.weight ** 2).sum()


def test_a_model_penalty_makes_the_fit_a_map_estimate_and_leaves_the_reported_loss_the_data():
    x, target = _data(n=30)
    x = x.astype(np.float64)
    weight = 40.0
    # the MAP estimate in closed form: ridge regression on the features and targets
    # de-meaned per sequence over the readable entries (the loss ignores a constant)
    features, values = [], []
    for row in range(len(x)):
        seen = np.isfinite(target[row])
        f = np.cumsum(x[row], axis=0)[seen]
        features.append(f - f.mean(axis=0))
        values.append(target[row][seen] - target[row][seen].mean())
    a, b = np.concatenate(features), np.concatenate(values)
    expected = np.linalg.solve(a.T @ a + weight * len(x) * np.eye(2), a.T @ b)
    unpenalised = np.linalg.lstsq(a, b, rcond=None)[0]
    assert np.abs(expected - unpenalised).min() > 0.05      # the prior pulls visibly
    torch.manual_seed(0)
    model = PenalisedCumulative(2, weight).double()
    report = train(model, Sequences({"x": x}, {}, target), None,
                   _config(batch_size=len(x), epochs=400, patience=0, lr=0.02),
                   torch.device("cpu"))
    np.testing.assert_allclose(model.w.weight.detach().numpy()[0], expected, atol=2e-3)
    # reported: the data's misfit; monitored without a validation part: the objective
    misfit = _evaluate(model, Sequences({"x": x}, {}, target).tensors(torch.device("cpu")), 64)
    prior = float(model.penalty().detach()) / (len(b) - len(x))   # per degree of freedom
    assert report.history[-1]["train"] == pytest.approx(misfit, rel=1e-4)
    assert report.best_loss == pytest.approx(misfit + prior, rel=1e-4)
