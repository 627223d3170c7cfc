"""Network layers of the seminar that torch does not provide as such.

Shapes: B sequences (cells), L time steps, D features; attention looks back over a
causal window of W steps (the step itself and the W - 1 before it), so a model trained
on windows attends the same way over a whole series.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def causal_windows(x: torch.Tensor, width: int) -> torch.Tensor:
    """[B, L, D] -> [B, L, W, D]: for each step t the values at t, t-1, ..., t-W+1
    (zeros before the first step; see ``window_mask``)."""
    padded = nn.functional.pad(x, (0, 0, width - 1, 0))
    # unfold gives oldest-first windows; flip so that index k is the lag k
    return padded.unfold(1, width, 1).permute(0, 1, 3, 2).flip(2)


def window_mask(length: int, width: int, device=None) -> torch.Tensor:
    """[L, W] bool: lag k of step t exists (t - k >= 0)."""
    t = torch.arange(length, device=device)[:, None]
    return t >= torch.arange(width, device=device)[None, :]


class AdditiveAttention(nn.Module):
    """Bahdanau attention of each state over its causal window of states:
    score(t, s) = v^T tanh(W_q h_t + W_k h_s), weights = softmax over s, context =
    sum of weights x h_s. Returns the context [B, L, D] and the weights [B, L, W]
    (index k = lag k months)."""

    def __init__(self, d_state: int, d_attention: int, width: int):
        super().__init__()
        self.width = width
        self.query = nn.Linear(d_state, d_attention, bias=False)
        self.key = nn.Linear(d_state, d_attention)
        self.score = nn.Linear(d_attention, 1, bias=False)

    def forward(self, states: torch.Tensor):
        keys = causal_windows(self.key(states), self.width)               # [B, L, W, A]
        scores = self.score(torch.tanh(self.query(states)[:, :, None] + keys)).squeeze(-1)
        valid = window_mask(states.shape[1], self.width, states.device)
        weights = torch.softmax(scores.masked_fill(~valid, -torch.inf), dim=-1)
        context = (weights[..., None] * causal_windows(states, self.width)).sum(dim=2)
        return context, weights


class WindowedSelfAttention(nn.Module):
    """Multi-head self-attention (Vaswani et al.) of each step over its causal window,
    with a learned bias per head and lag standing in for positions. Returns the output
    [B, L, D] and the weights [B, heads, L, W]."""

    def __init__(self, d_model: int, heads: int, width: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
        self.heads, self.width = heads, width
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.lag_bias = nn.Parameter(torch.zeros(heads, width))

    def forward(self, x: torch.Tensor):
        b, length, d = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.view(b, length, self.heads, d // self.heads)
        k = causal_windows(k, self.width).view(b, length, self.width, self.heads, -1)
        v = causal_windows(v, self.width).view(b, length, self.width, self.heads, -1)
        scores = torch.einsum("blhe,blwhe->bhlw", q, k) / math.sqrt(d // self.heads)
        scores = scores + self.lag_bias[None, :, None, :]
        valid = window_mask(length, self.width, x.device)
        weights = torch.softmax(scores.masked_fill(~valid, -torch.inf), dim=-1)
        mixed = torch.einsum("bhlw,blwhe->blhe", weights, v).reshape(b, length, d)
        return self.out(mixed), weights


class GeographicWeights(nn.Module):
    """The GW-LSTM's geographically weighted input X_t^w: the inputs of a cell's K
    nearest cells (itself first), each multiplied by its spatial kernel weight
    (``surrogates.geography``), side by side: [B, L, K, F] x [B, K] -> [B, L, K*F]."""

    def forward(self, neighbours: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        weighted = neighbours * weights[:, None, :, None]
        return weighted.flatten(start_dim=2)


class PhysicsCell(nn.Module):
    """The seminar's effective-stress RNN layer, stacked ``layers`` deep:

        S_t = phi(U S_{t-1} + W_f x_t / E^n),   E = the cell's stiffness / E_ref

    x_t are stress loads (kN/m, H dsigma'), E the dimensionless stiffness of the cell
    (its prior modulus over the training cells' geometric mean), n the nonlinear factor.
    Departures from the seminar's S_t = sigma(S_{t-1} + W_f x_t / E^n + b_f), made so
    that n is identifiable: phi is ReLU and there are no biases, which makes the cell
    positively homogeneous in its input (scaling every load by c scales every state by
    c), as consolidation with fixed storage is; a sigmoid or a bias would let the
    network imitate a cell-dependent gain and trade it against n. The recurrent matrix
    U starts at the identity (the seminar's S_{t-1}) and is trained, so that states can
    also forget, which a delayed (interbed) response needs. Upper layers are the same
    recurrence on the states below, without the stiffness, their U starting at zero.
    """

    def __init__(self, n_inputs: int, hidden: int, layers: int, exponent: float,
                 learn_exponent: bool):
        super().__init__()
        self.rnn = nn.RNN(n_inputs, hidden, num_layers=layers, nonlinearity="relu",
                          bias=False, batch_first=True)
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(torch.eye(hidden))
            # stacked accumulators would grow as t^layers: upper layers start memoryless
            for layer in range(1, layers):
                getattr(self.rnn, f"weight_hh_l{layer}").zero_()
        log_n = torch.tensor(math.log(exponent))
        if learn_exponent:
            self.log_exponent = nn.Parameter(log_n)
        else:
            self.register_buffer("log_exponent", log_n)

    @property
    def exponent(self) -> torch.Tensor:
        return self.log_exponent.exp()

    def forward(self, loads: torch.Tensor, stiffness: torch.Tensor) -> torch.Tensor:
        scaled = loads * stiffness[:, None, None] ** (-self.exponent)
        return self.rnn(scaled)[0]
