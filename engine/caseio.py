"""Reading and writing case files: a TOML manifest (schema 1, DESIGN.md) and the CSV or
HDF5 files it refers to, by paths relative to the manifest's folder.

``load_case`` validates everything before a solver sees it: unknown keys (with a
did-you-mean), types, per-cell value ranges, and the agreement of cell ids, times and
aquifer names across files. Every refusal is an InputError naming the file that holds
the bad value, the field (a dotted manifest path such as ``aquifers[1].interbeds[0].kv``,
or a column of a table) and the value itself.

``write_case`` writes a manifest plus CSV files that ``load_case`` reads back to an
equal Case (floats in shortest round-trip repr, so exactly).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.case import STORAGE_KINDS, Aquifer, Case, Cells, Compressible, Geostatic, Observations
from engine.errors import InputError, suggest
from engine.tables import (dates, numbers, quoted, read_hdf5, read_table, read_wide,
                           resolve, strictly_increasing, write_wide)

SCHEMA = 1
FREQS = ("D", "MS", "YS")  # days, month starts, year starts

_TOP_KEYS = ("schema", "name", "description", "time", "cells", "aquifers", "geostatic",
             "observations")
_AQUIFER_KEYS = ("name", "head", "top", "bottom", "interbeds", "nodelay", "coarse")
_OBSERVATION_KEYS = ("displacement", "extensometers", "wells")
_EXTENSOMETER_COLUMNS = ("site", "cell", "aquifer", "time", "compaction")
_WELL_COLUMNS = ("well", "x", "y", "aquifer", "time", "head")
_SUGGEST_AMONG = 10_000  # did-you-mean looks at no more names: difflib over 100k takes seconds

# per kind: parameters always taken, those of storage "specific", those of storage "indices"
_MATERIAL_PARAMETERS = {
    "interbeds": (("thickness", "count", "kv", "preconsolidation_head"),
                  ("sske", "sskv"), ("cc", "cr", "void_ratio")),
    "nodelay": (("thickness", "preconsolidation_head"),
                ("sske", "sskv"), ("cc", "cr", "void_ratio")),
    "coarse": (("thickness",), ("sske",), ("cr", "void_ratio")),
}
_OPTIONAL_PARAMETERS = ("count", "preconsolidation_head")

# parameter -> (test every value must pass, what the test demands); all must be finite too
_RULES = {
    "thickness": (lambda v: v > 0, "must be > 0 (m)"),
    "count": (lambda v: v >= 1, "must be >= 1 (number of equivalent beds)"),
    "kv": (lambda v: v > 0, "must be > 0 (m/d)"),
    "sske": (lambda v: v > 0, "must be > 0 (1/m)"),
    "sskv": (lambda v: v > 0, "must be > 0 (1/m)"),
    "cc": (lambda v: v > 0, "must be > 0"),
    "cr": (lambda v: v > 0, "must be > 0"),
    "void_ratio": (lambda v: v > 0, "must be > 0"),
    "top": (lambda v: v >= 0, "must be >= 0 (m below land surface)"),
    "bottom": (lambda v: v > 0, "must be > 0 (m below land surface)"),
}
# (larger, smaller, strictly, why): cell by cell, larger >= smaller (> when strictly)
_ORDERED_PAIRS = (
    ("sskv", "sske", False, "virgin (inelastic) storage below elastic storage is unphysical"),
    ("cc", "cr", False, "a compression index below the recompression index is unphysical"),
    ("bottom", "top", True, "an aquifer's bottom must lie deeper than its top"),
)


def regular_times(start: np.datetime64, periods: int, freq: str) -> np.ndarray:
    """``periods`` datetime64[D] times from ``start`` every day ("D"), month start ("MS")
    or year start ("YS"); with "MS"/"YS" a ``start`` inside a month/year counts from the
    start of that month/year."""
    steps = np.arange(periods)
    start = np.datetime64(start, "D")
    if freq == "D":
        return start + steps
    unit = {"MS": "M", "YS": "Y"}[freq]
    return (np.datetime64(start, unit) + steps).astype("datetime64[D]")


@dataclass(frozen=True)
class _Origin:
    """Where a per-cell array came from, to name it in errors."""

    source: str
    field: str
    per_cell: bool  # read from a table (errors name the cell) rather than one manifest number


def load_case(path) -> Case:
    """Read and validate the case manifest at ``path`` (see DESIGN.md, schema 1)."""
    manifest = Path(path)
    return _Loader(manifest).case(_read_manifest(manifest))


def _read_manifest(manifest: Path) -> dict:
    try:
        raw = manifest.read_bytes()
    except OSError as e:
        why = ("does not exist" if isinstance(e, FileNotFoundError)
               else f"cannot be read: {e.strerror}")
        raise InputError(manifest, "(file)", f"the case manifest {why}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(manifest, "(file)", f"not UTF-8 text (byte 0x{raw[e.start]:02x} at "
                         f"offset {e.start}); a case manifest is a TOML text file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(manifest, "(syntax)", f"not valid TOML: {e}") from None


def _show(value) -> str:
    """A manifest value as it is spelled in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table {" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _join(field: str, key) -> str:
    return f"{field}.{key}" if field else str(key)


class _Loader:
    """Builds a Case from a parsed manifest; knows the manifest's folder, the cells and
    times read so far, and caches parameter tables shared by several fields."""

    def __init__(self, manifest: Path):
        self.manifest = manifest
        self.folder = manifest.parent
        self.ids: np.ndarray | None = None
        self.times: np.ndarray | None = None
        self.indices_users: list[str] = []  # fields of materials with storage = "indices"
        self._parameter_tables: dict[Path, tuple[pd.DataFrame, np.ndarray]] = {}

    # -- manifest values -------------------------------------------------------------

    def fail(self, field: str, message: str):
        raise InputError(self.manifest, field, message)

    def keys(self, table, allowed, field: str) -> dict:
        if not isinstance(table, dict):
            self.fail(field, f"{_show(table)} should be a table with keys {', '.join(allowed)}")
        for key in table:
            if key not in allowed:
                self.fail(_join(field, key), f'unknown key "{key}"{suggest(key, allowed)}; '
                          f"allowed here: {', '.join(allowed)}")
        return table

    def required(self, table: dict, key: str, field: str):
        if key not in table:
            self.fail(_join(field, key), f'missing required key "{key}"'
                      + (f" in [{field}]" if field else ""))
        return table[key]

    def number(self, value, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"{_show(value)} is not a number")
        if not math.isfinite(value):
            self.fail(field, f"{value!r} is not a finite number")
        return float(value)

    def text(self, value, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"{_show(value)} should be a non-empty string")
        return value

    def file_reference(self, value, allowed, field: str) -> Path:
        """The file named by an inline table such as { file = "heads.csv" }."""
        self.keys(value, allowed, field)
        name = self.required(value, "file", field)
        return resolve(self.folder, name, self.manifest, f"{field}.file")

    # -- the case --------------------------------------------------------------------

    def case(self, raw: dict) -> Case:
        self.keys(raw, _TOP_KEYS, "")
        schema = self.required(raw, "schema", "")
        if isinstance(schema, bool) or schema != SCHEMA:
            self.fail("schema", f"{_show(schema)} is not supported; this landsub reads "
                      f"schema {SCHEMA}")
        name = self.text(self.required(raw, "name", ""), "name")
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.fail("description", f"{_show(description)} is not a string")
        self.times = self.time_axis(self.required(raw, "time", ""))
        cells = self.cells(self.required(raw, "cells", ""))
        self.ids = cells.ids
        aquifers = self.aquifers(self.required(raw, "aquifers", ""))
        geostatic = None
        if "geostatic" in raw:
            geostatic = self.geostatic(raw["geostatic"])
        elif self.indices_users:
            self.fail("geostatic", f'missing; storage = "indices" (in {self.indices_users[0]}) '
                      "needs a [geostatic] table with sgm and sgs")
        observations = Observations()
        if "observations" in raw:
            observations = self.observations(raw["observations"], [a.name for a in aquifers])
        return Case(name=name, times=self.times, cells=cells, aquifers=aquifers,
                    description=description, geostatic=geostatic, observations=observations,
                    source=str(self.manifest))

    def time_axis(self, table) -> np.ndarray:
        self.keys(table, ("start", "periods", "freq", "file"), "time")
        if "file" in table:
            for key in ("start", "periods", "freq"):
                if key in table:
                    self.fail(f"time.{key}", "cannot be combined with time.file: give either "
                              "start, periods and freq or a file")
            path = self.file_reference(table, ("file",), "time")
            times = dates(read_table(path, ("time",))["time"], path, 'column "time"')
            if len(times) == 0:
                raise InputError(path, 'column "time"', "no times (the file has a header only)")
            strictly_increasing(times, path, 'column "time"')
            return times
        start = self.required(table, "start", "time")
        if isinstance(start, str):
            try:
                start = _dt.date.fromisoformat(start)
            except ValueError:
                self.fail("time.start", f"{_show(start)} is not an ISO date (YYYY-MM-DD)")
        if not isinstance(start, _dt.date) or isinstance(start, _dt.datetime):
            self.fail("time.start", f"{_show(start)} should be a date such as \"2000-01-01\"")
        periods = self.required(table, "periods", "time")
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            self.fail("time.periods", f"{_show(periods)} should be a whole number >= 1")
        freq = self.required(table, "freq", "time")
        if freq not in FREQS:
            self.fail("time.freq", f"{_show(freq)} is not a known frequency"
                      f"{suggest(str(freq), FREQS)}; use one of {', '.join(FREQS)} "
                      "(days, month starts, year starts)")
        times = regular_times(np.datetime64(start, "D"), periods, freq)
        if times[0] != np.datetime64(start, "D"):
            self.fail("time.start", f'{start} is not a {"month" if freq == "MS" else "year"} '
                      f'start, as freq = "{freq}" requires')
        return times

    def cells(self, table) -> Cells:
        self.keys(table, ("count", "file"), "cells")
        if ("count" in table) == ("file" in table):
            self.fail("cells", "give exactly one of count = N or file = \"cells.csv\"")
        if "count" in table:
            count = table["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                self.fail("cells.count", f"{_show(count)} should be a whole number >= 1")
            return Cells(np.arange(count).astype(str), np.zeros(count), np.zeros(count))
        path = self.file_reference(table, ("file",), "cells")
        frame = read_table(path, ("id", "x", "y"), ("zone",))
        if frame.empty:
            raise InputError(path, 'column "id"', "no cells (the file has a header only)")
        ids = frame["id"].str.strip().to_numpy(dtype=str)
        for row, cell in enumerate(ids):
            if cell in ("", "time"):
                why = ' ("time" names the time column of wide tables)' if cell else ""
                raise InputError(path, 'column "id"',
                                 f'row {row + 1}: "{cell}" cannot be a cell id{why}')
        repeated = pd.Index(ids).duplicated()
        if repeated.any():
            row = int(np.argmax(repeated))
            first = int(np.flatnonzero(ids == ids[row])[0])
            raise InputError(path, 'column "id"', f'row {row + 1}: cell id "{ids[row]}" repeats '
                             f"row {first + 1}; ids must be unique")
        xy = [self.finite_column(frame, name, path) for name in ("x", "y")]
        zone = frame["zone"].to_numpy(dtype=str) if "zone" in frame else None
        return Cells(ids, xy[0], xy[1], zone)

    def finite_column(self, frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
        values = numbers(frame[column], path)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(path, f'column "{column}"', f'row {row + 1}: '
                             f'"{frame[column].iloc[row]}" is missing or not a finite number')
        return values

    def aquifers(self, value) -> tuple[Aquifer, ...]:
        if isinstance(value, dict):
            self.fail("aquifers", "should be an array of tables: write [[aquifers]], one per "
                      "aquifer")
        if not isinstance(value, list) or not value:
            self.fail("aquifers", f"{_show(value)} should be one or more [[aquifers]] tables")
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
        first_user = len(self.indices_users)
        interbeds = table.get("interbeds", [])
        if isinstance(interbeds, dict):
            interbeds = [self.material("interbeds", interbeds, f"{field}.interbeds")]
        elif isinstance(interbeds, list):
            interbeds = [self.material("interbeds", t, f"{field}.interbeds[{i}]")
                         for i, t in enumerate(interbeds)]
        else:
            self.fail(f"{field}.interbeds", f"{_show(interbeds)} should be a table or an array "
                      "of tables")
        nodelay, coarse = (self.material(kind, table[kind], f"{field}.{kind}")
                           if kind in table else None for kind in ("nodelay", "coarse"))
        depth = self.parameters(table, ("top", "bottom"), field)
        users = self.indices_users[first_user:]
        for key in ("top", "bottom"):
            if users and key not in depth:
                self.fail(f"{field}.{key}", f'missing; storage = "indices" (in {users[0]}) '
                          "needs the aquifer's top and bottom depths below land surface (m)")
        return Aquifer(name=name, head=head, interbeds=tuple(interbeds), nodelay=nodelay,
                       coarse=coarse, top=depth.get("top"), bottom=depth.get("bottom"))

    def material(self, kind: str, table, field: str) -> Compressible:
        always, specific, indices = _MATERIAL_PARAMETERS[kind]
        self.keys(table, ("storage",) + always + specific + indices, field)
        storage = table.get("storage", "specific")
        if storage not in STORAGE_KINDS:
            self.fail(f"{field}.storage", f"{_show(storage)} is not a storage kind"
                      f"{suggest(str(storage), STORAGE_KINDS)}; use one of "
                      f"{', '.join(STORAGE_KINDS)}")
        used, unused = (specific, indices) if storage == "specific" else (indices, specific)
        for key in unused:
            if key in table:
                self.fail(f"{field}.{key}", f"{key} = {_show(table[key])} is not used with "
                          f'storage = "{storage}", which takes {", ".join(used)}')
        for key in always + used:
            if key not in _OPTIONAL_PARAMETERS:
                self.required(table, key, field)
        values = self.parameters(table, always + used, field)
        if kind == "interbeds" and "count" not in values:
            values["count"] = np.ones(len(self.ids))
        if storage == "indices":
            self.indices_users.append(field)
        return Compressible(kind=kind, storage=storage, **values)

    def parameters(self, table: dict, keys, field: str) -> dict[str, np.ndarray]:
        """The per-cell arrays of those ``keys`` present in ``table``, checked by
        _RULES and _ORDERED_PAIRS."""
        values, origins = {}, {}
        for key in keys:
            if key in table:
                values[key], origins[key] = self.parameter(table[key], f"{field}.{key}")
                self.check(key, values[key], origins[key], *_RULES.get(key, (None, "")))
        for larger, smaller, strictly, why in _ORDERED_PAIRS:
            if larger in values and smaller in values:
                ok = (values[larger] > values[smaller] if strictly
                      else values[larger] >= values[smaller])
                if not ok.all():
                    cell = int(np.argmin(ok))
                    origin = origins[larger]
                    where = f'cell "{self.ids[cell]}": ' if origin.per_cell else ""
                    raise InputError(origin.source, origin.field, f"{where}{larger} = "
                                     f"{float(values[larger][cell])!r} must be "
                                     f"{'>' if strictly else '>='} {smaller} = "
                                     f"{float(values[smaller][cell])!r}: {why}")
        return values

    def check(self, name: str, values: np.ndarray, origin: _Origin, test, demand: str) -> None:
        bad = ~np.isfinite(values)
        if test is not None:
            bad |= ~test(values)
        if bad.any():
            cell = int(np.argmax(bad))
            value = float(values[cell])
            where = f'cell "{self.ids[cell]}": ' if origin.per_cell else ""
            demand = demand if math.isfinite(value) else "must be a finite number"
            raise InputError(origin.source, origin.field, f"{where}{name} = {value!r} {demand}")

    def parameter(self, value, field: str) -> tuple[np.ndarray, _Origin]:
        """[N] float64 from a number (every cell) or { file = "params.csv", column = "..." }."""
        n = len(self.ids)
        if not isinstance(value, dict):
            return np.full(n, self.number(value, field)), _Origin(str(self.manifest), field, False)
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
            raise InputError(path, f'column "{column}"', f'row {rows[cell] + 1} (cell '
                             f'"{self.ids[cell]}"): value "{frame[column].iloc[rows[cell]]}" '
                             f"is empty or NaN; {field} needs a number for every cell")
        return values, _Origin(str(path), f'column "{column}"', True)

    def parameter_table(self, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
        """A parameter CSV and, for each case cell in order, its row (cached per file)."""
        if path not in self._parameter_tables:
            frame = read_table(path, ("id",), None)
            ids = pd.Index(frame["id"].str.strip())
            if ids.has_duplicates:
                row = int(np.argmax(ids.duplicated()))
                raise InputError(path, 'column "id"', f'row {row + 1}: cell id "{ids[row]}" '
                                 "appears more than once")
            rows = ids.get_indexer(self.ids)
            absent = self.ids[rows < 0]
            if len(absent):
                raise InputError(path, 'column "id"', f"no row for cell id {quoted(absent, 5)} "
                                 f"({len(absent)} of {len(self.ids)} case cells missing)")
            self._parameter_tables[path] = (frame, rows)
        return self._parameter_tables[path]

    def head(self, value, field: str) -> np.ndarray:
        """[N, T] heads (m above datum) from a number, a wide CSV or an HDF5 dataset."""
        shape = (len(self.ids), len(self.times))
        if not isinstance(value, dict):
            return np.full(shape, self.number(value, field))
        path = self.file_reference(value, ("file", "dataset"), field)
        if "dataset" in value:
            head = read_hdf5(path, value["dataset"], shape, self.manifest, f"{field}.dataset")
            bad = _first_gap(head)
            if bad:
                raise InputError(path, f'dataset "{value["dataset"]}"',
                                 f'cell "{self.ids[bad[0]]}" (index {bad[0]}), '
                                 f"{self._bad_head(head, bad)}")
            return head
        times, columns, values = self.wide_table(path)
        if not np.array_equal(times, self.times):
            self.mismatched_times(times, path)
        if columns == ["head"] and "head" not in self.ids:
            bad = _first_gap(values.T)
            if bad:
                raise InputError(path, 'column "head"', self._bad_head(values.T, bad))
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
            raise InputError(path, f'column "{self.ids[bad[0]]}"', self._bad_head(head, bad))
        return head

    def _bad_head(self, head: np.ndarray, at: tuple[int, int]) -> str:
        value = float(head[at])
        what = "is empty or NaN" if math.isnan(value) else "is not finite"
        return (f"time {self.times[at[1]]} (row {at[1] + 1}): head {value!r} {what}; every head "
                "must be a finite number (m above datum)")

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
                             f"case{suggest(unknown, self.ids[:_SUGGEST_AMONG])}")
        return index

    def mismatched_times(self, times: np.ndarray, path: Path):
        axis = f"{len(self.times)} times, {self.times[0]} to {self.times[-1]}"
        if len(times) != len(self.times):
            raise InputError(path, 'column "time"', f"has {len(times)} rows; the case time "
                             f"axis has {axis}")
        row = int(np.argmax(times != self.times))
        raise InputError(path, 'column "time"', f"row {row + 1}: {times[row]} where the case "
                         f"time axis ({axis}) has {self.times[row]}")

    def geostatic(self, table) -> Geostatic:
        self.keys(table, ("sgm", "sgs", "land_surface"), "geostatic")
        gravity = {}
        for key in ("sgm", "sgs"):
            gravity[key] = self.number(self.required(table, key, "geostatic"), f"geostatic.{key}")
            if gravity[key] <= 0:
                self.fail(f"geostatic.{key}", f"{gravity[key]!r} must be > 0 (a specific gravity)")
        land = self.parameters(table, ("land_surface",), "geostatic")
        return Geostatic(land_surface=land.get("land_surface", np.zeros(len(self.ids))), **gravity)

    # -- observations ----------------------------------------------------------------

    def observations(self, table, aquifer_names: list[str]) -> Observations:
        self.keys(table, _OBSERVATION_KEYS, "observations")
        found = {}
        if "displacement" in table:
            found["displacement"] = self.displacement(table["displacement"])
        for key, columns in (("extensometers", _EXTENSOMETER_COLUMNS), ("wells", _WELL_COLUMNS)):
            if key in table:
                path = self.file_reference(table[key], ("file",), f"observations.{key}")
                found[key] = self.records(path, columns, aquifer_names)
        return Observations(**found)

    def displacement(self, value) -> np.ndarray:
        """[N, T] m up positive, NaN where not observed."""
        field = "observations.displacement"
        path = self.file_reference(value, ("file", "dataset"), field)
        shape = (len(self.ids), len(self.times))
        if "dataset" in value:
            observed = read_hdf5(path, value["dataset"], shape, self.manifest, f"{field}.dataset")
        else:
            times, columns, values = self.wide_table(path)
            steps = np.searchsorted(self.times, times)
            last = len(self.times) - 1
            outside = (steps > last) | (self.times[np.minimum(steps, last)] != times)
            if outside.any():
                row = int(np.argmax(outside))
                raise InputError(path, 'column "time"', f"row {row + 1}: {times[row]} is not a "
                                 f"time of the case axis ({self.times[0]} to {self.times[-1]}, "
                                 f"{len(self.times)} times); observations must fall on case times")
            observed = np.full(shape, np.nan)
            observed[np.ix_(self.column_cells(columns, path), steps)] = values.T
        infinite = np.isinf(observed)
        if infinite.any():
            cell, step = np.unravel_index(int(np.argmax(infinite)), shape)
            where = (f'dataset "{value["dataset"]}"' if "dataset" in value
                     else f'column "{self.ids[cell]}"')
            raise InputError(path, where, f'cell "{self.ids[cell]}", time {self.times[step]}: '
                             f"displacement {float(observed[cell, step])!r} is not finite")
        return observed

    def records(self, path: Path, columns, aquifer_names: list[str]) -> dict:
        """A long observation table as a dict of equal-length arrays (see Observations)."""
        frame = read_table(path, columns, ())
        out = {}
        for column in columns:
            if column in ("site", "well"):
                out[column] = frame[column].to_numpy(dtype=str)
            elif column == "cell":
                out[column] = self.lookup(frame[column], self.ids, path, "a cell id")
            elif column == "aquifer":
                out[column] = self.lookup(frame[column], aquifer_names, path, "an aquifer name")
            elif column == "time":
                out[column] = dates(frame[column], path, 'column "time"')
            else:
                out[column] = self.finite_column(frame, column, path)
        return out

    @staticmethod
    def lookup(column: pd.Series, names, path: Path, what: str) -> np.ndarray:
        """Positions in ``names`` of each entry, refusing one that is not there."""
        text = column.str.strip()
        index = pd.Index(names).get_indexer(text)
        if (index < 0).any():
            row = int(np.argmax(index < 0))
            raise InputError(path, f'column "{column.name}"', f'row {row + 1}: "{text.iloc[row]}" '
                             f"is not {what} of the case"
                             f"{suggest(text.iloc[row], names[:_SUGGEST_AMONG])}")
        return index.astype(np.int64)


def _first_gap(values: np.ndarray) -> tuple[int, int] | None:
    """(cell, time) of the first non-finite entry of [cells, times] ``values``, if any."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    cell, step = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return int(cell), int(step)


# -- writing ---------------------------------------------------------------------------


def write_case(case: Case, directory, name: str = "case.toml") -> Path:
    """Write ``case`` as ``directory/name`` plus CSV files beside it; returns the manifest path.

    Arrays equal at every cell (and time) become one number in the manifest; the others go
    to CSV: times.csv (an irregular axis), cells.csv, heads_<a>.csv (wide, one per aquifer),
    params.csv (one column per varying parameter, named by its field) and the observations.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return _Writer(case, folder).write(name)


class _Writer:
    def __init__(self, case: Case, folder: Path):
        self.case = case
        self.folder = folder
        self.ids = np.asarray(case.cells.ids, dtype=str)
        self.iso = np.datetime_as_string(np.asarray(case.times, dtype="datetime64[D]"))
        self.parameter_columns: dict[str, np.ndarray] = {}

    def write(self, name: str) -> Path:
        case = self.case
        top = {"schema": SCHEMA, "name": case.name}
        if case.description:
            top["description"] = case.description
        sections = [("", top), ("[time]", self.time_axis()), ("[cells]", self.cells())]
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
        if self.parameter_columns:
            self.csv("params.csv", {"id": self.ids, **self.parameter_columns})
        path = self.folder / name
        path.write_text("\n".join(_toml_section(header, body) for header, body in sections),
                        encoding="utf-8")
        return path

    def csv(self, name: str, columns: dict) -> dict:
        pd.DataFrame(columns).to_csv(self.folder / name, index=False, na_rep="")
        return {"file": name}

    def wide_csv(self, name: str, values: np.ndarray) -> dict:
        write_wide(self.folder / name, self.case.times, self.ids, values)
        return {"file": name}

    def parameter(self, values: np.ndarray, column: str):
        """One number when every cell agrees, else a column of params.csv."""
        values = np.asarray(values, dtype=np.float64)
        if np.all(values == values[0]):
            return float(values[0])
        self.parameter_columns[column] = values
        return {"file": "params.csv", "column": column}

    def time_axis(self) -> dict:
        times = np.asarray(self.case.times, dtype="datetime64[D]")
        for freq in FREQS:
            if np.array_equal(regular_times(times[0], len(times), freq), times):
                return {"start": self.iso[0], "periods": len(times), "freq": freq}
        return self.csv("times.csv", {"time": self.iso})

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
            head_value = self.wide_csv(f"heads_{index}.csv", head)
        body = {"name": aquifer.name, "head": head_value}
        for key in ("top", "bottom"):
            if getattr(aquifer, key) is not None:
                body[key] = self.parameter(getattr(aquifer, key), f"{field}.{key}")
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
        always, specific, indices = _MATERIAL_PARAMETERS[material.kind]
        body = {"storage": material.storage}
        for key in always + (specific if material.storage == "specific" else indices):
            if getattr(material, key) is not None:
                body[key] = self.parameter(getattr(material, key), f"{field}.{key}")
        return body

    def observations(self) -> dict:
        obs = self.case.observations
        out = {}
        if obs.displacement is not None:
            out["displacement"] = self.wide_csv("displacement.csv", obs.displacement)
        for key, columns in (("extensometers", _EXTENSOMETER_COLUMNS), ("wells", _WELL_COLUMNS)):
            table = getattr(obs, key)
            if table is not None:
                out[key] = self.csv(f"{key}.csv", {c: self.spelled(c, table[c]) for c in columns})
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
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        # JSON string escapes are TOML's, except that TOML also wants DEL escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, float):
        return repr(value)
    return str(int(value))
