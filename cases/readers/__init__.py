"""Readers for real data: InSAR products (MintPy, EGMS, LiCSBAS, generic PS tables),
monitoring wells, layered extensometers and borehole stratigraphy, plus the conversions
that put them on a case's footing (projection, LOS to vertical, re-referencing,
resampling to the case's time axis, thinning).

``read_insar`` picks the InSAR reader from ``fmt`` or, with "auto", from the file.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from cases.readers.points import PointSeries
from engine.errors import InputError, suggest

INSAR_FORMATS = ("auto", "mintpy", "egms", "licsbas", "csv")


def detect_insar_format(path) -> str:
    """"mintpy", "licsbas", "egms" or "csv" from the file's content."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "no such file")
    if h5py.is_hdf5(path):
        from cases.readers.licsbas import looks_like_licsbas
        from cases.readers.mintpy import looks_like_mintpy

        with h5py.File(path, "r") as handle:
            if looks_like_mintpy(handle):
                return "mintpy"
            if looks_like_licsbas(handle):
                return "licsbas"
            names = ", ".join(handle)
        raise InputError(path, "format", "an HDF5 file that is neither a MintPy time series "
                                         "(/timeseries, /date) nor a LiCSBAS cum.h5 (/cum, "
                                         f"/imdates); datasets: {names}")
    from cases.readers import tables
    from cases.readers.egms import looks_like_egms

    return "egms" if looks_like_egms(tables.read_header(path)) else "csv"


def read_insar(path, fmt: str = "auto", unit: str | None = None,
               los_sign: str | None = None, crs: str | None = None) -> PointSeries:
    """The InSAR product at ``path`` as a PointSeries (metres; "up" or "los" toward)."""
    if fmt not in INSAR_FORMATS:
        raise InputError("command line", "--insar-format",
                         f'"{fmt}" is not one of {", ".join(INSAR_FORMATS)}'
                         f"{suggest(fmt, INSAR_FORMATS)}")
    if fmt == "auto":
        fmt = detect_insar_format(path)
    if fmt == "mintpy":
        from cases.readers.mintpy import read_mintpy as reader
    elif fmt == "licsbas":
        from cases.readers.licsbas import read_licsbas as reader
    elif fmt == "egms":
        from cases.readers.egms import read_egms as reader
    else:
        from cases.readers.ps_csv import read_ps_csv as reader
    return reader(path, unit=unit, los_sign=los_sign, crs=crs)
