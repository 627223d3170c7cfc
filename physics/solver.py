"""The ``terzaghi`` solver: Numba 1D consolidation of every compressible system of a case.

For each aquifer a and cell n the compaction (m, shortening positive) is the sum of
  * its delay interbed systems (``physics.delay_beds``: vertical diffusion in each
    equivalent bed, times ``count``),
  * its no-delay beds and coarse-grained skeleton (``physics.instant_beds``),
and the displacement is minus the sum over aquifers (DESIGN.md: positive up).

Case semantics (DESIGN.md): heads are linear between case times; every interbed starts
in equilibrium with its aquifer's first head; a preconsolidation head left out is that
first head (normally consolidated). A given preconsolidation head below the first head
makes an overconsolidated start (elastic until the head falls past it); one above the
first head is lowered to it, because the first state cannot lie beyond the
preconsolidation state (MODFLOW 6 CSUB clips it the same way).

A case with a spin-up (``Case.spinup_times``) is run as one record, spin-up then case
(``Case.spinup_record``): the beds start in equilibrium with the first spin-up head and
the stated preconsolidation state applies there; the compaction reported is the
record's from the first case time on, less its value at that time.

Options: ``nodes`` cells across a full bed (the default scheme solves the (nodes+1)//2
cells of one half, the csub scheme all of them), ``substeps`` backward-Euler sub-steps
per case step, ``scheme`` "default" or "csub" (see ``physics.delay_beds``), ``threads``
(0 = the Numba threads the caller has set: all of them unless limited).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numba
import numpy as np

from engine.errors import InputError, SolverError, suggest
from engine.registry import register
from engine.result import Result
from engine.schema import validate_physics_case
from engine.solver import Limit, Solver
from physics import delay_beds, instant_beds
from physics.storage import compression_coefficient, stress_head

#: Solves of one step before a bed is declared not converged (a few are normal).
MAX_ITERATIONS = 100


@register("terzaghi")
class TerzaghiSolver(Solver):
    name = "terzaghi"
    kind = "physics"
    defaults = {"nodes": 19, "substeps": 1, "scheme": "default", "threads": 0}
    # nodes x cells x 8 bytes per bed and substeps x times solves: beyond these a run
    # takes gigabytes or hours without changing the answer (19 nodes are within 1e-4)
    limits = {"nodes": Limit(3, 1001, why="more nodes add memory, not accuracy"),
              "substeps": Limit(1, 1000, why="more sub-steps add hours, not accuracy"),
              "scheme": Limit(choices=delay_beds.SCHEMES), "threads": Limit(0, 4096)}

    def __init__(self, **options):
        super().__init__(**options)
        self.timings: dict = {}
        opts = self.options
        if opts["scheme"] not in delay_beds.SCHEMES:
            raise InputError("solver options", "scheme",
                             f'unknown scheme "{opts["scheme"]}"'
                             f'{suggest(str(opts["scheme"]), delay_beds.SCHEMES)}; '
                             f'schemes are: {", ".join(delay_beds.SCHEMES)}')
        for key, low in (("nodes", 3), ("substeps", 1), ("threads", 0)):
            value = opts[key]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InputError("solver options", key,
                                 f"must be an integer >= {low}, got {value!r}")
        if opts["threads"] > numba.config.NUMBA_NUM_THREADS:
            raise InputError("solver options", "threads",
                             f"{opts['threads']} exceeds the {numba.config.NUMBA_NUM_THREADS}"
                             " threads Numba can use")

    def predict(self, case) -> Result:
        start = time.perf_counter()
        parts = self.compaction_parts(case)
        compaction = np.zeros((len(case.aquifers), case.n_cells, case.n_times))
        for (a, _), part in parts.items():
            compaction[a] += part
        # + 0.0 turns the -0.0 of an unloaded cell into 0.0
        return Result.for_case(case, self.name, self.kind, -compaction.sum(axis=0) + 0.0,
                               compaction=compaction, options=dict(self.options),
                               wall_seconds=time.perf_counter() - start)

    def compaction_parts(self, case) -> dict:
        """Compaction (m, shortening positive) [N, T] of every compressible system:
        keys (aquifer index, "interbeds[j]" | "nodelay" | "coarse"). Wall seconds of
        each stage are left in ``self.timings``."""
        clock = time.perf_counter()
        _check_case(case, self.name)
        record, skip = case.spinup_record()
        timings = {"checks": time.perf_counter() - clock}
        with _threads(self.options["threads"]):
            clock = time.perf_counter()
            parts = _delay_parts(record, self.options)
            timings["delay_beds"] = time.perf_counter() - clock
            clock = time.perf_counter()
            parts.update(_instant_parts(record, self.options["substeps"]))
            timings["instant_beds"] = time.perf_counter() - clock
        self.timings = timings
        if skip:
            parts = {key: part[:, skip:] - part[:, skip:skip + 1] for key, part in parts.items()}
        return parts


def _check_case(case, solver: str):
    """The schema's rules for the physics solvers (engine.schema), then what they cannot
    know: with stress-dependent storage the first heads must leave a positive effective
    stress."""
    validate_physics_case(case, solver)
    for a, aquifer in enumerate(case.aquifers):
        if not any(m.storage == "indices" for m in aquifer.materials()):
            continue
        sigma = _stress_head(case, aquifer) - aquifer.initial_head
        if not np.all(sigma > 0):
            raise InputError(case.source or f'case "{case.name}"', f"aquifers[{a}].head",
                             f"the first head {aquifer.initial_head[sigma <= 0][0]!r} m gives an "
                             f"effective stress of {sigma[sigma <= 0][0]!r} m (<= 0) at the "
                             "middle of the aquifer: the geostatic load cannot hold it")


def _stress_head(case, aquifer):
    """sigma + z (m) at the middle of the aquifer, per cell (physics.storage)."""
    g = case.geostatic
    elevation = g.land_surface - 0.5 * (np.asarray(aquifer.top) + np.asarray(aquifer.bottom))
    return stress_head(elevation, g.land_surface, case.aquifers[0].initial_head, g.sgm,
                       g.sgs)


def _storage(case, aquifer, material, elastic_only=False):
    """(sske, sskv, stress_head, stress_dependent) arrays [N] for the kernels."""
    n = case.n_cells
    if material.storage == "indices":
        sske = compression_coefficient(material.cr, material.void_ratio)
        sskv = sske if elastic_only else compression_coefficient(material.cc,
                                                                 material.void_ratio)
        return sske, sskv, _stress_head(case, aquifer), True
    sske = np.asarray(material.sske, dtype=np.float64)
    sskv = sske if elastic_only else np.asarray(material.sskv, dtype=np.float64)
    return sske, sskv, np.zeros(n), False


def _initial_preconsolidation(aquifer, material):
    first = aquifer.head[:, 0].astype(np.float64)
    return np.minimum(material.initial_preconsolidation(first), first)


def _delay_parts(case, options) -> dict:
    systems = [(a, j) for a, aquifer in enumerate(case.aquifers)
               for j in range(len(aquifer.interbeds))]
    grid = delay_beds.make_grid(options["scheme"], options["nodes"])
    parts = {}
    # the kernel takes one kind of storage per call
    for dependent in (False, True):
        chosen = [(a, j) for a, j in systems
                  if (case.aquifers[a].interbeds[j].storage == "indices") == dependent]
        if chosen:
            parts.update(_run_delay_beds(case, grid, chosen, options["substeps"]))
    return parts


def _run_delay_beds(case, grid, systems, substeps) -> dict:
    n_cells, n_times = case.n_cells, case.n_times
    padded = -(-n_cells * len(systems) // delay_beds.LANES) * delay_beds.LANES
    # inert padding beds: zero heads, unit diffusivity and storage, no compaction
    heads = np.zeros((padded, n_times))
    alpha = np.ones(padded)
    scale = np.zeros(padded)
    sske = np.ones(padded)
    sskv = np.ones(padded)
    sigma_head = np.ones(padded)
    pc = np.zeros(padded)
    dependent = False
    for s, (a, j) in enumerate(systems):
        aquifer = case.aquifers[a]
        ib = aquifer.interbeds[j]
        cols = slice(s * n_cells, (s + 1) * n_cells)
        b = np.asarray(ib.thickness, dtype=np.float64)
        heads[cols] = aquifer.head
        alpha[cols] = np.asarray(ib.kv) / b**2
        scale[cols] = b * np.asarray(ib.count) * grid.faces
        sske[cols], sskv[cols], sigma_head[cols], dependent = _storage(case, aquifer, ib)
        pc[cols] = _initial_preconsolidation(aquifer, ib)
    head = np.repeat(heads[None, :, 0], grid.nodes, axis=0)
    preconsolidation = np.repeat(pc[None, :], grid.nodes, axis=0)
    inelastic = np.zeros((grid.nodes, padded))
    compaction = np.empty((padded, n_times))
    outflow = np.empty((padded, n_times))
    status = delay_beds.run_delay_beds(
        heads, case.days, alpha, scale, sske, sskv, dependent, sigma_head,
        grid.width, grid.conductance, grid.boundary, grid.coupling, substeps,
        MAX_ITERATIONS, head, preconsolidation, inelastic, compaction, outflow)
    parts = {}
    for s, (a, j) in enumerate(systems):
        cols = slice(s * n_cells, (s + 1) * n_cells)
        _check_status(case, a, f"interbeds[{j}]", status[cols])
        parts[(a, f"interbeds[{j}]")] = compaction[cols]
    return parts


def _instant_parts(case, substeps) -> dict:
    parts = {}
    for a, aquifer in enumerate(case.aquifers):
        for label in ("nodelay", "coarse"):
            material = getattr(aquifer, label)
            if material is None:
                continue
            sske, sskv, sigma_head, dependent = _storage(case, aquifer, material,
                                                         elastic_only=label == "coarse")
            pc = (aquifer.head[:, 0].astype(np.float64) if label == "coarse"
                  else _initial_preconsolidation(aquifer, material))
            compaction = np.empty((case.n_cells, case.n_times))
            bad = instant_beds.run_instant_beds(
                np.ascontiguousarray(aquifer.head, dtype=np.float64), case.days,
                np.asarray(material.thickness, dtype=np.float64), sske, sskv, dependent,
                sigma_head, substeps, pc, compaction)
            _check_status(case, a, label, np.where(bad, delay_beds.NONPOSITIVE_STRESS, 0))
            parts[(a, label)] = compaction
    return parts


def _check_status(case, a, label, status):
    where = f'aquifer "{case.aquifers[a].name}" {label}'
    for code, what in ((delay_beds.NOT_CONVERGED,
                        f"the storage regimes did not settle in {MAX_ITERATIONS} solves of a "
                        "step; try more substeps"),
                       (delay_beds.NONPOSITIVE_STRESS,
                        "the effective stress fell to zero: heads rose above what the "
                        "geostatic load holds")):
        bad = status == code
        if bad.any():
            raise SolverError(f"terzaghi: {where}: {what} (cells "
                              f"{', '.join(map(str, case.cells.ids[bad][:5]))}"
                              f"{' ...' if bad.sum() > 5 else ''})")


@contextmanager
def _threads(threads: int):
    before = numba.get_num_threads()
    numba.set_num_threads(threads or before)   # 0: whatever the caller has set
    try:
        yield
    finally:
        numba.set_num_threads(before)
