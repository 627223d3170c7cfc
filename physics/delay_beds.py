"""Delay interbeds: 1D vertical consolidation of many beds at once (Numba).

Each bed (a "lane": one interbed system at one cell) drains to its aquifer through its
faces: Ss dh/dt = Kv d2h/dz2, heads in m, Kv in m/d, time in days. A bed is discretised
into cells (finite volumes) of a grid given in units of the bed thickness b; the
equations are divided by b/dt so that one grid serves beds of any thickness, with the
per-bed number alpha dt = Kv dt / b^2.

Time: backward Euler on sub-steps of the case steps; the aquifer head varies linearly
between case times and enters each sub-step at its end. Storage: the exact
piecewise-linear release of ``physics.storage.storage_release`` per node, with Sskv
below the node's preconsolidation head and Sske above it, the preconsolidation head
being held at its start-of-step value during the step and lowered to the new head at
its end (it never rises). The regime of every node is iterated to convergence inside
each step (a semi-smooth Newton / active-set iteration: solve with the current
regimes, re-classify every node from its new head, repeat until none changes; it ends
in a few solves because the release is monotone and convex in the head and the matrix
is an M-matrix). A node within REGIME_TOLERANCE of its preconsolidation head keeps its
regime: both regimes release the same water there to round-off, and without the band
a node resting on its preconsolidation head can flip for ever. Failing to converge
within ``max_iterations`` solves is reported. Each step starts from a guess of the
regimes that extrapolates every node's head from the last step, which saves solves
where heads keep their trend; the converged result does not depend on it.

Layout and speed: beds are processed in chunks of LANES, one chunk per thread (prange),
with the state of a chunk in one array work[node, field, bed] (beds innermost: 8 fields
x 10 nodes x 32 beds x 8 bytes = 20 KB, resident in L1 through the whole time loop) so
the Thomas sweeps run across beds in packed vector instructions; the beds of a chunk
iterate on their regimes in lockstep (measured faster than smaller groups, whose
sweeps are latency-bound). Case heads and results are [bed, time].

Two grids (``make_grid``):

* ``"default"``: half of the bed, from a drained face to the no-flux centre (the bed is
  doubly drained and symmetric), in (nodes + 1) // 2 cells graded toward the face by
  the smooth mapping z = (b/2) (exp(a s) - 1) / (exp(a) - 1), s uniform in [0, 1],
  a = GRADING. Fine cells where the early-time gradients are steep; the mapping is
  fixed, so refinement converges at second order in space. Compaction is doubled.
* ``"csub"``: MODFLOW 6 CSUB's delay-bed discretisation, mirrored exactly
  (gwf-csub.f90: csub_delay_assemble_fc, csub_delay_sln, csub_delay_calc_comp,
  csub_ad, csub_set_initial_state) for the head-based formulation of a confined cell
  without water compressibility (BETA = 0): the full bed in ``nodes`` cells of
  dz = b/nodes; conductance Kv/dz between cells and 2 Kv/dz from each face cell to the
  aquifer head (csub's c and c2); backward Euler with the aquifer head at the end of the
  step; storage dz/dt (ssk (es - pcs) + sske (pcs - es0)) with ssk = Sskv where the node's
  effective stress exceeds its preconsolidation stress (head below preconsolidation head)
  and Sske otherwise, pcs the value at the start of the step, raised to the current
  effective stress at the start of the next step (csub_ad); delay-bed heads start equal
  to the aquifer head (equilibrium); compaction = rnb * sum(dz (ssk (es - pcs) +
  sske (pcs - es0))) per step, accumulated (rnb = count). CSUB re-solves the delay bed
  in every outer iteration until heads stop changing, which converges to the same
  fixed point as the iteration here. In heads, es - es0 = -(h - h0) and
  es - pcs = pc - h for every node because CSUB shifts geostatic, effective and
  preconsolidation stresses by the same (sgs - 1) dz per cell; so this scheme works in
  heads, which changes only round-off (~1e-13 m), as does REGIME_TOLERANCE
  (< Sskv b 1e-10 m). A MODFLOW 6 model that should agree needs: HEAD_BASED,
  BETA 0 (no water compressibility), NDELAYCELLS = nodes, delay-bed initial head
  offsets 0, the preconsolidation head given as a head (PRECONSOLIDATION_HEAD with
  SPECIFIED_INITIAL_PRECONSOLIDATION_STRESS), confined cells whose heads stay above
  the delay beds, and time steps equal to the case steps times ``substeps``, each with
  the aquifer head of its end (e.g. one stress period per step with CHD at that head).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from physics.storage import MIN_EFFECTIVE_STRESS, storage_release
from physics.windows import windows

#: Grading of the default grid: neighbouring cells differ by exp(GRADING / cells).
GRADING = 1.0
#: Beds solved in lockstep by one thread (see "Layout and speed").
LANES = 32
#: m; a node this close to its preconsolidation head keeps its regime (see _regime).
REGIME_TOLERANCE = 1.0e-10
SCHEMES = ("default", "csub")

# kernel status codes (per bed, the worst over the run)
CONVERGED = 0
NOT_CONVERGED = 1
NONPOSITIVE_STRESS = 2


@dataclass(frozen=True)
class BedGrid:
    """A bed's cells in units of its thickness b.

    width : [n] cell widths / b; conductance : [n] total conductance of each cell
    (b / distance summed over its faces, the aquifer faces included); boundary : [n]
    the part of it to the aquifer head; coupling : [n] conductance to the next cell (0
    for the last); faces : compaction multiplier (2 when only half the bed is solved).
    """

    scheme: str
    width: np.ndarray
    conductance: np.ndarray
    boundary: np.ndarray
    coupling: np.ndarray
    faces: float

    @property
    def nodes(self) -> int:
        return len(self.width)


def _grid(scheme, width, top, bottom, faces):
    inner = 1.0 / (0.5 * (width[1:] + width[:-1]))
    coupling = np.append(inner, 0.0)
    boundary = np.zeros(len(width))
    boundary[0] += top
    boundary[-1] += bottom
    conductance = boundary + coupling + np.concatenate([[0.0], inner])
    return BedGrid(scheme, width, conductance, boundary, coupling, faces)


def make_grid(scheme: str, nodes: int) -> BedGrid:
    """The grid of ``scheme`` for ``nodes`` cells across the full bed (see module doc)."""
    if scheme == "default":
        cells = (nodes + 1) // 2
        edges = np.expm1(GRADING * np.arange(cells + 1) / cells) / np.expm1(GRADING)
        width = 0.5 * np.diff(edges)
        return _grid(scheme, width, 2.0 / width[0], 0.0, 2.0)
    if scheme == "csub":
        width = np.full(nodes, 1.0 / nodes)
        # csub_delay_assemble_fc: c2 = 2 Kv / dz to the aquifer at the first and last cell
        return _grid(scheme, width, 2.0 * nodes, 2.0 * nodes, 1.0)
    raise ValueError(f"unknown scheme {scheme!r}")


# fields of the per-chunk state array work[node, field, lane]
_H, _H_NEW, _PC, _FLAG, _SE, _SV, _Q, _D = range(8)
# fields of the per-chunk lane array lanes[field, lane]
_A_DT, _HB, _RELEASED, _DRAINED, _WORST = range(5)


def run_delay_beds(aquifer_head, days, alpha, scale, sske, sskv, stress_dependent,
                   stress_head, width, conductance, boundary, coupling, substeps,
                   max_iterations, head, preconsolidation_head, inelastic,
                   compaction, outflow):
    """Advance every bed through the case times; fill cumulative compaction and outflow.

    The number of beds L must be a multiple of LANES (pad with inert beds: any positive
    alpha and storage). Each chunk of LANES beds is advanced by one thread, beds
    innermost so that the sweeps vectorise across beds, and iterates on its regimes
    in lockstep. The run is cut into kernel calls short enough for Ctrl-C
    (``physics.windows``); the cut changes no digit.

    aquifer_head : [L, T] m, the aquifer head of each bed at the case times.
    days : [T] case times in days. alpha : [L] Kv / b^2 (1/d).
    scale : [L] m, b * count * faces: turns released water per unit of b into compaction.
    sske, sskv : [L] Ss in 1/m; with ``stress_dependent`` the compression coefficients
        log10(e) C / (1 + e0) instead, divided by the effective stress
        sigma' = stress_head - h (m) of each node at the start of each sub-step.
    stress_head : [L] m, sigma + z at the bed (only read with ``stress_dependent``).
    width, conductance, boundary, coupling : the BedGrid arrays ([n], n >= 2).
    head, preconsolidation_head : [n, L] m, state in/out.
    inelastic : [n, L] in/out, 1.0 where the next step is expected to be inelastic (a
        guess that only saves iterations; the converged result does not depend on it
        beyond REGIME_TOLERANCE).
    compaction, outflow : [L, T] out, m, cumulative from the first time (column 0 = 0):
        water released from storage (shortening) and water that left the bed through
        its faces; they agree to round-off (mass balance).
    Returns [L] int8 status: CONVERGED, NOT_CONVERGED or NONPOSITIVE_STRESS.
    """
    n_beds, n_times = aquifer_head.shape
    n = width.shape[0]
    # the kernel has no bounds checks: refuse inconsistent arrays here
    if (n_beds % LANES or days.shape[0] != n_times or n < 2
            or alpha.shape[0] != n_beds or scale.shape[0] != n_beds
            or sske.shape[0] != n_beds or sskv.shape[0] != n_beds
            or stress_head.shape[0] != n_beds
            or conductance.shape[0] != n or boundary.shape[0] != n or coupling.shape[0] != n
            or head.shape != (n, n_beds) or preconsolidation_head.shape != (n, n_beds)
            or inelastic.shape != (n, n_beds) or compaction.shape != (n_beds, n_times)
            or outflow.shape != (n_beds, n_times)):
        raise ValueError("run_delay_beds: inconsistent array shapes")
    totals = np.zeros((3, n_beds))          # released, drained, worst status
    compaction[:, 0] = 0.0
    outflow[:, 0] = 0.0
    for first_chunk, end_chunk, first_step, end_step in windows(
            n_beds // LANES, n_times, LANES * n * substeps, numba.get_num_threads()):
        advance(aquifer_head, days, alpha, scale, sske, sskv, stress_dependent,
                 stress_head, width, conductance, boundary, coupling, substeps,
                 max_iterations, head, preconsolidation_head, inelastic, totals,
                 compaction, outflow, first_chunk, end_chunk, first_step, end_step)
    return totals[2].astype(np.int8)


@numba.njit(parallel=True, cache=True, fastmath={"nsz", "contract"})
def advance(aquifer_head, days, alpha, scale, sske, sskv, stress_dependent, stress_head,
             width, conductance, boundary, coupling, substeps, max_iterations, head,
             preconsolidation_head, inelastic, totals, compaction, outflow,
             first_chunk, end_chunk, first_step, end_step):
    """The kernel of ``run_delay_beds``: chunks first_chunk .. end_chunk - 1 through steps
    first_step .. end_step - 1 (step k ends at time k); ``totals`` [3, L] in/out holds
    each bed's released and drained water (per unit of b) and worst status so far."""
    n = width.shape[0]
    for c in numba.prange(end_chunk - first_chunk):
        j0 = (first_chunk + c) * LANES
        work = np.zeros((n, 8, LANES))
        lanes = np.zeros((5, LANES))
        for i in range(n):
            for j in range(LANES):
                work[i, _H, j] = head[i, j0 + j]
                work[i, _PC, j] = preconsolidation_head[i, j0 + j]
                work[i, _FLAG, j] = inelastic[i, j0 + j]
                work[i, _SE, j] = sske[j0 + j]
                work[i, _SV, j] = sskv[j0 + j]
        for j in range(LANES):
            lanes[_RELEASED, j] = totals[0, j0 + j]
            lanes[_DRAINED, j] = totals[1, j0 + j]
            lanes[_WORST, j] = totals[2, j0 + j]
        for k in range(first_step, end_step):
            dt = (days[k] - days[k - 1]) / substeps
            for s in range(1, substeps + 1):
                frac = s / substeps
                for j in range(LANES):
                    lanes[_A_DT, j] = alpha[j0 + j] * dt
                    h0 = aquifer_head[j0 + j, k - 1]
                    lanes[_HB, j] = h0 + (aquifer_head[j0 + j, k] - h0) * frac
                if stress_dependent:
                    _lagged_storage(work, lanes, sske, sskv, stress_head, j0)
                # the chunk's beds iterate in lockstep until no node changes regime
                converged = False
                for _ in range(max_iterations):
                    _forward_sweep(work, lanes, width, conductance, boundary, coupling)
                    if not _classify(work):
                        converged = True
                        break
                if not converged:
                    for j in range(LANES):
                        lanes[_WORST, j] = max(lanes[_WORST, j], NOT_CONVERGED)
                _accept(work, lanes, width, boundary)
            for j in range(LANES):
                compaction[j0 + j, k] = lanes[_RELEASED, j] * scale[j0 + j]
                outflow[j0 + j, k] = lanes[_DRAINED, j] * scale[j0 + j]
        for i in range(n):
            for j in range(LANES):
                head[i, j0 + j] = work[i, _H, j]
                preconsolidation_head[i, j0 + j] = work[i, _PC, j]
                inelastic[i, j0 + j] = work[i, _FLAG, j]
        for j in range(LANES):
            totals[0, j0 + j] = lanes[_RELEASED, j]
            totals[1, j0 + j] = lanes[_DRAINED, j]
            totals[2, j0 + j] = lanes[_WORST, j]


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def _lagged_storage(work, lanes, sske, sskv, stress_head, j0):
    """Ss of every node from its effective stress at the start of the step (1/m)."""
    for i in range(work.shape[0]):
        for j in range(LANES):
            sigma = stress_head[j0 + j] - work[i, _H, j]
            if sigma < MIN_EFFECTIVE_STRESS:
                lanes[_WORST, j] = max(lanes[_WORST, j], NONPOSITIVE_STRESS)
                sigma = MIN_EFFECTIVE_STRESS
            work[i, _SE, j] = sske[j0 + j] / sigma
            work[i, _SV, j] = sskv[j0 + j] / sigma


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def _forward_sweep(work, lanes, width, conductance, boundary, coupling):
    """Thomas elimination of rows -e[i-1] h[i-1] + pivot[i] h[i] - e[i] h[i+1] = rhs[i],
    e[i] = alpha dt coupling[i], with the current regimes; stores q = e / pivot and the
    reduced right-hand side d."""
    for i in range(work.shape[0]):
        wi = width[i]
        ci = conductance[i]
        bi = boundary[i]
        cu = coupling[i]
        cl = coupling[i - 1] if i > 0 else 0.0
        im = max(i - 1, 0)
        for j in range(LANES):
            a_dt = lanes[_A_DT, j]
            se = work[i, _SE, j]
            pc = work[i, _PC, j]
            s_now = se + work[i, _FLAG, j] * (work[i, _SV, j] - se)
            el = a_dt * cl
            pivot = wi * s_now + a_dt * ci - el * work[im, _Q, j]
            rhs = (wi * (s_now * pc + se * (work[i, _H, j] - pc)) + a_dt * bi * lanes[_HB, j]
                   + el * work[im, _D, j])
            inv = 1.0 / pivot
            work[i, _Q, j] = a_dt * cu * inv
            work[i, _D, j] = rhs * inv


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def _classify(work):
    """Back substitution: the new heads and their regimes; True when a node changed
    regime (the solve then has to be repeated)."""
    n = work.shape[0]
    flips = False
    for j in range(LANES):
        hn = work[n - 1, _D, j]
        work[n - 1, _H_NEW, j] = hn
        f_new = _regime(hn, work[n - 1, _PC, j], work[n - 1, _FLAG, j])
        flips |= f_new != work[n - 1, _FLAG, j]
        work[n - 1, _FLAG, j] = f_new
    for i in range(n - 2, -1, -1):
        for j in range(LANES):
            hn = work[i, _D, j] + work[i, _Q, j] * work[i + 1, _H_NEW, j]
            work[i, _H_NEW, j] = hn
            f_new = _regime(hn, work[i, _PC, j], work[i, _FLAG, j])
            flips |= f_new != work[i, _FLAG, j]
            work[i, _FLAG, j] = f_new
    return flips


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def _regime(h_new, preconsolidation_head, guess):
    """1.0 (inelastic) below the preconsolidation head, 0.0 above it, and the guess
    within REGIME_TOLERANCE of it, where both give the same release to round-off;
    without that band a node resting on its preconsolidation head can flip forever."""
    below = 1.0 if h_new < preconsolidation_head - REGIME_TOLERANCE else 0.0
    above = 1.0 if h_new > preconsolidation_head + REGIME_TOLERANCE else 0.0
    return below + (1.0 - below - above) * guess


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def _accept(work, lanes, width, boundary):
    """Accept the converged step: add its release and face outflow to the totals, move
    to the new heads, lower the preconsolidation heads (they never rise) and guess the
    next step's regimes by extrapolating each node's head."""
    n = work.shape[0]
    b0 = boundary[0]
    bn = boundary[n - 1]
    for j in range(LANES):
        hb = lanes[_HB, j]
        lanes[_DRAINED, j] += lanes[_A_DT, j] * (b0 * (work[0, _H_NEW, j] - hb)
                                                 + bn * (work[n - 1, _H_NEW, j] - hb))
    for i in range(n):
        wi = width[i]
        for j in range(LANES):
            h = work[i, _H, j]
            hn = work[i, _H_NEW, j]
            pc = work[i, _PC, j]
            se = work[i, _SE, j]
            s_now = se + work[i, _FLAG, j] * (work[i, _SV, j] - se)
            lanes[_RELEASED, j] += wi * storage_release(s_now, se, pc, h, hn)
            pc = min(pc, hn)
            work[i, _H, j] = hn
            work[i, _PC, j] = pc
            work[i, _FLAG, j] = 1.0 if hn + (hn - h) < pc else 0.0
