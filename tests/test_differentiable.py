"""The differentiable twin of ``terzaghi`` (surrogates/differentiable/consolidation.py):
forward agreement with the Numba solver, the smoothed switch within its stated bound,
gradients against finite differences; and the ``dpl:terzaghi`` solver."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.caseio import load_case
from engine.conformance import conformance_case
from physics.calibration.parameters import SEDIMENT_KINDS, ParameterSpace
from physics.solver import TerzaghiSolver
from surrogates.differentiable import consolidation as twin

ROOT = Path(__file__).resolve().parents[1]
VERIFICATION = sorted((ROOT / "cases" / "verification").glob("*.toml"))
TINY = Path.home() / ".cache" / "landsub" / "beijing-tiny-seed0" / "case.toml"
#: m: the twin must match terzaghi this closely (measured: 3e-15 m at most)
FORWARD_TOLERANCE_M = 1.0e-9
SMOOTHING_M = 0.05


@pytest.fixture(autouse=True)
def one_thread():
    # small batched ops: one thread is faster and, on a shared machine, far steadier
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def without_spinup(case):
    """``case`` starting at its first case time, normally consolidated there."""
    return replace(case, spinup_times=None,
                   aquifers=tuple(replace(a, spinup_head=None) for a in case.aquifers))


@pytest.fixture(scope="module")
def tiny_twin_with_spinup(tmp_path_factory):
    if TINY.exists():
        return load_case(TINY)
    from cases.beijing.make import make_twin
    out = make_twin(tmp_path_factory.mktemp("tiny"), size="tiny", seed=0)
    return load_case(out["manifest"])


@pytest.fixture(scope="module")
def tiny_twin(tiny_twin_with_spinup):
    return without_spinup(tiny_twin_with_spinup)


def test_a_spinup_runs_as_terzaghi_runs_it(tiny_twin_with_spinup):
    """The twin's 1955-2002 spin-up then its record, as one run: the case's compaction
    equals the Numba solver's, and differs from a run without the spin-up."""
    case = tiny_twin_with_spinup
    assert case.spinup_times is not None
    reference = TerzaghiSolver().predict(case)
    compaction = twin.simulate_case(case)
    assert np.abs(compaction - reference.compaction).max() <= FORWARD_TOLERANCE_M
    assert np.abs(twin.simulate_case(without_spinup(case)) - compaction).max() > 1e-3


@pytest.mark.parametrize("path", VERIFICATION, ids=lambda p: p.stem)
def test_forward_matches_terzaghi_on_verification_cases(path):
    case = load_case(path)
    reference = TerzaghiSolver().predict(case)
    compaction = twin.simulate_case(case)
    assert np.abs(compaction - reference.compaction).max() <= FORWARD_TOLERANCE_M
    assert np.abs(-compaction.sum(axis=0) - reference.displacement).max() <= FORWARD_TOLERANCE_M
    # the smoothed switch stays within delta/2 (Sskv - Sske) b count of the sharp one
    smoothed = twin.simulate_case(case, smoothing=SMOOTHING_M)
    _, _, sediments, _ = twin.case_tensors(case)
    bound = twin.smoothing_bound(sediments, SMOOTHING_M).numpy()
    difference = np.abs(smoothed.sum(axis=0) - compaction.sum(axis=0)).max(axis=1)
    assert np.all(difference <= bound + 1e-12)


def test_forward_matches_terzaghi_on_the_tiny_twin(tiny_twin):
    reference = TerzaghiSolver().predict(tiny_twin)
    compaction = twin.simulate_case(tiny_twin)
    assert np.abs(-compaction.sum(axis=0) - reference.displacement).max() <= FORWARD_TOLERANCE_M


def _small(case, cells=2, months=12):
    case = case.take_cells(np.arange(cells))
    return replace(case, times=case.times[:months],
                   aquifers=tuple(replace(a, head=a.head[:, :months]) for a in case.aquifers))


@pytest.mark.parametrize("source,smoothing", [
    ("three-aquifer-column", 0.0), ("conformance", 0.0), ("conformance", SMOOTHING_M)])
def test_gradients_match_finite_differences(source, smoothing):
    """d(final compaction of each aquifer)/d(parameters) by autograd (through the
    checkpointed time chunks) against torch's finite differences, for every calibrated
    kind: interbed_thickness, kv, sskv, sske (log multipliers), preconsolidation_offset."""
    case = (load_case(ROOT / "cases" / "verification" / f"{source}.toml")
            if source != "conformance" else conformance_case())
    case = _small(case, months=24 if source == "conformance" else 12)
    space = ParameterSpace.for_case(case, {k: 1.0 for k in SEDIMENT_KINDS})
    heads, days, sediments, _ = twin.case_tensors(case)
    values = torch.tensor(np.random.default_rng(0).normal(0.0, 0.1, (space.size, case.n_cells)))
    # an offset that makes every bed start overconsolidated: the switch is crossed
    values[space.kind == "preconsolidation_offset"] = 0.5

    def final(v):
        changed = twin.with_parameters(sediments, space.aquifer, space.kind, v)
        return twin.compaction(heads, days, changed, smoothing=smoothing,
                               checkpoint=5)[:, :, -1]

    assert torch.autograd.gradcheck(final, (values.requires_grad_(True),), eps=1e-6,
                                    atol=1e-8, rtol=1e-5)


def test_checkpointed_gradients_equal_plain_ones():
    case = _small(load_case(ROOT / "cases" / "verification" / "three-aquifer-column.toml"),
                  cells=3, months=30)
    space = ParameterSpace.for_case(case, {k: 1.0 for k in SEDIMENT_KINDS})
    heads, days, sediments, _ = twin.case_tensors(case)
    grads = []
    for chunk in (0, 7):
        v = torch.zeros(space.size, case.n_cells, dtype=torch.float64, requires_grad=True)
        changed = twin.with_parameters(sediments, space.aquifer, space.kind, v)
        (twin.compaction(heads, days, changed, checkpoint=chunk) ** 2).sum().backward()
        grads.append(v.grad)
    assert torch.equal(grads[0], grads[1])


def test_parameters_apply_as_the_calibration_does():
    """with_parameters (torch) == ParameterSpace.apply (numpy) then the forward run."""
    case = _small(load_case(ROOT / "cases" / "verification" / "three-aquifer-column.toml"),
                  cells=3, months=24)
    space = ParameterSpace.for_case(case, {k: 1.0 for k in SEDIMENT_KINDS})
    values = np.random.default_rng(1).normal(0.0, 0.3, (space.size, case.n_cells))
    expected = TerzaghiSolver().predict(space.apply(case, values)).compaction
    heads, days, sediments, _ = twin.case_tensors(case)
    with torch.no_grad():
        got = twin.compaction(heads, days, twin.with_parameters(
            sediments, space.aquifer, space.kind, torch.tensor(values))).numpy()
    assert np.abs(got - expected).max() <= FORWARD_TOLERANCE_M


DPL_OPTIONS = {"epochs": 3, "batch_size": 64, "checkpoint": 12, "hidden": 8}


def test_dpl_passes_the_conformance_suite():
    """Result protocol, determinism, no peeking at test observations (poisoned InSAR
    and extensometers), predict without observations, save/load round trip."""
    from engine.conformance import check_solver
    passed = check_solver("dpl:terzaghi", **DPL_OPTIONS)
    assert {"no peeking", "determinism", "save/load"} <= set(passed)


def test_dpl_gives_the_bench_the_parameters_it_runs():
    """The bench maps and scores dpl's parameters (engine.app.truth): the estimated case
    holds the prior times the learned multipliers, and it is what predict runs."""
    from engine.app import truth as t
    from engine.registry import make_solver, solver_class
    from engine.split import Split
    from physics.solver import TerzaghiSolver

    assert t.estimates_parameters(solver_class("dpl:terzaghi"))
    case = conformance_case()
    solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, "epochs": 2, "discrepancy": False})
    solver.fit(case, Split.parse("spatial:0.7", case))
    names, values = solver.parameters(case)
    estimated = t.estimated_case(solver, case)
    for a, aquifer in enumerate(case.aquifers):
        row = names.index(f"{aquifer.name}.interbed_thickness")
        np.testing.assert_allclose(estimated.aquifers[a].interbeds[0].thickness,
                                   aquifer.interbeds[0].thickness * np.exp(values[row]),
                                   rtol=1e-12)
    assert np.abs(values[[names.index(f"{a.name}.interbed_thickness")
                          for a in case.aquifers]]).max() > 0     # it moved them
    np.testing.assert_array_equal(solver.predict(case).compaction,
                                  TerzaghiSolver().predict(estimated).compaction)


def test_dpl_saves_its_learned_parameters(tmp_path):
    from safetensors.numpy import load_file

    from engine.conformance import conformance_case
    from engine.persistence import load_model, save_model
    from engine.registry import make_solver
    from engine.split import Split

    case = conformance_case()
    solver = make_solver("dpl:terzaghi", **DPL_OPTIONS)
    report = solver.fit(case, Split.parse("temporal:2001-06", case))
    assert report["extensometer_series"] == 4       # 2 sites x 2 aquifers
    save_model(solver, tmp_path)
    values = load_file(tmp_path / "parameters.safetensors")["values"]
    names, expected = solver.parameters(case)
    assert np.array_equal(values, expected) and len(names) == values.shape[0]
    # bounded: ln multipliers within CLIP_SD spreads, the offset in [0, CLIP_SD x 3 m]
    assert np.all(np.abs(values) <= 4.0 * 3.0)
    loaded = load_model(tmp_path)
    assert np.array_equal(loaded.predict(case).displacement, solver.predict(case).displacement)
    # the weights file holds the network and its bounds only, as before the prior
    # penalty: a model saved by an earlier landsub loads
    weights = load_file(tmp_path / "weights.safetensors")
    assert {k for k in weights if not k.startswith("net.")} == {"bound", "offset"}
    # a stored array that is not finite is refused at load, naming the file
    from engine.errors import InputError
    from tests.model_files import rewritten

    for file, name in (("parameters.safetensors", "values"),
                       ("weights.safetensors", "net.0.weight"),
                       ("discrepancy.safetensors", "alpha")):
        def poison(arrays, name=name):
            arrays[name].flat[0] = np.nan
        bad = rewritten(tmp_path, tmp_path.parent / f"bad-{name}", file, poison)
        with pytest.raises(InputError, match=f"{file}.*not finite|{file}.*NaN"):
            load_model(bad)


@pytest.mark.parametrize("drift_spread", [0.0, 2.0])
def test_dpl_trains_through_a_spinup(tiny_twin_with_spinup, drift_spread):
    """On the twin (its 1955-2002 spin-up first), dpl's training sequences run the whole
    record and carry the observations at the case's times only; with a head drift too
    (the trainer hands the record up to the last training time only)."""
    from engine.registry import make_solver
    from engine.split import Split

    case = tiny_twin_with_spinup.take_cells(np.arange(12))
    solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, "epochs": 1,
                                            "drift_spread": drift_spread})
    report = solver.fit(case, Split.parse("temporal:2012-01", case))
    assert np.isfinite(report["history"][-1]["train"])
    record, skip = case.spinup_record()
    assert skip == len(case.spinup_times) > 0
    dynamic, _ = solver._inputs(case, np.arange(3))
    assert dynamic["heads"].shape == (3, record.n_times, len(case.aquifers))
    predicted = solver.predict(case)
    assert predicted.displacement.shape == (case.n_cells, case.n_times)
    assert np.all(predicted.displacement[:, 0] == 0.0)


def test_dpl_prior_penalty_pulls_the_learned_parameters_to_the_prior():
    """With prior_error > 0 the fit is a MAP estimate: the same training with a heavier
    prior learns parameters nearer the prior's centre (0), measured in prior spreads,
    and fits the record less closely."""
    from engine.conformance import conformance_case
    from engine.registry import make_solver
    from engine.split import Split

    case = conformance_case()
    split = Split.parse("temporal:2001-06", case)
    fitted = {}
    for error in (0.0, 5.0):
        solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, "prior_error": error,
                                                "insar_model_error": 0.0,
                                                "head_statistics": True})
        report = solver.fit(case, split)
        _, values = solver.parameters(case)
        z = values / solver.space.spread[:, None]
        fitted[error] = (float(np.sqrt(np.mean(z ** 2))), report["history"][-1]["train"])
    (z_free, misfit_free), (z_heavy, misfit_heavy) = fitted.values()
    # measured: 0.16 -> 0.08 prior spreads (rms), misfit 0.0032 -> 0.0039
    assert z_heavy < 0.7 * z_free
    assert misfit_heavy > 1.1 * misfit_free


def test_dpl_runs_the_head_drift_as_the_calibration_applies_it():
    """With drift_spread > 0 the network also outputs a head drift per aquifer; its
    twin run (the drift ramped onto the heads in torch) equals terzaghi on
    ``ParameterSpace.apply`` of the same parameters."""
    from surrogates.differentiable.dpl import ParameterNetwork, _sediment_arrays

    case = _small(load_case(ROOT / "cases" / "verification" / "three-aquifer-column.toml"),
                  cells=3, months=24)
    space = ParameterSpace.for_case(case, {**{k: 1.0 for k in SEDIMENT_KINDS},
                                           "head_drift": 2.0})
    arrays, keys = _sediment_arrays(case)
    config = {"hidden": 4, "layers": 1, "nodes": 19, "substeps": 1, "smoothing": 0.0,
              "checkpoint": 0}
    torch.manual_seed(0)
    network = ParameterNetwork(2, space, keys, config, scale=1.0)
    with torch.no_grad():       # the untrained network gives the prior: move it off
        network.net[-1].weight.normal_(0.0, 0.5)
    network.ramp = torch.as_tensor(space.ramp(case.times))
    covariates = torch.randn(case.n_cells, 2, dtype=torch.float64)
    heads = torch.as_tensor(np.stack([a.head for a in case.aquifers], axis=-1))
    days = torch.as_tensor(np.broadcast_to(np.asarray(case.days, dtype=np.float64),
                                           (case.n_cells, case.n_times)).copy())
    with torch.no_grad():
        got = network.compaction(heads, days, covariates,
                                 {k: torch.as_tensor(v) for k, v in arrays.items()}).numpy()
        values = network.parameters_of(covariates).numpy()
    assert np.abs(values[space.kind == "head_drift"]).max() > 0.1
    expected = TerzaghiSolver().predict(space.apply(case, values)).compaction
    assert np.abs(got - expected).max() <= FORWARD_TOLERANCE_M


@pytest.mark.parametrize("relative", [0.0, 0.05])
def test_dpl_whitened_loss_is_the_calibrations_misfit(relative):
    """With insar_model_error > 0 the trainer's loss on dpl's training sequences is,
    per InSAR or extensometer series, min over a constant c of (e - c)^T R^-1 (e - c),
    e the residual (m) on its readings and R = noise^2 I + s^2 exp(-|dt| / months),
    built here from the record directly; with insar_relative_error f an InSAR series'
    s is hypot(insar_model_error, f x the range of the cell's readable readings), to
    1 mm; the prior weighs in full; prior_error is refused beside it."""
    from engine.errors import InputError
    from engine.registry import make_solver
    from engine.split import Split
    from engine.units import DAYS_PER_MONTH
    from physics.calibration.observations import training_data
    from surrogates.differentiable.dpl import _sediment_arrays
    from surrogates.train import sequence_loss

    errors = {"insar_model_error": 0.01, "extensometer_model_error": 0.004,
              "error_months": 12.0}
    case = conformance_case()
    split = Split.parse("temporal:2001-06", case)
    solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, **errors, "epochs": 1,
                                            "insar_relative_error": relative})
    report = solver.fit(case, split)
    readable = np.where(split.train_mask(case) | split.validation_mask(case),
                        case.observations.displacement, np.nan)
    assert report["loss"] == "whitened, with the prior" and solver.model.prior_weight == 1.0
    data = training_data(case, split.train_mask(case))
    sequences = solver._sequences(case, data, _sediment_arrays(case)[0])
    record, skip = case.spinup_record()
    months = np.asarray(record.days, dtype=np.float64) / DAYS_PER_MONTH
    rng = np.random.default_rng(0)
    output = rng.normal(size=sequences.target.shape)
    tensors = sequences.tensors(torch.device("cpu"))
    _, target, whitening = tensors.batch(torch.arange(len(sequences)))
    end = target.shape[1]
    got, _ = sequence_loss(torch.as_tensor(output[:, :end]), target.double(), **whitening)
    insar_cells = data.cells[np.isfinite(data.displacement).any(axis=1)]
    insar_rows = len(insar_cells)
    expected, sds = 0.0, set()
    for row, values in enumerate(sequences.target):
        at = np.flatnonzero(np.isfinite(values))
        e = (output[row, at] - values[at]) * solver.scale
        if row < insar_rows:
            cell = readable[insar_cells[row]]
            s = np.hypot(errors["insar_model_error"],
                         relative * (np.nanmax(cell) - np.nanmin(cell)))
            noise, s = np.full(len(at), data.displacement_noise), round(s * 1e3) / 1e3
            sds.add(s)
        else:
            noise, s = np.full(len(at), data.ext_noise[0]), errors["extensometer_model_error"]
        lag = np.abs(months[at][:, None] - months[at][None, :])
        inverse = np.linalg.inv(np.diag(noise**2) + s**2 * np.exp(-lag / errors["error_months"]))
        one = np.ones(len(at))
        c = (one @ inverse @ e) / (one @ inverse @ one)
        expected += (e - c) @ inverse @ (e - c)
    assert len(sequences) > insar_rows > 0       # both kinds of series are in it
    assert np.allclose(data.ext_noise, data.ext_noise[0])
    assert float(got) == pytest.approx(expected, rel=1e-6)
    assert len(sds) == 1 if relative == 0 else len(sds) > 1   # the test can tell them apart
    with pytest.raises(InputError, match="prior_error"):
        make_solver("dpl:terzaghi", **errors, prior_error=0.1)



@pytest.mark.parametrize("head_statistics", [True, False])
def test_dpl_without_head_statistics_learns_parameters_the_heads_do_not_move(head_statistics):
    """With head_statistics = false the network reads no statistic of the heads: the
    parameters it gives a cell stay the same when that cell's heads change (they move
    with them otherwise)."""
    from engine.registry import make_solver
    from engine.split import Split

    case = conformance_case()
    solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, "epochs": 1,
                                            "head_statistics": head_statistics})
    solver.fit(case, Split.parse("temporal:2001-06", case))
    deeper = replace(case, aquifers=tuple(
        replace(a, head=a.head - np.linspace(0.0, 5.0, case.n_times)) for a in case.aquifers))
    _, before = solver.parameters(case)
    _, after = solver.parameters(deeper)
    assert np.array_equal(before, after) != head_statistics


def test_a_dpl_model_saved_before_the_whitened_loss_and_head_option_loads(tmp_path):
    """A model saved by an earlier landsub has neither ``head_statistics`` nor
    ``insar_model_error`` in its options: it was fitted with the heads' statistics and
    the white loss (a prior_error beside them), and loads so, predicting as before."""
    from engine.persistence import load_model, save_model
    from engine.registry import make_solver
    from engine.split import Split
    from tests.model_files import rewritten

    case = conformance_case()
    solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, "epochs": 1, "prior_error": 0.1,
                                            "insar_model_error": 0.0,
                                            "head_statistics": True})
    solver.fit(case, Split.parse("temporal:2001-06", case))
    save_model(solver, tmp_path / "now")

    def earlier(config):
        for key in ("head_statistics", "insar_model_error", "discrepancy"):
            del config["options"][key]
        del config["discrepancy"]
    loaded = load_model(rewritten(tmp_path / "now", tmp_path / "earlier", "config.json",
                                  earlier))
    assert loaded.options["head_statistics"] and not loaded.whitened
    assert not loaded.options["discrepancy"] and loaded.discrepancy is None
    assert np.array_equal(loaded.predict(case).displacement, solver.predict(case).displacement)


def test_dpl_discrepancy_corrects_the_record_not_the_physics_nor_a_whatif():
    """The conditioned discrepancy moves the displacement toward the record the fit
    read, leaves the compaction per aquifer the physics' (the same network: it is
    conditioned after training), and a pumping change's effect is the physics' alone."""
    from engine.registry import make_solver
    from engine.split import Split

    case = conformance_case()
    split = Split.parse("temporal:2001-06", case)
    fitted = {}
    for discrepancy in (True, False):
        solver = make_solver("dpl:terzaghi", **{**DPL_OPTIONS, "epochs": 1,
                                                "discrepancy": discrepancy})
        report = solver.fit(case, split)
        fitted[discrepancy] = solver
    assert report["discrepancy"] is None and fitted[True].report["discrepancy"]["cells"] > 0
    with_it, without = (fitted[k].predict(case) for k in (True, False))
    assert np.array_equal(with_it.compaction, without.compaction)
    train = split.train_mask(case)
    observed = case.observations.displacement

    def rmse(result):
        return float(np.sqrt(np.nanmean((result.displacement - observed)[train] ** 2)))
    assert rmse(with_it) < 0.9 * rmse(without)
    pumped = replace(case, aquifers=tuple(
        replace(a, head=a.head - np.where(np.arange(case.n_times) > 20, 3.0, 0.0))
        for a in case.aquifers))
    effect = {k: fitted[k].predict(pumped).displacement - fitted[k].predict(case).displacement
              for k in fitted}
    assert np.abs(effect[False]).max() > 1e-3
    np.testing.assert_allclose(effect[True], effect[False], rtol=0, atol=1e-12)
