"""The conformance suite catches each broken solver by the right check, passes a sound
one, and its small case and poisoning do what they say."""

import json
from pathlib import Path

import numpy as np
import pytest

from engine import registry
from engine.conformance import POISON_M, check_solver, conformance_case, conformance_split, poisoned
from engine.registry import solver_class
from engine.result import Result
from engine.solver import Solver
from engine.split import Split


def drawdown(case):
    """[N, T] m, total head decline since the first time, over the aquifers."""
    return sum(a.head[:, :1] - a.head for a in case.aquifers)


class Storage(Solver):
    """A sound physics solver: elastic response of the interbeds, per aquifer
    compaction = thickness x count x sske x (h0 - h)."""

    name = "test-storage"
    kind = "physics"

    def predict(self, case):
        compaction = np.array([
            ib.thickness[:, None] * ib.count[:, None] * ib.sske[:, None]
            * (a.head[:, :1] - a.head) for a in case.aquifers for ib in a.interbeds])
        return Result.for_case(case, self.name, self.kind, -compaction.sum(axis=0),
                               compaction=compaction)


class MeanRate(Solver):
    """Stateful: one rate (m/day) for all cells, fitted on the training observations."""

    name = "test-mean-rate"
    kind = "ml"
    stateful = True

    def fit(self, case, split=None):
        mask = (split or Split("none")).train_mask(case) & (case.days > 0)[None, :]
        self.rate = float(np.mean(case.observations.displacement[mask]
                                  / np.broadcast_to(case.days, mask.shape)[mask]))
        return {}

    def predict(self, case):
        return Result.for_case(case, self.name, self.kind,
                               self.rate * np.tile(case.days, (case.n_cells, 1)))

    def save(self, directory):
        (Path(directory) / "rate.json").write_text(json.dumps(self.rate))

    @classmethod
    def load(cls, directory):
        solver = cls()
        solver.rate = json.loads((Path(directory) / "rate.json").read_text())
        return solver


class Peeking(MeanRate):
    def fit(self, case, split=None):
        return super().fit(case, None)


class Noisy(MeanRate):
    def predict(self, case):
        result = super().predict(case)
        result.displacement[:, 1:] += np.random.default_rng().normal(0, 1e-4, case.n_times - 1)
        return result


class LossySave(MeanRate):
    def save(self, directory):
        (Path(directory) / "rate.json").write_text(json.dumps(float(np.float32(self.rate))))


class ObservationEcho(Solver):
    """Returns the observations when they are there: predict reads observations."""

    name = "test-echo"
    kind = "ml"

    def predict(self, case):
        d = case.observations.displacement
        return Result.for_case(case, self.name, self.kind,
                               np.zeros((case.n_cells, case.n_times)) if d is None else d.copy())


def broken_predict(name, change, kind="physics"):
    class Broken(Storage):
        def predict(self, case):
            return change(super().predict(case), case)
    Broken.name, Broken.kind = name, kind
    return Broken


def _set(result, **changes):
    for key, value in changes.items():
        setattr(result, key, value)
    return result


BROKEN = [
    (broken_predict("b-kind", lambda r, c: r, kind="neural"), "kind"),
    (broken_predict("b-shape", lambda r, c: _set(r, displacement=r.displacement.T.copy())),
     "shape"),
    (broken_predict("b-dtype", lambda r, c: _set(
        r, displacement=r.displacement.astype(np.float32))), "dtype"),
    (broken_predict("b-times", lambda r, c: _set(r, times=r.times + 1)), "times"),
    (broken_predict("b-cells", lambda r, c: _set(r, cell_ids=r.cell_ids[::-1])), "cell ids"),
    (broken_predict("b-label", lambda r, c: _set(r, solver="other")), "labels"),
    (broken_predict("b-nan", lambda r, c: _set(r, displacement=np.where(
        np.arange(c.n_times) == 5, np.nan, r.displacement))), "finite"),
    (broken_predict("b-offset", lambda r, c: _set(r, displacement=r.displacement - 0.01)),
     "first time"),
    (broken_predict("b-millimetres", lambda r, c: _set(r, displacement=-1e3 * drawdown(c))),
     "units"),
    (broken_predict("b-sign", lambda r, c: _set(r, displacement=-r.displacement,
                                                compaction=-r.compaction)), "sign"),
    (broken_predict("b-compaction", lambda r, c: _set(r, compaction=r.compaction[:1])),
     "compaction"),
    (broken_predict("b-sum", lambda r, c: _set(r, displacement=2 * r.displacement)),
     "compaction sum"),
    (Noisy, "determinism"),
    (Peeking, "no peeking"),
    (ObservationEcho, "predict ignores observations"),
    (LossySave, "save/load"),
]


@pytest.mark.parametrize("cls, check", BROKEN, ids=[c for _, c in BROKEN])
def test_each_broken_solver_fails_the_right_check(cls, check):
    with pytest.raises(AssertionError) as err:
        check_solver(cls)
    assert f"check_solver[{cls.name}] {check}:" in str(err.value)


@pytest.mark.parametrize("cls", [Storage, MeanRate])
def test_sound_solvers_pass(cls):
    passed = check_solver(cls)
    assert {"shape", "sign", "determinism", "no peeking",
            "predict ignores observations"} <= set(passed)
    assert ("compaction sum" in passed) == (cls is Storage)
    assert ("save/load" in passed) == cls.stateful


def test_registered_names_are_checked_by_name(monkeypatch):
    monkeypatch.setattr(registry, "_registered", {})
    registry.register("test-storage", Storage)
    assert solver_class("test-storage") is Storage
    assert "sign" in check_solver("test-storage")


def test_check_solver_takes_a_given_case():
    case = conformance_case(n_cells=5, n_months=10)
    assert "no peeking" in check_solver(MeanRate, case=case)


def test_conformance_case_is_consistent():
    case = conformance_case()
    d = case.observations.displacement
    assert d.shape == (case.n_cells, case.n_times) and np.all(d[:, 0] == 0)
    assert len(set(zip(case.cells.x, case.cells.y))) == case.n_cells
    # heads fall then partly recover; the ground goes down, then rebounds a little
    mean_head = np.mean([a.head.mean(axis=0) for a in case.aquifers], axis=0)
    deepest = int(np.argmin(mean_head))
    assert 0 < deepest < case.n_times - 1 and mean_head[-1] > mean_head[deepest]
    assert np.all(d[:, deepest] < 0) and np.all(d[:, -1] > d[:, deepest])
    # the extensometers measure the same compaction the displacement sums
    ext = case.observations.extensometers
    for cell in np.unique(ext["cell"]):
        at = ext["cell"] == cell
        total = np.zeros(case.n_times)
        np.add.at(total, np.searchsorted(case.times, ext["time"][at]), ext["compaction"][at])
        np.testing.assert_allclose(-total, d[cell], rtol=1e-12)


def test_poisoning_touches_exactly_what_fit_must_not_see():
    case = conformance_case()
    split = conformance_split(case)
    bad = poisoned(case, split)
    test = split.test_mask(case)
    assert test.any() and (~test).any()
    np.testing.assert_array_equal(bad.observations.displacement == POISON_M, test)
    np.testing.assert_array_equal(bad.observations.displacement[~test],
                                  case.observations.displacement[~test])
    ext, bad_ext = case.observations.extensometers, bad.observations.extensometers
    t = np.searchsorted(case.times, ext["time"])
    np.testing.assert_array_equal(bad_ext["compaction"] == POISON_M, test[ext["cell"], t])
    assert (bad_ext["compaction"] == POISON_M).any() and (bad_ext["compaction"] != POISON_M).any()
