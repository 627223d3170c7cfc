"""One batched forward run of every ensemble member at every calibrated cell.

The members are not looped over in Python: a chunk of cells is replicated once per
member into one case (``ParameterSpace.replicate``: member-major cells, each with its
member's parameters) and the ``terzaghi`` kernels advance all of them in one parallel
Numba call per storage kind, exactly as they advance the cells of any case. Memory is
bounded by the chunk: ``chunk`` member-cells at a time (heads, state and compaction of
one chunk are a few hundred MB at 8192 member-cells, 4 aquifers and 264 months).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.case import Case
from physics.calibration.parameters import ParameterSpace
from physics.solver import TerzaghiSolver


def first_times(case: Case, n_times: int) -> Case:
    """``case`` over its first ``n_times`` times only (a calibration needs no more
    than the last time it reads)."""
    if n_times == case.n_times:
        return case
    return replace(case, times=case.times[:n_times],
                   aquifers=tuple(replace(a, head=a.head[:, :n_times]) for a in case.aquifers),
                   observations=case.observations.take(np.arange(case.n_cells)))


def simulate(case: Case, space: ParameterSpace, members: np.ndarray, physics: dict,
             chunk: int = 8192):
    """Run members [M, P, N] on ``case`` (N cells), a chunk of cells at a time.

    physics : terzaghi options (nodes, substeps, scheme, threads).
    Yields (cells [n] indices, compaction [M, A, n, T] m, shortening positive); the
    displacement is minus its sum over aquifers.
    """
    n_members, _, n = members.shape
    solver = TerzaghiSolver(**physics)
    per_chunk = max(1, chunk // n_members)
    for first in range(0, n, per_chunk):
        cells = np.arange(first, min(first + per_chunk, n))
        replicated = space.replicate(case.take_cells(cells), members[:, :, cells])
        by_aquifer = np.zeros((len(case.aquifers), n_members * len(cells), case.n_times))
        for (a, _), part in solver.compaction_parts(replicated).items():
            by_aquifer[a] += part
        yield cells, np.transpose(
            by_aquifer.reshape(len(case.aquifers), n_members, len(cells), -1), (1, 0, 2, 3))
