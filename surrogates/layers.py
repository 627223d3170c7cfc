"""Network layers of the seminar that torch does not provide as such.

Shapes: B sequences (cells), L time steps, D features; attention looks back over a
causal window of W steps (the step itself and the W - 1 before it), so a model trained
on windows attends the same way over a whole series.
"""

from __future__ import annotations

import math
import warnings
from typing import List, Optional

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
        return run_rnn(self.rnn, scaled)


def _script(function):
    # torch.jit.script is deprecated in the pinned torch but still the only way, short of
    # a compiled extension, to run a per-step loop of tiny ops without Python's overhead
    # per op (torch is pinned, see constraints.txt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*",
                                category=DeprecationWarning)
        return torch.jit.script(function)


@_script
def _recur(projected: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
           relu: bool) -> torch.Tensor:
    states = torch.empty_like(projected)
    state = torch.zeros_like(projected[0])
    recurrent = weight.t()
    for t, drive in enumerate(projected.unbind(0)):
        pre = states[t]
        if bias is None:
            torch.mm(state, recurrent, out=pre)
        else:
            torch.addmm(bias, state, recurrent, out=pre)
        pre.add_(drive)
        state = pre.relu_() if relu else pre.tanh_()
    return states


@_script
def _recur_backward(grad: torch.Tensor, states: torch.Tensor, weight: torch.Tensor,
                    has_bias: bool, relu: bool):
    length = states.shape[0]
    grads, state = grad.unbind(0), states.unbind(0)
    initial = torch.zeros_like(state[0])
    # TorchScript types a variable at its first assignment: placeholders for the sums
    grad_weight = torch.zeros_like(weight)
    grad_bias = torch.zeros_like(weight[0])
    carried = initial
    grad_pre: List[torch.Tensor] = []
    for back in range(length):
        t = length - 1 - back
        incoming = grads[t] if back == 0 else carried.add_(grads[t])
        if relu:
            pre = torch.ops.aten.threshold_backward(incoming, state[t], 0)
        else:
            pre = torch.ops.aten.tanh_backward(incoming, state[t])
        grad_pre.append(pre)
        step_weight = pre.t().mm(state[t - 1] if t > 0 else initial)
        grad_weight = step_weight if back == 0 else grad_weight.add_(step_weight)
        if has_bias:
            grad_bias = pre.sum(0) if back == 0 else grad_bias.add_(pre.sum(0))
        if t > 0:
            carried = pre.mm(weight)
    grad_pre.reverse()
    return torch.stack(grad_pre, 0), grad_weight, grad_bias


class _Recurrence(torch.autograd.Function):
    """One layer's recurrence S_t = phi(U S_{t-1} [+ b] + P_t) over time-major projected
    inputs P [L, B, H], from S_0 = 0, with its backward pass written out."""

    @staticmethod
    def forward(ctx, projected, weight, bias, relu):
        states = _recur(projected, weight, bias, relu)
        ctx.save_for_backward(states, weight)
        ctx.has_bias, ctx.relu = bias is not None, relu
        return states

    @staticmethod
    def backward(ctx, grad):
        states, weight = ctx.saved_tensors
        grad_projected, grad_weight, grad_bias = _recur_backward(
            grad.contiguous(), states, weight, ctx.has_bias, ctx.relu)
        return grad_projected, grad_weight, grad_bias if ctx.has_bias else None, None


def run_rnn(rnn: nn.RNN, x: torch.Tensor) -> torch.Tensor:
    """The output [B, L, H] of ``rnn`` (a batch-first, one-direction ``nn.RNN``) on x
    [B, L, D] from a zero state. On a CPU, bit for bit what ``rnn(x)[0]`` gives,
    gradients included, in less than half the time; elsewhere ``rnn(x)[0]`` itself.

    torch runs an Elman RNN on the CPU as a loop of three small ops per step and layer,
    each recorded for autograd (an LSTM gets a fused oneDNN kernel instead): with a few
    units per cell the time goes into dispatching and recording ops, not arithmetic.
    Here the loop runs in TorchScript without recording, and the backward pass is the
    same ops autograd would run, in the same order (the weight gradients summed from
    the last step back), so that training learns exactly the same weights."""
    if not rnn.batch_first or rnn.bidirectional or rnn.proj_size or rnn.mode not in (
            "RNN_RELU", "RNN_TANH"):
        raise ValueError("run_rnn takes a batch-first, one-direction Elman nn.RNN")
    if x.device.type != "cpu":
        return rnn(x)[0]              # cuDNN runs the whole sequence in one kernel
    relu = rnn.mode == "RNN_RELU"
    layer_input = x.transpose(0, 1)
    for layer in range(rnn.num_layers):
        if layer and rnn.dropout and rnn.training:
            layer_input = nn.functional.dropout(layer_input, rnn.dropout, True)
        bias = getattr(rnn, f"bias_hh_l{layer}") if rnn.bias else None
        projected = nn.functional.linear(layer_input, getattr(rnn, f"weight_ih_l{layer}"),
                                         getattr(rnn, f"bias_ih_l{layer}") if rnn.bias else None)
        layer_input = _Recurrence.apply(projected, getattr(rnn, f"weight_hh_l{layer}"), bias,
                                        relu)
    return layer_input.transpose(0, 1)
