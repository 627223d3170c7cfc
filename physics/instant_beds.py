"""No-delay beds and the coarse-grained skeleton: compaction at once from the aquifer head.

A no-delay bed of total thickness b (m) follows its aquifer head without lag: over a
step it releases b * storage_release(...) (physics.storage), Sskv below its own
preconsolidation head and Sske above it, the preconsolidation head following the head
down. The coarse-grained skeleton is the same with Sskv = Sske (elastic only), i.e.
Sske b (h0 - h). Heads are linear between case times, so with constant storage the
result is exact on the case steps; with stress-dependent storage Ss is lagged per
(sub)step as for the delay beds.
"""

from __future__ import annotations

import numba
import numpy as np

from physics.storage import MIN_EFFECTIVE_STRESS, storage_release
from physics.windows import windows

#: Beds advanced together by one thread (contiguous in memory, so the loop vectorises).
LANES = 256


def run_instant_beds(aquifer_head, days, thickness, sske, sskv, stress_dependent,
                     stress_head, substeps, preconsolidation_head, compaction):
    """Cumulative compaction (m) of no-delay beds at the case times, in kernel calls
    short enough for Ctrl-C (``physics.windows``; the cut changes no digit).

    aquifer_head : [L, T] m; days : [T]; thickness : [L] m (total);
    sske, sskv : [L] 1/m, or with ``stress_dependent`` log10(e) C / (1 + e0), divided by
        sigma' = stress_head - h (m) at the start of each sub-step;
    stress_head : [L] m (sigma + z at the bed); substeps : sub-steps per case step
        (only matter with stress-dependent storage);
    preconsolidation_head : [L] m, state in/out (lowered as the head falls).
    compaction : [L, T] out, column 0 = 0.
    Returns [L] bool: True where the effective stress fell to MIN_EFFECTIVE_STRESS.
    """
    n_beds, n_times = aquifer_head.shape
    # the kernel has no bounds checks: refuse inconsistent arrays here
    if (days.shape[0] != n_times or thickness.shape[0] != n_beds
            or sske.shape[0] != n_beds or sskv.shape[0] != n_beds
            or stress_head.shape[0] != n_beds or preconsolidation_head.shape[0] != n_beds
            or compaction.shape != (n_beds, n_times)):
        raise ValueError("run_instant_beds: inconsistent array shapes")
    bad_stress = np.zeros(n_beds, dtype=np.bool_)
    total = np.zeros(n_beds)
    compaction[:, 0] = 0.0
    for first_chunk, end_chunk, first_step, end_step in windows(
            -(-n_beds // LANES), n_times, LANES * substeps, numba.get_num_threads()):
        advance(aquifer_head, days, thickness, sske, sskv, stress_dependent, stress_head,
                 substeps, preconsolidation_head, total, bad_stress, compaction,
                 first_chunk, end_chunk, first_step, end_step)
    return bad_stress


@numba.njit(parallel=True, cache=True, fastmath={"nsz", "contract"})
def advance(aquifer_head, days, thickness, sske, sskv, stress_dependent, stress_head,
             substeps, preconsolidation_head, total, bad_stress, compaction,
             first_chunk, end_chunk, first_step, end_step):
    """The kernel of ``run_instant_beds``: chunks first_chunk .. end_chunk - 1 through
    steps first_step .. end_step - 1; ``total`` [L] (m) and ``bad_stress`` in/out."""
    n_beds = aquifer_head.shape[0]
    for c in numba.prange(end_chunk - first_chunk):
        j0 = (first_chunk + c) * LANES
        j1 = min(j0 + LANES, n_beds)
        for k in range(first_step, end_step):
            for s in range(substeps):
                for j in range(j0, j1):
                    h_prev = aquifer_head[j, k - 1]
                    rise = aquifer_head[j, k] - h_prev
                    h_old = h_prev + rise * (s / substeps)
                    h_new = h_prev + rise * ((s + 1) / substeps)
                    se = sske[j]
                    sv = sskv[j]
                    if stress_dependent:
                        sigma = stress_head[j] - h_old
                        if sigma < MIN_EFFECTIVE_STRESS:
                            bad_stress[j] = True
                            sigma = MIN_EFFECTIVE_STRESS
                        se /= sigma
                        sv /= sigma
                    pc = preconsolidation_head[j]
                    s_now = sv if h_new < pc else se
                    total[j] += thickness[j] * storage_release(s_now, se, pc, h_old, h_new)
                    preconsolidation_head[j] = min(pc, h_new)
            for j in range(j0, j1):
                compaction[j, k] = total[j]
