"""Reading the CSV and HDF5 files a case manifest refers to.

Every failure -- a missing file, binary or non-UTF-8 content, ragged rows, text where
a number belongs, a malformed date, a wrong HDF5 dataset -- becomes an InputError that
names the file, the column (or dataset) and the offending value, so no pandas or h5py
traceback reaches the user. A message names a row by the file's line number, as an
editor shows it (``line_of``).

Numbers are parsed by numpy's and pandas' C parsers, which both read Python's shortest
float repr back exactly (write_case relies on that for an exact round trip).
"""

from __future__ import annotations

import codecs
import contextvars
import csv
import io
import json
import os
import re
import stat
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import InputError, suggest

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_SNIFF_BYTES = 1 << 16
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


#: Whether case files may name files outside their folder (``outside_case``).
_OUTSIDE_ALLOWED = contextvars.ContextVar("landsub_outside_case_allowed", default=False)
#: How a refusal to leave the case folder says to allow it.
ALLOW_HINT = ("pass --allow-outside-case (load_case(..., allow_outside_case=True)) to "
              "read it anyway")


@contextmanager
def outside_case(allowed: bool = True):
    """While open, case files may (``allowed``) name files outside their own folder:
    absolute paths, "..", symbolic links out of it, HDF5 external links and external
    raw storage. Only ever widens: a caller that allowed it is not overruled."""
    token = _OUTSIDE_ALLOWED.set(bool(allowed) or _OUTSIDE_ALLOWED.get())
    try:
        yield
    finally:
        _OUTSIDE_ALLOWED.reset(token)


def outside_case_allowed() -> bool:
    return _OUTSIDE_ALLOWED.get()


_KINDS_OF_FILE = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file ("does not exist", "is a directory",
    "is a FIFO (named pipe), not a regular file", ...), or None for a regular file.
    Devices and pipes are refused up front: reading /dev/zero never ends."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS_OF_FILE if test(mode)), "not a plain file")
        return f"is {kind}, not a regular file"
    return None


def resolve(folder: Path, name, ref_source, ref_field: str) -> Path:
    """The existing regular file ``name``, relative to ``folder``, that ``ref_field`` of
    ``ref_source`` refers to. Unless ``outside_case`` allows it, the file must lie inside
    ``folder`` once every symbolic link is followed, so a case file cannot feed another
    file of the machine (its content, or its first line in an error) into a run."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(ref_source, ref_field, f"{name!r} is not a file name (a non-empty string)")
    path = folder / name
    if not _OUTSIDE_ALLOWED.get():
        where = ""
        if Path(name).is_absolute():
            where = "is an absolute path"
        elif ".." in Path(name).parts:
            where = 'climbs out with ".."'
        elif not path.resolve().is_relative_to(folder.resolve()):
            where = "leads outside through a symbolic link"
        if where:
            raise InputError(ref_source, ref_field, f'file "{name}" {where}: case files are '
                             f"read only inside the case folder ({folder}); {ALLOW_HINT}")
    why = not_regular(path)
    if why:
        raise InputError(ref_source, ref_field, f'file "{name}" {why} (looked for {path})')
    return path


def _check_text(path: Path) -> None:
    """Refuse binary or non-UTF-8 content before the CSV parser turns it into noise."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as e:
        raise InputError(path, "(file)", f"cannot be read: {e.strerror or e}") from None
    if not head.strip():
        raise InputError(path, "(file)", "the file is empty; expected a CSV header line")
    if head.startswith(_HDF5_SIGNATURE):
        raise InputError(path, "(file)", "is an HDF5 file, not a CSV; refer to it as "
                         '{ file = "...", dataset = "..." }')
    if b"\x00" in head:
        raise InputError(path, "(file)", f"binary content (a NUL byte at offset {head.index(0)}); "
                         "expected a UTF-8 text CSV")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as e:
        raise InputError(path, "(file)", f"not UTF-8 text (byte 0x{head[e.start]:02x} at offset "
                         f"{e.start}); expected a UTF-8 text CSV") from None


def _header(path: Path, loose: bool) -> tuple[list[str], str]:
    """The column names of the header line and the separator. Strict tables separate by
    ","; ``loose`` ones by ";" where their header line has more of those, and have their
    comment lines skipped and their names stripped."""
    _check_text(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            line = next((line for line in f if line.strip() and not (
                loose and line.lstrip().startswith("#"))), "")
    except UnicodeDecodeError as e:  # past the sniffed start of a very long header line
        raise InputError(path, "(header)", f"the header line is not UTF-8 text ({e.reason})"
                         ) from None
    sep = ";" if loose and line.count(";") > line.count(",") else ","
    header = next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])
    return ([name.strip() for name in header] if loose else header), sep


def _refuse_repeats(path: Path, header: list[str]) -> None:
    seen = set()
    for name in header:
        if name in seen:
            raise InputError(path, f'column "{name}"', "appears twice in the header line")
        seen.add(name)


def _read_csv(path: Path, header: list[str], **options) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # rows longer than the header: pandas would shift them silently; refuse instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, engine="c", encoding="utf-8-sig", skipinitialspace=True,
                                index_col=False, **options)
    except pd.errors.ParserWarning:
        raise InputError(path, "(file)", _first_ragged_row(path, len(header), options)) from None
    except (ValueError, OSError) as e:  # pandas' parser and decode errors are ValueErrors
        message = " ".join(str(e).split())
        raise InputError(path, "(file)", f"cannot be read as CSV: {message}") from None
    frame.columns = header  # pandas renames duplicates; _header already refused them
    return frame


def _first_ragged_row(path: Path, width: int, options: dict) -> str:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=options.get("sep", ","), skipinitialspace=True)
        for row, fields in enumerate(reader):
            comment = options.get("comment") and fields and fields[0].lstrip().startswith("#")
            if row and fields and not comment and len(fields) > width:
                return (f"line {reader.line_num} has {len(fields)} fields but the header line "
                        f"names {width} columns: {','.join(fields)[:200]}")
    return f"some row has more fields than the {width} columns of the header line"


def _check_columns(path: Path, header: list[str], required, optional) -> None:
    """Refuse missing required columns and, when ``optional`` is not None, unknown ones."""
    allowed = list(required) + list(optional or ())
    if optional is not None:
        for name in header:
            if name not in allowed:
                raise InputError(path, f'column "{name}"', f'unknown column "{name}"'
                                 f"{suggest(name, allowed)}; the columns are: {', '.join(allowed)}")
    for name in required:
        if name not in header:
            raise InputError(path, f'column "{name}"', f'missing column "{name}"'
                             f"{suggest(name, header)}; the header has: {quoted(header)}")


def quoted(names, limit: int = 8) -> str:
    """'"a", "b", ... (N in all)' for error messages."""
    names = list(names)
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(f'"{n}"' for n in names[:limit]) + more


def line_of(path: Path, row: int, comments: bool = False) -> int:
    """The line number (from 1, as an editor shows it) of data row ``row`` (from 0, the
    header excluded) of the CSV ``path``: blank lines hold no row, nor, with ``comments``,
    lines starting with "#" -- as the parsers skip them. Only called to name a bad row,
    so the file is read again then rather than line numbers kept for every row."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, skipinitialspace=True)
        data = -1  # the header line is row -1
        first_line = 1
        for fields in reader:
            blank = not fields or (len(fields) == 1 and not fields[0].strip())
            if not blank and not (comments and fields[0].lstrip().startswith("#")):
                if data == row:
                    return first_line
                data += 1
            first_line = reader.line_num + 1
    return first_line


def read_table(path, required=(), optional=(), *, loose: bool = False,
               header_only: bool = False) -> pd.DataFrame:
    """A small or long CSV with every cell as a string ('' where empty).

    ``required`` columns must be present; other columns are refused unless
    ``optional`` lists them (``optional=None`` accepts any extra column). ``loose``
    reads data as found in the wild (cases.readers): "#" lines are comments, ";" may
    separate, names are matched lower-cased (``frame.attrs["original"]`` keeps their
    spelling, some are data such as well ids) and a table without rows is refused.
    ``header_only`` returns the columns without reading the rows.
    """
    path = Path(path)
    if loose and not path.is_file():
        why = "is a directory" if path.is_dir() else "does not exist"
        raise InputError(path, "(file)", f"the file {why}")
    spelled, sep = _header(path, loose)
    header = [name.lower() for name in spelled] if loose else spelled
    _refuse_repeats(path, header)
    _check_columns(path, header, required, optional)
    if header_only:
        frame = pd.DataFrame(columns=header)
    else:
        frame = _read_csv(path, header, sep=sep, comment="#" if loose else None, dtype=str,
                          keep_default_na=False, na_filter=False)
    if loose:
        frame.attrs["original"] = dict(zip(header, spelled))
        if frame.empty and not header_only:
            raise InputError(path, "(file)", "the table has a header but no rows")
    return frame


#: Spellings of a missing number (compared lower-cased): an empty cell, NaN, NA, null.
MISSING = ("", "nan", "na", "null")


def numbers(column: pd.Series, path: Path, comments: bool = False) -> np.ndarray:
    """float64 values of a text column: NaN where missing (MISSING); refuses anything
    else that is not a number, naming the column, the line and the text. ``comments``:
    the file's "#" lines hold no row (``read_table(loose=True)``)."""
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    missing = text.str.lower().isin(MISSING).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(np.float64)
    junk = np.isnan(values) & ~missing
    if junk.any():
        row = int(np.argmax(junk))
        raise InputError(path, f'column "{column.name}"', f"line {line_of(path, row, comments)}: "
                         f'"{text.iloc[row]}" is not a number')
    return values


def dates(text, path: Path, field: str, comments: bool = False,
          time_of_day: bool = False) -> np.ndarray:
    """datetime64[D] from ISO "YYYY-MM-DD" strings (with ``time_of_day``, also followed by
    a time, which is dropped), naming the line and text of a bad one."""
    text = pd.Series(text, dtype=object).fillna("").astype(str).str.strip()
    if time_of_day:
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        valid = parsed.notna().to_numpy()
    else:
        valid = text.str.fullmatch(ISO_DATE).to_numpy(bool)
    if valid.all():
        try:
            return (parsed.to_numpy() if time_of_day else text.to_numpy(dtype=str)).astype(
                "datetime64[D]")
        except ValueError:  # an ISO spelling of a day that does not exist: 2000-02-30
            valid = np.array([_is_calendar_date(value) for value in text])
    row = int(np.argmin(valid))
    raise InputError(path, field, f'line {line_of(path, row, comments)}: "{text.iloc[row]}" '
                     "is not a date (YYYY-MM-DD)")


def _is_calendar_date(text: str) -> bool:
    try:
        np.datetime64(text, "D")
    except ValueError:
        return False
    return True


def strictly_increasing(times: np.ndarray, path, field: str) -> None:
    """Refuse a repeated or backward time, naming its row and value."""
    steps = np.diff(times)
    bad = steps <= np.timedelta64(0, "D")
    if bad.any():
        row = int(np.argmax(bad)) + 1
        what = "repeats" if steps[row - 1] == np.timedelta64(0, "D") else "comes before"
        raise InputError(path, field, f"line {line_of(path, row)}: {times[row]} {what} line "
                         f"{line_of(path, row - 1)} ({times[row - 1]}); times must be strictly "
                         "increasing")


def read_wide(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A wide CSV: a "time" column (ISO dates) and numeric columns.

    Returns (times datetime64[D] [R], column names [C], values float64 [R, C]); empty
    cells are NaN. Built for big tables (100k cells x 264 months).
    """
    header, _ = _header(path, loose=False)
    _refuse_repeats(path, header)
    _check_columns(path, header, ("time",), None)
    at = header.index("time")
    values = _plain_numbers(path, at, len(header))
    if values is not None:
        times = values[:, at].astype(np.int64).astype("datetime64[D]")
        return times, [c for c in header if c != "time"], np.delete(values, at, axis=1)
    frame = _read_csv(path, header, dtype={"time": str})
    times = dates(frame["time"].to_numpy(dtype=object), path, 'column "time"')
    data = frame.drop(columns="time")
    kinds = np.array([dtype.kind for dtype in data.dtypes])
    for column in data.columns[~np.isin(kinds, ("f", "i", "u"))]:
        data[column] = numbers(data[column], path)
    return times, list(data.columns), data.to_numpy(np.float64)


def _plain_numbers(path: Path, time_column: int, width: int) -> np.ndarray | None:
    """The usual wide table -- every row as wide as the header, plain numbers or empty cells,
    ISO dates (returned as day numbers) -- read by numpy's C parser, several times faster
    than pandas building a DataFrame of 100k columns. None for anything else (text, ragged
    rows, odd spellings of missing values), which the pandas path parses and reports."""
    def day_number(text: str) -> float:
        text = text.strip()
        if not re.fullmatch(ISO_DATE, text):
            raise ValueError(text)
        return float(np.datetime64(text, "D").astype(np.int64))

    def load(source) -> np.ndarray | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data": pandas decides
                values = np.loadtxt(source, delimiter=",", skiprows=1, comments=None,
                                    quotechar='"', encoding="utf-8-sig",
                                    converters={time_column: day_number}, ndmin=2)
        except ValueError:
            return None
        return values if values.shape[1] == width and len(values) else None

    values = load(path)
    if values is None:
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError:
            return None
        values = load(lines[:1] + [_spell_gaps(line) for line in lines[1:]])
    return values


def _spell_gaps(line: str) -> str:
    """A CSV line with every empty cell written "nan" (numpy's reader knows no empty cell)."""
    line = line.replace(",,", ",nan,").replace(",,", ",nan,")  # the second pass fills runs
    return ("nan" if line.startswith(",") else "") + line + ("nan" if line.endswith(",") else "")


def write_wide(path: Path, times: np.ndarray, columns, values: np.ndarray) -> None:
    """Write [C, T] ``values`` as a wide CSV: "time" then one column per name in ``columns``;
    floats in shortest round-trip repr, NaN as an empty cell."""
    iso = np.datetime_as_string(np.asarray(times, dtype="datetime64[D]"))
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(["time", *columns])
        for day, row in zip(iso, np.asarray(values, dtype=np.float64).T):
            text = map(repr, row.tolist())
            if np.isnan(row).any():
                text = ("" if v != v else repr(v) for v in row.tolist())
            f.write(f"{day},{','.join(text)}\n")


def read_hdf5(path: Path, dataset, shape: tuple[int, ...], ref_source,
              ref_field: str) -> np.ndarray:
    """A numeric dataset of exactly ``shape`` from an HDF5 file, as float64."""
    import h5py  # only cases that use HDF5 pay for the import

    if not isinstance(dataset, str) or not dataset:
        raise InputError(ref_source, ref_field, f"{dataset!r} is not a dataset name")
    try:
        with h5py.File(path, "r") as f:
            if not _OUTSIDE_ALLOWED.get():
                _refuse_external_link(f, path, dataset)
            node = f.get(dataset)
            if not isinstance(node, h5py.Dataset):
                found = []
                f.visititems(lambda name, obj: found.append(name)
                             if isinstance(obj, h5py.Dataset) else None)
                why = "is a group" if node is not None else "does not exist"
                raise InputError(path, f'dataset "{dataset}"', f"{why}{suggest(dataset, found)}; "
                                 f"the file's datasets: {quoted(found) or 'none'}")
            if node.shape != tuple(shape):
                raise InputError(path, f'dataset "{dataset}"', f"has shape {node.shape}; "
                                 f"expected {tuple(shape)} "
                                 f"{'[cell]' if len(shape) == 1 else '[cell, time]'}")
            if node.dtype.kind not in "fiu":
                raise InputError(path, f'dataset "{dataset}"', f"holds {node.dtype} values, "
                                 "not numbers")
            if not _OUTSIDE_ALLOWED.get():
                _refuse_external_storage(node, path, dataset)
            return np.asarray(node[()], dtype=np.float64)
    except OSError as e:
        raise InputError(path, "(file)", f"cannot be read as HDF5: {e}") from None


def _refuse_external_link(f, path: Path, dataset: str) -> None:
    """Refuse a dataset reached through an HDF5 external link (checked link by link
    along its path, before HDF5 follows any of them, and through soft links)."""
    import h5py

    parts = [p for p in dataset.split("/") if p]
    seen = 0
    for depth in range(1, len(parts) + 1):
        link = f.get("/".join(parts[:depth]), getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise InputError(path, f'dataset "{dataset}"', f'"{"/".join(parts[:depth])}" is an '
                             f'HDF5 external link to "{link.filename}": case files are read '
                             f"only inside the case folder; {ALLOW_HINT}")
        if isinstance(link, h5py.SoftLink) and seen < 32:  # 32: a loop of soft links ends
            seen += 1
            _refuse_external_link(f, path, link.path)


def _refuse_external_storage(node, path: Path, dataset: str) -> None:
    """Refuse a dataset whose values live in other files (external raw storage, or a
    virtual dataset mapping other files)."""
    outside = [str(name) for name, *_ in (node.external or [])]
    if node.is_virtual:
        outside += [s.file_name for s in node.virtual_sources() if s.file_name != "."]
    if outside:
        raise InputError(path, f'dataset "{dataset}"', f'its values are stored in another file '
                         f'("{outside[0]}"): case files are read only inside the case '
                         f"folder; {ALLOW_HINT}")


def write_hdf5(path: Path, arrays: dict, attrs: dict | None = None) -> None:
    """An HDF5 file of ``arrays`` (name -> array; "a/b" names make groups), strings as
    variable-length UTF-8, big arrays chunked and gzip-compressed, and JSON attributes
    ``attrs`` at its root. No timestamps, so the same arrays give identical bytes."""
    import h5py

    # built in memory and written as bytes: a failed HDF5 write (disk full) breaks the
    # library's state, a failed write of bytes is one error naming the file
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", track_order=True) as f:
        for name, values in arrays.items():
            values = np.asarray(values)
            if values.dtype.kind in "UO":
                f.create_dataset(name, data=values.astype(h5py.string_dtype()),
                                 track_times=False)
                continue
            big = values.size > 100_000
            f.create_dataset(name, data=values, track_times=False,
                             chunks=True if big else None,
                             compression="gzip" if big else None,
                             compression_opts=1 if big else None, shuffle=big)
        for key, value in (attrs or {}).items():
            f.attrs[key] = json.dumps(value, sort_keys=True)
    Path(path).write_bytes(buffer.getbuffer())
