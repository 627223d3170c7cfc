"""Skeletal storage: the exact storage release of a node over a step, and stress-dependent
specific storage from compression indices.

Release over a step (head-based, per unit thickness, m of water per m). A node whose
head goes from h_old to h_new against its preconsolidation head pc (pc <= h_old, the
lowest head it has seen) releases

    S (pc - h_new) + Sske (h_old - pc),    S = Sskv if h_new < pc else Sske,

which is Sske (h_old - h_new) while it stays above pc and
Sske (h_old - pc) + Sskv (pc - h_new) when it crosses below: the exact piecewise-linear
storage change, the same expression MODFLOW 6 CSUB writes in stresses
(ssk (es - pcs) + sske (pcs - es0)). Positive release = compaction.

Stress-dependent storage (Compressible.storage == "indices"). As MODFLOW 6 CSUB and
SUB-WT define it, Ss = log10(e) C / ((1 + e0) sigma'), with C the recompression index
cr (elastic) or the compression index cc (inelastic), e0 the void ratio (held constant:
material properties are not updated) and sigma' the effective stress in metres of water.
What this module does, exactly:

* total (geostatic) stress at elevation z, in m of water: from the land surface down,
  specific gravity sgm above the water table and sgs below it; the water table is the
  head of the top aquifer at the first case time, clipped to the land surface; everything
  below the water table, gaps between aquifers included, is saturated. The geostatic
  stress is held at its initial value (as CSUB's head-based formulation does), so
  d sigma' = -dh exactly and preconsolidation can be tracked in heads;
* sigma' = sigma(z) - (h - z) at elevation z (m above datum), h the head there;
* every compressible system of an aquifer sits at the middle of that aquifer:
  z = land_surface - (top + bottom) / 2 with top/bottom depths below the land surface.
  For delay interbeds the geostatic part is taken at that centre for all nodes of the
  bed (the bed's own thickness is neglected in the geostatic gradient, which keeps the
  bed symmetric about its centre); each node's own head enters sigma';
* Ss is lagged: evaluated from the effective stress at the start of each (sub)step, as
  CSUB's EFFECTIVE_STRESS_LAG option, so each step stays piecewise linear in head.
"""

from __future__ import annotations

import numba
import numpy as np

#: log10(e) as MODFLOW 6 CSUB rounds it (gwf-csub.f90, dlog10es), so stress-dependent
#: runs can be compared with it.
LOG10_E = 0.4342942
#: Smallest effective stress (m of water) the kernels accept, CSUB's limit (DEM6).
MIN_EFFECTIVE_STRESS = 1.0e-6


@numba.njit(inline="always")
def storage_release(ss_now, sske, preconsolidation_head, h_old, h_new):
    """Water released per unit thickness (m) over a step; ss_now is Sskv when h_new is
    below the preconsolidation head, Sske otherwise (see the module docstring)."""
    return (ss_now * (preconsolidation_head - h_new)
            + sske * (h_old - preconsolidation_head))


def compression_coefficient(index, void_ratio):
    """log10(e) C / (1 + e0): multiplied by 1/sigma' (1/m of water) it gives Ss (1/m)."""
    return LOG10_E * np.asarray(index, dtype=np.float64) / (1.0 + np.asarray(void_ratio))


def geostatic_stress(elevation, land_surface, water_table, sgm, sgs):
    """Total vertical stress (m of water) at ``elevation`` (m above datum).

    water_table : m above datum, clipped to the land surface here; sgm, sgs : specific
    gravities of moist and saturated sediment.
    """
    water_table = np.minimum(water_table, land_surface)
    above = np.maximum(land_surface - np.maximum(elevation, water_table), 0.0)
    below = np.maximum(water_table - elevation, 0.0)
    return sgm * above + sgs * below


def stress_head(elevation, land_surface, water_table, sgm, sgs):
    """sigma(z) + z (m): the effective stress at elevation z is this minus the head there."""
    return geostatic_stress(elevation, land_surface, water_table, sgm, sgs) + elevation
