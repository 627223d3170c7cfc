"""check_solver (engine.conformance) passes for every neural, hybrid and TFN solver."""

import pytest

from engine.conformance import check_solver
from surrogates.neural_solver import network_names

SOLVERS = network_names() + ["residual:terzaghi+gru", "residual:terzaghi+pc-rnn"]


@pytest.mark.parametrize("name", SOLVERS)
def test_neural_solvers_conform(name):
    passed = check_solver(name, preset="fast")
    assert {"no peeking", "determinism", "save/load", "sign", "first time"} <= set(passed)


def test_tfn_conforms():
    passed = check_solver("tfn")
    assert {"no peeking", "determinism", "save/load"} <= set(passed)
