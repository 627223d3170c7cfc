"""MintPy time series (``timeseries*.h5``, ``geo_timeseries*.h5``).

Layout (MintPy's own writer, ``mintpy.utils.writefile``): datasets at the root,
``timeseries`` [D, LENGTH, WIDTH] float32 in metres (attribute UNIT = "m"), ``date`` [D]
bytes YYYYMMDD, ``bperp`` [D]; string attributes at the root. Values are along the
line of sight, positive toward the satellite, zero at REF_DATE and at the reference
pixel (REF_Y, REF_X / REF_LAT, REF_LON).

Geocoded files carry X_FIRST, Y_FIRST (upper-left corner of the upper-left pixel),
X_STEP, Y_STEP and X_UNIT ("degrees", or metres with UTM_ZONE / EPSG); pixel centres
are at X_FIRST + (col + 0.5) X_STEP. Radar-coded files get latitude/longitude per pixel
from the geometry file. The incidence angle always comes from the geometry file
(``geometryGeo.h5``, ``geometryRadar.h5``, ``geo_geometryRadar.h5``), looked up next to
the time series and in ``inputs/`` beside it or its parent folder; the east and north
components of the line of sight (needed to decompose several tracks) from its
``azimuthAngle`` (of the ground-to-satellite vector, degrees anticlockwise from north)
when it has one, else from the HEADING attribute of the time series. A reliable-pixel
mask (``maskTempCoh.h5`` / ``geo_maskTempCoh.h5``) beside the file is applied when
present; pixels without any value are dropped.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from cases.readers.geodesy import los_unit_vector
from cases.readers.points import (
    PointSeries,
    open_hdf5,
    parse_yyyymmdd,
    resolve_los_sign,
    resolve_unit,
)
from engine.errors import InputError

GEOMETRY_NAMES = ("geometryGeo.h5", "geometryRadar.h5", "geo_geometryRadar.h5",
                  "geo_geometryGeo.h5")
MASK_NAMES = ("maskTempCoh.h5", "geo_maskTempCoh.h5")


def _attr(attrs, key):
    value = attrs.get(key)
    return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))


def looks_like_mintpy(handle: h5py.File) -> bool:
    return "timeseries" in handle


def _candidates(path: Path, names) -> list[Path]:
    folders = [path.parent, path.parent / "inputs", path.parent.parent / "inputs"]
    return [folder / name for folder in folders for name in names if (folder / name).is_file()]


def _sidecar(path: Path, names, shape, datasets) -> tuple[Path, dict] | tuple[None, None]:
    """The first sidecar file whose datasets have the time series' 2-D shape."""
    for candidate in _candidates(path, names):
        with h5py.File(candidate, "r") as handle:
            if all(d in handle and handle[d].shape == shape for d in datasets):
                return candidate, {d: handle[d][()] for d in datasets}
    return None, None


def read_mintpy(path, unit: str | None = None, los_sign: str | None = None,
                crs: str | None = None) -> PointSeries:
    path = Path(path)
    with open_hdf5(path) as handle:
        attrs = dict(handle.attrs)
        if "timeseries" not in handle:
            raise InputError(path, "timeseries", "no dataset /timeseries: not a MintPy time "
                                                 f"series (datasets: {', '.join(handle)})")
        if "date" not in handle:
            raise InputError(path, "date", "no dataset /date: the acquisition dates are "
                                           "missing")
        stack = handle["timeseries"]
        if stack.ndim != 3:
            raise InputError(path, "timeseries", f"shape {stack.shape} is not [date, row, col]")
        dates = parse_yyyymmdd(path, "date", handle["date"][()])
        if len(dates) != stack.shape[0]:
            raise InputError(path, "date", f"{len(dates)} dates for {stack.shape[0]} "
                                           "time-series layers")
        data = stack[()]
    scale = resolve_unit(path, _attr(attrs, "UNIT"), unit)
    sign = resolve_los_sign(path, "toward", los_sign)
    shape = data.shape[1:]
    notes = [] if scale == 1.0 else [f"scaled by {scale:g} to metres"]

    keep = ~np.all(np.isnan(data), axis=0)
    mask_file, mask = _sidecar(path, MASK_NAMES, shape, ("mask",))
    if mask_file is not None:
        keep &= mask["mask"].astype(bool)
        notes.append(f"pixels outside {mask_file.name} dropped")

    geocoded = _attr(attrs, "X_FIRST") is not None
    needed = ("incidenceAngle",) if geocoded else ("incidenceAngle", "latitude", "longitude")
    geom_file, geometry = _sidecar(path, GEOMETRY_NAMES, shape, needed)
    if geom_file is None:
        raise InputError(path, "geometry",
                         f"no geometry file with {', '.join(needed)} of shape {shape} found "
                         f"({', '.join(GEOMETRY_NAMES)} beside the file or in inputs/): "
                         "needed for the incidence angle"
                         + ("" if geocoded else " and the pixel coordinates"))
    incidence = geometry["incidenceAngle"].astype(np.float64)
    keep &= np.isfinite(incidence)
    rows, cols = np.nonzero(keep)
    values = data[:, rows, cols].T.astype(np.float64)
    order = np.argsort(dates, kind="stable")
    los_east, los_north, note = _horizontal(path, geom_file, attrs, incidence[rows, cols],
                                            shape, rows, cols)

    coords = _coordinates(path, attrs, rows, cols, geometry)
    ref = (f"MintPy: reference pixel row {_attr(attrs, 'REF_Y')}, col {_attr(attrs, 'REF_X')} "
           f"(lat {_attr(attrs, 'REF_LAT')}, lon {_attr(attrs, 'REF_LON')}), "
           f"date {_attr(attrs, 'REF_DATE') or dates.min()}")
    return PointSeries(
        source=str(path), ids=np.array([f"r{r}c{c}" for r, c in zip(rows, cols)]),
        dates=dates[order], values=values[:, order] * scale * sign, component="los",
        los_up=np.cos(np.radians(incidence[rows, cols])), los_east=los_east,
        los_north=los_north, reference=ref,
        conversions=tuple(notes + [f"incidence angle from {geom_file.name}{note}"]), **coords)


def _horizontal(path, geom_file, attrs, incidence, shape, rows, cols):
    """(east, north, note) of the line of sight at the pixels: from the geometry file's
    azimuthAngle, else from the HEADING attribute; (None, None, "") without either."""
    with h5py.File(geom_file, "r") as handle:
        azimuth = (handle["azimuthAngle"][()] if "azimuthAngle" in handle
                   and handle["azimuthAngle"].shape == shape else None)
    if azimuth is not None:
        heading = 90.0 - azimuth[rows, cols].astype(np.float64)
        note = ", heading from its azimuthAngle"
    elif _attr(attrs, "HEADING") is not None:
        try:
            heading = np.full(len(rows), float(_attr(attrs, "HEADING")))
        except ValueError:
            raise InputError(path, "HEADING", f'"{_attr(attrs, "HEADING")}" is not a number '
                                              "of degrees") from None
        note = f", heading {heading[0]:g} deg from the HEADING attribute"
    else:
        return None, None, ""
    east, north, _ = los_unit_vector(incidence, heading)
    return east, north, note


def _coordinates(path, attrs, rows, cols, geometry) -> dict:
    if _attr(attrs, "X_FIRST") is None:
        return {"lon": geometry["longitude"][rows, cols].astype(np.float64),
                "lat": geometry["latitude"][rows, cols].astype(np.float64)}
    try:
        x0, y0 = float(_attr(attrs, "X_FIRST")), float(_attr(attrs, "Y_FIRST"))
        dx, dy = float(_attr(attrs, "X_STEP")), float(_attr(attrs, "Y_STEP"))
    except (TypeError, ValueError):
        raise InputError(path, "X_STEP/Y_STEP", "geocoded file (X_FIRST given) without numeric "
                                                "X_FIRST, Y_FIRST, X_STEP, Y_STEP") from None
    x = x0 + (cols + 0.5) * dx
    y = y0 + (rows + 0.5) * dy
    if (_attr(attrs, "X_UNIT") or "degrees").lower().startswith("deg"):
        return {"lon": x, "lat": y}
    return {"x": x, "y": y, "crs": _projected_crs(path, attrs)}


def _projected_crs(path, attrs) -> str:
    if _attr(attrs, "EPSG"):
        return f"EPSG:{int(float(_attr(attrs, 'EPSG')))}"
    zone = _attr(attrs, "UTM_ZONE")
    if zone and zone[:-1].isdigit() and zone[-1].upper() in "NS":
        return f"EPSG:{(32600 if zone[-1].upper() == 'N' else 32700) + int(zone[:-1])}"
    raise InputError(path, "X_UNIT", f'coordinates in "{_attr(attrs, "X_UNIT")}" without '
                                     "EPSG or UTM_ZONE attribute: their CRS is unknown")
