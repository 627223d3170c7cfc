"""Monitoring wells: head records, the wells' positions and aquifers, and their heads on
the case's time axis with the gaps reported.

Tables (CSV, case-insensitive headers):

- long: ``well`` (or well_id, station), ``time`` (or date; ISO dates), ``head`` in
  metres above the common datum (``head_m``, ``head_ft``; a bare ``head`` needs
  ``# unit: m`` above the header or [wells] unit in --params); optionally ``aquifer``
  (a name from --params), ``screen_top``/``screen_bottom`` (m below land surface),
  ``x``/``y`` (projected m, --crs) or ``lon``/``lat``;
- wide: ``time`` then one column per well, heads as above (unit from ``# unit:`` or
  --params), the wells' positions and aquifers in the [wells] metadata table.

Missing heads (empty cells) are gaps. Records repeated with the same head are dropped
(reported); repeated with different heads they are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cases.readers import tables
from cases.readers.declarations import missing
from cases.readers.depths import assign_interval
from cases.readers.resample import period_index, runs
from cases.readers.sites import has_position, site_positions
from engine.errors import InputError, suggest

WELL_COLUMNS = ("well", "well_id", "station")
TIME_COLUMNS = ("time", "date", "datetime")


@dataclass(frozen=True)
class Wells:
    """W wells and R head records.

    names, x, y, aquifer : [W] str, m, m, index into ``aquifer_names``.
    record_well, record_time, record_head : [R] index into names, datetime64[D], m.
    notes : what was decided on the way (aquifer mapping, duplicates, missing heads).
    """

    source: str
    aquifer_names: tuple[str, ...]
    names: np.ndarray
    x: np.ndarray
    y: np.ndarray
    aquifer: np.ndarray
    record_well: np.ndarray
    record_time: np.ndarray
    record_head: np.ndarray
    notes: tuple[str, ...] = ()


def _unit(path, frame_unit, params_unit, params_source):
    if frame_unit and params_unit and frame_unit != params_unit:
        raise InputError(path, "unit", f'the file says heads are in "{frame_unit}" but '
                                       f'{params_source} [wells] unit says "{params_unit}"')
    return frame_unit or params_unit


def read_wells(path, aquifers, settings: dict, params_source: str = "--params",
               metadata_path=None, crs: str | None = None) -> Wells:
    """Read heads and well metadata. ``aquifers``: AquiferParams, top first (may be
    empty: the aquifer is then the single one the wells name)."""
    frame = tables.read_table(path)
    unit = _unit(path, tables.comment_declarations(path).get("unit"), settings.get("unit"),
                 params_source)
    time_col = tables.find_column(frame, TIME_COLUMNS, path, "time")
    well_col = tables.find_column(frame, WELL_COLUMNS)
    notes = []
    if well_col is not None:
        head_col, scale = tables.quantity_column(frame, "head", path, None, unit,
                                                 params_key="[wells] unit")
        names = frame[well_col].astype(str).str.strip().to_numpy()
        times = tables.dates(frame, time_col, path)
        heads = tables.numbers(frame, head_col, path, allow_missing=True) * scale
        meta = frame
    else:
        unit = unit or missing(path, "unit", "a wide head table (time, then one column per "
                                             'well) needs "# unit: m" above the header or '
                                             "[wells] unit in --params", "m")
        scale = tables.LENGTH_UNITS.get(unit)
        if scale is None:
            raise InputError(path, "unit", f'"{unit}" is not one of m, ft, cm, mm')
        wells_cols = [c for c in frame.columns if c != time_col]
        day = tables.dates(frame, time_col, path)
        names = np.repeat(np.array([frame.attrs["original"][c] for c in wells_cols]),
                          len(frame))
        times = np.tile(day, len(wells_cols))
        heads = np.concatenate([tables.numbers(frame, c, path, allow_missing=True)
                                for c in wells_cols]) * scale
        meta = None
    if metadata_path is not None:
        meta = tables.read_table(metadata_path)
        meta_source = metadata_path
        meta_well = tables.find_column(meta, WELL_COLUMNS, metadata_path, "well")
    elif meta is None:
        raise InputError(path, "well", "no well column, so this is a wide table, and its "
                                       "wells' positions need [wells] metadata in --params")
    else:
        meta_source, meta_well = path, well_col
    if not has_position(meta):
        raise InputError(meta_source, "x/y", "no well positions: give x, y (or lon, lat) "
                                             "columns here or a [wells] metadata table")
    wells, wx, wy = site_positions(meta, meta_source, meta_well, crs)
    unplaced = sorted(set(names) - set(wells))
    if unplaced:
        raise InputError(meta_source, "well", f'no position for well "{unplaced[0]}"'
                                              f"{suggest(unplaced[0], wells)}")
    aquifer_names, assigned, mapping = _assign_aquifers(meta, meta_source, meta_well, wells,
                                                        aquifers)
    notes += mapping
    used = np.isin(wells, names)
    wells, wx, wy, assigned = wells[used], wx[used], wy[used], assigned[used]

    index = np.searchsorted(wells, names, sorter=np.argsort(wells))
    record_well = np.argsort(wells)[index]
    empty = np.isnan(heads)
    if empty.any():
        notes.append(f"{int(empty.sum())} empty head cell(s) read as gaps")
    record_well, times, heads = record_well[~empty], times[~empty], heads[~empty]
    order = np.lexsort((times, record_well))
    record_well, times, heads = record_well[order], times[order], heads[order]
    same = (record_well[1:] == record_well[:-1]) & (times[1:] == times[:-1])
    if same.any():
        clash = same & (heads[1:] != heads[:-1])
        if clash.any():
            k = int(np.argmax(clash))
            raise InputError(path, "time", f'well "{wells[record_well[k]]}" has two heads on '
                                           f"{times[k]}: {heads[k]} and {heads[k + 1]} m")
        keep = np.concatenate([[True], ~same])
        notes.append(f"{int(same.sum())} repeated record(s) with the same head dropped")
        record_well, times, heads = record_well[keep], times[keep], heads[keep]
    return Wells(source=str(path), aquifer_names=tuple(aquifer_names), names=wells,
                 x=wx, y=wy, aquifer=assigned, record_well=record_well, record_time=times,
                 record_head=heads, notes=tuple(notes))


def _assign_aquifers(meta, source, well_col, wells, aquifers):
    """Aquifer index per well from an aquifer column or screen depths."""
    names_meta = meta[well_col].astype(str).str.strip().to_numpy()
    known = [a.name for a in aquifers]
    aq_col = tables.find_column(meta, ("aquifer", "aquifer_group", "layer"))
    notes = []
    if aq_col is not None:
        per_row = meta[aq_col].astype(str).str.strip().to_numpy()
        per_well = []
        for well in wells:
            labels = set(per_row[names_meta == well])
            if len(labels) != 1 or "" in labels:
                raise InputError(source, aq_col, f'well "{well}" has aquifer '
                                                 f"{sorted(labels)}: give exactly one")
            per_well.append(labels.pop())
        if not known:
            known = sorted(set(per_well))
            if len(known) > 1:
                # their alphabetical order stands in while the declarations are collected
                missing("command line", "--params", f"the wells name aquifers "
                        f"{', '.join(known)}: their order (top first) and properties need "
                        "--params with [[aquifers]] tables", None)
        for well, label in zip(wells, per_well):
            if label not in known:
                raise InputError(source, aq_col, f'well "{well}": unknown aquifer "{label}"'
                                                 f"{suggest(label, known)}; aquifers: "
                                                 f"{', '.join(known)}")
        return known, np.array([known.index(a) for a in per_well]), notes
    top_col = tables.find_column(meta, ("screen_top",))
    if top_col is not None:
        bottom_col = tables.find_column(meta, ("screen_bottom",), source, "screen_bottom")
        tops = tables.numbers(meta, top_col, source, allow_missing=True)
        bottoms = tables.numbers(meta, bottom_col, source, allow_missing=True)
        out = []
        for well in wells:
            k = int(np.argmax(names_meta == well))
            index, fraction = assign_interval(source, f"{top_col}/{bottom_col}",
                                              f'well "{well}"', tops[k], bottoms[k], aquifers)
            out.append(index)
            if fraction < 1.0:
                notes.append(f'well {well}: screen {tops[k]:g}..{bottoms[k]:g} m assigned to '
                             f"{known[index]} ({fraction:.0%} of it inside)")
        return known, np.array(out), notes
    if len(known) > 1:
        missing(source, "aquifer", "no aquifer column nor screen_top/screen_bottom: which of "
                f"{', '.join(known)} does each well tap? Add an aquifer column", None)
        # every well in the top aquifer stands in while the declarations are collected
        return known, np.zeros(len(wells), dtype=np.int64), []
    name = known[0] if known else "aquifer"
    return [name], np.zeros(len(wells), dtype=np.int64), [f"every well taken to tap {name}"]


@dataclass(frozen=True)
class HeadsOnAxis:
    """Heads [W, T] (m) on the case axis [T]; NaN where neither measured nor filled.
    measured : [W, T] the period means of the records alone.

    filled : [W, T] True where a short interior gap was filled linearly in time.
    gaps : (well, first period, last period, filled?) for every gap inside each
        well's record.
    """

    axis: np.ndarray
    heads: np.ndarray
    measured: np.ndarray
    filled: np.ndarray
    gaps: tuple


def heads_on_axis(wells: Wells, axis: np.ndarray, freq: str, max_gap: int) -> HeadsOnAxis:
    """Mean head of each well in each period of ``axis``; interior gaps of at most
    ``max_gap`` periods filled linearly in time between the periods around them."""
    n_wells, n_times = len(wells.names), len(axis)
    index = period_index(wells.record_time, axis, freq)
    inside = index >= 0
    total = np.zeros((n_wells, n_times))
    count = np.zeros((n_wells, n_times))
    np.add.at(total, (wells.record_well[inside], index[inside]), wells.record_head[inside])
    np.add.at(count, (wells.record_well[inside], index[inside]), 1.0)
    with np.errstate(invalid="ignore"):
        measured = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    heads = measured.copy()
    filled = np.zeros_like(heads, dtype=bool)
    gaps = []
    days = (axis - axis[0]).astype(np.float64)
    for w in range(n_wells):
        have = np.flatnonzero(~np.isnan(measured[w]))
        if len(have) == 0:
            continue
        for first, last in runs(np.isnan(measured[w])):
            if first <= have[0] or last >= have[-1]:
                continue
            short = last - first + 1 <= max_gap
            gaps.append((str(wells.names[w]), axis[first], axis[last], short))
            if short:
                span = slice(first, last + 1)
                heads[w, span] = np.interp(days[span], days[[first - 1, last + 1]],
                                           measured[w, [first - 1, last + 1]])
                filled[w, span] = True
    return HeadsOnAxis(axis=axis, heads=heads, measured=measured, filled=filled, gaps=tuple(gaps))
