"""Positions of monitoring sites (wells, extensometers, boreholes) given row by row in a
table: x, y in the case CRS (projected m) or lon, lat (WGS 84 degrees, projected with
--crs), the same on every row of a site."""

from __future__ import annotations

import numpy as np

from cases.readers import tables
from cases.readers.declarations import missing
from cases.readers.geodesy import lonlat_to_projected, utm_crs
from cases.readers.ps_csv import LAT_COLUMNS, LON_COLUMNS, X_COLUMNS, Y_COLUMNS
from engine.errors import InputError


def has_position(frame) -> bool:
    return (tables.find_column(frame, X_COLUMNS) is not None
            or tables.find_column(frame, LON_COLUMNS) is not None)


def site_positions(frame, path, site_column: str, crs: str | None):
    """(sites [S] str in order of appearance, x [S], y [S]) in metres."""
    x_col = tables.find_column(frame, X_COLUMNS)
    if x_col is not None:
        y_col = tables.find_column(frame, Y_COLUMNS, path, "y")
        a = tables.numbers(frame, x_col, path, allow_missing=True)
        b = tables.numbers(frame, y_col, path, allow_missing=True)
        fields = (x_col, y_col)
    else:
        lon_col = tables.find_column(frame, LON_COLUMNS, path, "x")
        lat_col = tables.find_column(frame, LAT_COLUMNS, path, "lat")
        a = tables.numbers(frame, lon_col, path, allow_missing=True)
        b = tables.numbers(frame, lat_col, path, allow_missing=True)
        fields = (lon_col, lat_col)
    names = frame[site_column].astype(str).str.strip().to_numpy()
    sites, first = np.unique(names, return_index=True)
    sites = sites[np.argsort(first)]
    xs, ys = np.empty(len(sites)), np.empty(len(sites))
    for k, site in enumerate(sites):
        rows = names == site
        pa, pb = a[rows], b[rows]
        if not (np.isfinite(pa).all() and np.isfinite(pb).all()):
            raise InputError(path, f"{fields[0]}/{fields[1]}",
                             f'site "{site}" has no coordinates on some row '
                             f"({pa[~np.isfinite(pa)][:1]}, {pb[~np.isfinite(pb)][:1]})")
        if np.ptp(pa) > 1e-6 * max(1.0, abs(pa[0])) or np.ptp(pb) > 1e-6 * max(1.0, abs(pb[0])):
            raise InputError(path, f"{fields[0]}/{fields[1]}",
                             f'site "{site}" has more than one position: ({pa.min()}, '
                             f"{pb.min()}) and ({pa.max()}, {pb.max()})")
        xs[k], ys[k] = pa[0], pb[0]
    if x_col is None:
        bad = (np.abs(xs) > 180) | (np.abs(ys) > 90)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(path, f"{fields[0]}/{fields[1]}",
                             f'site "{sites[i]}": ({xs[i]}, {ys[i]}) is not a longitude/latitude')
        if crs is None:
            crs = missing(path, f"{fields[0]}/{fields[1]}", "positions in longitude/latitude "
                          "need --crs EPSG:NNNN", utm_crs(xs, ys))
        xs, ys = lonlat_to_projected(xs, ys, crs)
    return sites.astype(str), np.asarray(xs, float), np.asarray(ys, float)


def check_near(path, field: str, sites, x, y, px, py, max_distance: float, what: str):
    """[S] distance of each site to the nearest InSAR point; refuses sites farther than
    ``max_distance`` (m), which usually means swapped or wrongly projected coordinates."""
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(np.column_stack([px, py])).query(np.column_stack([x, y]))
    far = distance > max_distance
    if far.any():
        i = int(np.argmax(distance))
        raise InputError(path, field,
                         f'{what} "{sites[i]}" at ({x[i]:.1f}, {y[i]:.1f}) is {distance[i]:.0f} m '
                         f"from the nearest InSAR point (limit {max_distance:g} m): outside the "
                         "area, or coordinates in another CRS than --crs")
    return distance
