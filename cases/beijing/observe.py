"""Observing the twin the way the seminar's data were observed.

- PS-InSAR points: already thinned, denser in the city than on farmland; the first
  points stand at the extensometer sites. Their displacement (m, up positive) at the
  monthly acquisitions of three missions (ENVISAT to 2010, a gap, TerraSAR-X, then
  Sentinel-1; NaN without an acquisition), referenced to the first acquisition and to a
  stable point on the mountain front, with per-point noise, a spatially correlated
  residual atmospheric screen per acquisition (a Gaussian random field) and, per point
  and mission after the first, a constant error of tying the mission to the one before.
- Monitoring wells per aquifer group: positions, a reading on a random day of each
  month (linear in time between the flow model's monthly heads, bilinear in space),
  noise, missing readings, outages of several months, and wells drilled late.
- Layered extensometers: compaction per aquifer group at a few sites (m, shortening
  positive), monthly from the installation, relative to the first reading, with noise
  and missing readings.
"""

from __future__ import annotations

import numpy as np

from cases.beijing.domain import KM, Domain
from cases.beijing.fields import Grid, bilinear, random_fields


def ps_points(domain: Domain, count: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``count`` PS positions (m): the extensometer sites first, then points drawn with
    a density ``urban_density`` times higher in the city than far from it."""
    s = domain.settings["insar"]
    sites = np.array([domain.km(site["at"]) for site in
                      domain.settings["extensometers"]["sites_km"]])
    (x0, y0), (width, height) = domain.origin, domain.extent
    cx, cy = domain.landmark("city_centre")
    xs, ys = [sites[:, 0]], [sites[:, 1]]
    need = count - len(sites)
    while need > 0:   # rejection sampling from the density
        x = rng.uniform(x0, x0 + width, 4 * need + 16)
        y = rng.uniform(y0, y0 + height, 4 * need + 16)
        density = (1.0 + (s["urban_density"] - 1.0) * np.exp(
            -0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / (s["urban_radius_km"] * KM) ** 2))
        keep = rng.uniform(0.0, s["urban_density"], len(x)) < density
        xs.append(x[keep][:need])
        ys.append(y[keep][:need])
        need -= int(min(keep.sum(), need))
    return np.concatenate(xs), np.concatenate(ys)


def acquisitions(settings: dict, times: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """[T] mission index of each case time (-1: no acquisition) and [T] bool acquired.
    The first time is always acquired (the reference epoch)."""
    mission = np.full(len(times), -1)
    for m, spec in enumerate(settings["insar"]["missions"]):
        inside = (times >= np.datetime64(spec["start"], "D")) & \
                 (times <= np.datetime64(spec["end"], "D"))
        lost = rng.uniform(size=len(times)) < spec["missing"]
        mission[inside & ~lost] = m
    mission[0] = 0
    return mission, mission >= 0


def insar(domain: Domain, truth: np.ndarray, x, y, times: np.ndarray, rng) -> np.ndarray:
    """Observed displacement [N, T] (m, up positive, NaN without acquisition) of the true
    displacement ``truth`` [N, T] (m, relative to the first time) at points (x, y)."""
    s = domain.settings["insar"]
    mission, acquired = acquisitions(domain.settings, times, rng)
    n, t = truth.shape
    grid = domain.grid_of(s["atmosphere_spacing"])
    screens = s["atmosphere_mm"] * 1e-3 * random_fields(rng, grid, s["atmosphere_length"],
                                                        count=t)
    rx, ry = domain.km(s["reference_km"])
    # relative to the reference point, as every interferogram is
    atmosphere = (bilinear(grid, screens, x, y) - bilinear(grid, screens, [rx], [ry])).T
    noise = rng.normal(0.0, s["noise_mm"] * 1e-3, size=(n, t))
    ties = np.cumsum(rng.normal(0.0, s["stitch_mm"] * 1e-3,
                                size=(n, len(s["missions"]))), axis=1)
    ties[:, 0] = 0.0
    observed = truth + atmosphere + noise + ties[:, np.maximum(mission, 0)]
    observed[:, 0] = 0.0   # the reference epoch
    observed[:, ~acquired] = np.nan
    return observed


def head_at(grid: Grid, heads: np.ndarray, dates: np.ndarray, layer: int, x: float,
            y: float, when: np.ndarray) -> np.ndarray:
    """Heads (m) of flow layer ``layer`` at the point (x, y) on dates ``when``: bilinear
    in space, linear in time between the flow model's ``dates`` [P]."""
    series = bilinear(grid, heads[:, layer], [x], [y])[:, 0]
    days = (dates - dates[0]).astype(np.float64)
    return np.interp((when - dates[0]).astype(np.float64), days, series)


def wells(domain: Domain, grid: Grid, heads: np.ndarray, dates: np.ndarray,
          months: np.ndarray, rng) -> dict:
    """Well records (see engine.case.Observations.wells) over the case ``months`` (month
    starts, datetime64[D]) from the flow model's ``heads`` [P, A, ny, nx] at ``dates``."""
    s = domain.settings["wells"]
    (x0, y0), (width, height) = domain.origin, domain.extent
    out = {k: [] for k in ("well", "x", "y", "aquifer", "time", "head")}
    n_months = len(months)
    for a, (name, count) in enumerate(zip(domain.aquifer_names, s["count"])):
        wx = rng.uniform(x0, x0 + width, count)
        wy = rng.uniform(y0, y0 + height, count)
        for w in range(count):
            have = rng.uniform(size=n_months) >= s["missing"]
            if rng.uniform() < s["late_start"]:
                have[:rng.integers(12, n_months // 2)] = False
            for _ in range(rng.poisson(s["gaps_per_well"])):
                first = rng.integers(0, n_months)
                have[first:first + rng.integers(s["gap_months"][0], s["gap_months"][1] + 1)] \
                    = False
            chosen = months[have]
            when = chosen + rng.integers(0, 28, len(chosen)).astype("timedelta64[D]")
            true = head_at(grid, heads, dates, a, wx[w], wy[w], when)
            out["well"].append(np.full(len(when), f"{name}-{w + 1:03d}"))
            out["x"].append(np.full(len(when), wx[w]))
            out["y"].append(np.full(len(when), wy[w]))
            out["aquifer"].append(np.full(len(when), a))
            out["time"].append(when)
            out["head"].append(true + rng.normal(0.0, s["noise_m"], len(when)))
    return {k: np.concatenate(v) for k, v in out.items()}


def extensometers(domain: Domain, compaction: np.ndarray, times: np.ndarray, rng) -> dict:
    """Extensometer records (see engine.case.Observations.extensometers) from the true
    compaction [A, S, T] (m, shortening positive) at the S sites, which are the first S
    cells of the case, on the case ``times``."""
    s = domain.settings["extensometers"]
    after = np.flatnonzero(times >= np.datetime64(s["install"], "D"))
    out = {k: [] for k in ("site", "cell", "aquifer", "time", "compaction")}
    for c, site in enumerate(s["sites_km"]):
        read = after[(rng.uniform(size=len(after)) >= s["missing"]) | (after == after[0])]
        for a in range(compaction.shape[0]):
            true = compaction[a, c, read] - compaction[a, c, after[0]]
            noise = rng.normal(0.0, s["noise_mm"] * 1e-3, len(read))
            noise[read == after[0]] = 0.0     # the installation reading is the zero
            out["site"].append(np.full(len(read), site["name"]))
            out["cell"].append(np.full(len(read), c))
            out["aquifer"].append(np.full(len(read), a))
            out["time"].append(times[read])
            out["compaction"].append(true + noise)
    return {k: np.concatenate(v) for k, v in out.items()}
