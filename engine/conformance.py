"""The conformance suite every registered solver passes, in the spirit of
scikit-learn's ``check_estimator``.

``check_solver("trend")`` fits and predicts on a small case (``conformance_case()``:
a few cells, monthly, two aquifers with delay interbeds, heads falling then recovering,
observations from a closed form) and asserts the solver protocol: result shape, times,
cell ids, units and signs, displacement 0 at the first time, determinism, no use of test
observations in fit, no use of observations in predict and, for stateful solvers, a
bit-identical save/load round trip. A failure raises AssertionError naming the check and
the solver.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace

import numpy as np

from engine.case import Aquifer, Case, Cells, Compressible, Observations
from engine.registry import solver_class
from engine.result import Result
from engine.split import Split

KINDS = ("physics", "ml", "hybrid")
MAX_DISPLACEMENT_M = 100.0      # anything larger is not metres of ground movement
FIRST_TIME_TOLERANCE_M = 1e-9
POISON_M = 1.0e6                # replaces test observations: any use of them shows


def conformance_case(n_cells: int = 12, n_months: int = 36) -> Case:
    """A small monthly case on a 1 km grid with two confined aquifers, each with one delay
    interbed system. Heads fall linearly for 2/3 of the period, then recover 40% of the
    drawdown. Observed displacement and extensometer compaction (at two sites) are the
    equilibrium (fully drained) interbed response: per aquifer, with b = thickness x count,
    h0 the initial head and hmin the lowest head so far,

        compaction = b * (sskv * (h0 - hmin) - sske * (h - hmin))   (m, shortening +)

    and displacement = -(sum over aquifers of compaction) (m, up +).
    """
    times = np.arange(np.datetime64("2000-01"), np.datetime64("2000-01") + n_months
                      ).astype("datetime64[D]")
    i = np.arange(n_cells)
    cells = Cells(ids=np.array([f"p{k}" for k in i]), x=1000.0 * (i % 4),
                  y=1000.0 * (i // 4))
    frac = np.linspace(0.0, 1.0, n_months)
    turn = 2.0 / 3.0
    shape = np.where(frac <= turn, frac / turn, 1.0 - 0.4 * (frac - turn) / (1.0 - turn))
    aquifers, compaction = [], []
    for a, (name, h0) in enumerate((("confined-1", 30.0), ("confined-2", 10.0))):
        drawdown = 5.0 + 10.0 * ((i * (a + 3)) % n_cells) / n_cells        # m, per cell
        head = h0 - drawdown[:, None] * shape[None, :]
        ones = np.ones(n_cells)
        beds = Compressible(kind="interbeds", thickness=2.0 + 0.1 * i, count=3.0 * ones,
                            kv=1e-4 * ones, sske=1e-5 * ones, sskv=1e-3 * ones)
        hmin = np.minimum.accumulate(head, axis=1)
        b = (beds.thickness * beds.count)[:, None]
        compaction.append(b * (beds.sskv[:, None] * (h0 - hmin)
                               - beds.sske[:, None] * (head - hmin)))
        aquifers.append(Aquifer(name=name, head=head, interbeds=(beds,)))
    compaction = np.array(compaction)
    sites = [(0, "ext-a"), (n_cells // 2, "ext-b")]
    rows = [(site, cell, a, t) for cell, site in sites for a in range(len(aquifers))
            for t in range(n_months)]
    extensometers = {
        "site": np.array([r[0] for r in rows]),
        "cell": np.array([r[1] for r in rows]),
        "aquifer": np.array([r[2] for r in rows]),
        "time": times[[r[3] for r in rows]],
        "compaction": np.array([compaction[r[2], r[1], r[3]] for r in rows]),
    }
    return Case(name="conformance", times=times, cells=cells, aquifers=tuple(aquifers),
                description="small synthetic case of the solver conformance suite",
                observations=Observations(displacement=-compaction.sum(axis=0),
                                          extensometers=extensometers))


def conformance_split(case: Case) -> Split:
    """70% of the cells train (a fifth of them validate), up to 2/3 of the time axis."""
    until = str(case.times[max(2 * case.n_times // 3 - 1, 0)])
    split = Split("both", train_fraction=0.7, train_until=until, validation_fraction=0.2)
    split.check(case)
    return split


def poisoned(case: Case, split: Split) -> Case:
    """``case`` with every observation fit() must not see set to POISON_M: the test part
    of displacement, extensometer records at held-out cells or after the training date,
    well records after the training date."""
    obs = case.observations
    held_out = ~(split.train_mask(case) | split.validation_mask(case)).any(axis=1)
    after = (np.datetime64(split.train_until, "D") if split.train_until is not None
             else np.datetime64("NaT"))

    def late(t):
        return np.zeros(len(t), bool) if np.isnat(after) else np.asarray(t) > after

    displacement = None
    if obs.displacement is not None:
        displacement = np.where(split.test_mask(case), POISON_M, obs.displacement)
    extensometers = None
    if obs.extensometers is not None:
        e = obs.extensometers
        bad = held_out[e["cell"]] | late(e["time"])
        extensometers = {**e, "compaction": np.where(bad, POISON_M, e["compaction"])}
    wells = None
    if obs.wells is not None:
        w = obs.wells
        wells = {**w, "head": np.where(late(w["time"]), POISON_M, w["head"])}
    return replace(case, observations=Observations(displacement, extensometers, wells))


class _Checker:
    def __init__(self, label: str):
        self.label = label
        self.passed: list[str] = []

    def __call__(self, check: str, ok: bool, message: str = "") -> None:
        if not ok:
            raise AssertionError(f"check_solver[{self.label}] {check}: {message}")
        if check not in self.passed:
            self.passed.append(check)


def _same(a: Result, b: Result) -> bool:
    return np.array_equal(a.displacement, b.displacement) and (
        (a.compaction is None and b.compaction is None)
        or (a.compaction is not None and b.compaction is not None
            and np.array_equal(a.compaction, b.compaction)))


def check_solver(name_or_class, case: Case | None = None, **options) -> list[str]:
    """Run the conformance checks on a solver given by registered name or class, with
    keyword ``options``; returns the names of the checks passed."""
    cls = solver_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    check = _Checker(getattr(cls, "name", "") or repr(cls))
    case = conformance_case() if case is None else case
    split = conformance_split(case)

    check("kind", cls.kind in KINDS, f'kind "{cls.kind}" is not one of {KINDS}')
    check("name", isinstance(cls.name, str) and bool(cls.name), "the class sets no name")

    solver = cls(**options)
    report = solver.fit(case, split)
    check("fit report", isinstance(report, dict), f"fit() returned {type(report).__name__}")
    result = solver.predict(case)
    _check_result(check, cls, case, result)

    other = cls(**options)
    other.fit(case, None)
    unsplit = other.predict(case)
    check("fit without split", np.shape(unsplit.displacement) == (case.n_cells, case.n_times)
          and np.all(np.isfinite(unsplit.displacement)),
          "fit(case, None) then predict gave a wrong shape or non-finite values")

    again = cls(**options)
    again.fit(case, split)
    check("determinism", _same(result, again.predict(case)),
          "two fits with the same options and split predict different values")

    blind = cls(**options)
    blind.fit(poisoned(case, split), split)
    check("no peeking", _same(result, blind.predict(case)),
          f"predictions change when the test observations are set to {POISON_M:g}: "
          "fit() reads observations outside the training and validation parts")

    check("predict ignores observations",
          _same(result, solver.predict(case.without_observations())),
          "predict() on the case without observations differs")

    if cls.stateful:
        with tempfile.TemporaryDirectory() as directory:
            solver.save(directory)
            loaded = cls.load(directory)
        check("save/load", isinstance(loaded, cls) and _same(result, loaded.predict(case)),
              "the loaded solver predicts differently from the saved one")
    return check.passed


def _check_result(check, cls, case: Case, r: Result) -> None:
    check("result type", isinstance(r, Result), f"predict() returned {type(r).__name__}")
    d = r.displacement
    n, t = case.n_cells, case.n_times
    check("shape", isinstance(d, np.ndarray) and d.shape == (n, t),
          f"displacement shape {np.shape(d)} != (cells, times) = ({n}, {t})")
    check("dtype", d.dtype == np.float64, f"displacement dtype {d.dtype} is not float64")
    check("times", np.array_equal(np.asarray(r.times, "datetime64[D]"), case.times),
          "result times differ from the case times")
    check("cell ids", np.array_equal(np.asarray(r.cell_ids).astype(str),
                                     case.cells.ids.astype(str))
          and np.array_equal(r.x, case.cells.x) and np.array_equal(r.y, case.cells.y),
          "result cell ids or coordinates differ from the case cells")
    check("labels", r.solver == cls.name and r.kind == cls.kind,
          f'result says solver "{r.solver}", kind "{r.kind}"')
    check("finite", bool(np.all(np.isfinite(d))), "displacement has NaN or inf")
    check("first time", bool(np.all(np.abs(d[:, 0]) <= FIRST_TIME_TOLERANCE_M)),
          f"displacement at the first time is not 0 (max |d| = {np.max(np.abs(d[:, 0])):g} m)")
    check("units", bool(np.all(np.abs(d) < MAX_DISPLACEMENT_M)),
          f"|displacement| reaches {np.max(np.abs(d)):g}: not metres")
    # the mean head is lowest at the deepest drawdown: the ground must not be up there
    deepest = int(np.argmin(np.mean([a.head.mean(axis=0) for a in case.aquifers], axis=0)))
    check("sign", float(d[:, deepest].mean()) <= 0.0,
          f"mean displacement {d[:, deepest].mean():g} m > 0 at the deepest drawdown "
          f"({case.times[deepest]}): subsidence must be negative (up positive)")
    if r.compaction is not None:
        c = r.compaction
        a = len(case.aquifers)
        check("compaction", np.shape(c) == (a, n, t) and bool(np.all(np.isfinite(c)))
              and list(r.aquifers or []) == case.aquifer_names,
              f"compaction shape {np.shape(c)} != ({a}, {n}, {t}), non-finite, or aquifer "
              f"names {r.aquifers} != {case.aquifer_names}")
        if cls.kind == "physics":
            check("compaction sum", np.allclose(d, -c.sum(axis=0), rtol=1e-9, atol=1e-12),
                  "displacement is not minus the sum of the aquifers' compaction")
