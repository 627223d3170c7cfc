"""Attention networks: ``am-gru`` / ``lag-am-gru`` and ``mhsa``.

``AttentionGRU`` (seminar case 2): a GRU whose every state attends (additive, Bahdanau)
over its causal window of past states; the displacement is read from the state and its
attention context. ``lag-am-gru`` is the same network fed, in addition, each aquifer's
head change shifted by the cell's interbed lag time (feature ``lagged_head_change``).

``SelfAttentionEncoder``: a pre-norm Transformer encoder whose multi-head self-attention
looks over a causal window of months, with a learned bias per head and lag.

Both return their attention weights on request (``return_attention=True``) for plots:
[B, L, W] and [B, heads, layers, L, W] respectively, index w = lag w steps.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.errors import InputError
from surrogates.layers import AdditiveAttention, WindowedSelfAttention
from surrogates.models.base import SequenceModel
from surrogates.neural_solver import register_network
from surrogates.presets import COMMON, SEMINAR_CASE2


class AttentionGRU(SequenceModel):
    has_attention = True

    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__(n_features, config, fitted)
        hidden, layers = config["hidden"], config["layers"]
        self.gru = nn.GRU(n_features, hidden, num_layers=layers, batch_first=True,
                          dropout=config["dropout"] if layers > 1 else 0.0)
        self.attention = AdditiveAttention(hidden, config["attention_size"],
                                           config["attention_window"])
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, x, return_attention: bool = False):
        states = self.gru(x)[0]
        context, weights = self.attention(states)
        y = self.head(torch.cat([states, context], dim=-1)).squeeze(-1)
        return (y, weights) if return_attention else y


class _EncoderBlock(nn.Module):
    def __init__(self, d_model: int, heads: int, width: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = WindowedSelfAttention(d_model, heads, width)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(),
                                  nn.Linear(2 * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        mixed, weights = self.attention(self.norm1(x))
        x = x + self.drop(mixed)
        return x + self.drop(self.feed(self.norm2(x))), weights


class SelfAttentionEncoder(SequenceModel):
    has_attention = True

    @classmethod
    def check(cls, config):
        if config["hidden"] % config["heads"]:
            raise InputError("solver options", "heads", f"hidden = {config['hidden']} is not "
                             f"a multiple of heads = {config['heads']}")

    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__(n_features, config, fitted)
        d = config["hidden"]
        self.embed = nn.Linear(n_features, d)
        self.blocks = nn.ModuleList(
            _EncoderBlock(d, config["heads"], config["attention_window"], config["dropout"])
            for _ in range(config["layers"]))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1)

    def forward(self, x, return_attention: bool = False):
        h = self.embed(x)
        weights = []
        for block in self.blocks:
            h, w = block(h)
            weights.append(w)
        y = self.head(self.norm(h)).squeeze(-1)
        return (y, torch.stack(weights, dim=2)) if return_attention else y


_ATTENTION = {"attention_window": 24, "attention_size": 32, "inference_batch": 64}
register_network("am-gru", AttentionGRU, defaults=_ATTENTION,
                 presets={"seminar": SEMINAR_CASE2})
register_network("lag-am-gru", AttentionGRU,
                 defaults={**_ATTENTION,
                           "features": COMMON["features"] + ",lagged_head_change"},
                 presets={"seminar": SEMINAR_CASE2})
register_network("mhsa", SelfAttentionEncoder,
                 defaults={"layers": 2, "heads": 4, "attention_window": 24,
                           "inference_batch": 64},
                 presets={"fast": {"heads": 2}})
