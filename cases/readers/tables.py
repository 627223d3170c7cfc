"""Reading the CSV tables of real data: column-name variants, units in column names,
comment headers that declare conventions, and numbers that refuse to be numbers.

A quantity column may carry its unit as a suffix (``head_m``, ``compaction_mm``,
``thickness_ft``); ``quantity_column`` finds it and returns the factor to metres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import InputError, suggest

LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048}


def read_table(path, header_only: bool = False) -> pd.DataFrame:
    """A CSV as strings (comma or semicolon separated; ``#`` lines are comments), column
    names stripped and lower-cased. Refuses missing, empty, binary or ragged files."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "no such file")
    try:
        header = _first_data_line(path)
        sep = ";" if header.count(";") > header.count(",") else ","
        frame = pd.read_csv(path, sep=sep, comment="#", dtype=str, skipinitialspace=True,
                            keep_default_na=False, nrows=0 if header_only else None,
                            encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "file", "not a text (CSV) file") from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "file", "the file is empty") from None
    except pd.errors.ParserError as err:
        raise InputError(path, "rows", f"not a regular CSV table: {err}") from None
    # pandas renames repeated headers ("a", "a.1"): look at the header line itself
    names = [n.strip().strip('"').lower() for n in header.rstrip("\n").split(sep)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(path, "header", f'column "{repeated[0]}" appears more than once')
    # headers are matched case-insensitively; wide tables keep the original spelling of
    # the names that are data (well ids)
    frame.attrs["original"] = {str(c).strip().lower(): str(c).strip() for c in frame.columns}
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if header_only:
        return frame
    if frame.empty:
        raise InputError(path, "rows", "the table has a header but no rows")
    return frame


def read_header(path) -> list[str]:
    """The lower-cased column names of a CSV, without reading its rows."""
    return list(read_table(path, header_only=True).columns)


def _first_data_line(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            if line.strip() and not line.lstrip().startswith("#"):
                return line
    return ""


def comment_declarations(path) -> dict[str, str]:
    """``# key: value`` (or ``# key = value``) lines at the top of a CSV, keys lower-cased."""
    out = {}
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("#"):
                break
            body = stripped.lstrip("#").strip()
            for sep in (":", "="):
                key, found, value = body.partition(sep)
                if found:
                    out[key.strip().lower()] = value.strip().strip('"').lower()
                    break
    return out


def find_column(frame: pd.DataFrame, variants, path=None, role: str | None = None):
    """The first of ``variants`` present in ``frame``; None when absent and ``role`` is
    None, else InputError naming the role and the closest column."""
    for name in variants:
        if name in frame.columns:
            return name
    if role is None:
        return None
    hint = suggest(variants[0], frame.columns)
    raise InputError(path, role, f"no column {' or '.join(repr(v) for v in variants)}"
                                 f"{hint}; columns are: {', '.join(frame.columns)}")


def quantity_column(frame: pd.DataFrame, stem: str, path, default_unit: str | None,
                    declared_unit: str | None = None, required: bool = True):
    """(column, metres per unit) of a length quantity written ``stem`` or ``stem_<unit>``.

    A bare ``stem`` column takes ``declared_unit`` (from --params) or else
    ``default_unit``; with neither it is refused, naming the ways to declare it."""
    for unit, factor in LENGTH_UNITS.items():
        name = f"{stem}_{unit}"
        if name in frame.columns:
            if declared_unit is not None and declared_unit != unit:
                raise InputError(path, name, f'column says "{unit}" but --params declares '
                                             f'"{declared_unit}"')
            return name, factor
    if stem in frame.columns:
        unit = declared_unit or default_unit
        if unit is None:
            raise InputError(path, stem,
                             f'the unit of "{stem}" is not declared: name the column '
                             f'{stem}_mm, {stem}_cm or {stem}_m, or set unit in --params')
        if unit not in LENGTH_UNITS:
            raise InputError(path, stem, f'unit "{unit}" is not one of '
                                         f'{", ".join(LENGTH_UNITS)}')
        return stem, LENGTH_UNITS[unit]
    if not required:
        return None, None
    hint = suggest(stem, frame.columns)
    raise InputError(path, stem, f'no column "{stem}" (or {stem}_m, {stem}_mm...){hint}; '
                                 f"columns are: {', '.join(frame.columns)}")


def numbers(frame: pd.DataFrame, column: str, path, ids=None, allow_missing=False) -> np.ndarray:
    """float64 of one column; empty cells are NaN when ``allow_missing``; anything that
    is not a number is refused with its row (or id) and value."""
    text = frame[column].astype(str).str.strip()
    empty = text.isin(["", "nan", "NaN", "NA", "null"])
    values = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(np.float64)
    bad = np.isnan(values) & ~empty.to_numpy()
    if not allow_missing:
        bad |= empty.to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        where = f"point {ids[i]}" if ids is not None else f"row {i + 2}"
        raise InputError(path, column, f'{where}: "{frame[column].iloc[i]}" is not a number')
    return values


def dates(frame: pd.DataFrame, column: str, path) -> np.ndarray:
    """datetime64[D] of an ISO-date column (YYYY-MM-DD, optionally with a time of day)."""
    text = frame[column].astype(str).str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, column, f'row {i + 2}: "{text.iloc[i]}" is not a date '
                                       "(YYYY-MM-DD)")
    return parsed.to_numpy().astype("datetime64[D]")
