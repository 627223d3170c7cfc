"""Writing case files: ``write_case`` writes a manifest plus the files beside it that
``engine.caseio.load_case`` reads back to an equal Case (floats in shortest round-trip
repr in CSV, float64 datasets in HDF5, so exactly).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from engine.case import Aquifer, Case, Compressible
from engine.schema import FREQS, SCHEMA, regular_times, used_parameters
from engine.tables import write_hdf5, write_wide

EXTENSOMETER_COLUMNS = ("site", "cell", "aquifer", "time", "compaction")
WELL_COLUMNS = ("well", "x", "y", "aquifer", "time", "head")
ARRAY_FORMATS = ("csv", "hdf5")
#: The HDF5 file of the per-cell arrays, beside the manifest like params.csv and cells.csv.
ARRAYS_FILE = "arrays.h5"


def write_case(case: Case, directory, name: str = "case.toml", arrays: str = "csv") -> Path:
    """Write ``case`` as ``directory/name`` plus the files beside it; returns the manifest path.

    Arrays equal at every cell (and time) become one number in the manifest. With
    ``arrays="csv"`` the others go to CSV: times.csv (an irregular axis), cells.csv,
    heads_<a>.csv (wide, one per aquifer), params.csv (one column per varying parameter,
    named by its field) and the observations (displacement.csv, displacement_east.csv
    when tracks were decomposed, extensometers.csv, wells.csv); a spin-up adds [spinup]
    (spinup_times.csv when irregular) and spinup_heads_<a>.csv. With ``arrays="hdf5"``
    the per-cell arrays (heads [cell, time], observed displacement and its east-west
    part [cell, time], varying parameters [cell])
    go instead to one HDF5 file, arrays.h5, a dataset per field named by the field
    (``aquifers[0].head``); cells, times and the long observation tables stay CSV.
    """
    if arrays not in ARRAY_FORMATS:
        raise ValueError(f"arrays={arrays!r}: use one of {', '.join(ARRAY_FORMATS)}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return _Writer(case, folder, ARRAYS_FILE if arrays == "hdf5" else None).write(name)


class _Writer:
    def __init__(self, case: Case, folder: Path, hdf5: str | None):
        self.case = case
        self.folder = folder
        self.hdf5 = hdf5  # the HDF5 file of the per-cell arrays, None to write CSV
        self.datasets: dict[str, np.ndarray] = {}
        self.ids = np.asarray(case.cells.ids, dtype=str)
        self.parameter_columns: dict[str, np.ndarray] = {}

    def write(self, name: str) -> Path:
        case = self.case
        top = {"schema": SCHEMA, "name": case.name}
        if case.description:
            top["description"] = case.description
        sections = [("", top), ("[time]", self.time_axis(case.times, "times.csv"))]
        if case.spinup_times is not None:
            sections.append(("[spinup]", {"time": self.time_axis(case.spinup_times,
                                                                 "spinup_times.csv")}))
        sections.append(("[cells]", self.cells()))
        for index, aquifer in enumerate(case.aquifers):
            sections += self.aquifer(index, aquifer)
        if case.geostatic is not None:
            g = case.geostatic
            land = self.parameter(g.land_surface, "geostatic.land_surface")
            sections.append(("[geostatic]", {"sgm": float(g.sgm), "sgs": float(g.sgs),
                                             "land_surface": land}))
        observed = self.observations()
        if observed:
            sections.append(("[observations]", observed))
        if case.study is not None:
            study = {"claims": case.study.claims}
            if case.study.aquifers is not None:
                study["aquifers"] = list(case.study.aquifers)
            sections.append(("[study]", study))
        if self.parameter_columns:
            self.csv("params.csv", {"id": self.ids, **self.parameter_columns})
        if self.datasets:
            write_hdf5(self.folder / self.hdf5, self.datasets)
        path = self.folder / name
        path.write_text("\n".join(_toml_section(header, body) for header, body in sections),
                        encoding="utf-8")
        return path

    def csv(self, name: str, columns: dict) -> dict:
        pd.DataFrame(columns).to_csv(self.folder / name, index=False, na_rep="")
        return {"file": name}

    def dataset(self, field: str, values: np.ndarray) -> dict:
        self.datasets[field] = np.asarray(values, dtype=np.float64)
        return {"file": self.hdf5, "dataset": field}

    def series(self, name: str, field: str, values: np.ndarray, times=None) -> dict:
        """[cell, time] ``values`` of ``field`` on ``times`` (default: the case's): a wide
        CSV ``name`` or an HDF5 dataset."""
        if self.hdf5:
            return self.dataset(field, values)
        write_wide(self.folder / name, self.case.times if times is None else times,
                   self.ids, values)
        return {"file": name}

    def parameter(self, values: np.ndarray, field: str):
        """One number when every cell agrees, else a column of params.csv or a dataset."""
        values = np.asarray(values, dtype=np.float64)
        if np.all(values == values[0]):
            return float(values[0])
        if self.hdf5:
            return self.dataset(field, values)
        self.parameter_columns[field] = values
        return {"file": "params.csv", "column": field}

    def time_axis(self, times, name: str) -> dict:
        """start, periods and freq of a regular axis, else the file ``name``."""
        times = np.asarray(times, dtype="datetime64[D]")
        iso = np.datetime_as_string(times)
        for freq in FREQS:
            if np.array_equal(regular_times(times[0], len(times), freq), times):
                return {"start": iso[0], "periods": len(times), "freq": freq}
        return self.csv(name, {"time": iso})

    def cells(self) -> dict:
        c = self.case.cells
        n = len(self.ids)
        if (c.zone is None and np.array_equal(self.ids, np.arange(n).astype(str))
                and not np.any(c.x) and not np.any(c.y)):
            return {"count": n}
        columns = {"id": self.ids, "x": np.asarray(c.x, np.float64),
                   "y": np.asarray(c.y, np.float64)}
        if c.zone is not None:
            columns["zone"] = np.asarray(c.zone, dtype=str)
        return self.csv("cells.csv", columns)

    def aquifer(self, index: int, aquifer: Aquifer) -> list[tuple[str, dict]]:
        field = f"aquifers[{index}]"
        head = np.asarray(aquifer.head, dtype=np.float64)
        if np.all(head == head.flat[0]):
            head_value = float(head.flat[0])
        else:
            head_value = self.series(f"heads_{index}.csv", f"{field}.head", head)
        body = {"name": aquifer.name, "head": head_value}
        if aquifer.spinup_head is not None:
            body["spinup_head"] = self.series(f"spinup_heads_{index}.csv",
                                              f"{field}.spinup_head", aquifer.spinup_head,
                                              self.case.spinup_times)
        for key in ("top", "bottom"):
            if getattr(aquifer, key) is not None:
                body[key] = self.parameter(getattr(aquifer, key), f"{field}.{key}")
        if aquifer.confined is not None:
            body["confined"] = bool(aquifer.confined)
        sections = [("[[aquifers]]", body)]
        for number, interbed in enumerate(aquifer.interbeds):
            sections.append(("[[aquifers.interbeds]]",
                             self.material(interbed, f"{field}.interbeds[{number}]")))
        for kind in ("nodelay", "coarse"):
            if getattr(aquifer, kind) is not None:
                sections.append((f"[aquifers.{kind}]", self.material(getattr(aquifer, kind),
                                                                     f"{field}.{kind}")))
        return sections

    def material(self, material: Compressible, field: str) -> dict:
        body = {"storage": material.storage}
        for key in used_parameters(material.kind, material.storage):
            if getattr(material, key) is not None:
                body[key] = self.parameter(getattr(material, key), f"{field}.{key}")
        return body

    def observations(self) -> dict:
        obs = self.case.observations
        out = {}
        if obs.displacement is not None:
            out["displacement"] = self.series("displacement.csv", "observations.displacement",
                                              obs.displacement)
        for key, columns in (("extensometers", EXTENSOMETER_COLUMNS), ("wells", WELL_COLUMNS)):
            table = getattr(obs, key)
            if table is not None:
                out[key] = self.csv(f"{key}.csv", {c: self.spelled(c, table[c]) for c in columns})
        if obs.displacement_east is not None:
            out["displacement_east"] = self.series("displacement_east.csv",
                                                   "observations.displacement_east",
                                                   obs.displacement_east)
        return out

    def spelled(self, column: str, values) -> np.ndarray:
        """A record column as the files spell it: cell ids, aquifer names, ISO dates."""
        if column == "cell":
            return self.ids[values]
        if column == "aquifer":
            return np.asarray(self.case.aquifer_names, dtype=str)[values]
        if column == "time":
            return np.datetime_as_string(np.asarray(values, dtype="datetime64[D]"))
        return np.asarray(values)


def _toml_section(header: str, body: dict) -> str:
    lines = [header] if header else []
    lines += [f"{key} = {_toml_value(value)}" for key, value in body.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        # JSON string escapes are TOML's, except that TOML also wants DEL escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, float):
        return repr(value)
    return str(int(value))
