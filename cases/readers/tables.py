"""Reading the CSV tables of real data: column-name variants, units in column names,
comment headers that declare conventions, and numbers that refuse to be numbers.

A quantity column may carry its unit as a suffix (``head_m``, ``compaction_mm``,
``thickness_ft``); ``quantity_column`` finds it and returns the factor to metres.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cases.readers.declarations import missing
from engine import tables as core
from engine.errors import InputError, suggest

LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048}


def read_table(path, header_only: bool = False) -> pd.DataFrame:
    """A CSV as strings (comma or semicolon separated; ``#`` lines are comments), column
    names stripped and lower-cased: ``engine.tables.read_table`` in its loose dialect."""
    return core.read_table(path, optional=None, loose=True, header_only=header_only)


def line_of(path, row: int) -> int:
    """The file's line (as an editor numbers it) of data row ``row`` (from 0) of a table
    read by ``read_table``: comment and blank lines hold no row."""
    return core.line_of(path, row, comments=True)


def read_header(path) -> list[str]:
    """The lower-cased column names of a CSV, without reading its rows."""
    return list(read_table(path, header_only=True).columns)


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
                    declared_unit: str | None = None, required: bool = True,
                    params_key: str = "unit"):
    """(column, metres per unit) of a length quantity written ``stem`` or ``stem_<unit>``.

    A bare ``stem`` column takes ``declared_unit`` (the file's "# unit:" line or
    ``params_key`` in --params) or else ``default_unit``; with neither it is a missing
    declaration, naming the ways to declare it."""
    for unit, factor in LENGTH_UNITS.items():
        name = f"{stem}_{unit}"
        if name in frame.columns:
            if declared_unit is not None and declared_unit != unit:
                raise InputError(path, name, f'column says "{unit}" but --params declares '
                                             f'"{declared_unit}"')
            return name, factor
    if stem in frame.columns:
        unit = declared_unit or default_unit or missing(
            path, stem, f'the unit of "{stem}" is not declared: name the column {stem}_mm, '
            f'{stem}_cm or {stem}_m, put "# unit: m" above the header or set {params_key} '
            "in --params", "m")
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
    """float64 of one column (``engine.tables.numbers``); missing values are NaN when
    ``allow_missing``, else refused with their point id (or line)."""
    values = core.numbers(frame[column], path, comments=True)
    missing = np.isnan(values)
    if missing.any() and not allow_missing:
        i = int(np.argmax(missing))
        where = f"point {ids[i]}" if ids is not None else f"line {line_of(path, i)}"
        raise InputError(path, f'column "{column}"', f'{where}: "{frame[column].iloc[i]}" '
                         "is not a number")
    return values


def dates(frame: pd.DataFrame, column: str, path) -> np.ndarray:
    """datetime64[D] of an ISO-date column (YYYY-MM-DD, optionally with a time of day)."""
    return core.dates(frame[column], path, f'column "{column}"', comments=True,
                      time_of_day=True)
