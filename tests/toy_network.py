"""A toy network: everything adding a network takes, in one module. The tests import it
(tests/test_surrogates_plugin.py); a real network is such a module under
surrogates/models, found without any import list."""

import torch
from torch import nn

from surrogates.models.base import SequenceModel
from surrogates.neural_solver import register_network


class ToyNetwork(SequenceModel):
    """Displacement as the running sum of a small map of each month's inputs: a rate
    that follows the head change, about the simplest causal model of compaction."""

    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__(n_features, config, fitted)
        self.rate = nn.Sequential(nn.Linear(n_features, config["hidden"]), nn.Tanh(),
                                  nn.Linear(config["hidden"], 1))

    def forward(self, x):
        return torch.cumsum(self.rate(x).squeeze(-1), dim=1)


register_network("toy-net", ToyNetwork, defaults={"hidden": 8, "epochs": 100},
                 presets={"fast": {"hidden": 4}})
