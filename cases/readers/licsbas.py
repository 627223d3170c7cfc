"""LiCSBAS cumulative displacement (``TS_GEOCml*/cum.h5``, ``cum_filt.h5``).

Layout (LiCSBAS13_sb_inv and later steps): ``cum`` [n_im, length, width] float32 in
MILLIMETRES along the line of sight, positive toward the satellite (LOS decrease,
uplift); ``imdates`` [n_im] int YYYYMMDD; ``refarea`` the reference window as the
string "x1:x2/y1:y2" (pixel slices, x = column); ``corner_lat``, ``corner_lon`` (centre
of the upper-left pixel), ``post_lat``, ``post_lon`` (pixel spacing, degrees), so the
pixel at row i, column j is at (corner_lat + i post_lat, corner_lon + j post_lon).

Values are re-referenced to the mean of the reference window at each date, as the
LiCSBAS tools do, and to zero at the first date. The up component of the line of sight
comes from a ``U.geo`` dataset in the file or the ``U.geo`` raster (float32, length x
width) in the GEOCml* folder the time series was made from (``TS_GEOCml10`` ->
``GEOCml10``) or beside the file; its east and north components (needed to decompose
several tracks) from the ``E.geo`` and ``N.geo`` beside that U.geo, when both are there.
The mask of LiCSBAS15 (``results/mask``) is applied when present; pixels without any
value are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from cases.readers.points import (
    PointSeries,
    open_hdf5,
    parse_yyyymmdd,
    resolve_los_sign,
    resolve_unit,
)
from engine.errors import InputError

_REFAREA = re.compile(r"^\s*(\d+):(\d+)/(\d+):(\d+)\s*$")


def looks_like_licsbas(handle: h5py.File) -> bool:
    return "cum" in handle and "imdates" in handle


def _raster(path: Path, shape) -> np.ndarray | None:
    if not path.is_file():
        return None
    data = np.fromfile(path, dtype="<f4")
    if data.size != shape[0] * shape[1]:
        raise InputError(path, "size", f"{data.size} values, expected {shape[0]} x {shape[1]} "
                                       "(the cum.h5 grid)")
    return data.reshape(shape).astype(np.float64)


def _scalar(path, handle, name) -> float:
    if name not in handle:
        raise InputError(path, name, f"no dataset /{name}: the file is not geocoded, and "
                                     "landsub needs geographic coordinates")
    return float(np.asarray(handle[name][()]).ravel()[0])


def read_licsbas(path, unit: str | None = None, los_sign: str | None = None,
                 crs: str | None = None) -> PointSeries:
    path = Path(path)
    with open_hdf5(path) as handle:
        for name in ("cum", "imdates"):
            if name not in handle:
                raise InputError(path, name, f"no dataset /{name}: not a LiCSBAS cum.h5 "
                                             f"(datasets: {', '.join(handle)})")
        cum = handle["cum"][()]
        if cum.ndim != 3:
            raise InputError(path, "cum", f"shape {cum.shape} is not [image, row, col]")
        dates = parse_yyyymmdd(path, "imdates", handle["imdates"][()])
        if len(dates) != cum.shape[0]:
            raise InputError(path, "imdates", f"{len(dates)} dates for {cum.shape[0]} images")
        lat1, lon1 = _scalar(path, handle, "corner_lat"), _scalar(path, handle, "corner_lon")
        dlat, dlon = _scalar(path, handle, "post_lat"), _scalar(path, handle, "post_lon")
        refarea = handle["refarea"][()] if "refarea" in handle else None
        up_inside = handle["U.geo"][()].astype(np.float64) if "U.geo" in handle else None
    scale = resolve_unit(path, "mm", unit)
    sign = resolve_los_sign(path, "toward", los_sign)
    shape = cum.shape[1:]
    notes = ["LiCSBAS millimetres scaled to metres"]

    if refarea is None:
        raise InputError(path, "refarea", "no dataset /refarea: the reference window is "
                                          "unknown")
    text = refarea.decode() if isinstance(refarea, bytes) else str(refarea)
    match = _REFAREA.match(text)
    if match is None:
        raise InputError(path, "refarea", f'"{text}" is not a window "x1:x2/y1:y2"')
    x1, x2, y1, y2 = (int(g) for g in match.groups())
    if not (0 <= x1 < x2 <= shape[1] and 0 <= y1 < y2 <= shape[0]):
        raise InputError(path, "refarea", f'window "{text}" is empty or outside the '
                                          f"{shape[0]} x {shape[1]} grid")
    window = cum[:, y1:y2, x1:x2].reshape(len(dates), -1)
    if np.all(np.isnan(window)):
        raise InputError(path, "refarea", f'window "{text}" has no values')
    cum = cum - np.nanmean(window, axis=1)[:, None, None]

    up = up_inside
    up_source = f"U.geo in {path.name}"
    east = north = None
    if up is None:
        for folder in _geoc_folders(path):
            up = _raster(folder / "U.geo", shape)
            if up is not None:
                up_source = str(folder / "U.geo")
                east, north = _raster(folder / "E.geo", shape), _raster(folder / "N.geo", shape)
                break
    if up is None:
        raise InputError(path, "U.geo",
                         "no line-of-sight up component: put the U.geo of the GEOCml* folder "
                         f"beside {path.name} (looked in: "
                         f"{', '.join(str(f) for f in _geoc_folders(path))})")
    keep = ~np.all(np.isnan(cum), axis=0) & np.isfinite(up)
    mask = _raster(path.parent / "results" / "mask", shape)
    if mask is not None:
        keep &= np.nan_to_num(mask) > 0
        notes.append("pixels outside results/mask dropped")
    rows, cols = np.nonzero(keep)
    values = cum[:, rows, cols].T.astype(np.float64)
    order = np.argsort(dates, kind="stable")
    horizontal, note = {}, f"line-of-sight up component from {up_source}"
    if east is not None and north is not None:
        horizontal = {"los_east": east[rows, cols], "los_north": north[rows, cols]}
        note = f"line-of-sight vector from {up_source} and the E.geo, N.geo beside it"
    return PointSeries(
        source=str(path), ids=np.array([f"r{r}c{c}" for r, c in zip(rows, cols)]),
        dates=dates[order], values=values[:, order] * scale * sign, component="los",
        lon=lon1 + cols * dlon, lat=lat1 + rows * dlat, los_up=up[rows, cols],
        reference=f'LiCSBAS: mean of window x {x1}:{x2}, y {y1}:{y2} ("{text}")',
        conversions=tuple(notes + [note]),
        **horizontal)


def _geoc_folders(path: Path) -> list[Path]:
    folders = [path.parent]
    name = path.parent.name
    if name.startswith("TS_"):
        folders.append(path.parent.parent / name[3:])
    return folders
