"""The networks, one module per family, all ``SequenceModel`` s (see ``base``).

``network_class(name)`` gives the class of a network name (the solver names of
``surrogates.neural_solver``)."""

from __future__ import annotations

import importlib

#: network name -> "module:Class" (modules under surrogates.models)
NETWORKS = {
    "rnn": "recurrent:Recurrent",
    "lstm": "recurrent:Recurrent",
    "gru": "recurrent:Recurrent",
    "rnn-cnn": "rnn_cnn:RecurrentConvolutional",
    "am-gru": "attention:AttentionGRU",
    "lag-am-gru": "attention:AttentionGRU",
    "mhsa": "attention:SelfAttentionEncoder",
    "gw-lstm": "gw_lstm:GeographicLSTM",
    "pc-rnn": "pc_rnn:PhysicsRNN",
    "pc-rnn-linear": "pc_rnn:PhysicsRNN",
}


def network_class(name: str) -> type:
    module, cls = NETWORKS[name].split(":")
    return getattr(importlib.import_module(f"surrogates.models.{module}"), cls)
