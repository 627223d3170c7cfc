"""Writing the twin's files: the case (through ``engine.caseio.write_case``, with its big
arrays in HDF5 when CSV would be too large) and the truth (one HDF5 file).

HDF5 files are written without timestamps, so the same twin gives identical bytes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from engine.caseio import write_case

ARRAYS_FILE = "arrays.h5"
#: Values per big array above which ``arrays="auto"`` stores them in HDF5 (CSV would
#: take some 20 bytes per value).
CSV_LIMIT = 5_000_000


def _dataset(group, name: str, values) -> None:
    values = np.asarray(values)
    if values.dtype.kind in "UO":
        group.create_dataset(name, data=values.astype(h5py.string_dtype()),
                             track_times=False)
        return
    big = values.size > 100_000
    group.create_dataset(name, data=values, track_times=False,
                         chunks=True if big else None,
                         compression="gzip" if big else None,
                         compression_opts=1 if big else None, shuffle=big)


def write_arrays(path: Path, arrays: dict, attrs: dict | None = None) -> None:
    """An HDF5 file of ``arrays`` (name -> array; "a/b" names make groups) and JSON
    attributes ``attrs`` at its root."""
    with h5py.File(path, "w", track_order=True) as f:
        for name, values in arrays.items():
            _dataset(f, name, values)
        for key, value in (attrs or {}).items():
            f.attrs[key] = json.dumps(value, sort_keys=True)


def write_case_files(case, folder: Path, arrays: str = "auto") -> Path:
    """The case manifest and its files in ``folder``; returns the manifest path.

    ``arrays``: "csv" (everything through write_case), "hdf5" (heads and displacement
    in ``arrays.h5`` as [cell, time] datasets, the rest through write_case) or "auto"
    (HDF5 when a head array holds more than CSV_LIMIT values).
    """
    folder = Path(folder)
    size = case.n_cells * case.n_times
    if arrays == "csv" or (arrays == "auto" and size <= CSV_LIMIT):
        return write_case(case, folder)
    # write_case writes only CSV: give it one marker number per big array, then point
    # the manifest at the HDF5 datasets instead
    markers = {f"head = {-1.0e9 - a!r}": f'head = {{ file = "{ARRAYS_FILE}", '
                                         f'dataset = "head_{a}" }}'
               for a in range(len(case.aquifers))}
    light = replace(case, aquifers=tuple(
        replace(aq, head=np.full((case.n_cells, case.n_times), -1.0e9 - a))
        for a, aq in enumerate(case.aquifers)),
        observations=replace(case.observations, displacement=None))
    manifest = write_case(light, folder)
    text = manifest.read_text(encoding="utf-8")
    for marker, reference in markers.items():
        if text.count(marker) != 1:
            raise RuntimeError(f"write_case did not write {marker!r} exactly once")
        text = text.replace(marker, reference)
    data = {f"head_{a}": aq.head for a, aq in enumerate(case.aquifers)}
    if case.observations.displacement is not None:
        data["displacement"] = case.observations.displacement
        line = f'displacement = {{ file = "{ARRAYS_FILE}", dataset = "displacement" }}'
        text = (text.replace("[observations]\n", f"[observations]\n{line}\n")
                if "[observations]\n" in text else text + f"[observations]\n{line}\n")
    write_arrays(folder / ARRAYS_FILE, data)
    manifest.write_text(text, encoding="utf-8")
    return manifest
