"""Writing the twin's files: the case through ``engine.caseio.write_case``, its per-cell
arrays in HDF5 when CSV would be too large, and the truth (one HDF5 file,
``write_arrays``).

HDF5 files are written without timestamps, so the same twin gives identical bytes.
"""

from __future__ import annotations

from pathlib import Path

from engine.caseio import write_case
from engine.tables import write_hdf5 as write_arrays

__all__ = ["CSV_LIMIT", "write_arrays", "write_case_files"]

#: Values per big array above which ``arrays="auto"`` stores them in HDF5 (CSV would
#: take some 20 bytes per value).
CSV_LIMIT = 5_000_000


def write_case_files(case, folder: Path, arrays: str = "auto") -> Path:
    """The case manifest and its files in ``folder``; returns the manifest path.

    ``arrays``: "csv" or "hdf5" (see ``write_case``), or "auto": HDF5 when a head array
    holds more than CSV_LIMIT values.
    """
    if arrays == "auto":
        arrays = "csv" if case.n_cells * case.n_times <= CSV_LIMIT else "hdf5"
    return write_case(case, Path(folder), arrays=arrays)
