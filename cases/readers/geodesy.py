"""Geographic to projected coordinates, and line-of-sight to vertical displacement.

Projection: WGS 84 / UTM zones (EPSG:326zz north, EPSG:327zz south) are computed here
with Krueger's series in the third flattening to sixth order (Karney 2011, J. Geodesy
85:475), accurate to well under a millimetre inside a zone, so the usual case needs no
extra package. Any other CRS (CGCS2000 Gauss-Krueger, ETRS89-LAEA, ...) goes through
pyproj, imported only then.

LOS to vertical assumes the ground moved vertically only: d_up = d_los / u, u the up
component of the unit vector from the ground to the satellite (cos of the incidence
angle), with d_los positive toward the satellite.

Line-of-sight geometry from angles: the incidence theta (degrees from the vertical at the
ground) and the heading h (azimuth of the satellite's flight direction, degrees
clockwise from north: Sentinel-1 about -12 ascending, -168 descending) of a
right-looking radar (Sentinel-1, ENVISAT, TerraSAR-X, ALOS-2 in its usual mode) give
the unit vector from the ground to the satellite

    east = -sin(theta) cos(h),  north = sin(theta) sin(h),  up = cos(theta)

(MintPy's ``enu2los`` with its azimuth angle 90 - h).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from cases.readers.declarations import missing
from cases.readers.points import PointSeries, check_los_up
from engine.errors import InputError

_WGS84_A = 6378137.0
_WGS84_F = 1.0 / 298.257223563
_UTM_K0 = 0.9996

_EPSG = re.compile(r"^EPSG:(\d+)$", re.IGNORECASE)


def _krueger_coefficients(n: float):
    """Rectifying radius A and the alpha_1..6 of the forward series, in powers of n."""
    n2, n3, n4, n5, n6 = n ** 2, n ** 3, n ** 4, n ** 5, n ** 6
    radius = 1.0 / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0)
    alpha = (
        n / 2 - 2 * n2 / 3 + 5 * n3 / 16 + 41 * n4 / 180 - 127 * n5 / 288 + 7891 * n6 / 37800,
        13 * n2 / 48 - 3 * n3 / 5 + 557 * n4 / 1440 + 281 * n5 / 630 - 1983433 * n6 / 1935360,
        61 * n3 / 240 - 103 * n4 / 140 + 15061 * n5 / 26880 + 167603 * n6 / 181440,
        49561 * n4 / 161280 - 179 * n5 / 168 + 6601661 * n6 / 7257600,
        34729 * n5 / 80640 - 3418889 * n6 / 1995840,
        212378941 * n6 / 319334400,
    )
    return radius, alpha


def transverse_mercator(lon, lat, lon0: float, k0: float = _UTM_K0,
                        false_easting: float = 500000.0, false_northing: float = 0.0):
    """Easting, northing (m) on the WGS 84 ellipsoid, central meridian ``lon0`` (deg)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    n = _WGS84_F / (2.0 - _WGS84_F)
    e = np.sqrt(_WGS84_F * (2.0 - _WGS84_F))
    radius, alpha = _krueger_coefficients(n)
    phi = np.radians(lat)
    dlam = np.radians(lon - lon0)
    # conformal latitude, through its tangent (infinite at the poles, where atan2 copes)
    with np.errstate(divide="ignore"):
        t = np.sinh(np.arctanh(np.sin(phi)) - e * np.arctanh(e * np.sin(phi)))
    xi_p = np.arctan2(t, np.cos(dlam))
    eta_p = np.arctanh(np.sin(dlam) / np.sqrt(1.0 + t ** 2))
    xi, eta = xi_p.copy(), eta_p.copy()
    for j, a_j in enumerate(alpha, start=1):
        xi += a_j * np.sin(2 * j * xi_p) * np.cosh(2 * j * eta_p)
        eta += a_j * np.cos(2 * j * xi_p) * np.sinh(2 * j * eta_p)
    scale = k0 * _WGS84_A * radius
    return false_easting + scale * eta, false_northing + scale * xi


def utm_zone_of(crs: str) -> tuple[int, bool] | None:
    """(zone, north) for "EPSG:326zz"/"EPSG:327zz", else None."""
    match = _EPSG.match(crs.strip())
    if match is None:
        return None
    code = int(match.group(1))
    if 32601 <= code <= 32660:
        return code - 32600, True
    if 32701 <= code <= 32760:
        return code - 32700, False
    return None


def utm_crs(lon, lat) -> str:
    """"EPSG:326zz" or "EPSG:327zz": the WGS 84 / UTM zone of the median point."""
    lon, lat = float(np.nanmedian(lon)), float(np.nanmedian(lat))
    zone = int(np.clip(np.floor((lon + 180.0) / 6.0) + 1, 1, 60))
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def check_crs(crs: str) -> str:
    """The CRS in the canonical form "EPSG:NNNN", or InputError naming --crs."""
    match = _EPSG.match(crs.strip())
    if match is None:
        raise InputError("command line", "--crs", f'"{crs}" is not of the form EPSG:NNNN')
    return f"EPSG:{int(match.group(1))}"


def _pyproj_transformer(source_crs: str, target_crs: str):
    try:
        import pyproj
    except ImportError:
        raise InputError("command line", "--crs",
                         f"{target_crs} is not a WGS 84 / UTM zone (EPSG:326zz, 327zz) and "
                         "pyproj, needed for any other CRS, is not installed") from None
    try:
        return pyproj.Transformer.from_crs(source_crs, target_crs, always_xy=True)
    except pyproj.exceptions.CRSError as err:
        raise InputError("command line", "--crs", f"{target_crs}: {err}") from None


def lonlat_to_projected(lon, lat, crs: str):
    """(x, y) in metres in ``crs`` of WGS 84 longitudes/latitudes (degrees)."""
    utm = utm_zone_of(crs)
    if utm is not None:
        zone, north = utm
        return transverse_mercator(lon, lat, lon0=6.0 * zone - 183.0,
                                   false_northing=0.0 if north else 10000000.0)
    return _pyproj_transformer("EPSG:4326", crs).transform(np.asarray(lon, float),
                                                          np.asarray(lat, float))


def reproject(x, y, source_crs: str, target_crs: str):
    """(x, y) from one projected CRS to another (pyproj)."""
    if check_crs(source_crs) == check_crs(target_crs):
        return np.asarray(x, float), np.asarray(y, float)
    return _pyproj_transformer(source_crs, target_crs).transform(np.asarray(x, float),
                                                                 np.asarray(y, float))


def project(series: PointSeries, crs: str | None) -> PointSeries:
    """The series with x, y in ``crs``.

    Points given only in lon/lat need ``crs``; points already projected in another
    CRS are transformed; with ``crs`` None a projected series keeps its own CRS."""
    if series.x is not None and series.crs is None:
        # a table whose x, y declare no CRS: they are taken to be in the case's
        return series if crs is None else replace(series, crs=check_crs(crs))
    if series.x is not None and (crs is None or check_crs(series.crs) == check_crs(crs)):
        return series
    if crs is None:
        # their UTM zone stands in while every missing declaration is being collected
        crs = missing(series.source, "coordinates",
                      "points are given in longitude/latitude: give --crs EPSG:NNNN "
                      "(the projected CRS of the wells and of the case)",
                      utm_crs(series.lon, series.lat))
    crs = check_crs(crs)
    if series.lon is not None:
        x, y = lonlat_to_projected(series.lon, series.lat, crs)
        note = f"longitude/latitude projected to {crs}"
    else:
        x, y = reproject(series.x, series.y, series.crs, crs)
        note = f"coordinates transformed from {series.crs} to {crs}"
    return series.with_conversion(note, x=np.asarray(x, float), y=np.asarray(y, float),
                                  crs=crs)


def los_unit_vector(incidence, heading) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(east, north, up) of the unit vector from the ground to a right-looking satellite
    of ``incidence`` and ``heading`` (degrees; see the module's docstring)."""
    theta = np.radians(np.asarray(incidence, dtype=np.float64))
    h = np.radians(np.asarray(heading, dtype=np.float64))
    return -np.sin(theta) * np.cos(h), np.sin(theta) * np.sin(h), np.cos(theta)


def los_to_vertical(series: PointSeries) -> PointSeries:
    """Vertical displacement from LOS displacement, assuming purely vertical motion."""
    if series.component == "up":
        return series
    if series.los_up is None:
        raise InputError(series.source, "los_up",
                         "line-of-sight values need the line-of-sight geometry (up component "
                         "or incidence angle) to be turned into vertical displacement")
    check_los_up(series.source, "los_up", series.ids, series.los_up)
    span = f"{series.los_up.min():.3f}..{series.los_up.max():.3f}"
    return series.with_conversion(
        f"line of sight to vertical: d_up = d_los / u, u = {span} (cos incidence); "
        "assumes the ground moved vertically only",
        values=series.values / series.los_up[:, None], component="up")
