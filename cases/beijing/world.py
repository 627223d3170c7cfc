"""One world of the twin: the flow model run over a stress history (the history, or a
scenario) and the truth it gives at the observed points and on the map grid."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cases.beijing.flow_model import run_flow_model
from cases.beijing.stresses import Stresses
from cases.beijing.truth import truth_chunks

#: Per-point arrays of the truth's sediments kept for truth.h5, the fact check and the
#: figures: per material, then per group.
MATERIAL_KEYS = ("thickness", "count", "kv", "cc", "cr", "void_ratio", "preconsolidation_head")
GROUP_KEYS = ("b_equiv", "lag_days", "clay", "sskv0", "coarse_ss0")


@dataclass
class World:
    """name; flow heads [P, A, ny, nx] on ``grid`` at ``dates`` [P] (the ends of the
    stress periods) and the budget of the flow model's listing; the truth at N points
    on the case times Tc: heads [A, N, Tc] (m above datum), compaction [A, N, Tc] (m,
    shortening positive) and displacement [N, Tc] (m, up positive), both from the first
    case time, and ``displacement_at_start`` [N] (since the predevelopment date); on
    the M map cells the displacement [M, P] since the predevelopment date; the truth's
    sediments at the points (``parameters``: name -> [N]); the truth's heads at the
    points before the first case time, ``spinup_heads`` [A, N, S] at the flow model's
    ``spinup_dates`` [S] (from the predevelopment steady state)."""

    name: str
    grid: object
    dates: np.ndarray
    heads: np.ndarray
    budget: dict
    point_heads: np.ndarray
    point_compaction: np.ndarray
    point_displacement: np.ndarray
    displacement_at_start: np.ndarray
    map_displacement: np.ndarray
    spinup_dates: np.ndarray
    spinup_heads: np.ndarray
    parameters: dict = field(default_factory=dict)


def _parameters(sediments, keep: np.ndarray) -> dict:
    """name -> values at the kept points of one chunk's Sediments."""
    out = {}
    for a in range(len(sediments.interbeds)):
        group = f"parameters/aquifer_{a}"
        materials = {f"interbeds_{k}": m for k, m in enumerate(sediments.interbeds[a])}
        if sediments.aquitards[a] is not None:
            materials["aquitard"] = sediments.aquitards[a]
        materials["coarse"] = sediments.coarse[a]
        for label, material in materials.items():
            for key in MATERIAL_KEYS:
                if getattr(material, key) is not None:
                    out[f"{group}/{label}/{key}"] = np.asarray(getattr(material, key))[keep]
        for key in GROUP_KEYS:
            out[f"{group}/{key}"] = getattr(sediments, key)[a][keep]
    return out


def run_world(name: str, stresses: Stresses, folder: Path, fields, x, y, map_xy,
              case_times: np.ndarray, offsets=None, log=print) -> World:
    """Run the flow model of ``stresses`` in ``folder`` and the truth at points (x, y)
    and map cells ``map_xy``; ``offsets(x, y)`` [A, n, P] adds to the truth's heads."""
    started = time.perf_counter()
    flow = run_flow_model(stresses, folder)
    (Path(folder) / "plain.hds").unlink(missing_ok=True)   # kept at the points instead
    grid = stresses.grid
    log(f"  flow model ({name}): {len(stresses.periods)} periods on {grid.ny} x {grid.nx} "
        f"x {flow.heads.shape[1]} cells in {time.perf_counter() - started:.1f} s; largest "
        f"budget discrepancy {flow.budget['max_percent_discrepancy']:.3f} %")
    started = time.perf_counter()
    index = np.searchsorted(flow.dates, case_times)
    before = np.flatnonzero(flow.dates < case_times[0])
    n, n_groups = len(x), flow.heads.shape[1]
    xs, ys = np.concatenate([x, map_xy[0]]), np.concatenate([y, map_xy[1]])
    heads = np.empty((n_groups, n, len(case_times)))
    spinup_heads = np.empty((n_groups, n, len(before)))
    compaction = np.empty((n_groups, n, len(case_times)))
    since_start = np.empty((n, len(case_times)))
    on_map = np.empty((len(map_xy[0]), len(flow.dates)))
    parameters = {}
    for part, sediments, true_heads, true_compaction in truth_chunks(
            fields, grid, flow.heads, flow.dates, xs, ys, offsets):
        ids = np.arange(part.start, part.stop)
        point = ids < n
        if point.any():
            cells = ids[point]
            heads[:, cells] = true_heads[:, point][:, :, index]
            spinup_heads[:, cells] = true_heads[:, point][:, :, before]
            kept = true_compaction[:, point][:, :, index]
            compaction[:, cells] = kept - kept[:, :, :1]
            since_start[cells] = -kept.sum(axis=0)
            for key, values in _parameters(sediments, point).items():
                parameters.setdefault(key, np.empty(n))[cells] = values
        if (~point).any():
            on_map[ids[~point] - n] = -true_compaction[:, ~point].sum(axis=0)
    log(f"  truth ({name}): {len(xs)} points x {len(flow.dates)} times in "
        f"{time.perf_counter() - started:.1f} s")
    return World(name=name, grid=grid, dates=flow.dates, heads=flow.heads,
                 budget=flow.budget, point_heads=heads, point_compaction=compaction,
                 point_displacement=since_start - since_start[:, :1],
                 displacement_at_start=since_start[:, 0].copy(), map_displacement=on_map,
                 spinup_dates=flow.dates[before], spinup_heads=spinup_heads,
                 parameters=parameters)
