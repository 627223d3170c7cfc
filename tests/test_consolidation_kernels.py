"""The Numba consolidation kernels: the csub scheme against an independent NumPy
re-implementation of MODFLOW 6 CSUB's delay-bed algorithm, and invariants (mass
balance, hysteresis accounting, preconsolidation heads, restarts, no-delay beds)."""

import numpy as np
import pytest

from engine.case import build_case
from physics import delay_beds, instant_beds
from physics.solver import TerzaghiSolver

# a switching history: fall, partial recovery, fall past the previous low, hold
KNOTS = np.array([0.0, 200.0, 400.0, 700.0, 1000.0])
LEVELS = np.array([0.0, -3.0, -1.0, -5.0, -5.0])
DAYS = np.arange(0.0, 1001.0, 10.0)
HEAD = np.interp(DAYS, KNOTS, LEVELS)
# three beds: overconsolidated (pc -2), normally consolidated, pc above the first head
BEDS = {"thickness": [2.0, 1.0, 3.0], "count": [1.0, 2.5, 1.0], "kv": [1e-5, 4e-6, 3e-5],
        "sske": [2e-5, 1e-5, 5e-5], "sskv": [3e-3, 1e-3, 8e-4],
        "preconsolidation_head": [-2.0, 0.0, 1.0]}


def csub_reference(days, aquifer_head, b, count, kv, sske, sskv, pc_head, nodes, substeps,
                   cell_bottom=-80.0, cell_top=-20.0, sgs=2.0, overburden=30.0):
    """Total compaction (m) at the case times of one delay bed, the way MODFLOW 6 CSUB
    computes it (head-based, confined cell, no water compressibility), written in its
    own variables: stresses in m of water at the bottom of each delay cell, a dense
    solve, and the regimes re-evaluated until they no longer change."""
    dz = b / nodes
    c = kv / dz
    gs_cell = overburden + (cell_top - cell_bottom) * sgs   # cg_gs, cell bottom
    top_bed = cell_bottom + b                                # the bed rests on the cell bottom
    zbot = top_bed - dz * np.arange(1, nodes + 1)            # bottoms of the delay cells
    dbgeo = gs_cell - (top_bed - cell_bottom) * sgs + sgs * dz * np.arange(1, nodes + 1)
    es_cell = gs_cell - (aquifer_head[0] - cell_bottom)
    pcs_cell = max(gs_cell - (pc_head - cell_bottom), es_cell)  # specified pc head, clipped
    dbpcs = pcs_cell - (zbot - cell_bottom) * (sgs - 1.0)
    h = np.full(nodes, aquifer_head[0])
    es = dbgeo - (h - zbot)
    total = 0.0
    out = [0.0]
    for k in range(1, len(days)):
        delt = (days[k] - days[k - 1]) / substeps
        for s in range(1, substeps + 1):
            hcell = aquifer_head[k - 1] + (aquifer_head[k] - aquifer_head[k - 1]) * s / substeps
            dbpcs = np.maximum(dbpcs, es)                    # csub_ad
            es0 = es.copy()
            smult = dz / delt
            for _ in range(200):
                ssk = np.where(es > dbpcs, sskv, sske)
                a = np.zeros((nodes, nodes))
                r = np.zeros(nodes)
                for n in range(nodes):
                    aii = -2.0 * c
                    if n in (0, nodes - 1):
                        aii -= c
                        r[n] -= 2.0 * c * hcell
                    if n > 0:
                        a[n, n - 1] = c
                    if n < nodes - 1:
                        a[n, n + 1] = c
                    aii -= smult * ssk[n]
                    r[n] -= smult * (ssk[n] * (dbgeo[n] + zbot[n] - dbpcs[n])
                                     + sske * (dbpcs[n] - es0[n]))
                    a[n, n] = aii
                h = np.linalg.solve(a, r)
                es = dbgeo - (h - zbot)
                if np.array_equal(np.where(es > dbpcs, sskv, sske), ssk):
                    break
            else:
                raise AssertionError("reference did not converge")
            total += count * np.sum(dz * (ssk * (es - dbpcs) + sske * (dbpcs - es0)))
        out.append(total)
    return np.array(out)


def switching_case():
    return build_case("switching", DAYS, [{"head": np.tile(HEAD, (3, 1)),
                                            "interbeds": [BEDS]}])


@pytest.mark.parametrize("nodes, substeps", [(7, 1), (19, 2)])
def test_csub_scheme_matches_independent_reference(nodes, substeps):
    case = switching_case()
    parts = TerzaghiSolver(scheme="csub", nodes=nodes, substeps=substeps).compaction_parts(case)
    got = parts[(0, "interbeds[0]")]
    for cell in range(3):
        args = [BEDS[k][cell] for k in ("thickness", "count", "kv", "sske", "sskv",
                                         "preconsolidation_head")]
        expected = csub_reference(DAYS, HEAD, *args, nodes=nodes, substeps=substeps)
        np.testing.assert_allclose(got[cell], expected, rtol=0, atol=1e-12)
    # the history really switches: rebound while recovering, then renewed compaction
    assert np.any(np.diff(got[0]) < 0) and got[0, -1] > got[0, 40]


def run_kernel(grid, head, alpha, scale, sske, sskv, pc, substeps=1, max_iterations=100,
               state=None, days=DAYS):
    """The delay-bed kernel on beds padded to whole chunks of LANES; head [T, beds].
    Returns compaction and outflow [T, beds], status and the state (head, pc,
    inelastic) of the real beds."""
    n_beds = head.shape[1]
    padded = -(-n_beds // delay_beds.LANES) * delay_beds.LANES
    pad = padded - n_beds

    def lanes(v, fill):
        return np.concatenate([np.asarray(v, dtype=np.float64), np.full(pad, fill)])

    heads = np.ascontiguousarray(np.concatenate([head, np.zeros((head.shape[0], pad))],
                                                axis=1).T)
    n = grid.nodes
    if state is None:
        state = (np.repeat(heads[None, :, 0], n, axis=0),
                 np.repeat(lanes(pc, 0.0)[None], n, axis=0),
                 np.zeros((n, padded)))
    else:
        state = tuple(np.concatenate([s, np.zeros((n, pad))], axis=1) for s in state)
    comp = np.empty_like(heads)
    flow = np.empty_like(heads)
    status = delay_beds.run_delay_beds(
        heads, days, lanes(alpha, 1.0), lanes(scale, 0.0), lanes(sske, 1.0),
        lanes(sskv, 1.0), False, np.ones(padded), grid.width, grid.conductance,
        grid.boundary, grid.coupling, substeps, max_iterations, *state, comp, flow)
    keep = slice(0, n_beds)
    return (comp[keep].T, flow[keep].T, status[keep],
            tuple(s[:, keep].copy() for s in state))


def bed_arrays(grid):
    b = np.array(BEDS["thickness"])
    head = np.tile(HEAD[:, None], (1, 3))
    pc = np.minimum(BEDS["preconsolidation_head"], HEAD[0])
    return (head, np.array(BEDS["kv"]) / b**2, b * np.array(BEDS["count"]) * grid.faces,
            np.array(BEDS["sske"]), np.array(BEDS["sskv"]), pc)


@pytest.mark.parametrize("scheme", delay_beds.SCHEMES)
def test_mass_balance_and_hysteresis_accounting(scheme):
    grid = delay_beds.make_grid(scheme, 19)
    head, alpha, scale, sske, sskv, pc0 = bed_arrays(grid)
    comp, flow, status, (h, pc, _) = run_kernel(grid, head, alpha, scale, sske, sskv, pc0,
                                                substeps=3)
    assert np.all(status == delay_beds.CONVERGED)
    # water released from storage = water that left through the faces
    assert np.max(np.abs(comp - flow)) <= 1e-10 * np.max(np.abs(comp))
    # cumulative release telescopes to the hysteresis law of every node:
    # Sske (h0 - h) + (Sskv - Sske) (pc0 - pc), weighted by the cell widths
    law = grid.width[:, None] * (sske * (HEAD[0] - h) + (sskv - sske) * (pc0 - pc))
    np.testing.assert_allclose(comp[-1], scale * law.sum(axis=0), rtol=1e-11)


def test_preconsolidation_never_rises_and_restarts_are_exact():
    grid = delay_beds.make_grid("default", 19)
    head, alpha, scale, sske, sskv, pc0 = bed_arrays(grid)
    whole, _, _, final = run_kernel(grid, head, alpha, scale, sske, sskv, pc0)
    state = None
    total = np.zeros(3)
    lowest = np.full((grid.nodes, 3), np.inf)
    for k in range(1, len(DAYS)):
        comp, _, _, state = run_kernel(grid, head[k - 1:k + 1], alpha, scale, sske, sskv,
                                       pc0, state=state, days=DAYS[k - 1:k + 1])
        h, pc, _ = state
        lowest = np.minimum(lowest, h)
        # never above where it was, and exactly the lowest of its start and every head since
        np.testing.assert_array_equal(pc, np.minimum(pc0[None, :], lowest))
        total += comp[-1]
        np.testing.assert_allclose(total, whole[k], rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(state[0], final[0])


def test_nonconvergence_is_reported():
    grid = delay_beds.make_grid("default", 19)
    _, _, status, _ = run_kernel(grid, *bed_arrays(grid), max_iterations=1)
    assert np.any(status == delay_beds.NOT_CONVERGED)


def test_threads_and_chunking_do_not_change_results():
    n = 3 * delay_beds.LANES + 5  # several chunks, the last one padded
    rng = np.random.default_rng(7)
    head = (HEAD[:, None] * rng.uniform(0.2, 1.5, n)
            + 0.5 * np.sin(DAYS[:, None] / 60.0 + rng.uniform(0, 6, n)))
    case = build_case("random", DAYS, [{"head": head.T, "interbeds": [{
        "thickness": rng.uniform(0.5, 5, n), "count": 1.0,
        "kv": 10 ** rng.uniform(-6, -4, n), "sske": 1e-5, "sskv": 5e-4}]}])
    one = TerzaghiSolver(threads=1).predict(case).displacement
    every = TerzaghiSolver(threads=0).predict(case).displacement
    np.testing.assert_array_equal(one, every)
    # a bed alone gives what it gives among others
    alone = TerzaghiSolver().predict(case.take_cells([n - 1])).displacement
    np.testing.assert_array_equal(alone[0], one[n - 1])


@pytest.mark.parametrize("scheme", delay_beds.SCHEMES)
def test_short_kernel_calls_change_no_digit(tmp_path, monkeypatch, scheme):
    """A run cut into one-step calls (what Ctrl-C needs on a long run) equals the run in
    as few calls as fit the budget: delay beds of both storage kinds, no-delay beds and
    the skeleton, several chunks of beds."""
    from engine.caseio import load_case
    from physics import windows
    from tests.case_files import write_base_case

    base = load_case(write_base_case(tmp_path / "case"))
    case = base.take_cells(np.arange(3 * delay_beds.LANES + 5) % base.n_cells)
    solver = TerzaghiSolver(scheme=scheme, substeps=3)
    whole = solver.compaction_parts(case)
    monkeypatch.setattr(windows, "WORK_PER_CALL", 1)
    assert len(list(windows.windows(4, case.n_times, 100, 2))) == 2 * (case.n_times - 1)
    cut = solver.compaction_parts(case)
    assert sorted(cut) == sorted(whole) and len(whole) == 5
    for key in whole:
        np.testing.assert_array_equal(cut[key], whole[key], err_msg=str(key))


def test_instant_beds_follow_the_hysteresis_law():
    rng = np.random.default_rng(3)
    n = instant_beds.LANES + 3
    days = np.arange(0.0, 400.0, 7.0)
    head = np.cumsum(rng.normal(-0.05, 0.6, (len(days), n)), axis=0)
    head[0] = 0.0
    thickness = rng.uniform(1, 20, n)
    sske = rng.uniform(1e-6, 1e-5, n)
    sskv = rng.uniform(1e-4, 1e-3, n)
    pc0 = rng.uniform(-3, 0, n)
    pc = pc0.copy()
    comp = np.empty((n, len(days)))
    bad = instant_beds.run_instant_beds(np.ascontiguousarray(head.T), days, thickness, sske,
                                        sskv, False, np.zeros(n), 1, pc, comp)
    comp = comp.T
    assert not bad.any()
    # elastic strain from the start plus plastic strain past the lowest head so far
    running_min = np.minimum.accumulate(head, axis=0)
    plastic = np.maximum(pc0 - running_min, 0.0)
    law = thickness * (sske * (head[0] - head) + (sskv - sske) * plastic)
    np.testing.assert_allclose(comp, law, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(pc, np.minimum(pc0, running_min[-1]))


def test_kernels_refuse_inconsistent_shapes():
    grid = delay_beds.make_grid("default", 9)
    n, beds, times = grid.nodes, delay_beds.LANES + 1, 3  # not whole chunks
    ones = np.ones(beds)
    with pytest.raises(ValueError, match="shapes"):
        delay_beds.run_delay_beds(
            np.zeros((beds, times)), np.arange(3.0), ones, ones, ones, ones, False, ones,
            grid.width, grid.conductance, grid.boundary, grid.coupling, 1, 10,
            np.zeros((n, beds)), np.zeros((n, beds)), np.zeros((n, beds)),
            np.empty((beds, times)), np.empty((beds, times)))
    with pytest.raises(ValueError, match="shapes"):
        instant_beds.run_instant_beds(np.zeros((4, times)), np.arange(3.0), np.ones(4),
                                      np.ones(4), np.ones(4), False, np.ones(4), 1,
                                      np.zeros(4), np.empty((times, 4)))
