"""The seminar's headline facts about Beijing's subsidence, checked on the twin's truth.

Computed from the true displacement (m, up positive, 0 at the predevelopment date) on
the map grid, a regular grid over the whole plain, so that areas are cell counts times
the cell area. A year's displacement is the change from 1 January to the next 1 January.

| fact | seminar | accepted |
|---|---|---|
| peak annual subsidence | 159.6 mm in 2012 | 120-200 mm, 2010-2014 |
| north zone cumulative maximum since 1955 (Chaoyang Jinzhan) | 2348 mm | 1500-3500 mm |
| south zone cumulative maximum since 1955 (Daxing Lixian) | 1641 mm | 800-2500 mm, below the north's |
| two zones | two maxima | the cumulative subsidence between them falls below 75 % of the smaller |
| slowing after 2015 | "gradual slowing down" | largest annual subsidence 2018-2020 < 75 % of the peak |
| uplift from 2021 | 19-47 mm/yr over 830-2430 km2 | every year 2021-2024: 10-80 mm, 500-5000 km2 |
| little uplift before | - | uplift area in 2008-2014 below 500 km2 every year |
| b_equiv and lag time per confined group | table | truth's values within the seminar's ranges |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cases.beijing.fields import Grid, bilinear

SEMINAR_LAGS = {  # group: (b_equiv range m, lag range months), the seminar's table
    "confined-1": ((6.0, 32.0), (0.4, 3.0)),
    "confined-2": ((5.6, 40.0), (0.4, 4.6)),
    "confined-3": ((8.0, 58.0), (0.5, 9.4)),
}
UPLIFT_YEARS = (2021, 2022, 2023, 2024)
QUIET_YEARS = tuple(range(2008, 2015))
#: Annual uplift below this (mm) is not counted in the uplift area (InSAR could not
#: tell it from zero either).
UPLIFT_THRESHOLD_MM = 1.0


@dataclass(frozen=True)
class MapTruth:
    """True displacement [M, T] (m, up positive) on the cells of ``grid`` (row by row
    from the south, M = ny * nx) at ``times`` (datetime64[D])."""

    grid: Grid
    times: np.ndarray
    displacement: np.ndarray

    def at(self, date: str) -> np.ndarray:
        """[ny, nx] displacement at a date of the axis."""
        k = np.flatnonzero(self.times == np.datetime64(date, "D"))
        if not len(k):
            raise ValueError(f"{date} is not a time of the truth")
        return self.displacement[:, k[0]].reshape(self.grid.ny, self.grid.nx)

    def annual(self, year: int) -> np.ndarray:
        """[ny, nx] m of displacement during ``year`` (1 January to 1 January)."""
        return self.at(f"{year + 1}-01-01") - self.at(f"{year}-01-01")

    def cumulative(self, since: str, until: str) -> np.ndarray:
        return self.at(until) - self.at(since)


def _row(fact, seminar, twin, accepted, ok) -> dict:
    return {"fact": fact, "seminar": seminar, "twin": twin, "accepted": accepted,
            "ok": bool(ok)}


def _zone_maximum(domain, grid, subsidence, zone):
    """Largest value of ``subsidence`` [ny, nx] inside ``zone`` and where it is (m)."""
    x, y = grid.mesh()
    inside = domain.in_zone(zone, x, y)
    masked = np.where(inside, subsidence, -np.inf)
    i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
    return float(subsidence[i, j]), (float(x[i, j]), float(y[i, j]))


def fact_table(domain, truth: MapTruth, b_equiv=None, lag_months=None,
               aquifer_names=None, end_year: int = 2024) -> pd.DataFrame:
    """The fact-check table (see the module docstring). ``b_equiv`` and ``lag_months``
    [A, P] are the truth's equivalent beds at its points (optional rows)."""
    rows = []
    area = truth.grid.spacing ** 2 / 1e6
    annual = {y: -1e3 * truth.annual(y) for y in range(2003, end_year + 1)}  # mm down
    peak_year = max(range(2003, 2015), key=lambda y: annual[y].max())
    peak = float(annual[peak_year].max())
    rows.append(_row("peak annual subsidence (mm, year)", "159.6 mm in 2012",
                     f"{peak:.1f} mm in {peak_year}", "120-200 mm in 2010-2014",
                     120 <= peak <= 200 and 2010 <= peak_year <= 2014))

    cumulative = -1e3 * truth.cumulative(f"{domain.predevelopment_year}-01-01",
                                         f"{end_year + 1}-01-01")
    north, north_at = _zone_maximum(domain, truth.grid, cumulative, "north")
    south, south_at = _zone_maximum(domain, truth.grid, cumulative, "south")
    rows.append(_row("north cumulative maximum since 1955 (mm)", "2348 (Chaoyang Jinzhan)",
                     f"{north:.0f}", "1500-3500", 1500 <= north <= 3500))
    rows.append(_row("south cumulative maximum since 1955 (mm)", "1641 (Daxing Lixian)",
                     f"{south:.0f}", "800-2500, below the north",
                     800 <= south <= 2500 and south < north))
    line = np.linspace(0.0, 1.0, 101)
    between = bilinear(truth.grid, cumulative, north_at[0] + line * (south_at[0] - north_at[0]),
                       north_at[1] + line * (south_at[1] - north_at[1]))
    saddle = float(between.min()) / min(north, south)
    rows.append(_row("two subsidence zones: lowest cumulative between the maxima / smaller "
                     "maximum", "two zones", f"{saddle:.2f}", "< 0.75", saddle < 0.75))

    later = max(float(annual[y].max()) for y in range(2018, 2021))
    rows.append(_row("largest annual subsidence 2018-2020 / peak", "slowing from 2015",
                     f"{later / peak:.2f}", "< 0.75", later / peak < 0.75))

    for year in UPLIFT_YEARS:
        if year > end_year:
            continue
        uplift = -annual[year]
        top = float(uplift.max())
        km2 = float((uplift > UPLIFT_THRESHOLD_MM).sum() * area)
        rows.append(_row(f"uplift {year}: maximum (mm), area (km2)",
                         {2021: "32.2 mm, 1423 km2", 2022: "46.9 mm, 2425 km2",
                          2023: "19.0 mm, 834 km2", 2024: "26.8 mm, 2228 km2"}[year],
                         f"{top:.1f} mm, {km2:.0f} km2", "10-80 mm, 500-5000 km2",
                         10 <= top <= 80 and 500 <= km2 <= 5000))
    quiet = max(float(((-annual[y]) > UPLIFT_THRESHOLD_MM).sum() * area) for y in QUIET_YEARS)
    rows.append(_row("largest uplift area 2008-2014 (km2)", "subsidence only", f"{quiet:.0f}",
                     "< 500", quiet < 500))

    if b_equiv is not None:
        for a, name in enumerate(aquifer_names):
            if name not in SEMINAR_LAGS:
                continue
            (b_lo, b_hi), (l_lo, l_hi) = SEMINAR_LAGS[name]
            b, lag = b_equiv[a], lag_months[a]
            rows.append(_row(f"{name}: b_equiv (m), lag time (months)",
                             f"{b_lo:g}-{b_hi:g} m, {l_lo:g}-{l_hi:g} months",
                             f"{b.min():.1f}-{b.max():.1f} m, {lag.min():.2f}-{lag.max():.2f} "
                             "months", "within the seminar's ranges",
                             b.min() >= b_lo - 1e-9 and b.max() <= b_hi + 1e-9
                             and lag.min() >= l_lo - 1e-9 and lag.max() <= l_hi + 1e-9))
    return pd.DataFrame(rows, columns=["fact", "seminar", "twin", "accepted", "ok"])


def markdown(table: pd.DataFrame) -> str:
    lines = ["| fact | seminar | twin | accepted | ok |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r.fact} | {r.seminar} | {r.twin} | {r.accepted} | "
                     f"{'yes' if r.ok else 'NO'} |")
    return "\n".join(lines) + "\n"
