"""What the modeller knows: prior sediment parameters and heads at the cells.

Prior sediments, per aquifer group: ONE equivalent delay interbed and the coarse
skeleton with specific storages (storage "specific"), read from a smoothed picture of
the sediments (the boreholes of a regional geological model): the truth's fields on the
domain's field grid, smoothed by a Gaussian of ``prior.smoothing_length``, then:

- thickness = smoothed b_equiv of the interbeds times a log-normal error field
  (``thickness_error``), count = smoothed interbed clay / it;
- sskv = smoothed virgin storage at the predevelopment stress, times a log-normal
  error field; sske = ``prior.elastic_ratio`` * sskv (a textbook ratio);
- kv = the smoothed truth's kv times a log-normal error field (``kv_error``);
- coarse: smoothed thickness with the thickness error, elastic storage at the
  predevelopment stress with the storage error; no preconsolidation heads (normally
  consolidated at the first time).
The confining aquitards of the truth are not in the prior (the seminar's equivalent
beds are the interbeds'), nor is stress-dependent storage.

Heads at the cells: by default interpolated, per group and month, from the monitoring
wells (monthly means, interior gaps up to ``wells.max_fill_months`` filled in time, then
kriging or inverse-distance weighting, ``cases.readers``); ``exact`` takes the flow
model's heads (for ablations).
"""

from __future__ import annotations

import numpy as np

from cases.beijing.domain import Domain
from cases.beijing.fields import bilinear, random_fields, smooth
from cases.beijing.streams import stream
from cases.beijing.truth import TruthFields
from cases.readers.interpolation import interpolate
from cases.readers.wells import Wells, heads_on_axis
from engine.case import Compressible


def prior_materials(domain: Domain, truth: TruthFields, initial_head_grid: np.ndarray,
                    x, y, seed: int) -> list[tuple[Compressible, Compressible]]:
    """(interbed, coarse) per aquifer group at cells (x, y); ``initial_head_grid``
    [A, ny, nx] the predevelopment heads on the domain's field grid."""
    p = domain.settings["prior"]
    grid = domain.grid
    gx, gy = grid.points()
    heads = initial_head_grid.reshape(len(initial_head_grid), -1)
    sed = truth.sediments(gx, gy, heads)
    rng = stream(seed, "prior")
    shape = (grid.ny, grid.nx)

    def smoothed(values):
        return bilinear(grid, smooth(grid, values.reshape(shape), p["smoothing_length"]), x, y)

    def error(sigma):
        return np.exp(sigma * bilinear(grid, random_fields(rng, grid, p["error_length"]), x, y))

    out = []
    for a in range(len(sed.interbeds)):
        systems = sed.interbeds[a]
        clay = sum(s.thickness * s.count for s in systems)
        b = smoothed(sed.b_equiv[a]) * error(p["thickness_error"])
        sskv = np.exp(smoothed(np.log(sed.sskv0[a]))) * error(p["storage_error"])
        kv = np.exp(smoothed(np.log(systems[0].kv))) * error(p["kv_error"])
        coarse_ss = sed.coarse_ss0[a]
        interbed = Compressible(kind="interbeds", thickness=b,
                                count=np.maximum(1.0, smoothed(clay) / b), kv=kv,
                                sske=p["elastic_ratio"] * sskv, sskv=sskv)
        coarse = Compressible(kind="coarse", thickness=smoothed(sed.coarse[a].thickness)
                              * error(p["thickness_error"]),
                              sske=np.exp(smoothed(np.log(coarse_ss)))
                              * error(p["storage_error"]))
        out.append((interbed, coarse))
    return out


def interpolated_heads(domain: Domain, records: dict, x, y, months: np.ndarray) -> np.ndarray:
    """[A, N, T] heads (m) at cells (x, y) on the case ``months`` from the well
    ``records`` (engine.case.Observations.wells), per aquifer group. A cell-month no
    well measured (nor filled) takes the nearest interpolated month."""
    s = domain.settings["wells"]
    names = domain.aquifer_names
    out = np.empty((len(names), len(x), len(months)))
    for a in range(len(names)):
        mine = records["aquifer"] == a
        labels, which = np.unique(records["well"][mine], return_inverse=True)
        first = np.array([np.flatnonzero(which == w)[0] for w in range(len(labels))])
        wells = Wells(source="twin wells", aquifer_names=tuple(names), names=labels,
                      x=records["x"][mine][first], y=records["y"][mine][first],
                      aquifer=np.full(len(labels), a), record_well=which,
                      record_time=records["time"][mine], record_head=records["head"][mine])
        on_axis = heads_on_axis(wells, months, "MS", int(s["max_fill_months"]))
        values = interpolate(x, y, wells.x, wells.y, on_axis.heads, method=s["method"],
                             source="settings", field="wells.method").values
        out[a] = _fill_in_time(values)
    return out


def carried_forward(observed: np.ndarray, world: np.ndarray, history: np.ndarray):
    """Heads [A, N, T] of a scenario at the cells: the heads ``observed`` over the
    history [A, N, Th] plus the flow model's change from the history, ``world`` [A, N, T]
    (the scenario's heads) minus ``history`` [A, N, Th] (the history's), both taken at
    the same month, or at the history's last month after it."""
    last = np.minimum(np.arange(world.shape[2]), observed.shape[2] - 1)
    return observed[:, :, last] + world - history[:, :, last]


def _fill_in_time(values: np.ndarray) -> np.ndarray:
    """[N, T] with every all-NaN month (no well at all) replaced by the nearest month
    that has values."""
    have = np.flatnonzero(~np.isnan(values).all(axis=0))
    months = np.arange(values.shape[1])
    after = np.clip(np.searchsorted(have, months), 0, len(have) - 1)
    before = np.clip(after - 1, 0, len(have) - 1)
    nearer = np.where(np.abs(have[before] - months) < np.abs(have[after] - months),
                      have[before], have[after])
    return values[:, nearer]
