"""A generic persistent-scatterer table: one row per point, one column per date.

Columns (case-insensitive, any order; other columns are ignored):

- ``id`` (or pid, point_id, code): unique point identifier;
- ``x``, ``y`` (or easting, northing) projected metres, or ``lon``, ``lat`` (or
  longitude, latitude) in WGS 84 degrees;
- optional line-of-sight geometry, per point: ``los_e``, ``los_n``, ``los_u`` (or
  los_east, los_north, los_up; the unit vector from the ground to the satellite, all
  three), or ``incidence`` (or incidence_angle; degrees from the vertical) with
  ``heading`` (or heading_angle; the flight direction, degrees clockwise from north, of
  a right-looking radar: cases.readers.geodesy), or ``los_u`` or ``incidence`` alone
  (the up component only: enough for one track, not for several);
- one column per acquisition headed ``YYYYMMDD`` or ``DYYYYMMDD``; empty cells are
  missing measurements.

Conventions the file may declare in ``#`` comment lines before the header::

    # unit: mm              (mm, cm or m; else --insar-unit)
    # positive: toward      (toward / away: line of sight; up / down: already vertical)
    # crs: EPSG:32650       (CRS of x, y; else they are taken to be in --crs)
    # incidence: 39.2       (degrees, for every point without an incidence column)
    # heading: -12.1        (degrees, for every point without a heading column)

Values along the line of sight need the geometry and a sign (``positive`` or
--los-sign); a table without geometry must declare ``positive: up`` or ``down``.
Columns win over header lines.
"""

from __future__ import annotations

import numpy as np

from cases.readers import tables
from cases.readers.declarations import missing
from cases.readers.geodesy import los_unit_vector
from cases.readers.points import (
    PointSeries,
    check_coordinates,
    check_los_vector,
    check_unique_dates,
    parse_date_label,
    resolve_los_sign,
    resolve_unit,
)
from engine.errors import InputError

ID_COLUMNS = ("id", "pid", "point_id", "code")
X_COLUMNS, Y_COLUMNS = ("x", "easting"), ("y", "northing")
LON_COLUMNS, LAT_COLUMNS = ("lon", "longitude"), ("lat", "latitude")
LOS_COLUMNS = (("los_e", "los_east"), ("los_n", "los_north"), ("los_u", "los_up"))
INCIDENCE_COLUMNS = ("incidence", "incidence_angle")
HEADING_COLUMNS = ("heading", "heading_angle")
POSITIVE = ("toward", "away", "up", "down")


def date_columns(frame, path) -> tuple[list[str], np.ndarray]:
    """The columns headed by dates, and their dates (sorted as in the file; refuses
    malformed or repeated dates)."""
    names, out = [], []
    for name in frame.columns:
        try:
            date = parse_date_label(name)
        except ValueError:
            raise InputError(path, name, f'column header "{name}" is not a calendar date '
                                         "YYYYMMDD") from None
        if date is not None:
            names.append(name)
            out.append(date)
    if not names:
        raise InputError(path, "header", "no column headed by a date YYYYMMDD or DYYYYMMDD; "
                                         f"columns are: {', '.join(frame.columns[:12])}")
    out = np.array(out, dtype="datetime64[D]")
    check_unique_dates(path, "header", out)
    return names, out


def read_series_matrix(frame, path, names, dates, ids) -> tuple[np.ndarray, np.ndarray]:
    """[P, D] float64 of the date columns (empty cells NaN), with dates sorted."""
    values = np.column_stack([tables.numbers(frame, c, path, ids=ids, allow_missing=True)
                              for c in names])
    order = np.argsort(dates, kind="stable")
    return dates[order], values[:, order]


def point_ids(frame, path, column) -> np.ndarray:
    ids = frame[column].astype(str).str.strip().to_numpy()
    empty = ids == ""
    if empty.any():
        line = tables.line_of(path, int(np.argmax(empty)))
        raise InputError(path, column, f"line {line} has no point id")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise InputError(path, column, f'point id "{uniq[counts > 1][0]}" appears '
                                       f"{counts.max()} times")
    return ids.astype(str)


def read_ps_csv(path, unit: str | None = None, los_sign: str | None = None,
                crs: str | None = None) -> PointSeries:
    """Read a PS table; values scaled to metres and signed up (vertical) or toward the
    satellite (line of sight)."""
    frame = tables.read_table(path)
    declared = tables.comment_declarations(path)
    ids = point_ids(frame, path, tables.find_column(frame, ID_COLUMNS, path, "id"))
    names, dates = date_columns(frame, path)
    dates, values = read_series_matrix(frame, path, names, dates, ids)
    scale = resolve_unit(path, declared.get("unit"), unit)

    positive = declared.get("positive")
    if positive is not None and positive not in POSITIVE:
        raise InputError(path, "positive", f'"{positive}" is not one of {", ".join(POSITIVE)}')
    los_east, los_north, geometry = _geometry(frame, path, ids, declared)
    notes = [] if scale == 1.0 else [f"scaled by {scale:g} to metres"]
    if positive is None and geometry is None:
        positive = missing(path, "positive",
                           "no line-of-sight geometry (los_e, los_n, los_u or incidence) "
                           "and no declaration that the values are vertical: add "
                           '"# positive: up" (or down) above the header', "up")
    if positive in ("up", "down"):
        if los_sign is not None:
            raise InputError(path, "positive",
                             f'the file says its values are vertical (positive {positive}) '
                             f'but --los-sign {los_sign} treats them as line of sight')
        component, sign = "up", (1.0 if positive == "up" else -1.0)
        if sign < 0:
            notes.append("sign flipped: the file is positive down")
    else:
        component = "los"
        sign = resolve_los_sign(path, positive, los_sign)
        if sign < 0:
            notes.append("sign flipped: positive away from the satellite -> toward")

    file_crs = declared.get("crs", "").upper() or None
    x_col = tables.find_column(frame, X_COLUMNS)
    coords = {}
    if x_col is not None:
        y_col = tables.find_column(frame, Y_COLUMNS, path, "y")
        x = tables.numbers(frame, x_col, path, ids=ids, allow_missing=True)
        y = tables.numbers(frame, y_col, path, ids=ids, allow_missing=True)
        check_coordinates(path, (x_col, y_col), ids, x, y)
        coords.update(x=x, y=y, crs=file_crs or crs)
    lon_col = tables.find_column(frame, LON_COLUMNS)
    if lon_col is not None:
        lat_col = tables.find_column(frame, LAT_COLUMNS, path, "lat")
        lon = tables.numbers(frame, lon_col, path, ids=ids, allow_missing=True)
        lat = tables.numbers(frame, lat_col, path, ids=ids, allow_missing=True)
        check_coordinates(path, (lon_col, lat_col), ids, lon, lat)
        _check_lonlat(path, (lon_col, lat_col), ids, lon, lat)
        coords.update(lon=lon, lat=lat)
    if not coords:
        raise InputError(path, "x/y", "no coordinates: give columns x, y (projected m) or lon, "
                                      "lat (degrees); columns are: "
                                      f"{', '.join(frame.columns[:12])}")
    return PointSeries(source=str(path), ids=ids, dates=dates, values=values * scale * sign,
                       component=component, los_up=geometry, los_east=los_east,
                       los_north=los_north, conversions=tuple(notes), **coords)


def _geometry(frame, path, ids, declared) -> tuple:
    """(east, north, up) of the ground-to-satellite unit vector per point, from the
    los_* columns or the incidence and heading (columns or header lines); east and north
    are None when only the up component (los_u or incidence) is given, all three None
    without any geometry."""
    vector = [tables.find_column(frame, names) for names in LOS_COLUMNS]
    if vector[0] is not None or vector[1] is not None:
        absent = [names[0] for names, col in zip(LOS_COLUMNS, vector) if col is None]
        if absent:
            raise InputError(path, absent[0], f"the line-of-sight vector needs los_e, los_n "
                                              f"and los_u: {', '.join(absent)} missing")
        east, north, up = (tables.numbers(frame, col, path, ids=ids) for col in vector)
        check_los_vector(path, "los_e/los_n/los_u", ids, east, north, up)
        return east, north, up
    if vector[2] is not None:
        return None, None, tables.numbers(frame, vector[2], path, ids=ids)
    incidence, inc_field = _angle(frame, path, ids, declared, INCIDENCE_COLUMNS)
    heading, head_field = _angle(frame, path, ids, declared, HEADING_COLUMNS)
    if incidence is None:
        if heading is not None:
            raise InputError(path, head_field, "a heading without an incidence angle: give "
                                               "an incidence column or # incidence: line")
        return None, None, None
    bad = ~((incidence >= 0) & (incidence < 90))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, inc_field, f"point {ids[i]}: incidence {incidence[i]} is not "
                                          "an angle in [0, 90) degrees")
    if heading is None:
        return None, None, np.cos(np.radians(incidence))
    return los_unit_vector(incidence, heading)


def _angle(frame, path, ids, declared, names) -> tuple[np.ndarray | None, str]:
    """[P] degrees from the first of ``names`` found as a column, else from its header
    line ("# incidence: 39.2"); (None, name) when neither is there."""
    column = tables.find_column(frame, names)
    if column is not None:
        return tables.numbers(frame, column, path, ids=ids), column
    text = declared.get(names[0])
    if text is None:
        return None, names[0]
    try:
        value = float(text)
    except ValueError:
        value = np.nan
    if not np.isfinite(value):
        raise InputError(path, names[0], f'header line "# {names[0]}: {text}" is not a number '
                                         "of degrees")
    return np.full(len(ids), value), names[0]


def _check_lonlat(path, fields, ids, lon, lat) -> None:
    bad = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, f"{fields[0]}/{fields[1]}",
                         f"point {ids[i]}: ({lon[i]}, {lat[i]}) is not a longitude/latitude")
