"""Verification of the ``terzaghi`` solver against the analytical Terzaghi solution, for
``landsub verify``: the error on a single-bed case and a grid-refinement table.

The reference case is terzaghi-step (cases/verification/terzaghi-step.toml): one doubly
drained bed, b = 1 m, Kv = 2.5e-6 m/d, Sske = 1e-5 /m, Sskv = 1e-2 /m, the head falling
1 m linearly over the first day and then held, daily steps to 2000 d (tau = 1000 d).
The head only falls from a normally consolidated start, so every node stays on its
virgin curve and the analytical solution with Ss = Sskv is exact.
"""

from __future__ import annotations

import numpy as np

from engine.case import Aquifer, Case, Cells, Compressible, Geostatic
from physics.solver import TerzaghiSolver
from physics.terzaghi import compaction_piecewise_linear, lag_time


def build_case(name: str, days, aquifers, geostatic: dict | None = None) -> Case:
    """A Case from plain values, for verification and tests.

    days : [T] whole days from 2000-01-01, increasing. aquifers : list of dicts with
    "head" ([N, T] m, or [T] for one cell) and optionally "interbeds" (a list of dicts),
    "nodelay", "coarse" (dicts of Compressible fields; scalars apply to every cell),
    "top", "bottom" (depths, m) and "name". geostatic : dict of Geostatic fields.
    """
    days = np.asarray(days)
    heads = [np.atleast_2d(np.asarray(aq["head"], dtype=np.float64)) for aq in aquifers]
    n = heads[0].shape[0]

    def per_cell(value):
        return None if value is None else np.broadcast_to(
            np.asarray(value, dtype=np.float64), (n,)).copy()

    def material(kind, fields):
        fields = dict(fields)
        storage = fields.pop("storage", "specific")
        return Compressible(kind, storage=storage,
                            **{k: per_cell(v) for k, v in fields.items()})

    built = []
    for a, (aq, head) in enumerate(zip(aquifers, heads)):
        built.append(Aquifer(
            aq.get("name", f"aquifer-{a}"), head,
            interbeds=tuple(material("interbeds", ib) for ib in aq.get("interbeds", ())),
            nodelay=material("nodelay", aq["nodelay"]) if "nodelay" in aq else None,
            coarse=material("coarse", aq["coarse"]) if "coarse" in aq else None,
            top=per_cell(aq.get("top")), bottom=per_cell(aq.get("bottom"))))
    ids = np.array([str(i) for i in range(n)])
    geo = None
    if geostatic is not None:
        geo = Geostatic(geostatic["sgm"], geostatic["sgs"],
                        per_cell(geostatic.get("land_surface", 0.0)))
    return Case(name=name, times=np.datetime64("2000-01-01") + days.astype("timedelta64[D]"),
                cells=Cells(ids, np.zeros(n), np.zeros(n)), aquifers=tuple(built),
                geostatic=geo)


def terzaghi_step_case(days: int = 2000) -> Case:
    """The terzaghi-step case built in memory (same values as the TOML file)."""
    t = np.arange(days + 1)
    head = np.where(t >= 1, -1.0, -t.astype(np.float64))
    bed = {"thickness": 1.0, "count": 1.0, "kv": 2.5e-6, "sske": 1.0e-5, "sskv": 1.0e-2}
    return build_case("terzaghi-step", t, [{"name": "confined-1", "head": head,
                                             "interbeds": [bed]}])


def _single_bed(case: Case):
    """The head [T] and (b, kv, sskv, count) of cell 0's only interbed system."""
    (aquifer,) = case.aquifers
    (bed,) = aquifer.interbeds
    values = (float(np.asarray(v)[0]) for v in (bed.thickness, bed.kv, bed.sskv, bed.count))
    return aquifer.head[0], tuple(values)


def analytical_interbed_compaction(case: Case) -> np.ndarray:
    """[T] analytical compaction (m) of cell 0's single interbed system of the single
    aquifer, on its virgin curve (Ss = Sskv; valid while the head never rises)."""
    head, (b, kv, ss, count) = _single_bed(case)
    return count * compaction_piecewise_linear(case.days, case.days, head, b, kv, ss)


def terzaghi_error(case: Case | None = None, from_tau: float = 0.01, **options) -> float:
    """max |numerical - analytical| / ultimate compaction for t >= from_tau * tau, with
    the ``terzaghi`` solver at ``options`` (its defaults otherwise)."""
    case = case or terzaghi_step_case()
    head, (b, kv, ss, count) = _single_bed(case)
    exact = analytical_interbed_compaction(case)
    numerical = -TerzaghiSolver(**options).predict(case).displacement[0]
    ultimate = ss * b * count * abs(head[0] - head[-1])
    late = case.days >= from_tau * float(lag_time(b, kv, ss))
    return float(np.max(np.abs(numerical - exact)[late]) / ultimate)


def refinement_table(case: Case | None = None, nodes=(19, 39, 79, 159),
                     substeps=(1, 4, 16, 64), scheme: str = "default") -> list[dict]:
    """Error (fraction of ultimate, t >= 0.01 tau) under refinement, one row per level.

    Backward Euler is first order in time and the grid second order in space, so the
    default refines the sub-steps 4x per halving of the cells to keep both errors in
    step; ``order`` is log2 of the error ratio to the previous row (2 = second order in
    the cell size). Pass ``substeps=(1, 1, 1, 1)`` to see the time-error floor of daily
    steps instead.
    """
    case = case or terzaghi_step_case()
    rows = []
    for level, (n, s) in enumerate(zip(nodes, substeps)):
        error = terzaghi_error(case, nodes=n, substeps=s, scheme=scheme)
        order = np.log2(rows[-1]["error"] / error) if level else float("nan")
        rows.append({"nodes": n, "substeps": s, "scheme": scheme, "error": error,
                     "order": float(order)})
    return rows
