"""What drives the flow model: its stress periods and, per period, pumping, recharge and
the regional boundary.

Periods: one steady state (the natural system at the predevelopment date), annual
periods up to ``time.monthly_from`` (seasons averaged out), then monthly periods to the
end. Every rate of a period is its value at the period's middle.

- pumping (m3/d, per aquifer group and flow cell): components of [pumping.components],
  each a volume per year times its history multiplier (by year, linear in between, held
  at the ends: a future continues the last level) and its monthly pattern (monthly
  periods only), shared equally by the component's wells (drawn once per seed, in
  metres, so every grid pumps from the same places) and among the groups by fixed shares;
- lateral inflow from the mountain front (m3/d), constant, shared by the groups in
  proportion to their transmissivity along a band of the front;
- recharge (m/d, on the top group): rain (a fan-to-plain rate times the year's index and
  the month's share), river-bed leakage along the Yongding and Chaobai corridors while
  they flowed, and from 2015 the ecological replenishment released into their dry beds;
- drains below the land surface (springs, gaining rivers, evapotranspiration; deeper
  on the fans than on the plain), which hold the predevelopment water table and fall
  idle as it drops;
- the regional boundary (south and east edges): a general head whose stage, the
  predevelopment water table less ``outflow_depth``, follows the regional decline of the
  North China Plain, at a remote distance ``outflow_distance``.

A scenario (``cases.beijing.scenario``) multiplies pumping and recharge through the
``adjust`` object handed to the builders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cases.beijing.domain import KM, Domain, _absolute, polyline_distance
from cases.beijing.fields import Grid
from cases.beijing.streams import stream
from engine.units import DAYS_PER_YEAR

RECHARGE_KINDS = ("rain", "rivers", "replenishment")


@dataclass(frozen=True)
class Periods:
    """Stress periods: start [P] and end [P] dates (datetime64[D]); period 0 is the
    steady state, with start == end == the predevelopment date; monthly [P] flags."""

    start: np.ndarray
    end: np.ndarray
    monthly: np.ndarray

    @classmethod
    def build(cls, time_settings: dict, until) -> "Periods":
        """Periods from the predevelopment date to ``until`` (a month start, the last
        time heads are needed at)."""
        first = np.datetime64(time_settings["predevelopment"], "Y")
        switch = np.datetime64(time_settings["monthly_from"], "M")
        until = np.datetime64(until, "M")
        years = np.arange(first, np.datetime64(switch, "Y")).astype("datetime64[D]")
        months = np.arange(switch, until + 1).astype("datetime64[D]")
        bounds = np.concatenate([years, months])
        start = np.concatenate([bounds[:1], bounds[:-1]])
        monthly = np.concatenate([[False], bounds[1:] > np.datetime64(switch, "D")])
        return cls(start=start, end=bounds, monthly=monthly)

    def __len__(self) -> int:
        return len(self.start)

    @property
    def length_days(self) -> np.ndarray:
        """[P] days; 1 for the steady state (its length does not matter)."""
        days = (self.end - self.start).astype(np.float64)
        days[0] = 1.0
        return days

    @property
    def middle_year(self) -> np.ndarray:
        """[P] decimal year of each period's middle."""
        mid = self.start + (self.end - self.start) // 2
        year = mid.astype("datetime64[Y]")
        into = (mid - year.astype("datetime64[D]")).astype(np.float64)
        return 1970.0 + year.astype(np.float64) + into / DAYS_PER_YEAR

    @property
    def month(self) -> np.ndarray:
        """[P] 0..11 month of each period's start (only meaningful for monthly ones)."""
        return (self.start.astype("datetime64[M]").astype(np.int64) % 12)

    @property
    def middle(self) -> np.ndarray:
        return self.start + (self.end - self.start) // 2


def history(table, year) -> np.ndarray:
    """A [[year, value], ...] table at decimal ``year`` (value at mid-year of each listed
    year, linear in between, held beyond the ends)."""
    table = np.asarray(table, dtype=np.float64)
    return np.interp(year, table[:, 0] + 0.5, table[:, 1])


def well_positions(domain: Domain, spec: dict, rng) -> tuple[np.ndarray, np.ndarray]:
    """x, y (m) of the ``spec["wells"]`` wells of a pumping component: around its centre
    (spread as a Gaussian of standard deviation radius_km) or, for irrigation, over the
    plain with a density proportional to the fining index and low near the city.
    Positions do not depend on any grid, so every size of the twin pumps from the same
    places."""
    (x0, y0), (width, height) = domain.origin, domain.extent
    n = int(spec["wells"])
    if "centre_km" in spec:
        # a sunflower pattern of the Gaussian (radii at its quantiles, golden-angle
        # turns, a random rotation): the field's shape, without the random clustering
        # of independent draws that would make every seed's cone a different depth
        cx, cy = domain.km(spec["centre_km"])
        k = np.arange(n)
        radius = spec["radius_km"] * KM * np.sqrt(-2.0 * np.log(1.0 - (k + 0.5) / n))
        angle = rng.uniform(0.0, 2.0 * np.pi) + k * np.pi * (3.0 - np.sqrt(5.0))
        x = np.clip(cx + radius * np.cos(angle), x0, x0 + width)
        y = np.clip(cy + radius * np.sin(angle), y0, y0 + height)
        return x, y
    cx, cy = domain.landmark("city_centre")
    xs, ys = np.empty(0), np.empty(0)
    while len(xs) < n:   # rejection sampling from the density
        x = rng.uniform(x0, x0 + width, 4 * n)
        y = rng.uniform(y0, y0 + height, 4 * n)
        density = domain.fining(x, y) * (1.0 - np.exp(
            -0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / (spec["city_exclusion_km"] * KM) ** 2))
        keep = rng.uniform(0.0, 1.0, len(x)) < density
        xs, ys = np.concatenate([xs, x[keep]]), np.concatenate([ys, y[keep]])
    return xs[:n], ys[:n]


class NoAdjustment:
    """The historical stresses (no scenario)."""

    def pumping(self, date, layer: int, x, y):
        return 1.0

    def recharge(self, date, kind: str, x, y):
        return 1.0


@dataclass(frozen=True)
class Stresses:
    """Per-period stresses of the flow model on ``grid`` (arrays [..., ny, nx], rows from
    the south)."""

    domain: Domain
    grid: Grid
    periods: Periods
    seed: int
    adjust: object = NoAdjustment()

    # -- pumping --------------------------------------------------------------------
    def pumping(self) -> tuple[np.ndarray, np.ndarray]:
        """Withdrawals: cells [E, 3] (group, row, column) and rates [P, E] (m3/d,
        positive out), historical or adjusted; none in the steady state."""
        comps = self.domain.settings["pumping"]["components"]
        rng = stream(self.seed, "pumping")
        years = self.periods.middle_year
        keys, rates = [], []
        for spec in comps.values():
            wx, wy = well_positions(self.domain, spec, rng)
            row, col = self.grid.cell_of(wx, wy)
            level = history(spec["history"], years) * spec["volume"] / DAYS_PER_YEAR
            pattern = np.asarray(spec["monthly"], dtype=np.float64)
            season = np.where(self.periods.monthly, pattern[self.periods.month]
                              / pattern.mean(), 1.0)
            per_well = (level * season)[:, None] / len(wx)
            for layer, share in enumerate(spec["layers"]):
                if share:
                    keys.append(np.stack([np.full(len(wx), layer), row, col], axis=1))
                    rates.append(share * per_well * np.ones(len(wx)))
        keys = np.concatenate(keys)
        rates = np.concatenate(rates, axis=1)
        cells, which = np.unique(keys, axis=0, return_inverse=True)
        total = np.zeros((len(self.periods), len(cells)))
        np.add.at(total.T, which.ravel(), rates.T)
        total[0] = 0.0  # the natural system
        x, y = self.grid.x[cells[:, 2]], self.grid.y[cells[:, 1]]
        for p, date in enumerate(self.periods.middle):
            for layer in np.unique(cells[:, 0]):
                on = cells[:, 0] == layer
                total[p, on] *= self.adjust.pumping(date, int(layer), x[on], y[on])
        return cells, total

    def lateral_inflow(self, transmissivity: np.ndarray) -> np.ndarray:
        """[A, ny, nx] m3/d entering along the mountain front; ``transmissivity`` [A, ny, nx]
        (m2/d) shares it among the groups and cells of the band."""
        b = self.domain.settings["boundaries"]
        x, y = self.grid.mesh()
        band = self.domain.front_distance(x.ravel(), y.ravel()).reshape(x.shape) \
            < b["lateral_band"]
        weights = transmissivity * band[None]
        return weights / weights.sum() * b["lateral_inflow"] / DAYS_PER_YEAR

    # -- recharge -------------------------------------------------------------------
    def river_corridors(self, reach: float = 1.0) -> np.ndarray:
        """[ny, nx] Gaussian corridor weight (0..1) around the rivers' courses, over the
        first ``reach`` fraction of their length."""
        d = self.domain.settings["domain"]
        width = self.domain.settings["recharge"]["river_width"]
        x, y = self.grid.mesh()
        out = np.zeros(x.shape)
        for river in d["rivers"]:
            dist, along = polyline_distance(x, y, _absolute(d, river["path_km"]))
            out = np.maximum(out, np.exp(-0.5 * (dist / width) ** 2) * (along <= reach))
        return out

    def recharge(self) -> np.ndarray:
        """[P, ny, nx] m/d into the top of the unconfined group."""
        r = self.domain.settings["recharge"]
        x, y = self.grid.mesh()
        fining = self.domain.fining(x.ravel(), y.ravel()).reshape(x.shape)
        rain_rate = (r["areal_front"] * (1 - fining) + r["areal_far"] * fining) / DAYS_PER_YEAR
        share = np.asarray(r["monthly_share"]["values"], dtype=np.float64)
        index = {int(k): v for k, v in r["year_index"].items()}
        years = self.periods.middle_year
        rain = np.array([index.get(int(np.floor(yr)), 1.0) for yr in years])
        rain = np.where(self.periods.monthly, rain * 12.0 * share[self.periods.month], rain)
        corridor = self.river_corridors()
        rivers = history(r["river_flow"], years) * r["river_rate"] / DAYS_PER_YEAR
        wetted = self.river_corridors(r["replenishment_reach"])
        per_m3 = wetted / (wetted.sum() * self.grid.spacing**2)   # m/d per m3/d released
        released = history(r["replenishment"], years) / DAYS_PER_YEAR
        out = np.empty((len(self.periods), self.grid.ny, self.grid.nx))
        for p, date in enumerate(self.periods.middle):
            parts = {"rain": rain[p] * rain_rate, "rivers": rivers[p] * corridor,
                     "replenishment": released[p] * per_m3}
            out[p] = sum(part * self.adjust.recharge(date, kind, x, y)
                         for kind, part in parts.items())
        return out

    # -- regional boundary ------------------------------------------------------------
    def boundary_cells(self) -> np.ndarray:
        """[ny, nx] True on the cells along the regional-outflow edges."""
        edges = self.domain.settings["boundaries"]["outflow_edges"]
        mask = np.zeros((self.grid.ny, self.grid.nx), dtype=bool)
        rows = {"south": (0, slice(None)), "north": (-1, slice(None)),
                "west": (slice(None), 0), "east": (slice(None), -1)}
        for edge in edges:
            mask[rows[edge]] = True
        return mask

    def boundary_updates(self) -> list[int]:
        """Periods at which the regional boundary's stage is renewed: the steady state
        and the first period of every year (it holds through the year)."""
        year = self.periods.start.astype("datetime64[Y]")
        return [0] + [p for p in range(1, len(self.periods))
                      if p == 1 or year[p] != year[p - 1]]

    def boundary_stage(self) -> np.ndarray:
        """[P, ny, nx] m above datum: the remote head of the regional boundary, at the
        middle of each period's year."""
        b = self.domain.settings["boundaries"]
        x, y = self.grid.mesh()
        land = self.domain.land_surface(x.ravel(), y.ravel()).reshape(x.shape)
        year = self.periods.start.astype("datetime64[Y]").astype(np.float64) + 1970.5
        decline = history(b["regional_decline"], year)
        decline[0] = 0.0
        return land[None] - b["outflow_depth"] - decline[:, None, None]

    def drains(self) -> tuple[np.ndarray, np.ndarray]:
        """[ny, nx] elevation (m above datum) and conductance (m2/d) of the drains that
        stand for springs, gaining rivers and evapotranspiration of a shallow water
        table on the top group."""
        b = self.domain.settings["boundaries"]
        x, y = self.grid.mesh()
        land = self.domain.land_surface(x.ravel(), y.ravel()).reshape(x.shape)
        fining = self.domain.fining(x.ravel(), y.ravel()).reshape(x.shape)
        depth = b["drain_depth_front"] * (1 - fining) + b["drain_depth_far"] * fining
        return land - depth, np.full(x.shape, b["drain_leakance"] * self.grid.spacing**2)

    def boundary_conductance(self, transmissivity: np.ndarray) -> np.ndarray:
        """[A, ny, nx] m2/d: a remote head ``outflow_distance`` beyond the edge."""
        distance = self.domain.settings["boundaries"]["outflow_distance"]
        return transmissivity * self.grid.spacing / distance * self.boundary_cells()[None]
