"""``gw-lstm`` (seminar case 1): the geographically weighted LSTM.

For each cell, the inputs of its K nearest cells (itself first) are weighted by a
spatial kernel of their distance (``surrogates.geography``; Gaussian or bisquare, the
bandwidth chosen on the training cells only) into the matrix X_t^w, which enters the
forget, input, output and cell gates in place of the cell's own inputs:
f_t = sigma(W_f [h_{t-1}, X_t^w] + b_f), and so on: an LSTM over X_t^w.

Neighbours are taken among the cells of the case being fitted or predicted, from their
inputs (heads, thickness, storage), which every cell has; never from observations.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from engine.errors import InputError
from engine.evaluate import linear_rate
from surrogates.geography import fit_bandwidth, kernel_weights, nearest
from surrogates.layers import GeographicWeights
from surrogates.models.base import SequenceModel
from surrogates.neural_solver import register_network


def _xy(case) -> np.ndarray:
    return np.column_stack([case.cells.x, case.cells.y])


class GeographicLSTM(SequenceModel):
    cellwise = False     # each cell's inputs weigh its neighbours'

    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__(n_features, config, fitted)
        layers = config["layers"]
        self.weigh = GeographicWeights()
        self.lstm = nn.LSTM(config["neighbours"] * n_features, config["hidden"],
                            num_layers=layers, batch_first=True,
                            dropout=config["dropout"] if layers > 1 else 0.0)
        self.head = nn.Linear(config["hidden"], 1)

    @classmethod
    def check(cls, config):
        if config["kernel"] not in ("gaussian", "bisquare"):
            raise InputError("solver options", "kernel", f'"{config["kernel"]}" is not '
                             '"gaussian" or "bisquare"')

    @classmethod
    def prepare(cls, case, config, train_mask, target):
        rate = linear_rate(case.days, target, train_mask)      # m/day per training cell
        known = np.isfinite(rate)
        bandwidth = fit_bandwidth(_xy(case)[known], rate[known], config["kernel"],
                                  config["neighbours"])
        return {"bandwidth": bandwidth}

    @classmethod
    def inputs(cls, case, cells, features, config, fitted, extra=None):
        k = config["neighbours"]
        distance, index = nearest(_xy(case), _xy(case)[cells], k)
        weights = kernel_weights(distance, fitted["bandwidth"], config["kernel"])
        if index.shape[1] < k:
            # fewer cells than neighbours: repeat the cell itself with weight 0
            pad = k - index.shape[1]
            index = np.hstack([index, np.repeat(index[:, :1], pad, axis=1)])
            weights = np.hstack([weights, np.zeros((len(cells), pad))])
        bank, local = np.unique(index, return_inverse=True)
        x = features.transform(case, bank, extra)[local.reshape(index.shape)]  # [n, K, T, F]
        return ({"neighbours": np.ascontiguousarray(x.transpose(0, 2, 1, 3))},
                {"weights": weights.astype(np.float32)})

    def forward(self, neighbours, weights):
        return self.head(self.lstm(self.weigh(neighbours, weights))[0]).squeeze(-1)

    def describe(self) -> dict:
        return {"bandwidth_m": self.fitted["bandwidth"]}


# seminar case 1: 4 hidden layers of 64 units, 36-step windows
register_network("gw-lstm", GeographicLSTM, defaults={"neighbours": 8, "kernel": "gaussian"},
                 presets={"seminar": {"layers": 4, "hidden": 64, "window": 36}})
