"""Configurations of the neural solvers: the keys every network has, the preset layers
common to all networks, and how a configuration is resolved.

A configuration is one flat dict (every key is also a solver option, so
``--option hidden=64`` overrides it on the command line). It is resolved as

    COMMON  <-  network defaults  <-  generic preset layer  <-  network's preset  <-  options

The network defaults and the network's own preset entries are declared with the network,
in its module under ``surrogates.models`` (``register_network``); this module holds only
what every network shares.

Presets:

``default``  sizes and training that fit the generated cases on a CPU in minutes.
``fast``     small networks and few epochs, for the test suite (seconds).
``seminar``  the hyperparameter tables of the seminar, for the networks it gives
             them for: gw-lstm (case 1: 4 hidden layers of 64 units, 36-step windows),
             am-gru and lag-am-gru (case 2: ``SEMINAR_CASE2``), pc-rnn, pc-rnn-linear
             and rnn-cnn (case 3: ``SEMINAR_CASE3``; 7 hidden layers for the coupled
             model). A network has it only where it declares it.

``validation_fraction`` is the share of the training part held for early stopping;
it is used where a split is built from a text such as "spatial:0.7" (``fit_command``).
"""

from __future__ import annotations

from engine.errors import InputError, suggest
from engine.registry import solver_class
from engine.solver import Limit

#: Keys every neural network has. Units: lr per step; window and attention windows in
#: time steps (months on a monthly case); clip is the gradient-norm limit.
COMMON = {
    "features": "head_change,thickness,inelastic_storage",
    "hidden": 32,
    "layers": 1,
    "dropout": 0.0,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "batch_size": 16,
    "epochs": 300,
    "patience": 30,
    "clip": 1.0,
    "window": 0,                  # training sequence length; 0 = the whole series
    "validation_fraction": 0.1,
    "seed": 0,
    "device": "auto",             # "auto" (CUDA when present), "cpu", "cuda", "cuda:1"...
    # torch CPU threads for training (0: torch's default). One: these small networks gain
    # little from more, and lose much when the machine is shared (threads then wait for
    # each other at every time step)
    "threads": 1,
    "workers": 0,                 # predict(): chunks run in parallel; 0 = torch's threads
    "inference_batch": 256,       # cells per forward pass in predict()
    "progress": False,
}

#: Every preset name, in the order error messages list them.
PRESETS = ("default", "fast", "seminar")

#: The ranges of the network keys, checked whenever a network solver is built or loaded
#: (``engine.solver.check_option``). Sizes are bounded so that no configuration reaches
#: for more memory than a workstation has: hidden 2048 x layers 32 is about 2 GB of LSTM
#: weights and Adam state.
LIMITS = {
    "hidden": Limit(1, 2048, why="weights grow with hidden squared"),
    "layers": Limit(1, 32),
    "dropout": Limit(0.0, 1.0, open_high=True),
    "lr": Limit(1e-12, 10.0),
    "weight_decay": Limit(0.0, 10.0),
    "batch_size": Limit(1, 1_000_000),
    "epochs": Limit(1, 1_000_000),
    "patience": Limit(0, 1_000_000),
    "clip": Limit(0.0, 1e6),
    "window": Limit(0, 100_000),
    "validation_fraction": Limit(0.0, 1.0, open_high=True),
    "seed": Limit(0, 2**32 - 1, why="seeds are unsigned 32-bit"),
    "threads": Limit(0, 4096),
    "workers": Limit(0, 4096),
    "inference_batch": Limit(1, 1_000_000),
    "attention_window": Limit(1, 10_000),
    "attention_size": Limit(1, 2048),
    "heads": Limit(1, 64),
    "neighbours": Limit(1, 1000),
    "conv_channels": Limit(1, 2048),
    "conv_kernel": Limit(1, 1001),
    "exponent": Limit(1e-6, 100.0),
}

#: The presets every network has, and what each sets over the network's defaults (a
#: network's own entry for the preset goes on top). ``seminar`` is not here: the seminar
#: gives tables for some networks only.
GENERIC = {
    "default": {},
    "fast": {"hidden": 16, "layers": 1, "lr": 1e-2, "batch_size": 32, "epochs": 60,
             "patience": 15},
}

#: The seminar's training tables, shared by the networks of one case study.
#: Case 2 (am-gru, lag-am-gru): learning rate 0.001, 3 hidden layers, batch 16, 500 epochs,
#: Adam, training:validation 7:3.
SEMINAR_CASE2 = {"lr": 1e-3, "layers": 3, "batch_size": 16, "epochs": 500,
                 "validation_fraction": 0.3}
#: Case 3 (pc-rnn, pc-rnn-linear, rnn-cnn): learning rate 0.001, batch 16, 2000 epochs,
#: Adam, 8:2.
SEMINAR_CASE3 = {"lr": 1e-3, "batch_size": 16, "epochs": 2000, "validation_fraction": 0.2}


def presets_of(network) -> list[str]:
    """The presets ``network`` (a registered network's solver class) can be run with."""
    return [p for p in PRESETS if p in GENERIC or p in network.presets]


def configuration(network, preset: str = "default", options: dict | None = None) -> dict:
    """The configuration of ``network`` (a registered network's solver class, see
    ``surrogates.neural_solver.register_network``) under ``preset`` with ``options``
    on top."""
    name = network.network
    if preset not in PRESETS:
        raise InputError("solver options", "preset", f'unknown preset "{preset}"'
                         f"{suggest(preset, PRESETS)}; presets: {', '.join(PRESETS)}")
    if preset not in presets_of(network):
        raise InputError("solver options", "preset", f'preset "{preset}" has no '
                         f"configuration for {name}; it has: "
                         f"{', '.join(presets_of(network))}")
    config = {**COMMON, **network.network_defaults, **GENERIC.get(preset, {}),
              **network.presets.get(preset, {})}
    for key, value in (options or {}).items():
        if key == "preset":
            continue
        if key not in config:
            raise InputError("solver options", key, f'unknown option "{key}" for {name}'
                             f"{suggest(key, config)}")
        config[key] = type(config[key])(value) if not isinstance(config[key], bool) else bool(value)
    _check(config)
    network.model_class.check(config)
    return {"network": name, "preset": preset, **config}


def resolve(network: str, preset: str = "default", options: dict | None = None) -> dict:
    """The configuration of the network registered as ``network`` under ``preset``."""
    return configuration(solver_class(network), preset, options)


def _check(config: dict) -> None:
    """Refuse values no network can train with (each network checks its own keys in
    its model class's ``check``)."""
    positive = ("hidden", "layers", "batch_size", "epochs", "inference_batch", "lr",
                "attention_window", "attention_size", "heads", "neighbours",
                "conv_channels", "conv_kernel", "exponent")
    for key in positive:
        if key in config and not config[key] > 0:
            raise InputError("solver options", key, f"{config[key]} is not > 0")
    for key in ("patience", "window", "threads", "workers", "weight_decay", "clip", "dropout"):
        if config[key] < 0:
            raise InputError("solver options", key, f"{config[key]} is not >= 0")
    if not 0.0 <= config["validation_fraction"] < 1.0:
        raise InputError("solver options", "validation_fraction",
                         f"{config['validation_fraction']} is not in [0, 1)")
