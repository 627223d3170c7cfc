"""Reading case files: a TOML manifest (schema 1, DESIGN.md) and the CSV or HDF5 files it
refers to, by paths relative to the manifest's folder.

``load_case`` validates everything before a solver sees it: unknown keys (with a
did-you-mean), types, per-cell values by the rules of ``engine.schema``, and the agreement
of cell ids, times and aquifer names across files. Every refusal is an InputError naming
the file that holds the bad value, the field (a dotted manifest path such as
``aquifers[1].interbeds[0].kv``, or a column of a table) and the value itself.

Writing is ``engine.casewrite.write_case``, re-exported here.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.case import (
    STORAGE_KINDS,
    Aquifer,
    Case,
    Cells,
    Compressible,
    Geostatic,
    Observations,
    Study,
)
from engine.casewrite import write_case
from engine.errors import InputError, suggest
from engine.manifest import ManifestValues, read_manifest, show
from engine.observations_io import SUGGEST_AMONG, ObservationReading
from engine.resources import case_bytes, check_memory
from engine.schema import (
    FREQS,
    MATERIAL_PARAMETERS,
    OPTIONAL_PARAMETERS,
    SCHEMA,
    both_preconsolidations,
    disorder,
    nothing_compressible,
    regular_times,
    spinup_overlap,
    study_refusal,
    violation,
)
from engine.tables import (
    dates,
    line_of,
    numbers,
    outside_case,
    quoted,
    read_hdf5,
    read_table,
    read_wide,
    strictly_increasing,
)

__all__ = ["load_case", "write_case"]

_TOP_KEYS = ("schema", "name", "description", "time", "spinup", "cells", "aquifers",
             "geostatic", "observations", "study")
_AQUIFER_KEYS = ("name", "head", "spinup_head", "top", "bottom", "confined", "interbeds",
                 "nodelay", "coarse")


@dataclass(frozen=True)
class _Origin:
    """Where a per-cell array came from, to name it in errors."""

    source: str
    field: str
    per_cell: bool  # read from a table (errors name the cell) rather than one manifest number


def load_case(path, *, allow_outside_case: bool = False) -> Case:
    """Read and validate the case manifest at ``path`` (see DESIGN.md, schema 1). The
    files it names must lie inside its folder unless ``allow_outside_case`` (or an
    enclosing ``engine.tables.outside_case``, as the command-line flag opens) allows more."""
    manifest = Path(path)
    with outside_case(allow_outside_case):
        return _Loader(manifest).case(read_manifest(manifest))


class _Loader(ObservationReading, ManifestValues):
    """Builds a Case from a parsed manifest; knows the manifest's folder, the cells and
    times read so far, and caches parameter tables shared by several fields."""

    def __init__(self, manifest: Path):
        super().__init__(manifest)
        self.ids: np.ndarray | None = None
        self.times: np.ndarray | None = None
        self.spinup_times: np.ndarray | None = None
        self.indices_users: list[str] = []  # fields of materials with storage = "indices"
        self._parameter_tables: dict[Path, tuple[pd.DataFrame, np.ndarray]] = {}

    # -- the case --------------------------------------------------------------------

    def case(self, raw: dict) -> Case:
        self.keys(raw, _TOP_KEYS, "")
        schema = self.required(raw, "schema", "")
        if isinstance(schema, bool) or schema != SCHEMA:
            self.fail("schema", f"{show(schema)} is not supported; this landsub reads "
                      f"schema {SCHEMA}")
        name = self.text(self.required(raw, "name", ""), "name")
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.fail("description", f"{show(description)} is not a string")
        aquifer_tables = raw.get("aquifers")
        self.n_aquifers = len(aquifer_tables) if isinstance(aquifer_tables, list) else 1
        self.times = self.time_axis(self.required(raw, "time", ""))
        if "spinup" in raw:
            self.keys(raw["spinup"], ("time",), "spinup")
            self.spinup_times = self.time_axis(self.required(raw["spinup"], "time", "spinup"),
                                               "spinup.time")
            overlap = spinup_overlap(self.spinup_times, self.times[0])
            if overlap:
                self.fail("spinup.time", overlap)
        cells = self.cells(self.required(raw, "cells", ""))
        self.ids = cells.ids
        aquifers = self.aquifers(self.required(raw, "aquifers", ""))
        nothing = nothing_compressible(name, aquifers)
        if nothing:
            self.fail("aquifers", nothing)
        geostatic = None
        if "geostatic" in raw:
            geostatic = self.geostatic(raw["geostatic"])
        elif self.indices_users:
            self.fail("geostatic", f'missing; storage = "indices" (in {self.indices_users[0]}) '
                      "needs a [geostatic] table with sgm and sgs")
        observations = Observations()
        if "observations" in raw:
            observations = self.observations(raw["observations"], [a.name for a in aquifers])
        study = self.study(raw["study"], [a.name for a in aquifers]) if "study" in raw else None
        return Case(name=name, times=self.times, cells=cells, aquifers=aquifers,
                    description=description, geostatic=geostatic, observations=observations,
                    source=str(self.manifest), spinup_times=self.spinup_times, study=study)

    def study(self, table, aquifer_names: list[str]) -> Study:
        self.keys(table, ("claims", "aquifers"), "study")
        claims = self.text(self.required(table, "claims", "study"), "study.claims")
        aquifers = table.get("aquifers")
        if aquifers is not None:
            if (not isinstance(aquifers, list) or not aquifers
                    or not all(isinstance(a, str) for a in aquifers)):
                self.fail("study.aquifers", f"{show(aquifers)} should be a list of aquifer "
                          "names")
            aquifers = tuple(aquifers)
        study = Study(claims, aquifers)
        broken = study_refusal(study, aquifer_names)
        if broken:
            self.fail(*broken)
        return study

    def time_axis(self, table, field: str = "time") -> np.ndarray:
        """A time axis: start, periods and freq, or a file (the case's [time], or the
        spin-up's, named by ``field``)."""
        self.keys(table, ("start", "periods", "freq", "file"), field)
        if "file" in table:
            for key in ("start", "periods", "freq"):
                if key in table:
                    self.fail(f"{field}.{key}", f"cannot be combined with {field}.file: give "
                              "either start, periods and freq or a file")
            path = self.file_reference(table, ("file",), field)
            times = dates(read_table(path, ("time",))["time"], path, 'column "time"')
            if len(times) == 0:
                raise InputError(path, 'column "time"', "no times (the file has a header only)")
            strictly_increasing(times, path, 'column "time"')
            return times
        start = self.required(table, "start", field)
        if isinstance(start, str):
            try:
                start = _dt.date.fromisoformat(start)
            except ValueError:
                self.fail(f"{field}.start", f"{show(start)} is not an ISO date (YYYY-MM-DD)")
        if not isinstance(start, _dt.date) or isinstance(start, _dt.datetime):
            self.fail(f"{field}.start", f"{show(start)} should be a date such as "
                      '"2000-01-01"')
        periods = self.required(table, "periods", field)
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            self.fail(f"{field}.periods", f"{show(periods)} should be a whole number >= 1")
        self.check_size(1, periods, f"{field}.periods")
        freq = self.required(table, "freq", field)
        if freq not in FREQS:
            self.fail(f"{field}.freq", f"{show(freq)} is not a known frequency"
                      f"{suggest(str(freq), FREQS)}; use one of {', '.join(FREQS)} "
                      "(days, month starts, year starts)")
        times = regular_times(np.datetime64(start, "D"), periods, freq)
        if times[0] != np.datetime64(start, "D"):
            self.fail(f"{field}.start", f'{start} is not a {"month" if freq == "MS" else "year"} '
                      f'start, as freq = "{freq}" requires')
        return times

    def cells(self, table) -> Cells:
        self.keys(table, ("count", "file"), "cells")
        if ("count" in table) == ("file" in table):
            self.fail("cells", "give exactly one of count = N or file = \"cells.csv\"")
        if "count" in table:
            count = table["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                self.fail("cells.count", f"{show(count)} should be a whole number >= 1")
            self.check_size(count, len(self.times), "cells.count")
            return Cells(np.arange(count).astype(str), np.zeros(count), np.zeros(count))
        path = self.file_reference(table, ("file",), "cells")
        frame = read_table(path, ("id", "x", "y"), ("zone",))
        if frame.empty:
            raise InputError(path, 'column "id"', "no cells (the file has a header only)")
        self.check_size(len(frame), len(self.times), "cells.file")
        ids = frame["id"].str.strip().to_numpy(dtype=str)
        for row, cell in enumerate(ids):
            if cell in ("", "time"):
                why = ' ("time" names the time column of wide tables)' if cell else ""
                raise InputError(path, 'column "id"',
                                 f'line {line_of(path, row)}: "{cell}" cannot be a cell id{why}')
        repeated = pd.Index(ids).duplicated()
        if repeated.any():
            row = int(np.argmax(repeated))
            first = int(np.flatnonzero(ids == ids[row])[0])
            raise InputError(path, 'column "id"', f'line {line_of(path, row)}: cell id '
                             f'"{ids[row]}" repeats line {line_of(path, first)}; ids must be '
                             "unique")
        xy = [self.finite_column(frame, name, path) for name in ("x", "y")]
        zone = frame["zone"].to_numpy(dtype=str) if "zone" in frame else None
        return Cells(ids, xy[0], xy[1], zone)

    def check_size(self, cells: int, times: int, field: str) -> None:
        """Refuse a case too big for memory before its arrays are made."""
        check_memory(case_bytes(cells, times, self.n_aquifers),
                     f"{cells} cells x {times} times x {self.n_aquifers} aquifer(s)",
                     self.manifest, field)

    def finite_column(self, frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
        values = numbers(frame[column], path)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(path, f'column "{column}"', f'line {line_of(path, row)}: '
                             f'"{frame[column].iloc[row]}" is missing or not a finite number')
        return values

    def aquifers(self, value) -> tuple[Aquifer, ...]:
        if isinstance(value, dict):
            self.fail("aquifers", "should be an array of tables: write [[aquifers]], one per "
                      "aquifer")
        if not isinstance(value, list) or not value:
            self.fail("aquifers", f"{show(value)} should be one or more [[aquifers]] tables")
        aquifers = []
        for index, table in enumerate(value):
            aquifers.append(self.aquifer(table, f"aquifers[{index}]", [a.name for a in aquifers]))
        return tuple(aquifers)

    def aquifer(self, table, field: str, taken: list[str]) -> Aquifer:
        self.keys(table, _AQUIFER_KEYS, field)
        name = self.text(self.required(table, "name", field), f"{field}.name")
        if name in taken:
            self.fail(f"{field}.name", f'"{name}" is already the name of '
                      f"aquifers[{taken.index(name)}]; aquifer names must be unique")
        head = self.head(self.required(table, "head", field), f"{field}.head")
        spinup_head = None
        if self.spinup_times is not None:
            spinup_head = self.head(self.required(table, "spinup_head", field),
                                    f"{field}.spinup_head", self.spinup_times)
        elif "spinup_head" in table:
            self.fail(f"{field}.spinup_head", "given without a [spinup] table: add [spinup] "
                      "with the spin-up's time axis")
        first_user = len(self.indices_users)
        interbeds = table.get("interbeds", [])
        if isinstance(interbeds, dict):
            interbeds = [self.material("interbeds", interbeds, f"{field}.interbeds")]
        elif isinstance(interbeds, list):
            interbeds = [self.material("interbeds", t, f"{field}.interbeds[{i}]")
                         for i, t in enumerate(interbeds)]
        else:
            self.fail(f"{field}.interbeds", f"{show(interbeds)} should be a table or an array "
                      "of tables")
        nodelay, coarse = (self.material(kind, table[kind], f"{field}.{kind}")
                           if kind in table else None for kind in ("nodelay", "coarse"))
        depth = self.parameters(table, ("top", "bottom"), field)
        confined = table.get("confined")
        if confined is not None and not isinstance(confined, bool):
            self.fail(f"{field}.confined", f"{show(confined)} should be true or false")
        users = self.indices_users[first_user:]
        for key in ("top", "bottom"):
            if users and key not in depth:
                self.fail(f"{field}.{key}", f'missing; storage = "indices" (in {users[0]}) '
                          "needs the aquifer's top and bottom depths below land surface (m)")
        return Aquifer(name=name, head=head, interbeds=tuple(interbeds), nodelay=nodelay,
                       coarse=coarse, top=depth.get("top"), bottom=depth.get("bottom"),
                       spinup_head=spinup_head, confined=confined)

    def material(self, kind: str, table, field: str) -> Compressible:
        always, specific, indices = MATERIAL_PARAMETERS[kind]
        self.keys(table, ("storage",) + always + specific + indices, field)
        storage = table.get("storage", "specific")
        if storage not in STORAGE_KINDS:
            self.fail(f"{field}.storage", f"{show(storage)} is not a storage kind"
                      f"{suggest(str(storage), STORAGE_KINDS)}; use one of "
                      f"{', '.join(STORAGE_KINDS)}")
        used, unused = (specific, indices) if storage == "specific" else (indices, specific)
        for key in unused:
            if key in table:
                self.fail(f"{field}.{key}", f"{key} = {show(table[key])} is not used with "
                          f'storage = "{storage}", which takes {", ".join(used)}')
        for key in always + used:
            if key not in OPTIONAL_PARAMETERS:
                self.required(table, key, field)
        both = both_preconsolidations(table)
        if both:
            self.fail(f"{field}.preconsolidation_offset", both)
        values = self.parameters(table, always + used, field)
        if kind == "interbeds" and "count" not in values:
            values["count"] = np.ones(len(self.ids))
        if storage == "indices":
            self.indices_users.append(field)
        return Compressible(kind=kind, storage=storage, **values)

    def parameters(self, table: dict, keys, field: str) -> dict[str, np.ndarray]:
        """The per-cell arrays of those ``keys`` present in ``table``, checked by the rules
        and orderings of engine.schema."""
        values, origins = {}, {}
        for key in keys:
            if key in table:
                values[key], origins[key] = self.parameter(table[key], f"{field}.{key}")
                broken = violation(key, values[key])
                if broken:
                    self.refuse(origins[key], *broken)
        broken = disorder(values)
        if broken:
            self.refuse(origins[broken[0]], *broken[1:])
        return values

    def refuse(self, origin: _Origin, cell: int, message: str):
        where = f'cell "{self.ids[cell]}": ' if origin.per_cell else ""
        raise InputError(origin.source, origin.field, where + message)

    def parameter(self, value, field: str) -> tuple[np.ndarray, _Origin]:
        """[N] float64 from a number (every cell), { file = "params.csv", column = "..." }
        or { file = "arrays.h5", dataset = "..." }."""
        n = len(self.ids)
        if not isinstance(value, dict):
            return np.full(n, self.number(value, field)), _Origin(str(self.manifest), field, False)
        if "dataset" in value:
            path = self.file_reference(value, ("file", "dataset"), field)
            values = read_hdf5(path, value["dataset"], (n,), self.manifest, f"{field}.dataset")
            origin = _Origin(str(path), f'dataset "{value["dataset"]}"', True)
            missing = np.isnan(values)
            if missing.any():
                self.refuse(origin, int(np.argmax(missing)), f"value nan; {field} needs a "
                            "number for every cell")
            return values, origin
        path = self.file_reference(value, ("file", "column"), field)
        column = self.text(self.required(value, "column", field), f"{field}.column")
        frame, rows = self.parameter_table(path)
        if column not in frame.columns or column == "id":
            columns = [c for c in frame.columns if c != "id"]
            self.fail(f"{field}.column", f'{path.name} has no column "{column}"'
                      f"{suggest(column, columns)}; its columns: {', '.join(columns) or 'only id'}")
        values = numbers(frame[column], path)[rows]
        missing = np.isnan(values)
        if missing.any():
            cell = int(np.argmax(missing))
            raise InputError(path, f'column "{column}"', f"line {line_of(path, rows[cell])} "
                             f'(cell "{self.ids[cell]}"): value '
                             f'"{frame[column].iloc[rows[cell]]}" is empty or NaN; {field} '
                             "needs a number for every cell")
        return values, _Origin(str(path), f'column "{column}"', True)

    def parameter_table(self, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
        """A parameter CSV and, for each case cell in order, its row (cached per file)."""
        if path not in self._parameter_tables:
            frame = read_table(path, ("id",), None)
            ids = pd.Index(frame["id"].str.strip())
            if ids.has_duplicates:
                row = int(np.argmax(ids.duplicated()))
                raise InputError(path, 'column "id"', f"line {line_of(path, row)}: cell id "
                                 f'"{ids[row]}" appears more than once')
            rows = ids.get_indexer(self.ids)
            absent = self.ids[rows < 0]
            if len(absent):
                raise InputError(path, 'column "id"', f"no row for cell id {quoted(absent, 5)} "
                                 f"({len(absent)} of {len(self.ids)} case cells missing)")
            self._parameter_tables[path] = (frame, rows)
        return self._parameter_tables[path]

    def head(self, value, field: str, times: np.ndarray | None = None) -> np.ndarray:
        """[N, T] heads (m above datum) on ``times`` (default: the case's) from a number,
        a wide CSV or an HDF5 dataset."""
        times = self.times if times is None else times
        shape = (len(self.ids), len(times))
        if not isinstance(value, dict):
            return np.full(shape, self.number(value, field))
        path = self.file_reference(value, ("file", "dataset"), field)
        if "dataset" in value:
            head = read_hdf5(path, value["dataset"], shape, self.manifest, f"{field}.dataset")
            bad = _first_gap(head)
            if bad:
                raise InputError(path, f'dataset "{value["dataset"]}"',
                                 f'cell "{self.ids[bad[0]]}" (index {bad[0]}), '
                                 f"{self._bad_head(head, bad, None, times)}")
            return head
        read_times, columns, values = self.wide_table(path)
        if not np.array_equal(read_times, times):
            self.mismatched_times(read_times, path, times)
        if columns == ["head"] and "head" not in self.ids:
            bad = _first_gap(values.T)
            if bad:
                raise InputError(path, 'column "head"',
                                 self._bad_head(values.T, bad, path, times))
            return np.repeat(values.T, shape[0], axis=0)
        order = self.column_cells(columns, path)
        absent = np.setdiff1d(np.arange(shape[0]), order)
        if len(absent):
            raise InputError(path, "(header)", f"no column for cell id "
                             f"{quoted(self.ids[absent], 5)}: a head table needs one "
                             "column per cell (or a single column \"head\")")
        head = np.empty(shape)
        head[order] = values.T
        bad = _first_gap(head)
        if bad:
            raise InputError(path, f'column "{self.ids[bad[0]]}"',
                             self._bad_head(head, bad, path, times))
        return head

    @staticmethod
    def _bad_head(head: np.ndarray, at: tuple[int, int], table: Path | None,
                  times: np.ndarray) -> str:
        """What is wrong with head[at] on ``times``; ``table`` is the wide CSV it came
        from (None for HDF5), whose line the message names."""
        value = float(head[at])
        what = "is empty or NaN" if math.isnan(value) else "is not finite"
        line = f" (line {line_of(table, at[1])})" if table is not None else ""
        return (f"time {times[at[1]]}{line}: head {value!r} {what}; every head must be a "
                "finite number (m above datum)")

    @staticmethod
    def wide_table(path: Path):
        times, columns, values = read_wide(path)
        strictly_increasing(times, path, 'column "time"')
        return times, columns, values

    def column_cells(self, columns: list[str], path: Path) -> np.ndarray:
        """The cell index of every column of a wide table, refusing unknown ids."""
        index = pd.Index(self.ids).get_indexer(columns)
        if (index < 0).any():
            unknown = columns[int(np.argmax(index < 0))]
            raise InputError(path, f'column "{unknown}"', f'"{unknown}" is not a cell id of the '
                             f"case{suggest(unknown, self.ids[:SUGGEST_AMONG])}")
        return index

    def mismatched_times(self, times: np.ndarray, path: Path, axis_times: np.ndarray):
        """Refuse a table whose times are not ``axis_times`` (the case's or the
        spin-up's)."""
        which = "spin-up" if axis_times is self.spinup_times else "case"
        axis = f"{len(axis_times)} times, {axis_times[0]} to {axis_times[-1]}"
        if len(times) != len(axis_times):
            raise InputError(path, 'column "time"', f"has {len(times)} rows; the {which} "
                             f"time axis has {axis}")
        row = int(np.argmax(times != axis_times))
        raise InputError(path, 'column "time"', f"line {line_of(path, row)}: {times[row]} where "
                         f"the {which} time axis ({axis}) has {axis_times[row]}")

    def geostatic(self, table) -> Geostatic:
        self.keys(table, ("sgm", "sgs", "land_surface"), "geostatic")
        gravity = {}
        for key in ("sgm", "sgs"):
            gravity[key] = self.number(self.required(table, key, "geostatic"), f"geostatic.{key}")
            broken = violation(key, np.array([gravity[key]]))
            if broken:
                self.fail(f"geostatic.{key}", broken[1])
        land = self.parameters(table, ("land_surface",), "geostatic")
        return Geostatic(land_surface=land.get("land_surface", np.zeros(len(self.ids))), **gravity)


def _first_gap(values: np.ndarray) -> tuple[int, int] | None:
    """(cell, time) of the first non-finite entry of [cells, times] ``values``, if any."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    cell, step = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return int(cell), int(step)
