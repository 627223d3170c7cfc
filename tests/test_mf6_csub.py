"""The mf6-csub solver against independent truth: the analytical Terzaghi solution for
a delay bed, closed forms for no-delay beds and the coarse skeleton, MODFLOW's own
binary compaction and z-displacement output, and the traps of MODFLOW 6.4.1/FloPy 3.11."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from engine.case import Aquifer, Case, Cells, Compressible, Geostatic
from engine.errors import InputError, SolverError
from engine.registry import make_solver
from physics import analytical
from physics.modflow import executables, mf6_csub
from physics.modflow.mf6_csub import CSUB_OPTIONS_6_4_1, Mf6CsubSolver

DAY = np.timedelta64(1, "D")


def make_case(days, aquifers, geostatic=None, n_cells=1):
    """A case on ``days`` (days since 2000-01-01) with ``aquifers`` (Aquifer objects)."""
    times = np.datetime64("2000-01-01") + np.asarray(days).astype(int) * DAY
    cells = Cells(np.array([f"c{i}" for i in range(n_cells)]),
                  np.arange(n_cells, dtype=float), np.zeros(n_cells))
    return Case("test", times, cells, tuple(aquifers), geostatic=geostatic)


def per_cell(value, n):
    return np.full(n, float(value))


def material(kind, n, **values):
    return Compressible(kind, **{k: (None if v is None else per_cell(v, n) if np.isscalar(v)
                                     else np.asarray(v, float)) for k, v in values.items()})


def piecewise(days, knots_t, knots_h):
    return np.interp(days, knots_t, knots_h)


def instant_compaction(head, thickness, sske, sskv, preconsolidation_head):
    """Closed form of a no-delay bed (and, with sskv = sske, of the coarse skeleton):
    elastic storage above the preconsolidation head, virgin storage below it, and the
    preconsolidation head following the lowest head reached. head [N, T] at the step
    ends of a piecewise-linear history (whose extremes lie at those times)."""
    h0 = head[:, :1]
    pc0 = np.minimum(preconsolidation_head[:, None], h0)
    lowest = np.minimum.accumulate(head, axis=1)
    virgin = np.maximum(pc0 - lowest, 0.0)
    return thickness[:, None] * (sske[:, None] * (h0 - head) + (sskv - sske)[:, None] * virgin)


# -- no MODFLOW needed -----------------------------------------------------------------

def test_even_ndelaycells_is_refused():
    with pytest.raises(InputError, match="ndelaycells"):
        Mf6CsubSolver(ndelaycells=20)


def test_registry_knows_the_solver():
    assert isinstance(make_solver("mf6-csub", substeps=2), Mf6CsubSolver)


def test_missing_executable_is_a_solver_error_naming_the_install_command(monkeypatch):
    monkeypatch.setattr(executables, "locate", lambda program: None)
    case = make_case([0, 1], [Aquifer("a", np.array([[0.0, -1.0]]),
                                      nodelay=material("nodelay", 1, thickness=1.0,
                                                       sske=1e-5, sskv=1e-3))])
    with pytest.raises(SolverError, match=re.escape(executables.INSTALL_COMMAND)):
        Mf6CsubSolver().predict(case)


def written_model(tmp_path, case, **options):
    """The files of the model mf6-csub builds for ``case`` (written, not run)."""
    solver = Mf6CsubSolver(**options)
    sim, _ = mf6_csub.build_simulation(case, tmp_path, Path("mf6"), solver.options)
    sim.write_simulation(silent=True)
    return {p.suffix.lstrip("."): p.read_text() for p in tmp_path.iterdir() if p.is_file()}


def block(text, name):
    match = re.search(rf"BEGIN\s+{name}\b(.*?)END\s+{name}", text, re.S | re.I)
    return match.group(1) if match else ""


def small_case():
    days = np.arange(0, 4.0)
    head = np.array([[0.0, -1.0, -1.5, -1.0]])
    return make_case(days, [Aquifer(
        "a", head,
        interbeds=(material("interbeds", 1, thickness=1.0, count=2.0, kv=1e-4,
                            sske=1e-5, sskv=1e-3, preconsolidation_head=-0.5),),
        nodelay=material("nodelay", 1, thickness=2.0, sske=1e-5, sskv=1e-3),
        coarse=material("coarse", 1, thickness=10.0, sske=1e-6))])


def test_written_csub_options_are_all_known_to_modflow_6_4_1(tmp_path):
    files = written_model(tmp_path, small_case())
    keywords = {line.split()[0].upper() for line in block(files["csub"], "options").splitlines()
                if line.strip() and not line.strip().startswith("#")}
    assert keywords <= CSUB_OPTIONS_6_4_1
    assert {"HEAD_BASED", "NDELAYCELLS", "BETA"} <= keywords


def test_every_stress_period_is_transient(tmp_path):
    """Only the first and last periods may be steady with interbeds; a steady first
    period would also set CSUB's initial state from a steady solution, not the case."""
    files = written_model(tmp_path, small_case(), substeps=3)
    sto = files["sto"].upper()
    assert "STEADY" not in sto and re.search(r"BEGIN PERIOD\s+1\s+TRANSIENT", sto)
    periods = [line.split() for line in block(files["tdis"], "perioddata").splitlines()
               if line.strip()]
    assert [(float(p[0]), int(p[1])) for p in periods] == [(1.0, 3)] * 3


def test_parameters_are_written_at_full_precision(tmp_path):
    """FloPy writes 8 significant digits unless told otherwise."""
    case = make_case([0, 1], [Aquifer("a", np.array([[0.0, -1.0]]), nodelay=material(
        "nodelay", 1, thickness=1.0, sske=1.234567890123e-5, sskv=1e-3))])
    files = written_model(tmp_path, case)
    row = block(files["csub"], "packagedata").split()
    assert float(row[9]) == 1.234567890123e-5     # sse_cr


def test_heads_are_stages_interpolated_at_step_ends(tmp_path):
    """GHB stages come from a time series with LINEAREND: with LINEAR, MODFLOW would
    use the mean over each step for the stage."""
    files = written_model(tmp_path, small_case())
    ts = files["ts"].upper()
    assert "LINEAREND" in ts and "METHODS" in ts
    assert "CHD" not in {Path(p).suffix.upper() for p in files}


# -- MODFLOW runs ----------------------------------------------------------------------

def terzaghi_case():
    days = np.arange(0, 2001.0)
    head = np.where(days >= 1, -1.0, 0.0)[None, :]
    bed = material("interbeds", 1, thickness=1.0, count=1.0, kv=2.5e-6, sske=1e-5,
                   sskv=1e-2)
    return make_case(days, [Aquifer("confined", head, interbeds=(bed,))])


@pytest.mark.modflow
def test_delay_bed_error_against_terzaghi_falls_with_more_delay_cells():
    """MODFLOW's delay bed (19 nodes by default) errs by about 2 % of the ultimate
    compaction on a step load; the error falls as the bed is refined. Four substeps a
    day keep the time error of the 1-day ramp small."""
    case = terzaghi_case()
    exact = analytical.compaction_piecewise_linear(case.days, [0, 1], [0, -1], 1.0, 2.5e-6,
                                                 1e-2)
    ultimate = 1e-2
    errors = {}
    for cells in (19, 39, 79):
        result = Mf6CsubSolver(ndelaycells=cells, substeps=4).predict(case)
        errors[cells] = np.abs(result.compaction[0, 0] - exact).max() / ultimate
        assert np.array_equal(result.displacement, -result.compaction.sum(axis=0))
    assert 0.01 < errors[19] < 0.025
    assert errors[39] < errors[19] / 2 and errors[79] < errors[39] / 2
    assert errors[79] < 1e-3


@pytest.mark.modflow
def test_stale_delay_bed_flag_is_accepted_and_harmless(tmp_path, monkeypatch):
    """Under constant heads MODFLOW 6.4.1 reports steps as unconverged because of its
    stale delay-bed change; they are accepted (and the result is still Terzaghi's)."""
    seen = []
    original = mf6_csub.check_convergence
    monkeypatch.setattr(mf6_csub, "check_convergence",
                        lambda folder: seen.append(original(folder)) or seen[-1])
    case = terzaghi_case()
    result = Mf6CsubSolver().predict(case)
    assert seen and seen[0] > 0
    exact = analytical.compaction_piecewise_linear(case.days, [0, 1], [0, -1], 1.0, 2.5e-6,
                                                 1e-2)
    assert abs(result.compaction[0, 0, -1] - exact[-1]) < 2e-4 * 1e-2


def cycling_heads(days, n):
    """Per cell: fall, partial recovery, deeper fall, then rest (m)."""
    knots = [0, 300, 500, 800, days[-1]]
    return np.array([piecewise(days, knots, [2.0 * i, 2.0 * i - 4.0 - i, 2.0 * i - 2.0,
                                             2.0 * i - 7.0 - i, 2.0 * i - 7.0 - i])
                     for i in range(n)])


@pytest.mark.modflow
def test_nodelay_and_coarse_compaction_match_their_closed_form():
    n = 3
    days = np.arange(0, 1001.0, 10.0)
    head = cycling_heads(days, n)
    nodelay = material("nodelay", n, thickness=[4.0, 6.0, 8.0], sske=[1e-5, 2e-5, 5e-6],
                       sskv=[5e-4, 3e-4, 8e-4],
                       preconsolidation_head=[-1.0, 0.5, 2.0])
    coarse = material("coarse", n, thickness=[50.0, 80.0, 120.0], sske=2e-6)
    case = make_case(days, [Aquifer("a", head, nodelay=nodelay, coarse=coarse)],
                     n_cells=n)
    parts = Mf6CsubSolver(chunk_cells=2).compaction_parts(case)
    expected_nodelay = instant_compaction(head, nodelay.thickness, nodelay.sske,
                                          nodelay.sskv, nodelay.preconsolidation_head)
    expected_coarse = instant_compaction(head, coarse.thickness, coarse.sske, coarse.sske,
                                         head[:, 0])
    assert np.abs(parts[(0, "nodelay")] - expected_nodelay).max() < 1e-10
    assert np.abs(parts[(0, "coarse")] - expected_coarse).max() < 1e-10
    assert np.abs(expected_nodelay).max() > 1e-3    # the check is not vacuous


def three_aquifer_case():
    n = 3
    days = np.arange(0, 3651.0, 30.0)
    declines = [0.004, 0.008, 0.012]           # m/d, monotone: every node stays virgin
    aquifers = []
    for a, rate in enumerate(declines):
        head = -10.0 * a - rate * days[None, :] * np.array([[1.0], [0.7], [1.3]])
        interbeds = (material("interbeds", n, thickness=[2.0, 3.0, 4.0], count=2.0,
                              kv=1e-4, sske=1e-5, sskv=2e-4 + 1e-4 * a),)
        if a == 2:
            interbeds += (material("interbeds", n, thickness=1.5, count=6.0, kv=1e-5,
                                   sske=1e-5, sskv=4e-4),)
        aquifers.append(Aquifer(
            f"aq{a}", head, interbeds=interbeds,
            nodelay=material("nodelay", n, thickness=5.0 + 3 * a, sske=5e-6,
                             sskv=1e-4 * (1 + a)),
            coarse=material("coarse", n, thickness=40.0 + 30 * a, sske=2e-6)))
    return make_case(days, aquifers, n_cells=n)


@pytest.mark.modflow
def test_three_aquifers_with_every_material():
    """Delay beds against Terzaghi superposition (virgin storage throughout: the heads
    fall monotonically from a normally consolidated start), no-delay and coarse against
    their closed forms, and the result as their sum, chunk by chunk or all at once."""
    case = three_aquifer_case()
    solver = Mf6CsubSolver(chunk_cells=2)
    parts = solver.compaction_parts(case)
    result = solver.predict(case)
    total = np.zeros_like(result.compaction)
    for (a, label), values in parts.items():
        aq = case.aquifers[a]
        total[a] += values
        if label == "coarse":
            expected = instant_compaction(aq.head, aq.coarse.thickness, aq.coarse.sske,
                                          aq.coarse.sske, aq.head[:, 0])
            assert np.abs(values - expected).max() < 1e-10
        elif label == "nodelay":
            m = aq.nodelay
            expected = instant_compaction(aq.head, m.thickness, m.sske, m.sskv, aq.head[:, 0])
            assert np.abs(values - expected).max() < 1e-10
        else:
            m = aq.interbeds[int(label[len("interbeds["):-1])]
            for j in range(case.n_cells):
                exact = m.count[j] * analytical.compaction_piecewise_linear(
                    case.days, case.days, aq.head[j], m.thickness[j], m.kv[j], m.sskv[j])
                # MODFLOW's delay-bed discretisation error: a few % of the compaction
                assert np.abs(values[j] - exact).max() < 0.03 * np.abs(exact).max()
    assert len(parts) == 3 * 3 + 1
    np.testing.assert_allclose(result.compaction, total, rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.displacement, -total.sum(axis=0), rtol=0, atol=1e-15)
    whole = Mf6CsubSolver(chunk_cells=100).predict(case)
    np.testing.assert_allclose(whole.compaction, result.compaction, rtol=0, atol=1e-12)


@pytest.mark.modflow
def test_modflow_binary_output_agrees_with_the_observations(tmp_path):
    """The solver reads CSUB observations. MODFLOW's binary compaction is written only
    at the steps where output control saves heads, and FloPy 3.11's readers of the
    other CSUB binary files (zdisplacement(), compaction_coarse(), ...) fail, so the
    files are read here with HeadFile and the right text."""
    import flopy

    case = three_aquifer_case()
    solver = Mf6CsubSolver()
    sim, index = mf6_csub.build_simulation(case, tmp_path, executables.require("mf6"),
                                           solver.options)
    gwf = sim.get_model()
    gwf.csub.compaction_filerecord = "total.bin"
    gwf.csub.zdisplacement_filerecord = "zdisp.bin"
    saved = [10, 60, case.n_times - 2]                      # stress periods, 0-based
    # a period without a block repeats the previous one: the others say "save nothing"
    flopy.mf6.ModflowGwfoc(gwf, head_filerecord="heads.bin",
                           saverecord={k: [("HEAD", "LAST")] if k in saved else []
                                       for k in range(case.n_times - 1)})
    sim.write_simulation(silent=True)
    assert sim.run_simulation(silent=True)[0]
    parts = mf6_csub.read_parts(case, tmp_path, index, 1)
    per_aquifer = np.zeros((len(case.aquifers), case.n_cells, case.n_times))
    for (a, _), values in parts.items():
        per_aquifer[a] += values

    total = flopy.utils.HeadFile(str(tmp_path / "total.bin"), text="CSUB-COMPACTION")
    zdisp = flopy.utils.HeadFile(str(tmp_path / "zdisp.bin"), text="CSUB-ZDISPLACE")
    assert np.allclose(total.get_times(), case.days[[k + 1 for k in saved]])
    for k in saved:
        t = case.days[k + 1]
        np.testing.assert_allclose(total.get_data(totim=t)[:, 0, :], per_aquifer[:, :, k + 1],
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(zdisp.get_data(totim=t)[0, 0, :],
                                   per_aquifer[:, :, k + 1].sum(axis=0),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.modflow
def test_failed_run_keeps_its_folder_and_quotes_the_listing(tmp_path, monkeypatch):
    # kv = 0 is refused by the schema before MODFLOW runs; let it through here, so that
    # MODFLOW itself fails and its failure handling is what is tested
    monkeypatch.setattr("physics.modflow.runner.validate_physics_case", lambda case, solver: None)
    case = make_case([0, 1, 2], [Aquifer("a", np.array([[0.0, -1.0, -2.0]]), interbeds=(
        material("interbeds", 1, thickness=1.0, count=1.0, kv=0.0, sske=1e-5,
                 sskv=1e-3),))])
    with pytest.raises(SolverError) as err:
        Mf6CsubSolver(workdir=str(tmp_path)).predict(case)
    message = str(err.value)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("landsub-mf6-csub-")]
    assert len(kept) == 1 and str(kept[0]) in message
    from physics.modflow.runner import KEPT_MARKER, sweep_run_folders
    sweep_run_folders(tmp_path)      # a later run leaves it for the user to read
    assert kept[0].exists() and (kept[0] / KEPT_MARKER).exists()
    assert re.search(r"\.lst: .*(error|kv)", message, re.I)


@pytest.mark.modflow
def test_successful_runs_leave_no_folder(tmp_path):
    Mf6CsubSolver(workdir=str(tmp_path)).predict(small_case())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.modflow
def test_ctrl_c_removes_the_run_folder_and_killed_runs_are_swept(tmp_path, monkeypatch):
    import subprocess
    import sys

    from physics.modflow.runner import KEPT_MARKER

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    killed = tmp_path / f"landsub-mf6-csub-{dead}-abc123"       # a SIGKILLed run's
    kept = tmp_path / f"landsub-mf6-csub-{dead}-def456"         # a failure shown to a user
    alive = tmp_path / f"landsub-mf-sub-{os.getpid()}-ghi789"   # a run still going
    other = tmp_path / f"landsub-notes-{dead}-x"                # not ours
    for folder in (killed, kept, alive, other):
        folder.mkdir()
        (folder / "model.lst").write_text("...")
    (kept / KEPT_MARKER).write_text("kept")

    def interrupted(self, case, folder, exe):
        (folder / "model.nam").write_text("half written")
        raise KeyboardInterrupt
    monkeypatch.setattr(Mf6CsubSolver, "simulate_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Mf6CsubSolver(workdir=str(tmp_path)).predict(small_case())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (kept, alive, other))


@pytest.mark.modflow
def test_kept_folders_are_marked(tmp_path):
    from physics.modflow.runner import KEPT_MARKER

    Mf6CsubSolver(workdir=str(tmp_path), keep_files=True).predict(small_case())
    (folder,) = tmp_path.iterdir()
    assert (folder / KEPT_MARKER).exists() and any(folder.glob("*.lst"))


@pytest.mark.modflow
def test_overconsolidated_interbed_starts_elastic():
    """pcs0 is relative and negative in the head-based formulation: a bed whose
    preconsolidation head lies 0.5 m below the initial head compacts elastically for
    the first 0.5 m of decline. Long after the drop it has compacted
    b n (sske 0.5 + sskv 0.5)."""
    days = np.arange(0, 4001.0, 5.0)
    head = np.where(days >= 5, -1.0, 0.0)[None, :]
    bed = material("interbeds", 1, thickness=0.5, count=3.0, kv=1e-3, sske=1e-5,
                   sskv=1e-3, preconsolidation_head=-0.5)
    result = Mf6CsubSolver().predict(make_case(days, [Aquifer("a", head, interbeds=(bed,))]))
    ultimate = 0.5 * 3.0 * (1e-5 * 0.5 + 1e-3 * 0.5)
    assert result.compaction[0, 0, -1] == pytest.approx(ultimate, rel=1e-6)


@pytest.mark.modflow
def test_compression_indices_match_head_based_storage_for_small_changes():
    """The effective-stress formulation (storage = "indices") against the head-based
    one with Ss = 0.434 C / ((1 + e) sigma'), sigma' at the aquifer centre from the
    geostatic load (filler layer above the aquifer at its initial head). A 0.1 m change
    moves sigma' by 0.2 %, so the two agree to that order; pcs0 (positive, in metres of
    water) makes the first 0.05 m elastic."""
    days = np.arange(0, 11.0)
    head = piecewise(days, [0, 10], [-10.0, -10.1])[None, :]
    cc, cr, e = 0.3, 0.03, 0.8
    top, bottom, sgm, sgs = 50.0, 60.0, 1.7, 2.0
    indices = Compressible("nodelay", thickness=per_cell(4.0, 1), storage="indices",
                           cc=per_cell(cc, 1), cr=per_cell(cr, 1), void_ratio=per_cell(e, 1),
                           preconsolidation_head=per_cell(-10.05, 1))
    # 3 m of coarse material although the cell leaves 6 m: CSUB's storage is scaled
    coarse = Compressible("coarse", thickness=per_cell(3.0, 1), storage="indices",
                          cr=per_cell(0.005, 1), void_ratio=per_cell(e, 1))
    aquifer = Aquifer("a", head, nodelay=indices, coarse=coarse, top=per_cell(top, 1),
                      bottom=per_cell(bottom, 1))
    case = make_case(days, [aquifer], geostatic=Geostatic(sgm, sgs, per_cell(0.0, 1)))
    parts = Mf6CsubSolver().compaction_parts(case)

    water_table = -10.0      # the filler layer above the aquifer carries its head
    sigma_bottom = sgm * (0 - water_table) + sgs * (water_table + bottom)
    sigma_eff = sigma_bottom - (head[0, 0] + bottom) - (bottom - top) / 2 * (sgs - 1)
    ss = lambda c: 0.4342942 * c / ((1 + e) * sigma_eff)  # noqa: E731
    expected_nodelay = 4.0 * (ss(cr) * 0.05 + ss(cc) * 0.05)
    expected_coarse = 3.0 * ss(0.005) * 0.1
    assert parts[(0, "nodelay")][0, -1] == pytest.approx(expected_nodelay, rel=5e-3)
    assert parts[(0, "coarse")][0, -1] == pytest.approx(expected_coarse, rel=5e-3)


def test_aquifer_without_room_for_its_coarse_material_is_an_input_error(tmp_path):
    """With compression indices the geometry is the case's: an aquifer no thicker
    than its interbeds leaves CSUB no coarse thickness to scale."""
    head = np.array([[-10.0, -10.5]])
    bed = Compressible("nodelay", thickness=per_cell(10.0, 1), storage="indices",
                       cc=per_cell(0.3, 1), cr=per_cell(0.03, 1), void_ratio=per_cell(0.8, 1))
    coarse = Compressible("coarse", thickness=per_cell(5.0, 1), storage="indices",
                          cr=per_cell(0.005, 1), void_ratio=per_cell(0.8, 1))
    aquifer = Aquifer("a", head, nodelay=bed, coarse=coarse, top=per_cell(50.0, 1),
                      bottom=per_cell(60.0, 1))
    case = make_case([0, 1], [aquifer], geostatic=Geostatic(1.7, 2.0, per_cell(0.0, 1)))
    with pytest.raises(InputError, match=r"aquifers\[0\]\.coarse\.thickness"):
        written_model(tmp_path, case)


@pytest.mark.modflow
def test_spinup_agrees_with_the_csub_mirror():
    """mf6-csub runs the spin-up as terzaghi does (one record, reported from the first
    case time), and the two agree to the mirror's tolerance (2e-12 m)."""
    from spinup_cases import spun_up_column

    from physics.solver import TerzaghiSolver
    case, _, _ = spun_up_column(offset_form=True)
    ours = TerzaghiSolver(scheme="csub", nodes=7, substeps=2).predict(case)
    theirs = Mf6CsubSolver(ndelaycells=7, substeps=2).predict(case)
    assert np.abs(ours.compaction).max() > 1e-2          # not a vacuous comparison
    assert np.all(theirs.displacement[:, 0] == 0.0)
    assert np.abs(ours.compaction - theirs.compaction).max() <= 2e-12
    assert np.abs(ours.displacement - theirs.displacement).max() <= 2e-12
