"""The regional groundwater flow model of the twin: MODFLOW 6 (GWF) built with FloPy.

Four layers, one per aquifer group (unconfined 0-50 m, first confined 50-100 m, second
100-180 m, third 180-300 m below the land surface). The aquitards between the groups and
the clay interbeds inside them are smeared into each layer's vertical conductivity K33
(a VCONT-like leakance between layer centres): high on the fans, where the groups are
one sand-gravel aquifer, four orders of magnitude lower out on the plain.

- NPF: constant transmissivity in every layer (ICELLTYPE 0) so no cell dries; the top
  layer stores water by specific yield when its head is below the land surface (STO
  ICONVERT 1), the others by elastic specific storage. The water released by the
  compaction of clays (well under 2 % of the pumping in the twin) is not fed back: the
  subsidence is computed from these heads afterwards (one-way coupling).
- Period 0 is the steady state of the natural system (no pumping); then the transient
  periods of ``stresses.Periods``. Heads are saved at the end of every period.
- WEL: pumping (negative) and lateral inflow along the mountain front (positive); RCH:
  rain, river-bed leakage and ecological replenishment on the top layer; DRN: springs,
  gaining rivers and evapotranspiration of a shallow water table; GHB: the regional
  boundary on the south and east edges.
- The run must converge in every time step (no CONTINUE) and its volumetric budget is
  read from the listing: the largest percent discrepancy of any period is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cases.beijing.stresses import Stresses
from engine.errors import SolverError
from physics.modflow import executables
from physics.modflow.listing import failure_message

MODEL = "plain"
DVCLOSE = 1.0e-4      # m
RCLOSE = 10.0         # m3/d (cells of 1-25 km2)


@dataclass(frozen=True)
class FlowRun:
    """Heads [P, A, ny, nx] (m above datum, rows from the south) at the end of every
    stress period (index 0: the predevelopment steady state), the dates they hold at
    (datetime64[D], [P]), and the budget read from the listing."""

    heads: np.ndarray
    dates: np.ndarray
    budget: dict


def _to_mf(values: np.ndarray) -> np.ndarray:
    """Rows from the north, as MODFLOW counts them."""
    return np.ascontiguousarray(values[..., ::-1, :])


def run_flow_model(stresses: Stresses, folder) -> FlowRun:
    """Build, run and read the flow model in ``folder`` (kept for inspection)."""
    import flopy

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    grid, domain, periods = stresses.grid, stresses.domain, stresses.periods
    exe = executables.require("mf6")
    xc, yc = grid.points()
    land = domain.land_surface(xc, yc).reshape(grid.ny, grid.nx)
    top, bottom = domain.aquifer_depths()
    hyd = {k: v.reshape(v.shape[:-1] + (grid.ny, grid.nx))
           for k, v in domain.hydraulics(xc, yc).items()}
    thickness = (bottom - top)[:, None, None]
    transmissivity = hyd["k"] * thickness
    n_layers = len(top)

    sim = flopy.mf6.MFSimulation(sim_name=MODEL, sim_ws=str(folder), exe_name=str(exe),
                                 verbosity_level=0)
    # FloPy's checks of every list entry dominate the build time of long runs
    sim.simulation_data.auto_set_sizes = False
    sim.simulation_data.verify_data = False
    steps = [1] + [1 if m else int(domain.settings["time"]["annual_steps"])
                   for m in periods.monthly[1:]]
    flopy.mf6.ModflowTdis(sim, time_units="days", nper=len(periods),
                          perioddata=list(zip(periods.length_days, steps,
                                              [1.0] * len(periods))))
    flopy.mf6.ModflowIms(sim, complexity="moderate", outer_dvclose=DVCLOSE,
                         outer_maximum=50, inner_maximum=200, inner_dvclose=DVCLOSE / 10,
                         rcloserecord=RCLOSE, linear_acceleration="bicgstab")
    gwf = flopy.mf6.ModflowGwf(sim, modelname=MODEL, save_flows=False)
    (x0, y0) = domain.origin
    flopy.mf6.ModflowGwfdis(gwf, nlay=n_layers, nrow=grid.ny, ncol=grid.nx,
                            delr=grid.spacing, delc=grid.spacing, xorigin=x0, yorigin=y0,
                            top=_to_mf(land), botm=_to_mf(land[None] - bottom[:, None, None]))
    flopy.mf6.ModflowGwfnpf(gwf, icelltype=0, k=_to_mf(hyd["k"]), k33=_to_mf(hyd["k33"]))
    sy = np.zeros_like(hyd["k"])
    sy[0] = hyd["sy"]
    flopy.mf6.ModflowGwfsto(gwf, iconvert=[1] + [0] * (n_layers - 1), ss=_to_mf(hyd["ss"]),
                            sy=_to_mf(sy), steady_state={0: True}, transient={1: True})
    start = land - domain.settings["hydraulics"]["initial_depth_to_water"]
    flopy.mf6.ModflowGwfic(gwf, strt=_to_mf(np.repeat(start[None], n_layers, axis=0)))

    mf_row = grid.ny - 1
    cells, withdrawn = stresses.pumping()
    wel_cells = [(int(k), mf_row - int(i), int(j)) for k, i, j in cells]
    # flat (layer, row, column, value) rows: FloPy untuples cell ids row by row otherwise
    flopy.mf6.ModflowGwfwel(gwf, pname="pumping", filename=f"{MODEL}.pumping.wel",
                            maxbound=len(wel_cells),
                            stress_period_data={p: [(*c, -float(q)) for c, q in
                                                    zip(wel_cells, withdrawn[p])]
                                                for p in range(len(periods))})
    inflow = stresses.lateral_inflow(transmissivity)
    in_cells = np.argwhere(inflow > 0)
    # constant: given once, MODFLOW keeps a period's list until the next one
    flopy.mf6.ModflowGwfwel(gwf, pname="inflow", filename=f"{MODEL}.inflow.wel",
                            maxbound=len(in_cells),
                            stress_period_data={0: [(int(k), mf_row - int(i), int(j),
                                                     float(inflow[k, i, j]))
                                                    for k, i, j in in_cells]})

    recharge = stresses.recharge()
    flopy.mf6.ModflowGwfrcha(gwf, recharge={p: _to_mf(recharge[p])
                                            for p in range(len(periods))})

    conductance = stresses.boundary_conductance(transmissivity)
    stage = stresses.boundary_stage()
    ghb_cells = np.argwhere(conductance > 0)
    ghb = {p: [(int(k), mf_row - int(i), int(j), float(stage[p, i, j]),
                float(conductance[k, i, j])) for k, i, j in ghb_cells]
           for p in stresses.boundary_updates()}
    flopy.mf6.ModflowGwfghb(gwf, maxbound=len(ghb_cells), stress_period_data=ghb)

    elevation, drain_conductance = stresses.drains()
    drained = np.argwhere(drain_conductance > 0)
    flopy.mf6.ModflowGwfdrn(gwf, maxbound=len(drained), stress_period_data={0: [
        (0, mf_row - int(i), int(j), float(elevation[i, j]), float(drain_conductance[i, j]))
        for i, j in drained]})
    flopy.mf6.ModflowGwfoc(gwf, head_filerecord=[f"{MODEL}.hds"],
                           saverecord=[("HEAD", "LAST")], printrecord=[("BUDGET", "LAST")])
    sim.write_simulation(silent=True)
    success, output = sim.run_simulation(silent=True, report=True)
    if not success:
        raise SolverError(failure_message("mf6", folder, output))
    heads = read_heads(folder / f"{MODEL}.hds", len(periods))
    return FlowRun(heads=heads, dates=periods.end.copy(),
                   budget=read_budget(folder / f"{MODEL}.lst"))


def read_heads(path: Path, n_periods: int) -> np.ndarray:
    """[P, A, ny, nx] heads at the end of every period, rows from the south."""
    from flopy.utils import HeadFile

    heads = HeadFile(str(path), precision="double").get_alldata()
    if len(heads) != n_periods:
        raise SolverError(f"{path}: {len(heads)} head records, expected one per stress "
                          f"period ({n_periods})")
    return np.ascontiguousarray(heads[:, :, ::-1, :])


def read_budget(listing: Path) -> dict:
    """The volumetric budget printed in the listing: the largest absolute percent
    discrepancy of any period, and cumulative volumes in and out (m3) by term at the end."""
    from flopy.utils import Mf6ListBudget

    incremental, cumulative = Mf6ListBudget(str(listing)).get_dataframes(diff=False)
    last = cumulative.iloc[-1]
    terms = {name[:-3].lower(): float(last[name]) for name in cumulative.columns
             if name.endswith("_IN") and name != "TOTAL_IN"}
    terms_out = {name[:-4].lower(): float(last[name]) for name in cumulative.columns
                 if name.endswith("_OUT") and name != "TOTAL_OUT"}
    return {
        "max_percent_discrepancy": float(np.abs(incremental["PERCENT_DISCREPANCY"]).max()),
        "cumulative_percent_discrepancy": float(last["PERCENT_DISCREPANCY"]),
        "periods_reported": int(len(incremental)),
        "cumulative_in_m3": terms,
        "cumulative_out_m3": terms_out,
    }
