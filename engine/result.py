"""The result of one solver on one case: displacement [N, T] (m, up positive) and,
where the solver resolves it, compaction per aquifer [A, N, T] (m, shortening positive).

Stored as netCDF4-compatible HDF5 written through h5netcdf (DESIGN.md, "Result"), so
``xarray.open_dataset(path, engine="h5netcdf", group=...)`` opens it. A benchmark file
holds one such dataset per solver, each in its own group. Every write is atomic
(``engine.atomic``): a crash never leaves a half-written or a lost file. The HDF5 file is
built in memory and written as bytes: an HDF5 write that fails on a full disk leaves the
library's state broken (an error on close, then a crash at exit), a plain write of bytes
only raises an error naming the file.

Times are CF dates: whole days since the first time, with ``units = "days since
YYYY-MM-DD"`` and ``calendar = "proleptic_gregorian"``, so that xarray decodes them to
datetime64. Files of schema_version 1 held ISO date strings; ``read_result`` reads both.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import h5netcdf
import h5py
import numpy as np

from engine import __version__
from engine.atomic import write_bytes
from engine.errors import InputError, SolverError

#: 2: time as CF dates (1: ISO date strings, still read); a landsub that reads only 1
#: refuses a 2 by name instead of misreading its numeric times
RESULT_SCHEMA_VERSION = 2
TIME_CALENDAR = "proleptic_gregorian"
# the calendars that agree with numpy's datetime64 (proleptic Gregorian) on every date
# a result can hold, i.e. after 1582
_CALENDARS = (TIME_CALENDAR, "standard", "gregorian")
_DAYS_SINCE = re.compile(r"^\s*days since (\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00)?)?\s*$")

#: Largest displacement or compaction a result may hold, m. The deepest subsidence
#: measured anywhere is about 10 m and no land surface rises or sinks by a kilometre:
#: a value beyond this is a solver fed absurd input, never a prediction to keep.
MAX_ABS_DISPLACEMENT_M = 1e3

_STRING = h5py.string_dtype()
_REQUIRED_VARIABLES = ("time", "cell", "x", "y", "displacement")
_REQUIRED_ATTRS = ("schema_version", "solver", "kind", "case")


@dataclass
class Result:
    solver: str
    kind: str                       # "physics" | "ml" | "hybrid"
    case: str                       # case name
    times: np.ndarray               # [T] datetime64[D]
    cell_ids: np.ndarray            # [N] str
    x: np.ndarray                   # [N] m
    y: np.ndarray                   # [N] m
    displacement: np.ndarray        # [N, T] m, positive up
    compaction: np.ndarray | None = None   # [A, N, T] m, positive = shortening
    aquifers: list[str] | None = None      # [A] names, required with compaction
    options: dict = field(default_factory=dict)
    split: dict | None = None
    wall_seconds: float = 0.0
    landsub_version: str = __version__
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc)
                         .isoformat(timespec="seconds"))

    @classmethod
    def for_case(cls, case, solver: str, kind: str, displacement, **kw) -> "Result":
        """A result on ``case``'s cells and times."""
        return cls(solver=solver, kind=kind, case=case.name, times=case.times,
                   cell_ids=case.cells.ids, x=case.cells.x, y=case.cells.y,
                   displacement=np.asarray(displacement, dtype=np.float64),
                   aquifers=kw.pop("aquifers", case.aquifer_names), **kw)

    def write(self, path, group: str | None = None) -> None:
        write_result(self, path, group)

    @classmethod
    def read(cls, path, group: str | None = None) -> "Result":
        return read_result(path, group)


def write_result(result: Result, path, group: str | None = None) -> None:
    """Store ``result`` at ``path``.

    With ``group=None`` the file holds this one result at its root and any previous
    file at ``path`` is replaced. With a group name the result goes into that group
    (one group per solver in a benchmark file); the other groups of an existing file
    are kept and a group of the same name is replaced.
    """
    path = Path(path)
    buffer = io.BytesIO(path.read_bytes() if group is not None and path.exists() else b"")
    add_result(buffer, result, group, path)
    write_bytes(path, buffer.getbuffer())


def add_result(buffer: io.BytesIO, result: Result, group: str | None, path) -> None:
    """Add ``result`` to the HDF5 file held in ``buffer`` (empty: a new file), at its root
    or as ``group`` (replacing a group of that name); ``path`` names the file in errors."""
    check_values(result, path)
    if group is not None and (not group or "/" in group or group in (".", "..")):
        raise InputError(path, "group", f'"{group}" is not a valid group name '
                                        '(non-empty, no "/")')
    keep_existing = buffer.getbuffer().nbytes > 0
    if keep_existing:
        # h5netcdf cannot delete; a replaced group's old bytes stay unreachable
        try:
            raw = h5py.File(buffer, "a")
        except OSError:
            raise InputError(path, "(file)", "exists and is not a netCDF4/HDF5 file; "
                             f'not adding group "{group}" to it') from None
        with raw:
            if group in raw:
                del raw[group]
    with h5netcdf.File(buffer, "a" if keep_existing else "w") as f:
        _write_dataset(f if group is None else f.create_group(group), result)


def check_values(result: Result, path) -> None:
    """Refuse a result whose displacement or compaction is not finite or beyond
    MAX_ABS_DISPLACEMENT_M, naming the first cells and times, before anything is written
    to ``path``: a result file is finite and physically possible, or absent."""
    for name in ("displacement", "compaction"):
        values = getattr(result, name)
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64)
        for what, bad in (("not finite", ~np.isfinite(values)),
                          (f"beyond {MAX_ABS_DISPLACEMENT_M:g} m in size",
                           np.abs(np.nan_to_num(values)) > MAX_ABS_DISPLACEMENT_M)):
            if not bad.any():
                continue
            where = np.argwhere(bad.reshape(-1, bad.shape[-1]))
            cells = np.asarray(result.cell_ids)
            shown = ", ".join(f'cell "{cells[i % len(cells)]}" at {result.times[j]}'
                              for i, j in where[:3])
            example = values.reshape(-1, bad.shape[-1])[tuple(where[0])]
            raise SolverError(f"{result.solver}: {name} is {what} at {len(where)} of "
                              f"{values.size} values ({shown}{', ...' if len(where) > 3 else ''};"
                              f" e.g. {float(example)!r} m); the input holds values no "
                              f"physical case has; nothing written to {path}")


def _write_dataset(g, r: Result) -> None:
    n, t = len(r.cell_ids), len(r.times)
    displacement = np.asarray(r.displacement, dtype=np.float64)
    if displacement.shape != (n, t):
        raise ValueError(f"result displacement has shape {displacement.shape}, "
                         f"expected (cells, times) = ({n}, {t})")
    aquifers = list(r.aquifers or [])
    if r.compaction is not None and np.shape(r.compaction) != (len(aquifers), n, t):
        raise ValueError(f"result compaction has shape {np.shape(r.compaction)}, "
                         f"expected (aquifers, cells, times) = ({len(aquifers)}, {n}, {t})")

    g.dimensions["time"] = t
    g.dimensions["cell"] = n
    write_time(g, r.times)
    g.create_variable("cell", ("cell",), dtype=_STRING,
                      data=np.array([str(c) for c in r.cell_ids], dtype=object))
    for name, values in (("x", r.x), ("y", r.y)):
        v = g.create_variable(name, ("cell",), data=np.asarray(values, dtype=np.float64))
        v.attrs["units"] = "m"
    v = g.create_variable("displacement", ("cell", "time"), data=displacement)
    v.attrs.update(units="m", positive="up", coordinates="x y")
    if aquifers:
        g.dimensions["aquifer"] = len(aquifers)
        g.create_variable("aquifer", ("aquifer",), dtype=_STRING,
                          data=np.array(aquifers, dtype=object))
    if r.compaction is not None:
        v = g.create_variable("compaction", ("aquifer", "cell", "time"),
                              data=np.asarray(r.compaction, dtype=np.float64))
        v.attrs.update(units="m", positive="shortening", coordinates="x y")
    g.attrs.update(
        schema_version=RESULT_SCHEMA_VERSION,
        solver=r.solver,
        kind=r.kind,
        case=r.case,
        options=json.dumps(r.options, sort_keys=True),
        split=json.dumps(r.split, sort_keys=True),
        wall_seconds=float(r.wall_seconds),
        landsub_version=r.landsub_version,
        created=r.created,
    )


def write_time(g, times) -> None:
    """The ``time`` coordinate of the netCDF group ``g`` (its dimension ``time`` made) as
    CF dates: whole days since the first of ``times``, with units and calendar."""
    days = np.asarray(times).astype("datetime64[D]")
    v = g.create_variable("time", ("time",), data=(days - days[0]).astype(np.int64))
    v.attrs.update(units=f"days since {days[0]}", calendar=TIME_CALENDAR, standard_name="time")


def read_time(variable, path, field: str = "time") -> np.ndarray:
    """datetime64[D] of a ``time`` variable: CF dates in whole days, or the ISO date
    strings of the files written before them; ``field`` names it in errors."""
    units = variable.attrs.get("units")
    if units is None:
        try:
            return np.array(_strings(variable), dtype="datetime64[D]")
        except ValueError:
            raise InputError(path, field, "neither CF dates (no units attribute) nor ISO "
                             "date strings: not a landsub result") from None
    units = units.decode() if isinstance(units, bytes) else str(units)
    match = _DAYS_SINCE.match(units)
    if match is None:
        raise InputError(path, f"{field}.attrs.units", f'"{units}" is not "days since '
                         'YYYY-MM-DD"')
    calendar = variable.attrs.get("calendar", "standard")
    calendar = calendar.decode() if isinstance(calendar, bytes) else str(calendar)
    if calendar not in _CALENDARS:
        raise InputError(path, f"{field}.attrs.calendar", f'"{calendar}" is not one of '
                         f"{', '.join(_CALENDARS)}")
    days = np.asarray(variable[...], dtype=np.float64)
    if not np.all(np.isfinite(days) & (days == np.round(days))):
        raise InputError(path, field, "not whole days: result times are dates")
    try:
        origin = np.datetime64(match.group(1), "D")
    except ValueError:
        raise InputError(path, f"{field}.attrs.units", f'"{units}": no such date') from None
    return origin + days.astype(np.int64)


def _open(path: Path):
    if not path.is_file():
        raise InputError(path, "(file)", "no such result file")
    try:
        return h5netcdf.File(path, "r")
    except OSError as exc:
        raise InputError(path, "(file)", f"not a netCDF4/HDF5 result file ({exc})") from None


def result_groups(path) -> list[str | None]:
    """Where ``path`` holds results: None for a result at the root, then group names."""
    path = Path(path)
    with _open(path) as f:
        found = [None] if "displacement" in f.variables else []
        found += [name for name, g in f.groups.items() if "displacement" in g.variables]
    if not found:
        raise InputError(path, "displacement", "no landsub result in this file (no "
                         "displacement variable at the root or in any group)")
    return found


def read_result(path, group: str | None = None) -> Result:
    """Read a result written by :func:`write_result` (the root, or one group)."""
    path = Path(path)
    with _open(path) as f:
        if group is None:
            g, where = f, ""
        else:
            if group not in f.groups:
                raise InputError(path, "group", f'no group "{group}"; the file has: '
                                 f"{', '.join(f.groups) or 'no groups'}")
            g, where = f.groups[group], f"{group}/"
        missing = [v for v in _REQUIRED_VARIABLES if v not in g.variables]
        if missing:
            raise InputError(path, where + missing[0],
                             f"missing variable(s) {', '.join(missing)}: not a landsub result")
        missing = [a for a in _REQUIRED_ATTRS if a not in g.attrs]
        if missing:
            raise InputError(path, where + "attrs." + missing[0],
                             f"missing attribute(s) {', '.join(missing)}: not a landsub result")
        version = int(g.attrs["schema_version"])
        if version > RESULT_SCHEMA_VERSION:
            raise InputError(path, where + "attrs.schema_version",
                             f"schema_version {version} is newer than this landsub "
                             f"reads ({RESULT_SCHEMA_VERSION})")
        attrs = dict(g.attrs)
        aquifers = _strings(g.variables["aquifer"]) if "aquifer" in g.variables else None
        compaction = (np.asarray(g.variables["compaction"][...], dtype=np.float64)
                      if "compaction" in g.variables else None)
        return Result(
            solver=str(attrs["solver"]),
            kind=str(attrs["kind"]),
            case=str(attrs["case"]),
            times=read_time(g.variables["time"], path, where + "time"),
            cell_ids=np.array(_strings(g.variables["cell"]), dtype=str),
            x=np.asarray(g.variables["x"][...], dtype=np.float64),
            y=np.asarray(g.variables["y"][...], dtype=np.float64),
            displacement=np.asarray(g.variables["displacement"][...], dtype=np.float64),
            compaction=compaction,
            aquifers=aquifers,
            options=_json_attr(attrs, "options", "{}", path, where),
            split=_json_attr(attrs, "split", "null", path, where),
            wall_seconds=float(attrs.get("wall_seconds", 0.0)),
            landsub_version=str(attrs.get("landsub_version", "")),
            created=str(attrs.get("created", "")),
        )


def _json_attr(attrs: dict, key: str, default: str, path: Path, where: str):
    text = attrs.get(key, default)
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise InputError(path, f"{where}attrs.{key}", f"{str(text)[:80]!r} is not JSON: not a "
                         "result landsub wrote") from None


def _strings(variable) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in variable[...]]
