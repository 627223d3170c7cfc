"""European Ground Motion Service CSV products (L2a basic, L2b calibrated, L3 ortho).

Layout (EGMS product description; tiles as delivered or merged by EGMStoolkit, comma or
semicolon separated): one row per measurement point, metadata columns then one column
per acquisition headed ``YYYYMMDD``, values in MILLIMETRES:

- L2a / L2b: ``pid``, ``latitude``, ``longitude``, ``easting``, ``northing``
  (ETRS89-LAEA, EPSG:3035), ..., ``incidence_angle``, ``track_angle``, ``los_east``,
  ``los_north``, ``los_up`` (unit vector ground -> satellite: los_east < 0 on an
  ascending track), ``mean_velocity``, ... Values along the line of sight, positive
  toward the satellite.
- L3 ortho: ``pid``, ``easting``, ``northing``, ``height``, ``rmse``, ``mean_velocity``,
  ... on a 100 m EPSG:3035 grid; one file per component, named ``..._U_...``/``_UD_``
  (vertical, positive up) or ``..._E_...``/``_EW_`` (east-west, refused: not vertical).

L2a values are relative to a local reference point the file does not give; L2b and L3
are calibrated with the EGMS GNSS model.
"""

from __future__ import annotations

import re
from pathlib import Path

from cases.readers import tables
from cases.readers.points import (
    PointSeries,
    check_coordinates,
    check_los_up,
    check_los_vector,
    resolve_los_sign,
    resolve_unit,
)
from cases.readers.ps_csv import (
    LAT_COLUMNS,
    LON_COLUMNS,
    X_COLUMNS,
    Y_COLUMNS,
    date_columns,
    point_ids,
    read_series_matrix,
)
from engine.errors import InputError

EGMS_CRS = "EPSG:3035"
_LEVEL = re.compile(r"(?:^|_)(L2a|L2b|L3)(?:_|$)", re.IGNORECASE)
_COMPONENT = re.compile(r"_(U|UD|UP|E|EW)(?:_|\.|$)", re.IGNORECASE)


def looks_like_egms(columns) -> bool:
    return "pid" in columns and ("mean_velocity" in columns or "los_up" in columns)


def read_egms(path, unit: str | None = None, los_sign: str | None = None,
              crs: str | None = None) -> PointSeries:
    path = Path(path)
    frame = tables.read_table(path)
    ids = point_ids(frame, path, tables.find_column(frame, ("pid",), path, "pid"))
    names, dates = date_columns(frame, path)
    dates, values = read_series_matrix(frame, path, names, dates, ids)
    scale = resolve_unit(path, "mm", unit)
    level = _LEVEL.search(path.stem)
    level = {"L2A": "L2a", "L2B": "L2b", "L3": "L3"}[level.group(1).upper()] if level else None

    los_east = los_north = None
    if "los_up" in frame.columns:
        sign = resolve_los_sign(path, "toward", los_sign)
        los_up = tables.numbers(frame, "los_up", path, ids=ids)
        check_los_up(path, "los_up", ids, los_up)
        if "los_east" in frame.columns and "los_north" in frame.columns:
            los_east, los_north = (tables.numbers(frame, c, path, ids=ids)
                                   for c in ("los_east", "los_north"))
            check_los_vector(path, "los_east/los_north/los_up", ids, los_east, los_north,
                             los_up)
        component, level = "los", level or "L2"
    else:
        if level not in (None, "L3"):
            raise InputError(path, "los_up", f"an EGMS {level} product needs the column "
                                             "los_up (line-of-sight geometry)")
        if los_sign is not None:
            raise InputError(path, "sign", "an EGMS L3 product is already resolved into "
                                           f"components; --los-sign {los_sign} does not apply")
        comp = _COMPONENT.search(path.stem)
        if comp is None:
            raise InputError(path, "component",
                             "an EGMS L3 file without los_up must say its component in its "
                             'name ("_U_"/"_UD_" vertical, "_E_" east-west); '
                             f'"{path.name}" does not')
        if comp.group(1).upper() in ("E", "EW"):
            raise InputError(path, "component", f'"{path.name}" is the east-west component; '
                                                "use the vertical (U) product")
        sign, los_up, component, level = 1.0, None, "up", "L3"

    coords = {}
    lon_col = tables.find_column(frame, LON_COLUMNS)
    if lon_col is not None and crs is not None:
        lat_col = tables.find_column(frame, LAT_COLUMNS, path, "latitude")
        lon = tables.numbers(frame, lon_col, path, ids=ids, allow_missing=True)
        lat = tables.numbers(frame, lat_col, path, ids=ids, allow_missing=True)
        check_coordinates(path, (lon_col, lat_col), ids, lon, lat)
        coords.update(lon=lon, lat=lat)
    else:
        x_col = tables.find_column(frame, X_COLUMNS, path, "easting")
        y_col = tables.find_column(frame, Y_COLUMNS, path, "northing")
        x = tables.numbers(frame, x_col, path, ids=ids, allow_missing=True)
        y = tables.numbers(frame, y_col, path, ids=ids, allow_missing=True)
        check_coordinates(path, (x_col, y_col), ids, x, y)
        coords.update(x=x, y=y, crs=EGMS_CRS)
    reference = ("relative to a local reference point not given in the file" if level == "L2a"
                 else "calibrated with the EGMS GNSS model" if level in ("L2b", "L3")
                 else "as delivered (EGMS level not in the file name)")
    return PointSeries(source=str(path), ids=ids, dates=dates, values=values * scale * sign,
                       component=component, los_up=los_up, los_east=los_east,
                       los_north=los_north, reference=f"EGMS {level}: {reference}",
                       conversions=("EGMS millimetres scaled to metres",), **coords)
