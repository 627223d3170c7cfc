"""``rnn-cnn``: a causal 1D convolution over time coupled with a recurrent layer.

The convolution picks out local temporal features (the shape of the last few months of
head change), the recurrent layer carries the long-term dependence; the RNN reads the
inputs and the convolution's features side by side. Causal: month t sees months
t - kernel + 1 .. t only.
"""

from __future__ import annotations

import torch
from torch import nn

from surrogates.layers import run_rnn
from surrogates.models.base import SequenceModel
from surrogates.neural_solver import register_network
from surrogates.presets import SEMINAR_CASE3


class RecurrentConvolutional(SequenceModel):
    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__(n_features, config, fitted)
        self.kernel = config["conv_kernel"]
        self.conv = nn.Conv1d(n_features, config["conv_channels"], self.kernel)
        layers = config["layers"]
        self.rnn = nn.RNN(n_features + config["conv_channels"], config["hidden"],
                          num_layers=layers, batch_first=True,
                          dropout=config["dropout"] if layers > 1 else 0.0)
        self.head = nn.Linear(config["hidden"], 1)

    def forward(self, x):
        local = self.conv(nn.functional.pad(x.transpose(1, 2), (self.kernel - 1, 0)))
        joined = torch.cat([x, torch.relu(local).transpose(1, 2)], dim=-1)
        return self.head(run_rnn(self.rnn, joined)).squeeze(-1)


register_network("rnn-cnn", RecurrentConvolutional,
                 defaults={"conv_channels": 16, "conv_kernel": 5},
                 presets={"seminar": SEMINAR_CASE3})
