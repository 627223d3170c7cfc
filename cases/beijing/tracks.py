"""Two line-of-sight InSAR tracks of the twin: a test bed with known answers for the
decomposition of tracks (``landsub make-case from-data --insar A --insar B``).

Opt-in (``[tracks] enabled = true`` in the settings, e.g. ``--settings
cases/beijing/two-tracks.toml``): the twin's case, its other observations and its truth
stay byte for byte what they are without it; the tracks add files only.

The ground gets a horizontal motion of its own, east-west only, towards the subsidence
bowls: for each centre c of ``east_centres`` (landmarks) at distance r_c,

    v_east(x, y) = -A sum_c (x - x_c) / L exp(1/2 - r_c^2 / (2 L^2))     (m/yr)

(A = ``east_mm_per_year``, L = ``east_length_km``: a speed of A at L east or west of a
lone centre), linear in time from the first case time. It has no north-south part:
what the tracks cannot resolve is zero, so the test bed isolates the decomposition.

Each track (``ascending``, ``descending``: first acquisition, heading, mid-swath
incidence) is acquired every ``revisit_days`` from its first date to the end of the
history, a share ``missing`` of the acquisitions lost (never the first); its incidence
grows by ``incidence_spread`` degrees across the domain towards far range (east for an
ascending right-looking radar, west for a descending one). The ascending track observes
the case's points (same ids and positions); the descending track its own scatterers,
each within ``scatter_m`` of a case point (ids "D-<id>"), as two tracks never share
scatterers; a scatterer moves as its case point does. Values: the true motion (vertical
from the truth, linear in time between the case's months, and v_east) along the line
of sight, positive toward the satellite, relative to the track's first acquisition,
plus white noise of ``noise_mm``.

Files: ``tracks/ascending.csv`` and ``tracks/descending.csv`` (PS tables, mm, with
``# unit``, ``# positive``, ``# crs`` lines and per-point incidence and heading
columns), ``tracks/params.toml`` (the aquifers and the prior's median sediments, what
``from-data`` needs besides the case's ``wells.csv``), ``tracks/README.md`` (the
command); ``truth/tracks.h5``: ``east_rate`` [point] (m/yr) and ``east`` [point, case
time] (m, east positive, from the first case time) of the case's points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cases.beijing.domain import KM, Domain
from cases.beijing.store import write_arrays
from cases.readers.geodesy import los_unit_vector
from engine.units import DAYS_PER_YEAR

TRACKS = ("ascending", "descending")
FOLDER = "tracks"
TRUTH_FILE = "tracks.h5"
CRS = "EPSG:32650"   # the twin's coordinates are UTM-50N-like


def east_rate(domain: Domain, x, y) -> np.ndarray:
    """[N] east-west speed of the ground, m/yr, east positive (module docstring)."""
    s = domain.settings["tracks"]
    length = s["east_length_km"] * KM
    rate = np.zeros(len(x))
    for name in s["east_centres"]:
        cx, cy = domain.landmark(name)
        r2 = (np.asarray(x) - cx) ** 2 + (np.asarray(y) - cy) ** 2
        rate -= (np.asarray(x) - cx) / length * np.exp(0.5 - r2 / (2.0 * length ** 2))
    return rate * s["east_mm_per_year"] * 1e-3


def acquisitions(spec: dict, revisit: int, last, missing: float, rng) -> np.ndarray:
    """[D] acquisition dates every ``revisit`` days from ``spec["first"]`` to ``last``,
    a share ``missing`` lost (never the first, the track's reference epoch)."""
    first = np.datetime64(spec["first"], "D")
    dates = np.arange(first, np.datetime64(last, "D") + 1, revisit)
    kept = rng.uniform(size=len(dates)) >= missing
    kept[0] = True
    return dates[kept]


def geometry(domain: Domain, spec: dict, spread: float, x) -> tuple[np.ndarray, np.ndarray]:
    """[N] incidence and heading (degrees) of a track at eastings ``x``: the incidence
    grows towards far range, which lies opposite the satellite."""
    (x0, _), (width, _) = domain.origin, domain.extent
    across = (np.asarray(x) - x0) / width - 0.5
    east, _, _ = los_unit_vector(spec["incidence"], spec["heading"])
    incidence = spec["incidence"] - np.sign(east) * spread * across
    return incidence, np.full(len(across), float(spec["heading"]))


def at_dates(series: np.ndarray, times: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """[N, D] of ``series`` [N, T] on ``times`` (datetime64[D]), linear in time at
    ``dates`` (inside the span of ``times``)."""
    days = (times - times[0]).astype(np.float64)
    at = (dates - times[0]).astype(np.float64)
    right = np.clip(np.searchsorted(days, at, side="right"), 1, len(days) - 1)
    w = (at - days[right - 1]) / (days[right] - days[right - 1])
    return series[:, right - 1] * (1.0 - w) + series[:, right] * w


def observe(up: np.ndarray, east: np.ndarray, times: np.ndarray, dates: np.ndarray,
            incidence, heading, noise: float, rng) -> np.ndarray:
    """[N, D] line-of-sight displacement (m, toward the satellite) at ``dates`` of the
    true vertical ``up`` and east-west ``east`` [N, T] on ``times``, relative to the
    first date, with white noise of ``noise`` m (none on the first date)."""
    e, _, u = los_unit_vector(incidence, heading)
    los = e[:, None] * at_dates(east, times, dates) + u[:, None] * at_dates(up, times, dates)
    los = los - los[:, :1] + rng.normal(0.0, noise, size=los.shape)
    los[:, 0] = 0.0
    return los


def noise_rmse(first, second, counts: np.ndarray, noise: float) -> tuple[float, float]:
    """Expected RMSE (m) of the vertical and east-west parts decomposed from one point of
    each of two tracks, from their white noise alone: ``first``, ``second`` the (east,
    up) components [N] of the tracks' lines of sight at the cells, ``counts`` [2, T] the
    acquisitions of each track in each period (the first: the zero), ``noise`` (m) per
    acquisition. The 2 x 2 solve turns each track's period-mean variance noise^2 / n,
    plus that of its first period, into the parts' variances; RMS over cells and
    periods, the first period (zero, exactly) included."""
    (e1, u1), (e2, u2) = first, second
    det = e1 * u2 - e2 * u1
    with np.errstate(divide="ignore"):
        var = noise ** 2 / np.asarray(counts, dtype=np.float64)
    var = np.where(np.isfinite(var), var, np.nan)
    change = var + var[:, :1]
    change[:, 0] = 0.0
    up = ((e2 ** 2)[:, None] * change[0] + (e1 ** 2)[:, None] * change[1]) / (det ** 2)[:, None]
    east = ((u2 ** 2)[:, None] * change[0] + (u1 ** 2)[:, None] * change[1]) / (det ** 2)[:, None]
    return float(np.sqrt(np.nanmean(up))), float(np.sqrt(np.nanmean(east)))


def _write_track(path: Path, ids, x, y, incidence, heading, dates, values) -> None:
    head = "# unit: mm\n# positive: toward\n# crs: " + CRS + "\n"
    frame = pd.DataFrame({"id": ids, "x": np.round(x, 2), "y": np.round(y, 2),
                          "incidence": np.round(incidence, 4), "heading": heading})
    labels = [str(d).replace("-", "") for d in dates]
    frame = pd.concat([frame, pd.DataFrame(np.round(values * 1e3, 2), columns=labels)],
                      axis=1)
    path.write_text(head + frame.to_csv(index=False), encoding="utf-8")


def _params_toml(domain: Domain, materials, wells: dict) -> str:
    """The from-data --params of the twin: aquifers top first, the prior's median
    sediments, the wells' unit and interpolation."""
    tops, bottoms = domain.aquifer_depths()
    lines = ['name = "beijing-twin-two-tracks"',
             'description = "the Beijing Plain twin from its two line-of-sight tracks"', ""]
    for name, top, bottom, (interbed, coarse) in zip(domain.aquifer_names, tops, bottoms,
                                                     materials):
        lines += ["[[aquifers]]", f'name = "{name}"', f"top = {float(top):g}",
                  f"bottom = {float(bottom):g}", "  [aquifers.interbeds]"]
        lines += [f"  {k} = {float(np.median(getattr(interbed, k))):.4g}"
                  for k in ("thickness", "count", "kv", "sske", "sskv")]
        lines += ["  [aquifers.coarse]"]
        lines += [f"  {k} = {float(np.median(getattr(coarse, k))):.4g}"
                  for k in ("thickness", "sske")]
        lines.append("")
    lines += ["[wells]", 'unit = "m"', f'interpolation = "{wells["method"]}"',
              f"max_gap = {int(wells['max_fill_months'])}", ""]
    return "\n".join(lines)


def write_tracks(out: Path, truth_dir: Path, domain: Domain, ids, x, y, times: np.ndarray,
                 up: np.ndarray, materials, rng) -> Path:
    """The two tracks of the true vertical displacement ``up`` [N, T] (m, on the case
    ``times``) at the case's points, with the from-data kit and their east-west truth
    (module docstring); returns the tracks' folder."""
    s = domain.settings["tracks"]
    folder = Path(out) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rate = east_rate(domain, x, y)
    east = rate[:, None] * (times - times[0]).astype(np.float64)[None] / DAYS_PER_YEAR
    for name in TRACKS:
        spec = s[name]
        dates = acquisitions(spec, s["revisit_days"], times[-1], s["missing"], rng)
        px, py, pids = np.asarray(x, float), np.asarray(y, float), np.asarray(ids, str)
        if name != TRACKS[0]:
            angle = rng.uniform(0.0, 2.0 * np.pi, len(px))
            reach = s["scatter_m"] * np.sqrt(rng.uniform(size=len(px)))
            px, py = px + reach * np.cos(angle), py + reach * np.sin(angle)
            pids = np.char.add("D-", pids)
        incidence, heading = geometry(domain, spec, s["incidence_spread"], px)
        values = observe(up, east, times, dates, incidence, heading, s["noise_mm"] * 1e-3, rng)
        _write_track(folder / f"{name}.csv", pids, px, py, incidence, heading, dates, values)
    (folder / "params.toml").write_text(_params_toml(domain, materials,
                                                     domain.settings["wells"]),
                                        encoding="utf-8")
    (folder / "README.md").write_text(_readme(s), encoding="utf-8")
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_arrays(truth_dir / TRUTH_FILE, {"points/id": np.asarray(ids, str), "east_rate": rate,
                                        "east": east,
                                        "times/case": np.datetime_as_string(times)},
               attrs={"description": "east-west motion of the twin's ground (tracks test "
                                     "bed): east_rate [point] m/yr and east [point, case "
                                     "time] m, east positive, from the first case time; no "
                                     "north-south motion. The vertical truth is "
                                     "history/displacement in truth.h5"})
    return folder


def _readme(s: dict) -> str:
    a, d = s["ascending"], s["descending"]
    return "\n".join([
        "# Two line-of-sight tracks of the twin",
        "",
        f"- `ascending.csv`: the case's points, heading {a['heading']:g} deg, incidence "
        f"about {a['incidence']:g} deg, every {s['revisit_days']} days from {a['first']};",
        f"- `descending.csv`: scatterers within {s['scatter_m']:g} m of the case's points, "
        f"heading {d['heading']:g} deg, incidence about {d['incidence']:g} deg, every "
        f"{s['revisit_days']} days from {d['first']};",
        f"- values along the line of sight (mm, toward the satellite), noise "
        f"{s['noise_mm']:g} mm, {100 * s['missing']:g} % of the acquisitions missing; the "
        "ground moves vertically (the truth) and east-west towards the subsidence bowls "
        f"(up to {s['east_mm_per_year']:g} mm/yr; `../truth/tracks.h5`), not north-south;",
        "- `params.toml`: the aquifers and the prior's median sediments for from-data.",
        "",
        "From the twin's folder:",
        "",
        "    landsub make-case from-data --insar tracks/ascending.csv "
        "--insar tracks/descending.csv --wells wells.csv --params tracks/params.toml "
        "--out two-tracks",
        "",
        "`python -m benchmarks.two_tracks --twin . --case two-tracks` scores it against "
        "the truth.",
        "",
    ])
