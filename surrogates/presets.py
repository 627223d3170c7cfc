"""Configurations of the neural solvers: per-network defaults and named presets.

A configuration is one flat dict (every key is also a solver option, so
``--option hidden=64`` overrides it on the command line). It is resolved as

    network defaults  <-  preset  <-  options given explicitly

Presets:

``default``  sizes and training that fit the generated cases on a CPU in minutes.
``fast``     small networks and few epochs, for the test suite (seconds).
``seminar``  the hyperparameter tables of the seminar, for the networks it gives
             them for: gw-lstm (case 1: 4 hidden layers of 64 units, 36-step windows),
             am-gru and lag-am-gru (case 2: learning rate 0.001, 3 hidden layers,
             batch 16, 500 epochs, Adam, training:validation 7:3), pc-rnn,
             pc-rnn-linear and rnn-cnn (case 3: learning rate 0.001, 7 hidden layers
             for the coupled model, batch 16, 2000 epochs, Adam, 8:2).

``validation_fraction`` is the share of the training part held for early stopping;
it is used where a split is built from a text such as "spatial:0.7" (``fit_command``).
"""

from __future__ import annotations

from engine.errors import InputError, suggest

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

_ATTENTION = {"attention_window": 24, "attention_size": 32, "inference_batch": 64}

#: Per network: its family keys and its defaults over COMMON.
NETWORKS = {
    "rnn": {},
    "lstm": {"hidden": 16},       # as accurate as 32 on the generated cases, twice as fast
    "gru": {},
    "rnn-cnn": {"conv_channels": 16, "conv_kernel": 5},
    "am-gru": dict(_ATTENTION),
    "lag-am-gru": {**_ATTENTION, "features": COMMON["features"] + ",lagged_head_change"},
    "mhsa": {"layers": 2, "heads": 4, "attention_window": 24, "inference_batch": 64},
    "gw-lstm": {"neighbours": 8, "kernel": "gaussian"},
    "pc-rnn": {"features": "stress_load", "hidden": 16, "layers": 2, "exponent": 1.0,
               "learn_exponent": True},
    "pc-rnn-linear": {"features": "stress_load", "hidden": 16, "layers": 2, "exponent": 1.0,
                      "learn_exponent": False},
}

_FAST = {"hidden": 16, "layers": 1, "lr": 1e-2, "batch_size": 32, "epochs": 60,
         "patience": 15}
_CASE2 = {"lr": 1e-3, "layers": 3, "batch_size": 16, "epochs": 500,
          "validation_fraction": 0.3}
_CASE3 = {"lr": 1e-3, "batch_size": 16, "epochs": 2000, "validation_fraction": 0.2}

PRESETS = {
    "default": {name: {} for name in NETWORKS},
    "fast": {**{name: dict(_FAST) for name in NETWORKS},
             "mhsa": {**_FAST, "heads": 2},
             "pc-rnn": {**_FAST, "hidden": 8, "layers": 2},
             "pc-rnn-linear": {**_FAST, "hidden": 8, "layers": 2}},
    "seminar": {
        "gw-lstm": {"layers": 4, "hidden": 64, "window": 36},
        "am-gru": dict(_CASE2),
        "lag-am-gru": dict(_CASE2),
        "pc-rnn": {**_CASE3, "layers": 7},
        "pc-rnn-linear": {**_CASE3, "layers": 7},
        "rnn-cnn": dict(_CASE3),
    },
}


def network_defaults(network: str) -> dict:
    """The default configuration of ``network`` (its keys are its solver options)."""
    return {**COMMON, **NETWORKS[network]}


def resolve(network: str, preset: str = "default", options: dict | None = None) -> dict:
    """The configuration of ``network`` under ``preset`` with ``options`` on top."""
    if preset not in PRESETS:
        raise InputError("solver options", "preset", f'unknown preset "{preset}"'
                         f"{suggest(preset, PRESETS)}; presets: {', '.join(PRESETS)}")
    if network not in PRESETS[preset]:
        have = [p for p in PRESETS if network in PRESETS[p]]
        raise InputError("solver options", "preset", f'preset "{preset}" has no '
                         f"configuration for {network}; it has: {', '.join(have)}")
    config = {**network_defaults(network), **PRESETS[preset][network]}
    for key, value in (options or {}).items():
        if key == "preset":
            continue
        if key not in config:
            raise InputError("solver options", key, f'unknown option "{key}" for {network}'
                             f"{suggest(key, config)}")
        config[key] = type(config[key])(value) if not isinstance(config[key], bool) else bool(value)
    _check(network, config)
    return {"network": network, "preset": preset, **config}


def _check(network: str, config: dict) -> None:
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
    if network == "mhsa" and config["hidden"] % config["heads"]:
        raise InputError("solver options", "heads", f"hidden = {config['hidden']} is not "
                         f"a multiple of heads = {config['heads']}")
    if network == "gw-lstm" and config["kernel"] not in ("gaussian", "bisquare"):
        raise InputError("solver options", "kernel", f'"{config["kernel"]}" is not '
                         '"gaussian" or "bisquare"')
