"""Solver "mf-sub": any case with specific storages run through the SUB package of
MODFLOW-NWT (default) or MODFLOW-2005, built with FloPy.

The model (one per chunk of cells):
- DIS: one layer per aquifer, one row, one column per case cell, 1 m^2 cells below the
  lowest head (confined, K = 1e-20 m/d: cells exchange no water).
- Heads: GHB of conductance 1e6 m^2/d, one stress period per MODFLOW time step whose
  stage is the case head interpolated linearly at the end of that step. Not CHD: the
  NWT solver fails on a model without a single active (non-constant-head) cell. At
  least two stress periods: SUB reads its output control only when there are more.
- SUB: no-delay beds (HC = preconsolidation head, absolute; SFE/SFV = sske/sskv times
  thickness), the coarse skeleton as one more no-delay system that is elastic only
  (SFE = SFV), and delay interbeds (equivalent thickness DZ, RNB beds, one material
  zone per distinct (kv, sske, sskv), DSTART = DHC = the initial head unless a lower
  preconsolidation head is given; ``delay_nodes`` nodes on the half bed).
- Output: compaction of every interbed system at the end of every stress period, in
  the SUB binary file (single precision in these builds, and FloPy writes the input
  with 7 significant digits: results agree with mf6-csub to about 1e-7 relative).

SUB in these versions (1.12 based) does not iterate the delay-bed solution within a
time step: when delay beds turn inelastic their delayed compaction is badly wrong, so
the solver warns; mf6-csub is the reference for delay beds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from engine.errors import InputError, SolverError
from engine.registry import register
from engine.solver import Limit
from physics.modflow.arrayfile import read_records
from physics.modflow.listing import failure_message
from physics.modflow.runner import CompactionParts, ModflowSolver, material_labels

MODEL = "sub"
BOUNDARY_CONDUCTANCE = 1.0e6     # m^2/d, on 1 m^2 cells
DISCONNECTED_K = 1.0e-20         # m/d
HEAD_CLEARANCE = 1.0             # m, between the lowest head and the top of the model
NWT_UNIT = 35                    # FloPy gives NWT and SUB the same default unit, 32
SUB_OUTPUT_UNIT = 1051
PROGRAMS = ("mfnwt", "mf2005")


@register("mf-sub")
class MfSubSolver(ModflowSolver):
    """MODFLOW-NWT/2005 SUB (see the module docstring for how the model is built).

    Options (besides those of ModflowSolver): program ("mfnwt" or "mf2005"),
    delay_nodes (SUB's NN, nodes on half of a delay bed).
    """

    name = "mf-sub"
    defaults = {**ModflowSolver.defaults, "program": "mfnwt", "delay_nodes": 20}
    limits = {**ModflowSolver.limits, "delay_nodes": Limit(2, 1000)}

    def __init__(self, **options):
        super().__init__(**options)
        if self.options["program"] not in PROGRAMS:
            raise InputError("solver options", "program",
                             f"must be one of {', '.join(PROGRAMS)}, got "
                             f"{self.options['program']!r}")
        if int(self.options["delay_nodes"]) < 2:
            raise InputError("solver options", "delay_nodes",
                             f"must be at least 2, got {self.options['delay_nodes']!r}")

    @property
    def program(self) -> str:
        return self.options["program"]

    def check_case(self, case) -> None:
        for a, aq in enumerate(case.aquifers):
            for label, m in material_labels(aq):
                if m.storage != "specific":
                    raise InputError(case.source or case.name,
                                     f"aquifers[{a}].{label}.storage",
                                     'mf-sub needs specific storages (SUB has no '
                                     'compression indices); use mf6-csub')
        if any(np.any(ib.sskv > ib.sske) for aq in case.aquifers for ib in aq.interbeds):
            warnings.warn(
                "mf-sub: SUB (MODFLOW-2005 1.12 / NWT 1.3) does not iterate the delay-bed "
                "solution, so delayed inelastic compaction can be badly wrong; use "
                "mf6-csub for delay interbeds that go inelastic", UserWarning, stacklevel=3)

    def simulate_chunk(self, case, folder: Path, exe: Path) -> CompactionParts:
        # MODFLOW-NWT stops on single-cell models: such a case runs its cell twice
        single = case.n_cells * len(case.aquifers) == 1
        model_case = case.take_cells([0, 0]) if single else case
        model, systems, ends = build_model(model_case, folder, exe, self.options)
        model.write_input()
        success, output = model.run_model(silent=True, report=True)
        if not success:
            raise SolverError(failure_message(self.program, folder, output))
        parts = read_parts(model_case, folder, systems, ends)
        return {key: values[:case.n_cells] for key, values in parts.items()}


def step_ends(days: np.ndarray, substeps: int) -> tuple[np.ndarray, np.ndarray]:
    """End times (days) of the MODFLOW stress periods, and for each case time after the
    first the index of the period ending there. At least two periods (see module)."""
    substeps = max(substeps, 2) if len(days) == 2 else substeps
    fractions = np.arange(1, substeps + 1) / substeps
    ends = (days[:-1, None] + np.diff(days)[:, None] * fractions[None, :]).ravel()
    return ends, np.arange(substeps - 1, len(ends), substeps)


def build_model(case, folder: Path, exe: Path, options: dict):
    """The FloPy model of ``case`` in ``folder`` (not written), the interbed systems
    [(kind "ND"/"D", aquifer, label)] in SUB's order, and the period index of every
    case time after the first."""
    import flopy

    n, nlay = case.n_cells, len(case.aquifers)
    days = case.days
    ends, at_case_times = step_ends(days, int(options["substeps"]))
    nper = len(ends)
    version = "mfnwt" if options["program"] == "mfnwt" else "mf2005"
    model = flopy.modflow.Modflow(MODEL, model_ws=str(folder), exe_name=str(exe),
                                  version=version)
    top = np.floor(min(aq.head.min() for aq in case.aquifers)) - HEAD_CLEARANCE
    flopy.modflow.ModflowDis(model, nlay=nlay, nrow=1, ncol=n, delr=1.0, delc=1.0,
                             top=top, botm=top - 1.0 - np.arange(nlay), nper=nper,
                             perlen=np.diff(np.concatenate([[days[0]], ends])),
                             nstp=1, steady=False)
    heads0 = np.array([aq.head[:, 0] for aq in case.aquifers])
    flopy.modflow.ModflowBas(model, ibound=1, strt=heads0.reshape(nlay, 1, n))
    if version == "mfnwt":
        flopy.modflow.ModflowUpw(model, hk=DISCONNECTED_K, vka=DISCONNECTED_K, ss=0.0,
                                 sy=0.0, laytyp=0)
        flopy.modflow.ModflowNwt(model, unitnumber=NWT_UNIT, headtol=1e-9, fluxtol=1e-6)
    else:
        flopy.modflow.ModflowLpf(model, hk=DISCONNECTED_K, vka=DISCONNECTED_K, ss=0.0,
                                 sy=0.0, laytyp=0)
        flopy.modflow.ModflowPcg(model, hclose=1e-9, rclose=1e-6)
    stages = np.array([[np.interp(ends, days, aq.head[j]) for j in range(n)]
                       for aq in case.aquifers])                      # [A, n, nper]
    flopy.modflow.ModflowGhb(model, stress_period_data={
        k: [[a, 0, j, stages[a, j, k], BOUNDARY_CONDUCTANCE]
            for a in range(nlay) for j in range(n)] for k in range(nper)})
    systems = add_sub(model, case, options, nper)
    flopy.modflow.ModflowOc(model, stress_period_data={(0, 0): []})
    return model, systems, at_case_times


def add_sub(model, case, options: dict, nper: int):
    """The SUB package; returns its interbed systems in SUB's order."""
    import flopy

    n = case.n_cells
    nodelay, delay = [], []                     # (layer, aquifer, label, material)
    for a, aq in enumerate(case.aquifers):
        for label, m in material_labels(aq):
            (delay if m.kind == "interbeds" else nodelay).append((a, label, m))

    def cells(values):                          # [systems, 1, n]
        return np.array(values, dtype=float).reshape(len(values), 1, n)

    head0 = [case.aquifers[a].head[:, 0] for a, _, _ in nodelay]
    nodelay_kw = {}
    if nodelay:
        nodelay_kw = dict(
            ln=[a for a, _, _ in nodelay],
            hc=cells([np.minimum(m.initial_preconsolidation(h0), h0)
                      for (_, _, m), h0 in zip(nodelay, head0)]),
            sfe=cells([m.sske * m.thickness for _, _, m in nodelay]),
            # the coarse skeleton is elastic only
            sfv=cells([(m.sske if m.kind == "coarse" else m.sskv) * m.thickness
                       for _, _, m in nodelay]),
            com=0.0)
    delay_kw = {}
    if delay:
        zones = {}                              # (kv, sske, sskv) -> zone number (1-based)
        nz = [[zones.setdefault(z, len(zones) + 1) for z in zip(m.kv, m.sske, m.sskv)]
              for _, _, m in delay]
        h0 = [case.aquifers[a].head[:, 0] for a, _, _ in delay]
        delay_kw = dict(
            ldn=[a for a, _, _ in delay], nmz=len(zones), dp=[list(z) for z in zones],
            nn=int(options["delay_nodes"]),
            rnb=cells([np.where(m.thickness > 0, m.count, 0.0) for _, _, m in delay]),
            dstart=cells(h0),
            dhc=cells([np.minimum(m.initial_preconsolidation(h), h)
                       for (_, _, m), h in zip(delay, h0)]),
            dcom=0.0, dz=cells([np.maximum(m.thickness, 1e-9) for _, _, m in delay]),
            nz=np.array(nz, dtype=int).reshape(len(delay), 1, n))
    # save (only) the compaction of each interbed system at the end of every period
    ids16 = [[0, nper - 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]]
    flopy.modflow.ModflowSub(model, isuboc=1, nndb=len(nodelay), ndb=len(delay),
                             ac1=0.0, ac2=1.0, itmin=5, ids15=[0, SUB_OUTPUT_UNIT] * 6,
                             ids16=ids16, **nodelay_kw, **delay_kw)
    return ([("NDSYS", a, label) for a, label, _ in nodelay]
            + [("DSYS", a, label) for a, label, _ in delay])


def read_parts(case, folder: Path, systems, at_case_times) -> CompactionParts:
    """Compaction parts [n, T] from SUB's binary output."""
    files = list(Path(folder).glob(f"{MODEL}.subsidence.hds"))
    records = read_records(files[0]) if files else []
    by_key = {(r.text.split()[0], r.ilay, r.kper): r.values[0] for r in records
              if r.text.endswith("COMPACTION")}
    parts: CompactionParts = {}
    counters = {"NDSYS": 0, "DSYS": 0}
    for kind, a, label in systems:
        counters[kind] += 1
        values = parts.setdefault((a, label), np.zeros((case.n_cells, case.n_times)))
        for t, period in enumerate(at_case_times, start=1):
            key = (kind, counters[kind], int(period) + 1)
            if key not in by_key:
                raise SolverError(failure_message("SUB", folder) + f"\n  no {kind} "
                                  f"COMPACTION record for system {key[1]} at the end of "
                                  f"stress period {key[2]}")
            values[:, t] = by_key[key]
    return parts
