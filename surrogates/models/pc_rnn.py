"""``pc-rnn`` and ``pc-rnn-linear`` (seminar case 3): the physics-constrained RNN.

Input: the stress load of each aquifer, x_t = H dsigma'_t with dsigma'_t = -gamma_w dh_t
(kN/m; the seminar's [dsigma'_t, H] joined as the effective-stress principle joins them:
a layer of thickness H and modulus E shortens by H dsigma' / E). The recurrent layer is
``surrogates.layers.PhysicsCell``: S_t = ReLU(U S_{t-1} + W_f x_t / E^n), read out
linearly, y_t = W_g S_t.

Identifiability of E and n. With W_f trained, only W_f / E^n is identified for one E;
a trainable scale of E trades exactly against the norm of W_f. So the stiffness is per
cell and fixed by a physical prior: E_c = gamma_w / Sskv_c (the constrained modulus of
the cell's compressible beds, ``features.prior_modulus``) divided by E_ref, the geometric
mean of the training cells' priors (its scale is W_f's business). The nonlinear factor n
is then identified by how the response varies with E_c across cells: the cell is
positively homogeneous, so a cell c responds as E_c^-n times a response common to all
cells, and nothing else in the network depends on E_c. ``pc-rnn`` trains n (stored as
log n, so n > 0); ``pc-rnn-linear`` fixes n = 1 (the seminar's model "without n").
"""

from __future__ import annotations

import numpy as np
from torch import nn

from surrogates.features import prior_modulus
from surrogates.layers import PhysicsCell
from surrogates.models.base import SequenceModel
from surrogates.neural_solver import register_network
from surrogates.presets import SEMINAR_CASE3


class PhysicsRNN(SequenceModel):
    def __init__(self, n_features: int, config: dict, fitted: dict):
        super().__init__(n_features, config, fitted)
        self.cell = PhysicsCell(n_features, config["hidden"], config["layers"],
                                config["exponent"], config["learn_exponent"])
        self.head = nn.Linear(config["hidden"], 1, bias=False)

    @classmethod
    def prepare(cls, case, config, train_mask, target):
        cells = np.flatnonzero(train_mask.any(axis=1))
        modulus = prior_modulus(case.without_observations().take_cells(cells))
        return {"reference_modulus_kpa": float(np.exp(np.mean(np.log(modulus))))}

    @classmethod
    def inputs(cls, case, cells, features, config, fitted, extra=None):
        stiffness = (prior_modulus(case.without_observations().take_cells(cells))
                     / fitted["reference_modulus_kpa"])
        return ({"x": features.transform(case, cells, extra)},
                {"stiffness": stiffness.astype(np.float32)})

    def forward(self, x, stiffness):
        return self.head(self.cell(x, stiffness)).squeeze(-1)

    @property
    def exponent(self) -> float:
        return float(self.cell.exponent.detach())

    def describe(self) -> dict:
        return {"exponent_n": self.exponent,
                "reference_modulus_kpa": self.fitted["reference_modulus_kpa"]}


_DEFAULTS = {"features": "stress_load", "hidden": 16, "layers": 2, "exponent": 1.0}
#: fast keeps the two layers (the generic fast layer has one) with 8 units; the seminar's
#: coupled model (case 3) has 7 hidden layers
_PRESETS = {"fast": {"hidden": 8, "layers": 2}, "seminar": {**SEMINAR_CASE3, "layers": 7}}
register_network("pc-rnn", PhysicsRNN, kind="hybrid", presets=_PRESETS,
                 defaults={**_DEFAULTS, "learn_exponent": True})
register_network("pc-rnn-linear", PhysicsRNN, kind="hybrid", presets=_PRESETS,
                 defaults={**_DEFAULTS, "learn_exponent": False})
