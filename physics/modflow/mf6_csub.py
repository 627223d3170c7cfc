"""Solver "mf6-csub": any case run through MODFLOW 6's CSUB package, built with FloPy.

The model (one per chunk of cells):
- DIS: one layer per aquifer, one row, one column per case cell; cells are area 1 m^2
  and hydraulically disconnected (K = 1e-20 m/d), because every head is imposed.
- Heads are imposed by GHB boundaries of conductance 1e6 m^2/d whose stage is a time
  series with LINEAREND interpolation, so the head at the end of every MODFLOW time
  step is the case head interpolated linearly at that time (the case's semantics).
  The cell head then differs from the stage by (CSUB flow) / conductance: 1e-8 m at a
  compaction rate of 1 cm/d. Much larger conductances bury the CSUB flows under the
  round-off of the boundary flow and runs fail to converge.
  Not CHD: CSUB skips constant-head cells (ibound < 0) and would report no compaction.
  Not LINEAR: for a boundary stage MODFLOW then uses the mean over the time step.
- TDIS: one stress period per case step (all transient), ``substeps`` equal time steps
  each. IC heads are the case heads at the first time. With a transient first period,
  CSUB takes its initial state from those heads: every interbed (and each delay-bed
  node, h0 = 0) starts in equilibrium with its aquifer, and the relative pcs0 offsets
  are measured from them.
- STO: ss = sy = 0, confined: all storage comes from CSUB.
- CSUB: delay interbeds (``ndelaycells`` nodes, odd), no-delay beds and coarse-grained
  skeleton. HEAD_BASED for specific storages (pcs0 = preconsolidation head - initial
  head, <= 0), COMPRESSION_INDICES with geostatic sgm/sgs for cases with storage
  "indices" (pcs0 = initial head - preconsolidation head, >= 0, in metres of water).
  Water compressibility is off (BETA 0) unless ``water_compressibility``.
- IMS: the simulation runs with CONTINUE because MODFLOW 6.4.1 flags steps as not
  converged when nothing changes any more (see ``check_convergence``, which refuses
  every other kind of non-convergence).
- Output: CSUB observations "interbed-compaction" per interbed and "coarse-compaction"
  per cell, every time step, to a binary observation file (full double precision).

Geometry matters to CSUB even when heads are imposed: storage is switched off in a cell
whose head falls below its bottom, and delay-bed nodes above the head are only partly
saturated. In the head-based formulation the layers are therefore placed below the
lowest head of the case; their thickness is what CSUB needs (coarse thickness = cell
thickness - interbed thickness). In the effective-stress formulation the geometry is
the case's (depths below land surface), with filler layers, holding no compressible
material, for any gap above or between aquifers; their heads stay at the initial head
of the aquifer below them, so the geostatic load is constant and d(sigma') = -dh.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import InputError, SolverError
from engine.registry import register
from engine.solver import Limit
from physics.modflow.listing import failure_message
from physics.modflow.runner import CompactionParts, ModflowSolver, material_labels

# Every keyword of the CSUB OPTIONS block that MODFLOW 6.4.1 reads (its gwf-csub.dfn);
# later releases added more (e.g. ELASTIC_INELASTIC_SMOOTHING) that 6.4.1 rejects.
CSUB_OPTIONS_6_4_1 = frozenset({
    "BOUNDNAMES", "PRINT_INPUT", "SAVE_FLOWS", "GAMMAW", "BETA", "HEAD_BASED",
    "INITIAL_PRECONSOLIDATION_HEAD", "NDELAYCELLS", "COMPRESSION_INDICES",
    "UPDATE_MATERIAL_PROPERTIES", "CELL_FRACTION", "SPECIFIED_INITIAL_INTERBED_STATE",
    "SPECIFIED_INITIAL_PRECONSOLIDATION_STRESS", "SPECIFIED_INITIAL_DELAY_HEAD",
    "EFFECTIVE_STRESS_LAG", "STRAIN_CSV_INTERBED", "STRAIN_CSV_COARSE", "COMPACTION",
    "COMPACTION_ELASTIC", "COMPACTION_INELASTIC", "COMPACTION_INTERBED",
    "COMPACTION_COARSE", "ZDISPLACEMENT", "PACKAGE_CONVERGENCE", "TS6", "OBS6",
})

MODEL = "csub"
BOUNDARY_CONDUCTANCE = 1.0e6       # m^2/d, on 1 m^2 cells
DISCONNECTED_K = 1.0e-20         # m/d, so neighbouring cells exchange no water
NO_COARSE_THICKNESS = 1.0        # m, coarse thickness of a cell without coarse material
HEAD_CLEARANCE = 1.0             # m, between the lowest head and the top of the model
OBS_FILE = "csub.obs.bin"
OUTER_CSV = "ims.outer.csv"
OUTER_DVCLOSE = 1e-7             # m
OUTER_MAXIMUM = 10
INNER_RCLOSE = 1e-6              # m^3/d


def formulation(case) -> str:
    """"head-based" (specific storages) or "effective-stress" (compression indices);
    CSUB has one formulation per model, so mixing storage kinds is refused."""
    kinds = {m.storage for aq in case.aquifers for m in aq.materials()}
    if len(kinds) > 1:
        raise InputError(case.source or case.name, "aquifers.*.storage",
                         f"mf6-csub needs one storage kind for the whole case, got "
                         f"{sorted(kinds)}")
    return "effective-stress" if kinds == {"indices"} else "head-based"


class Layering:
    """Model layers of one chunk: ``top`` [n] and ``botm`` [L, n] elevations (m),
    ``heads`` [L, n, T] imposed in each layer, and ``layer_of`` [A] the layer of
    each aquifer (other layers are fillers without compressible material)."""

    def __init__(self, top, botm, heads, layer_of):
        self.top, self.botm, self.heads, self.layer_of = top, botm, heads, layer_of

    @property
    def nlay(self) -> int:
        return self.botm.shape[0]


def interbed_thickness(aquifer) -> np.ndarray:
    """[n] m, total thickness of the aquifer's delay and no-delay beds."""
    total = np.zeros(len(aquifer.head))
    for ib in aquifer.interbeds:
        total += ib.thickness * ib.count
    if aquifer.nodelay is not None:
        total += aquifer.nodelay.thickness
    return total


def head_based_layering(case) -> Layering:
    """Layers stacked below the lowest head, each as thick as its materials."""
    thickness = np.array([
        interbed_thickness(aq) + (aq.coarse.thickness if aq.coarse is not None
                                  else NO_COARSE_THICKNESS)
        for aq in case.aquifers])
    top = np.full(case.n_cells, np.floor(min(aq.head.min() for aq in case.aquifers))
                  - HEAD_CLEARANCE)
    botm = top - np.cumsum(thickness, axis=0)
    heads = np.array([aq.head for aq in case.aquifers])
    return Layering(top, botm, heads, np.arange(len(case.aquifers)))


def effective_stress_layering(case) -> Layering:
    """The case's geometry: aquifer tops and bottoms (depths below land surface) turned
    into elevations. A gap above an aquifer (the first one's overburden, or a confining
    unit between two) becomes a filler layer, without compressible material, whose
    weight the geostatic stress counts: moist above, saturated below the aquifer's
    initial head, at all times."""
    land = case.geostatic.land_surface
    botms, heads, layer_of = [], [], []
    previous_bottom = np.zeros(case.n_cells)
    for a, aq in enumerate(case.aquifers):
        # the schema has each bottom below its top; CSUB's layers also must not overlap
        if np.any(aq.top < previous_bottom - 1e-9):
            raise InputError(case.source or case.name, f"aquifers[{a}].top/bottom",
                             "aquifers must be ordered from the top and not overlap "
                             f"(top {aq.top.tolist()}, bottom {aq.bottom.tolist()})")
        if np.any(aq.top > previous_bottom + 1e-9):
            # a filler where the gap is, zero-thickness is impossible: 1 mm elsewhere
            filler_bottom = np.maximum(aq.top, previous_bottom + 1e-3)
            botms.append(land - filler_bottom)
            # held at the aquifer's initial head: the load stays constant, so that
            # d(sigma') = -dh in every aquifer (DESIGN.md)
            heads.append(np.repeat(aq.head[:, :1], aq.head.shape[1], axis=1))
            previous_bottom = filler_bottom
        layer_of.append(len(botms))
        bottom = np.maximum(aq.bottom, previous_bottom + 1e-3)
        botms.append(land - bottom)
        heads.append(aq.head)
        previous_bottom = bottom
    return Layering(land.copy(), np.array(botms), np.array(heads), np.array(layer_of))


@register("mf6-csub")
class Mf6CsubSolver(ModflowSolver):
    """MODFLOW 6 CSUB (see the module docstring for how the model is built).

    Options (besides those of ModflowSolver): ndelaycells (odd, nodes per delay
    interbed), water_compressibility (CSUB's BETA at its default instead of 0),
    porosity (interbed and coarse porosity when the case gives no void ratio; used by
    water compressibility and material updates), effective_stress_lag and
    update_material_properties (CSUB options of the effective-stress formulation).
    """

    name = "mf6-csub"
    program = "mf6"
    defaults = {**ModflowSolver.defaults, "ndelaycells": 19, "water_compressibility": False,
                "porosity": 0.3, "effective_stress_lag": False,
                "update_material_properties": False}
    limits = {**ModflowSolver.limits, "ndelaycells": Limit(3, 1001),
              "porosity": Limit(0.0, 1.0, open_high=True)}

    def __init__(self, **options):
        super().__init__(**options)
        n = int(self.options["ndelaycells"])
        if n < 3 or n % 2 == 0:
            raise InputError("solver options", "ndelaycells",
                             f"must be an odd number >= 3 (CSUB needs a centre node), "
                             f"got {self.options['ndelaycells']!r}")
        if not 0.0 < float(self.options["porosity"]) < 1.0:
            raise InputError("solver options", "porosity",
                             f"must lie in (0, 1), got {self.options['porosity']!r}")

    def check_case(self, case) -> None:
        formulation(case)  # refuses a mix of storage kinds

    def simulate_chunk(self, case, folder: Path, exe: Path) -> CompactionParts:
        sim, index = build_simulation(case, folder, exe, self.options)
        sim.write_simulation(silent=True)
        success, output = sim.run_simulation(silent=True, report=True)
        if not success:
            raise SolverError(failure_message(self.program, folder, output))
        check_convergence(folder)
        return read_parts(case, folder, index, int(self.options["substeps"]))


def build_simulation(case, folder: Path, exe: Path, options: dict):
    """The FloPy simulation of ``case`` in ``folder`` (not yet written), and the index
    of its observations: a list of (obs name, aquifer, label, cell)."""
    import flopy

    form = formulation(case)
    layers = head_based_layering(case) if form == "head-based" else \
        effective_stress_layering(case)
    n, days = case.n_cells, case.days

    # CONTINUE: see check_convergence (MODFLOW 6.4.1's stale delay-bed convergence flag)
    sim = flopy.mf6.MFSimulation(sim_name=MODEL, sim_ws=str(folder), exe_name=str(exe),
                                 verbosity_level=0, continue_=True)
    # FloPy writes 8 significant digits by default: too few for parameters like 2.5e-6
    sim.simulation_data.float_precision = 17
    sim.simulation_data.float_characters = 26
    substeps = int(options["substeps"])
    flopy.mf6.ModflowTdis(sim, time_units="days", nper=len(days) - 1,
                          perioddata=[(dt, substeps, 1.0) for dt in np.diff(days)])
    # The linear system is diagonal (cells are disconnected), so the inner solve is
    # exact to round-off; its residual criterion (m^3/d on 1 m^2 cells) bounds the head
    # error to INNER_RCLOSE / BOUNDARY_CONDUCTANCE.
    flopy.mf6.ModflowIms(sim, complexity="simple", outer_dvclose=OUTER_DVCLOSE,
                         outer_maximum=OUTER_MAXIMUM, inner_dvclose=1e-12,
                         rcloserecord=INNER_RCLOSE, inner_maximum=20,
                         linear_acceleration="bicgstab",
                         csv_outer_output_filerecord=[OUTER_CSV])
    gwf = flopy.mf6.ModflowGwf(sim, modelname=MODEL)
    flopy.mf6.ModflowGwfdis(gwf, nlay=layers.nlay, nrow=1, ncol=n, delr=1.0, delc=1.0,
                            top=layers.top.reshape(1, n),
                            botm=layers.botm.reshape(layers.nlay, 1, n))
    flopy.mf6.ModflowGwfnpf(gwf, k=DISCONNECTED_K, k33=DISCONNECTED_K)
    flopy.mf6.ModflowGwfic(gwf, strt=layers.heads[:, :, 0].reshape(layers.nlay, 1, n))
    flopy.mf6.ModflowGwfsto(gwf, iconvert=0, ss=0.0, sy=0.0, transient={0: True})

    names = [f"h{k}_{j}" for k in range(layers.nlay) for j in range(n)]
    ghb = flopy.mf6.ModflowGwfghb(
        gwf, maxbound=len(names),
        stress_period_data={0: [((k, 0, j), f"h{k}_{j}", BOUNDARY_CONDUCTANCE)
                                for k in range(layers.nlay) for j in range(n)]})
    stages = layers.heads.reshape(len(names), -1)
    ghb.ts.initialize(filename=f"{MODEL}.ghb.ts", time_series_namerecord=names,
                      interpolation_methodrecord=["linearend"] * len(names),
                      timeseries=[(t, *stages[:, i]) for i, t in enumerate(days)])

    rows, observations, index = csub_packagedata(case, layers, form, options)
    cg_ske, cg_theta = coarse_arrays(case, layers, form, options)
    csub_options = {"ndelaycells": int(options["ndelaycells"])}
    if not options["water_compressibility"]:
        csub_options["beta"] = 0.0
    if form == "head-based":
        csub_options["head_based"] = True
    else:
        csub_options.update(compression_indices=True, sgm=case.geostatic.sgm,
                            sgs=case.geostatic.sgs,
                            effective_stress_lag=bool(options["effective_stress_lag"]),
                            update_material_properties=bool(
                                options["update_material_properties"]))
    csub = flopy.mf6.ModflowGwfcsub(
        gwf, ninterbeds=len(rows), cg_ske_cr=cg_ske.reshape(layers.nlay, 1, n),
        cg_theta=cg_theta.reshape(layers.nlay, 1, n), packagedata=rows or None,
        **csub_options)
    csub.obs.initialize(filename=f"{MODEL}.csub.obs", digits=16,
                        continuous={(OBS_FILE, "binary"): observations})
    return sim, index


def porosity_of(material, options) -> np.ndarray:
    if material.void_ratio is not None:
        return material.void_ratio / (1.0 + material.void_ratio)
    return np.full(len(material.thickness), float(options["porosity"]))


def preconsolidation_offset(material, head0, form: str) -> np.ndarray:
    """CSUB's pcs0 relative to the initial state. A preconsolidation head above the
    initial head is taken as the initial head: the bed starts in equilibrium (case
    semantics), so it cannot start underconsolidated."""
    below = np.minimum(material.initial_preconsolidation(head0) - head0, 0.0)
    # head-based: an offset in head (negative = overconsolidated); effective stress:
    # an offset in stress, metres of water (positive = overconsolidated)
    return below if form == "head-based" else -below


def csub_packagedata(case, layers: Layering, form: str, options: dict):
    """PACKAGEDATA rows, the observations and their index (obs name, aquifer, label,
    cell) for every interbed and every cell with coarse material."""
    rows, observations, index = [], [], []
    for a, aq in enumerate(case.aquifers):
        k = int(layers.layer_of[a])
        head0 = aq.head[:, 0]
        for label, m in material_labels(aq):
            if m.kind == "coarse":
                for j in np.flatnonzero(m.thickness > 0):
                    name = f"cg{k}_{j}"
                    observations.append((name, "coarse-compaction", (k, 0, int(j))))
                    index.append((name, a, label, int(j)))
                continue
            delay = m.kind == "interbeds"
            ssv, sse = (m.sskv, m.sske) if form == "head-based" else (m.cc, m.cr)
            pcs0 = preconsolidation_offset(m, head0, form)
            theta = porosity_of(m, options)
            for j in np.flatnonzero(m.thickness > 0):
                icsubno = len(rows)
                rows.append((icsubno, (k, 0, int(j)), "delay" if delay else "nodelay",
                             pcs0[j], m.thickness[j], m.count[j] if delay else 1.0,
                             ssv[j], sse[j], theta[j], m.kv[j] if delay else 0.0, 0.0))
                name = f"ib{icsubno + 1}"
                observations.append((name, "interbed-compaction", (icsubno,)))
                index.append((name, a, label, int(j)))
    return rows, observations, index


def coarse_arrays(case, layers: Layering, form: str, options: dict):
    """cg_ske_cr and cg_theta [L, n]: the coarse material's sske (head-based) or cr
    (indices) and porosity; zero storage where an aquifer has no coarse material and
    in filler layers. CSUB takes the coarse thickness to be the cell's minus its
    interbeds'; where the case's geometry makes that differ from the coarse thickness
    of the case, the storage is scaled (compaction is proportional to both)."""
    ske = np.zeros((layers.nlay, case.n_cells))
    theta = np.full((layers.nlay, case.n_cells), float(options["porosity"]))
    for a, aq in enumerate(case.aquifers):
        if aq.coarse is None:
            continue
        k = layers.layer_of[a]
        top = layers.top if k == 0 else layers.botm[k - 1]
        csub_thickness = top - layers.botm[k] - interbed_thickness(aq)
        if np.any((csub_thickness <= 0) & (aq.coarse.thickness > 0)):
            raise InputError(case.source or case.name, f"aquifers[{a}].coarse.thickness",
                             "the aquifer (bottom - top) is not thicker than its interbeds, "
                             "so it has no room for coarse material")
        scale = np.divide(aq.coarse.thickness, csub_thickness,
                          out=np.zeros(case.n_cells), where=csub_thickness > 0)
        ske[k] = (aq.coarse.sske if form == "head-based" else aq.coarse.cr) * scale
        theta[k] = porosity_of(aq.coarse, options)
    return ske, theta


def check_convergence(folder: Path) -> int:
    """Accept the time steps MODFLOW reports as not converged only when the failure is
    the stale delay-bed flag of MODFLOW 6.4.1; return how many there were.

    CSUB reports, as its convergence measure, the largest delay-bed head change of the
    last delay-bed solve that changed anything. When the cell head no longer changes
    between outer iterations (here: imposed, so it converges to round-off at once), a
    solve changes nothing and the previous, large value stays: the step never
    "converges" although nothing moves. Such a step repeats the identical value to the
    last outer iteration; the simulation runs with CONTINUE, and any other failure
    (values still changing, or not CSUB's) is an error.
    """
    import pandas as pd

    table = pd.read_csv(Path(folder) / OUTER_CSV, skipinitialspace=True,
                        dtype={"solution_outer_dvmax_package": str})
    table.columns = [c.strip() for c in table.columns]
    dvmax = table["solution_outer_dvmax"].to_numpy(float)
    csub = table["solution_outer_dvmax_package"].fillna("").str.strip().to_numpy() == "CSUB"
    step_end = ~table.duplicated(["kper", "kstp"], keep="last").to_numpy()
    ends = np.flatnonzero(step_end & (table["nouter"].to_numpy() >= OUTER_MAXIMUM))
    converged_last = np.abs(dvmax[ends]) <= OUTER_DVCLOSE
    frozen = ((dvmax[ends] == dvmax[ends - 1]) & (dvmax[ends] == dvmax[ends - 2])
              & csub[ends] & csub[ends - 1] & csub[ends - 2])
    bad = ends[~(converged_last | frozen)]
    if bad.size:
        kper, kstp = table["kper"].iloc[bad[0]], table["kstp"].iloc[bad[0]]
        raise SolverError(
            failure_message("mf6", folder) + f"\n  time step {kstp} of stress period "
            f"{kper} did not converge (see {OUTER_CSV} in the run folder)")
    stale = int(frozen.sum())
    return stale


def read_parts(case, folder: Path, index, substeps: int) -> CompactionParts:
    """Compaction parts [n, T] from the binary observation file: the record at the end
    of every stress period is the compaction at the next case time."""
    from flopy.utils import Mf6Obs

    parts: CompactionParts = {}
    if not index:
        return parts
    data = Mf6Obs(str(Path(folder) / OBS_FILE), isBinary=True).get_data()
    ends = data[substeps - 1::substeps]
    if len(ends) != case.n_times - 1 or not np.allclose(ends["totim"], case.days[1:],
                                                        rtol=1e-9, atol=1e-6):
        raise SolverError(failure_message("mf6", folder) + "\n  the observation file "
                          f"has {len(data)} records, not one per time step up to "
                          f"day {case.days[-1]:g}")
    for name, a, label, j in index:
        values = parts.setdefault((a, label), np.zeros((case.n_cells, case.n_times)))
        values[j, 1:] = ends[name.upper()]
    return parts
