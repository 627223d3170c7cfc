"""What every network is: a map from a batch of cell sequences to displacement.

A ``SequenceModel`` takes inputs with a time axis ([B, L, ...], "dynamic") and per-cell
inputs ([B, ...], "static") as keyword tensors and returns [B, L]: the displacement of
each cell since the first step of the sequence, in units of the target scale (the
trainer compares it with observations up to a constant per sequence, and predict()
subtracts its first step). Which inputs a network takes, and any state it derives from
the training data before training (``prepare``), is the network's business.
"""

from __future__ import annotations

import numpy as np
from torch import nn


class SequenceModel(nn.Module):
    #: True when forward(..., return_attention=True) also returns attention weights
    has_attention = False
    #: True when a cell's output depends on that cell's inputs only (False: it also
    #: reads other cells', e.g. its neighbours')
    cellwise = True

    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__()
        self.config = config
        self.fitted = fitted

    @classmethod
    def check(cls, config: dict) -> None:
        """Refuse (InputError) a configuration this network cannot be built with; the
        keys every network has are checked by ``surrogates.presets``."""

    @classmethod
    def prepare(cls, case, config: dict, train_mask: np.ndarray, target: np.ndarray) -> dict:
        """JSON-able state learnt from the training part before training: ``target``
        [N, T] (m) is NaN outside ``train_mask``. None by default."""
        return {}

    @classmethod
    def inputs(cls, case, cells: np.ndarray, features, config: dict, fitted: dict,
               extra=None):
        """(dynamic, static) dicts of numpy arrays for ``cells``: the forward() keywords."""
        return {"x": features.transform(case, cells, extra)}, {}

    def describe(self) -> dict:
        """Interpretable fitted parameters (JSON-able), for the fit report."""
        return {}
