"""The hidden truth: the compressible sediments of the twin and the subsidence they give
under the flow model's heads, computed by the ``terzaghi`` solver in a high-fidelity
configuration. Solvers never see any of it.

Per aquifer group and point (settings [truth], per group, top first):

- clay: a fraction of the group's thickness, blended from fan to plain by the fining
  index with a random relative perturbation, and never less than the bed systems below
  need (every system holds at least one bed);
- the equivalent interbed thickness b_equiv (blended by the fining index, within the
  seminar's bounds) is split into several delay interbed systems of different
  thickness (``bed_ratios`` times b_equiv), holding the clay in the shares
  ``bed_clay_shares`` (count = share * clay / thickness, at least 1); the thicknesses
  are then rescaled together so that the systems' sqrt(sum n b^2 / sum n) is b_equiv;
- the lag time tau of the equivalent bed is drawn within the seminar's range (longer
  where the sediments are finer, plus a random part), and the vertical conductivity
  follows from it: Kv = (b_equiv / 2)^2 Sskv0 / tau, Sskv0 the virgin storage at the
  predevelopment effective stress in the middle of the group;
- stress-dependent storage (Cc, Cr = cr_ratio * Cc, void ratio) for the clay, elastic
  recompression for the coarse skeleton (the group's thickness less its clay);
- the confining aquitard at the top of each confined group: one thick delay bed whose
  lag time is years (``aquitard_lag_years``), not months; it is not one of the
  seminar's interbeds (their table stays that of the interbeds) but it is what keeps
  the thick-clay areas subsiding for years after the heads stop falling;
- a preconsolidation head ``overconsolidation`` metres below the predevelopment head.

The truth runs from the predevelopment steady state (1955), so the residual
consolidation of the decades before the case's first time is part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from cases.beijing.domain import Domain, blend
from cases.beijing.fields import bilinear, random_fields
from cases.beijing.streams import stream
from engine.case import Aquifer, Case, Cells, Compressible, Geostatic
from engine.registry import make_solver
from engine.units import DAYS_PER_MONTH, DAYS_PER_YEAR
from physics.analytical import lag_time
from physics.storage import compression_coefficient, stress_head

#: The clay of a group never fills more than this fraction of it.
MAX_CLAY_FRACTION = 0.8


def equivalent_thickness(thickness: np.ndarray, count: np.ndarray) -> np.ndarray:
    """[N] sqrt(sum n b^2 / sum n) of systems [K, N] (m): MODFLOW's b_equiv."""
    return np.sqrt((count * thickness**2).sum(axis=0) / count.sum(axis=0))


def bed_systems(b_equiv, clay, ratios, shares, most):
    """Thickness and count [K, N] of K interbed systems holding about ``clay`` (m) in
    ``shares``, thicknesses in ``ratios`` to one another, their equivalent thickness
    exactly ``b_equiv`` and their clay at most ``most`` (m).

    Counts start from the shares (at least 1) and the thicknesses are scaled to the
    equivalent thickness; where that holds too much clay, the counts are scaled down
    by the largest factor (bisection; the clay grows with it) that fits. With one bed
    per system it fits, since b_equiv was capped for it.
    """
    start = np.maximum(1.0, shares * clay / (ratios * b_equiv))

    def systems(factor):
        count = np.maximum(1.0, factor * start)
        thickness = ratios * b_equiv * b_equiv / equivalent_thickness(ratios * b_equiv, count)
        return thickness, count

    def fits(factor):
        thickness, count = systems(factor)
        return (count * thickness).sum(axis=0) <= most

    low, high = np.zeros_like(b_equiv), np.ones_like(b_equiv)
    for _ in range(60):
        middle = 0.5 * (low + high)
        ok = fits(middle)
        low, high = np.where(ok, middle, low), np.where(ok, high, middle)
    return systems(np.where(fits(1.0), 1.0, low))


@dataclass(frozen=True)
class Sediments:
    """The truth's compressible material at P points, per aquifer group (lists of A).

    interbeds : per group, a tuple of K Compressible delay systems (storage "indices");
    aquitards : per group, the confining aquitard (a slow delay bed) or None;
    coarse : per group, the coarse skeleton; b_equiv, lag_days : [A, P] the equivalent
    bed of the interbeds and its lag time (d); clay : [A, P] all the group's clay (m);
    sskv0, coarse_ss0 : [A, P] virgin storage of the clay and elastic storage of the
    coarse skeleton at the predevelopment stress (1/m);
    top, bottom : [A] depths (m below land surface); land_surface : [P] m.
    """

    interbeds: list
    aquitards: list
    coarse: list
    b_equiv: np.ndarray
    lag_days: np.ndarray
    clay: np.ndarray
    sskv0: np.ndarray
    coarse_ss0: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    land_surface: np.ndarray


@dataclass(frozen=True)
class TruthFields:
    """Random parts of the truth, drawn once per seed on the domain's field grid."""

    domain: Domain
    clay_noise: np.ndarray      # [A, ny, nx] standard normal
    lag_noise: np.ndarray       # [A, ny, nx] uniform in (0, 1)

    @classmethod
    def create(cls, domain: Domain, seed: int) -> "TruthFields":
        t = domain.settings["truth"]
        rng = stream(seed, "truth")
        n = len(domain.aquifer_names)
        clay = random_fields(rng, domain.grid, t["clay_noise_length"], count=n)
        lag = random_fields(rng, domain.grid, t["lag_noise_length"], count=n)
        return cls(domain, clay, ndtr(lag))

    def sediments(self, x, y, initial_head: np.ndarray) -> Sediments:
        """The sediments at points (x, y) [P]; ``initial_head`` [A, P] the predevelopment
        heads (m above datum), which set the initial effective stress."""
        t = self.domain.settings["truth"]
        f = self.domain.fining(x, y)
        land = self.domain.land_surface(x, y)
        tops, bottoms = self.domain.aquifer_depths()
        ratios = np.asarray(t["bed_ratios"], dtype=np.float64)[:, None]
        shares = np.asarray(t["bed_clay_shares"], dtype=np.float64)[:, None]
        # clay needed by one bed per system whose sqrt(mean b^2) is b_equiv
        clay_per_b = ratios.sum() / np.sqrt(np.mean(ratios**2))
        water_table = np.minimum(initial_head[0], land)
        interbeds, aquitards, coarse = [], [], []
        b_all, lag_all, clay_all, ss_all, coarse_ss = [], [], [], [], []
        for a in range(len(tops)):
            height = bottoms[a] - tops[a]
            noise_clay = bilinear(self.domain.grid, self.clay_noise[a], x, y)
            noise_lag = bilinear(self.domain.grid, self.lag_noise[a], x, y)
            aquitard = blend(t["aquitard_front"][a], t["aquitard_far"][a], f, log=False)
            room = MAX_CLAY_FRACTION * height - aquitard    # m left for the interbeds
            b_equiv = np.clip(blend(t["b_equiv_front"][a], t["b_equiv_far"][a], f, log=False),
                              t["b_equiv_min"][a], t["b_equiv_max"][a])
            b_equiv = np.minimum(b_equiv, room / clay_per_b)
            fraction = blend(t["clay_front"][a], t["clay_far"][a], f, log=False) \
                * np.exp(t["clay_noise"] * noise_clay)
            clay = np.clip(fraction * height, clay_per_b * b_equiv, room)
            thickness, count = bed_systems(b_equiv, clay, ratios, shares, room)
            clay = (count * thickness).sum(axis=0) + aquitard

            cc = blend(t["cc_front"][a], t["cc_far"][a], f, log=False)
            void = blend(t["void_ratio_front"], t["void_ratio_far"], f, log=False)
            middle = land - 0.5 * (tops[a] + bottoms[a])
            sigma0 = stress_head(middle, land, water_table, t["sgm"], t["sgs"]) \
                - initial_head[a]
            sskv0 = compression_coefficient(cc, void) / sigma0
            share = np.clip(0.6 * f + 0.4 * noise_lag, 0.0, 1.0)
            lag = DAYS_PER_MONTH * (t["lag_months_min"][a] + share
                                    * (t["lag_months_max"][a] - t["lag_months_min"][a]))
            clay_kind = {"storage": "indices", "cc": cc, "cr": t["cr_ratio"] * cc,
                         "void_ratio": void,
                         "preconsolidation_head": initial_head[a] - t["overconsolidation"][a]}
            # tau = (b/2)^2 Ss / Kv solved for Kv: the formula with tau and Kv swapped
            kv = lag_time(b_equiv, lag, sskv0)
            interbeds.append(tuple(
                Compressible(kind="interbeds", thickness=thickness[k], count=count[k], kv=kv,
                             **clay_kind)
                for k in range(len(ratios))))
            if t["aquitard_far"][a] > 0:
                years = blend(t["aquitard_lag_years_front"][a], t["aquitard_lag_years_far"][a],
                              f, log=False)
                aquitards.append(Compressible(
                    kind="interbeds", thickness=aquitard, count=np.ones(len(f)),
                    kv=lag_time(aquitard, DAYS_PER_YEAR * years, sskv0), **clay_kind))
            else:
                aquitards.append(None)
            coarse.append(Compressible(kind="coarse", storage="indices",
                                       thickness=height - clay,
                                       cr=np.full(len(f), t["coarse_cr"]),
                                       void_ratio=np.full(len(f), t["coarse_void_ratio"])))
            b_all.append(b_equiv)
            lag_all.append(lag)
            clay_all.append(clay)
            ss_all.append(sskv0)
            coarse_ss.append(compression_coefficient(t["coarse_cr"], t["coarse_void_ratio"])
                             / sigma0)
        return Sediments(interbeds=interbeds, aquitards=aquitards, coarse=coarse,
                         b_equiv=np.array(b_all), lag_days=np.array(lag_all), clay=np.array(clay_all),
                         sskv0=np.array(ss_all), coarse_ss0=np.array(coarse_ss), top=tops,
                         bottom=bottoms, land_surface=land)


def truth_case(name: str, x, y, times, heads: np.ndarray, sediments: Sediments,
               sgm: float, sgs: float) -> Case:
    """The truth as a case: P points, heads [A, P, T] (m above datum) at ``times``.

    Every group is confined, the top one included: the twin's world leaves out the change
    of load as its water table moves (moist vs saturated sediment), which the physics
    solvers could not follow either."""
    p = len(x)
    aquifers = tuple(
        Aquifer(name=f"group-{a}", head=heads[a],
                interbeds=sediments.interbeds[a] + tuple(
                    m for m in (sediments.aquitards[a],) if m is not None),
                coarse=sediments.coarse[a], top=np.full(p, sediments.top[a]),
                bottom=np.full(p, sediments.bottom[a]), confined=True)
        for a in range(len(heads)))
    cells = Cells(ids=np.arange(p).astype(str), x=np.asarray(x, float), y=np.asarray(y, float))
    return Case(name=name, times=times, cells=cells, aquifers=aquifers,
                geostatic=Geostatic(sgm=sgm, sgs=sgs, land_surface=sediments.land_surface))


def solve(case: Case, settings: dict) -> np.ndarray:
    """Compaction [A, P, T] (m, shortening positive) of a truth case by the ``terzaghi``
    solver in the truth's configuration ([truth] nodes, substeps)."""
    t = settings["truth"]
    solver = make_solver("terzaghi", nodes=int(t["nodes"]), substeps=int(t["substeps"]))
    return solver.predict(case).compaction


def truth_chunks(fields: TruthFields, flow_grid, flow_heads: np.ndarray, dates, x, y,
                 offsets=None):
    """The truth at points (x, y), a chunk of [truth] chunk points at a time (memory
    stays bounded): yields (slice of the points, Sediments, heads [A, n, T],
    compaction [A, n, T]). ``flow_heads`` [T, A, ny, nx] on ``flow_grid`` at ``dates``
    are interpolated bilinearly; ``offsets(x, y)`` [A, n, T] (m) is added to them."""
    settings = fields.domain.settings
    t = settings["truth"]
    x, y = np.asarray(x, float), np.asarray(y, float)
    for first in range(0, len(x), int(t["chunk"])):
        part = slice(first, min(first + int(t["chunk"]), len(x)))
        heads = np.ascontiguousarray(np.transpose(
            bilinear(flow_grid, flow_heads, x[part], y[part]), (1, 2, 0)))
        if offsets is not None:
            heads += offsets(x[part], y[part])
        sediments = fields.sediments(x[part], y[part], heads[:, :, 0])
        case = truth_case("truth", x[part], y[part], dates, heads, sediments,
                          t["sgm"], t["sgs"])
        yield part, sediments, heads, solve(case, settings)
