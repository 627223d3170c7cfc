"""Real-format data files built in a temporary folder from a known synthetic truth, for
the reader and make-case-from-data tests.

The truth: a patch of the Beijing Plain (UTM 50N) on a 0.002-degree grid, purely
vertical motion (a subsidence bowl, linear in time, plus a seasonal term), Sentinel-1
like 12-day acquisitions; two confined aquifers whose heads decline at the wells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

LON0, LAT0, STEP = 116.30, 40.00, 0.002    # upper-left corner of the grid, degrees
ROWS, COLS = 12, 15
INCIDENCE = 38.0                            # degrees
CRS = "EPSG:32650"


@dataclass
class Truth:
    lon: np.ndarray      # [ROWS, COLS] pixel centres
    lat: np.ndarray
    dates: np.ndarray    # [D] datetime64[D]
    up: np.ndarray       # [D, ROWS, COLS] m, up positive, zero at the first date
    incidence: np.ndarray  # [ROWS, COLS] degrees


def truth(n_dates: int = 100, start="2016-01-05") -> Truth:
    rows, cols = np.mgrid[0:ROWS, 0:COLS]
    lon = LON0 + (cols + 0.5) * STEP
    lat = LAT0 - (rows + 0.5) * STEP
    dates = np.datetime64(start) + 12 * np.arange(n_dates)
    years = (dates - dates[0]).astype(float) / 365.25
    bowl = np.exp(-(((cols - 9) / 5.0) ** 2 + ((rows - 5) / 4.0) ** 2))
    rate = -0.06 * bowl - 0.002                       # m/yr
    seasonal = 0.004 * np.sin(2 * np.pi * years)
    up = rate[None] * years[:, None, None] + seasonal[:, None, None] * bowl[None]
    incidence = INCIDENCE + 0.2 * (cols - COLS / 2)   # varies across the swath
    return Truth(lon=lon, lat=lat, dates=dates, up=up - up[:1], incidence=incidence)


def los_toward(t: Truth) -> np.ndarray:
    """LOS displacement, positive toward the satellite, of purely vertical motion."""
    return t.up * np.cos(np.radians(t.incidence))[None]


def write_mintpy(folder: Path, t: Truth, geocoded: bool = True, drop=()) -> Path:
    """timeseries.h5 (and its geometry file) through MintPy's own writer. ``drop``
    names datasets or attributes to leave out (for malformed files)."""
    from mintpy.utils import writefile

    folder.mkdir(parents=True, exist_ok=True)
    meta = {"FILE_TYPE": "timeseries", "UNIT": "m", "LENGTH": ROWS, "WIDTH": COLS,
            "REF_DATE": str(t.dates[0]).replace("-", ""), "REF_Y": 5, "REF_X": 0,
            "REF_LAT": float(t.lat[5, 0]), "REF_LON": float(t.lon[5, 0])}
    if geocoded:
        meta.update(X_FIRST=LON0, Y_FIRST=LAT0, X_STEP=STEP, Y_STEP=-STEP, X_UNIT="degrees",
                    Y_UNIT="degrees")
    meta = {k: v for k, v in meta.items() if k not in drop}
    datasets = {"timeseries": los_toward(t).astype(np.float32),
                "date": np.array([str(d).replace("-", "") for d in t.dates], dtype=np.bytes_),
                "bperp": np.zeros(len(t.dates), dtype=np.float32)}
    datasets = {k: v for k, v in datasets.items() if k not in drop}
    if "date" in drop:
        meta["FILE_TYPE"] = "velocity"   # MintPy itself refuses a timeseries without dates
    path = writefile.write(datasets, str(folder / "timeseries.h5"), metadata=meta,
                           print_msg=False)
    geom = {"incidenceAngle": t.incidence.astype(np.float32),
            "height": np.zeros((ROWS, COLS), np.float32)}
    geom_meta = {"FILE_TYPE": "geometry", "LENGTH": ROWS, "WIDTH": COLS}
    if geocoded:
        writefile.write(geom, str(folder / "inputs" / "geometryGeo.h5"),
                        metadata={**geom_meta, **{k: meta[k] for k in ("X_FIRST", "Y_FIRST",
                                                                       "X_STEP", "Y_STEP")}},
                        print_msg=False)
    else:
        geom.update(latitude=t.lat.astype(np.float32), longitude=t.lon.astype(np.float32))
        writefile.write(geom, str(folder / "inputs" / "geometryRadar.h5"), metadata=geom_meta,
                        print_msg=False)
    return Path(path)


def write_licsbas(folder: Path, t: Truth, u_geo: bool = True, drop=(), refarea="0:2/5:7") -> Path:
    """TS_GEOCml1/cum.h5 (mm, toward positive) and GEOCml1/U.geo as LiCSBAS lays them out.
    LiCSBAS' corner_lat/lon is the centre of the upper-left pixel."""
    ts_dir = folder / "TS_GEOCml1"
    ts_dir.mkdir(parents=True, exist_ok=True)
    path = ts_dir / "cum.h5"
    data = {
        "cum": (los_toward(t) * 1e3).astype(np.float32),
        "imdates": np.array([int(str(d).replace("-", "")) for d in t.dates], dtype=np.int32),
        "refarea": refarea,
        "corner_lat": float(t.lat[0, 0]), "corner_lon": float(t.lon[0, 0]),
        "post_lat": -STEP, "post_lon": STEP,
        "vel": np.zeros((ROWS, COLS), np.float32),
    }
    with h5py.File(path, "w") as f:
        for key, value in data.items():
            if key not in drop:
                f.create_dataset(key, data=value)
    if u_geo:
        geoc = folder / "GEOCml1"
        geoc.mkdir(exist_ok=True)
        np.cos(np.radians(t.incidence)).astype("<f4").tofile(geoc / "U.geo")
    return path


EGMS_L2_HEAD = ["pid", "mp_type", "latitude", "longitude", "easting", "northing", "height",
                "height_wgs84", "line", "pixel", "rmse", "temporal_coherence",
                "amplitude_dispersion", "incidence_angle", "track_angle", "los_east",
                "los_north", "los_up", "mean_velocity", "mean_velocity_std", "acceleration",
                "acceleration_std", "seasonality", "seasonality_std"]
EGMS_L3_HEAD = ["pid", "easting", "northing", "height", "rmse", "mean_velocity",
                "mean_velocity_std", "acceleration", "acceleration_std", "seasonality",
                "seasonality_std"]


def egms_rows(t: Truth, level: str):
    """(header, rows) of an EGMS CSV of the truth, values in mm."""
    import pyproj

    lon, lat = t.lon.ravel(), t.lat.ravel()
    e, n = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True).transform(lon, lat)
    inc = t.incidence.ravel()
    up_unit = np.cos(np.radians(inc))
    heading = np.radians(-10.0)       # ascending, looking east: the satellite is to the west
    east = -np.sin(np.radians(inc)) * np.cos(heading)
    north = np.sin(np.radians(inc)) * np.sin(heading)
    series = (los_toward(t) if level != "L3" else t.up).reshape(len(t.dates), -1).T * 1e3
    dates = [str(d).replace("-", "") for d in t.dates]
    rows = []
    for i in range(len(lon)):
        if level == "L3":
            meta = [f"3{i:07d}", f"{e[i]:.1f}", f"{n[i]:.1f}", "40.0", "1.1", "-3.2", "0.2",
                    "0", "0", "1", "0.1"]
        else:
            meta = [f"1XZ{i:05d}", "PS", f"{lat[i]:.8f}", f"{lon[i]:.8f}", f"{e[i]:.2f}",
                    f"{n[i]:.2f}", "40.1", "50.2", "100", "200", "1.0", "0.9", "0.2",
                    f"{inc[i]:.3f}", "-10.0", f"{east[i]:.6f}", f"{north[i]:.6f}",
                    f"{up_unit[i]:.6f}", "-3.2", "0.2", "0", "0", "1", "0.1"]
        rows.append(meta + [f"{v:.2f}" for v in series[i]])
    head = (EGMS_L3_HEAD if level == "L3" else EGMS_L2_HEAD) + dates
    return head, rows


def write_csv(path: Path, header, rows, comments=(), sep=",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {c}" for c in comments] + [sep.join(header)]
    lines += [sep.join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


WELLS = {  # name: (row, col, aquifer, head at start m, decline m/yr)
    "W1": (1, 2, "confined-1", -10.0, 1.0), "W2": (10, 3, "confined-1", -12.0, 1.5),
    "W3": (6, 12, "confined-1", -15.0, 2.5), "W4": (2, 13, "confined-1", -11.0, 1.2),
    "W5": (3, 6, "confined-2", -20.0, 2.0), "W6": (9, 10, "confined-2", -24.0, 3.0),
    "W7": (5, 1, "confined-2", -19.0, 1.0),
}


def well_head(name, date) -> float:
    _, _, _, h0, decline = WELLS[name]
    years = (np.datetime64(date, "D") - np.datetime64("2015-06-01")).astype(float) / 365.25
    return h0 - decline * years


def write_wells(folder: Path, t: Truth, with_xy=True, gap=None, extra_rows=(), unit_suffix="_m",
                lonlat=False) -> Path:
    """Long head table, one record on the 15th of each month from 2015-06 to 2020-12;
    ``gap`` = (well, first month, last month) of missing records."""
    from cases.readers.geodesy import lonlat_to_projected

    months = np.arange(np.datetime64("2015-06"), np.datetime64("2021-01")).astype("datetime64[D]") + 14
    header = ["well", "time", f"head{unit_suffix}", "aquifer"]
    if with_xy:
        header += ["lon", "lat"] if lonlat else ["x", "y"]
    rows = []
    for name, (r, c, aquifer, _, _) in WELLS.items():
        x, y = lonlat_to_projected(t.lon[r, c], t.lat[r, c], CRS)
        for m in months:
            month = m.astype("datetime64[M]")
            if gap and name == gap[0] and np.datetime64(gap[1]) <= month <= np.datetime64(gap[2]):
                continue
            row = [name, str(m), f"{well_head(name, m):.4f}", aquifer]
            if with_xy:
                row += ([f"{t.lon[r, c]:.6f}", f"{t.lat[r, c]:.6f}"] if lonlat
                        else [f"{float(x):.2f}", f"{float(y):.2f}"])
            rows.append(row)
    rows += list(extra_rows)
    return write_csv(folder / "wells.csv", header, rows)


PARAMS = """
name = "synthetic-beijing-patch"
description = "test case"

[[aquifers]]
name = "confined-1"
top = 40.0
bottom = 110.0
  [aquifers.interbeds]
  thickness = 6.0
  count = 4.0
  kv = 1.0e-4
  sske = 1.0e-5
  sskv = 4.0e-4
  [aquifers.coarse]
  thickness = 50.0
  sske = 2.0e-6

[[aquifers]]
name = "confined-2"
top = 120.0
bottom = 250.0
  [aquifers.interbeds]
  kv = 5.0e-5
  sske = 1.0e-5
  sskv = 5.0e-4
  [aquifers.nodelay]
  thickness = 8.0
  sske = 5.0e-6
  sskv = 1.0e-4
"""


def write_params(folder: Path, extra: str = "") -> Path:
    path = folder / "params.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(PARAMS + extra)
    return path


STRATIGRAPHY_BEDS = {  # site: (row, col, {aquifer: [bed thicknesses]})
    "B1": (2, 3, {"confined-1": [4.0, 8.0, 2.0], "confined-2": [10.0, 6.0]}),
    "B2": (9, 11, {"confined-1": [5.0, 5.0], "confined-2": [12.0, 3.0, 9.0, 6.0]}),
    "B3": (4, 12, {"confined-2": [7.0]}),
}


def write_stratigraphy(folder: Path, t: Truth) -> Path:
    from cases.readers.geodesy import lonlat_to_projected

    rows = []
    for site, (r, c, beds) in STRATIGRAPHY_BEDS.items():
        x, y = lonlat_to_projected(t.lon[r, c], t.lat[r, c], CRS)
        for aquifer, thicknesses in beds.items():
            for b in thicknesses:
                rows.append([site, f"{float(x):.2f}", f"{float(y):.2f}", aquifer, b])
    return write_csv(folder / "strat.csv", ["site", "x", "y", "aquifer", "thickness_m"], rows)


def write_extensometers(folder: Path, t: Truth, unit_col="compaction_mm") -> Path:
    """Site E1 at pixel (5, 9) with three layers: 40-80 and 80-110 m (confined-1) and
    120-250 m (confined-2); monthly readings 2016-2019."""
    from cases.readers.geodesy import lonlat_to_projected

    x, y = lonlat_to_projected(t.lon[5, 9], t.lat[5, 9], CRS)
    months = np.arange(np.datetime64("2016-01"), np.datetime64("2020-01")).astype("datetime64[D]")
    rows = []
    for k, m in enumerate(months):
        for top, bottom, rate in ((40, 80, 5.0), (80, 110, 3.0), (120, 250, 10.0)):
            rows.append(["E1", f"{float(x):.2f}", f"{float(y):.2f}", str(m), top, bottom,
                         f"{rate * k / 12:.3f}"])
    return write_csv(folder / "ext.csv", ["site", "x", "y", "time", "top", "bottom", unit_col],
                     rows)
