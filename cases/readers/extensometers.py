"""Layered extensometers: compaction of depth intervals at a site, mapped to the aquifer
systems by depth overlap.

Long CSV, case-insensitive headers: ``site`` (or extensometer, station), ``time`` (or
date), ``top`` and ``bottom`` of the measured layer (or layer_top, layer_bottom; m below
land surface, or with a unit suffix), ``compaction`` positive = shortening, with its
unit in the name (``compaction_mm``, ``compaction_m``) or declared by ``# unit: mm``
or [extensometers] unit in --params; the site position as ``x``/``y`` or ``lon``/``lat``.

A layer belongs to the aquifer it overlaps most (the share is reported). Layers of one
site in the same aquifer are added up, at the times all of them were read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cases.readers import tables
from cases.readers.depths import assign_interval
from cases.readers.sites import site_positions
from engine.errors import InputError

SITE_COLUMNS = ("site", "extensometer", "station")
TIME_COLUMNS = ("time", "date")


@dataclass(frozen=True)
class Extensometers:
    """Compaction per site, aquifer and time (m, shortening positive).

    sites, x, y : [S] str, m, m.
    record_site, record_aquifer, record_time, record_compaction : [R].
    notes : layer to aquifer mapping, dropped readings.
    """

    source: str
    sites: np.ndarray
    x: np.ndarray
    y: np.ndarray
    record_site: np.ndarray
    record_aquifer: np.ndarray
    record_time: np.ndarray
    record_compaction: np.ndarray
    notes: tuple[str, ...] = ()


def read_extensometers(path, aquifers, settings: dict, params_source: str = "--params",
                       crs: str | None = None) -> Extensometers:
    frame = tables.read_table(path)
    declared = tables.comment_declarations(path).get("unit")
    if declared and settings.get("unit") and declared != settings["unit"]:
        raise InputError(path, "unit", f'the file says "{declared}" but {params_source} '
                                       f'[extensometers] unit says "{settings["unit"]}"')
    site_col = tables.find_column(frame, SITE_COLUMNS, path, "site")
    time_col = tables.find_column(frame, TIME_COLUMNS, path, "time")
    comp_col, comp_scale = tables.quantity_column(frame, "compaction", path, None,
                                                  declared or settings.get("unit"),
                                                  params_key="[extensometers] unit")
    top_col, top_scale = _depth_column(frame, path, ("layer_top", "top"))
    bottom_col, bottom_scale = _depth_column(frame, path, ("layer_bottom", "bottom"))

    names = frame[site_col].astype(str).str.strip().to_numpy()
    times = tables.dates(frame, time_col, path)
    compaction = tables.numbers(frame, comp_col, path, allow_missing=True) * comp_scale
    tops = tables.numbers(frame, top_col, path) * top_scale
    bottoms = tables.numbers(frame, bottom_col, path) * bottom_scale
    sites, x, y = site_positions(frame, path, site_col, crs)
    site_index = {s: k for k, s in enumerate(sites)}

    notes = []
    layer_aquifer = {}
    for name, top, bottom in sorted(set(zip(names, tops, bottoms))):
        index, fraction = assign_interval(path, f"{top_col}/{bottom_col}",
                                          f'site "{name}" layer', top, bottom, aquifers)
        layer_aquifer[(name, top, bottom)] = index
        notes.append(f"{name} layer {top:g}..{bottom:g} m -> {aquifers[index].name}"
                     + ("" if fraction == 1.0 else f" ({fraction:.0%} of the layer inside)"))
    aquifer = np.array([layer_aquifer[k] for k in zip(names, tops, bottoms)], dtype=np.int64)
    site = np.array([site_index[n] for n in names], dtype=np.int64)
    layer_key = np.array([f"{n}|{t}|{b}" for n, t, b in zip(names, tops, bottoms)])

    pairs = set(zip(layer_key, times))
    if len(pairs) != len(layer_key):
        seen = set()
        for n, t, b, when in zip(names, tops, bottoms, times):
            if (n, t, b, when) in seen:
                raise InputError(path, time_col, f'site "{n}" layer {t:g}..{b:g} m is read '
                                                 f"twice on {when}")
            seen.add((n, t, b, when))

    keep = ~np.isnan(compaction)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} empty compaction cell(s) read as gaps")
    groups = {}
    for s, a, t, c, _key in zip(site[keep], aquifer[keep], times[keep], compaction[keep],
                               layer_key[keep]):
        groups.setdefault((s, a, t), []).append(c)
    layers_in = {}
    for s, a, _key in set(zip(site, aquifer, layer_key)):
        layers_in[(s, a)] = layers_in.get((s, a), 0) + 1
    out, incomplete = [], 0
    for (s, a, t), values in sorted(groups.items()):
        if len(values) == layers_in[(s, a)]:
            out.append((s, a, t, float(np.sum(values))))
        else:
            incomplete += 1
    if incomplete:
        notes.append(f"{incomplete} reading(s) dropped: not every layer of that aquifer was "
                     "read at that time")
    if not out:
        raise InputError(path, comp_col, "no complete compaction reading")
    s, a, t, c = zip(*out)
    return Extensometers(source=str(path), sites=sites, x=x, y=y,
                         record_site=np.array(s, dtype=np.int64),
                         record_aquifer=np.array(a, dtype=np.int64),
                         record_time=np.array(t, dtype="datetime64[D]"),
                         record_compaction=np.array(c), notes=tuple(notes))


def _depth_column(frame, path, stems):
    for stem in stems:
        col, scale = tables.quantity_column(frame, stem, path, "m", required=False)
        if col is not None:
            return col, scale
    return tables.quantity_column(frame, stems[0], path, "m")
