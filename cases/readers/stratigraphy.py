"""Borehole stratigraphy: clay interbeds per site and aquifer reduced to one equivalent
bed (the seminar's case study 2, after Hoffmann et al.), then spread over the cells.

Per site and aquifer, over its beds b_i (m):

    b_equiv = sqrt(mean(b_i^2))          equivalent bed thickness, m
    n_equiv = sum(b_i) / b_equiv          number of equivalent beds (same total clay)
    tau     = (b_equiv / 2)^2 Sskv / Kv   lag time of the equivalent bed, days

Kv (m/d), Sske and Sskv (1/m) per bed when the table gives them, averaged weighted by
bed thickness; else the aquifer's [aquifers.interbeds] values from --params.

CSV, one row per bed: ``site`` (or borehole), ``x``/``y`` or ``lon``/``lat``,
``aquifer`` (a name from --params) or the bed's ``top``/``bottom`` depths (m below land
surface), ``thickness`` (m; or unit suffix; default bottom - top), optional ``kv``,
``sske``, ``sskv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cases.readers import tables
from cases.readers.depths import assign_interval
from cases.readers.sites import site_positions
from engine.errors import InputError, suggest
from physics.analytical import lag_time

SITE_COLUMNS = ("site", "borehole", "well")
PROPERTIES = ("kv", "sske", "sskv")


@dataclass(frozen=True)
class EquivalentBeds:
    """Per (site, aquifer) row R: site name, x, y (m), aquifer index, b_equiv (m),
    n_equiv, kv (m/d), sske, sskv (1/m), tau (days), beds (count). Properties are NaN
    where neither the table nor --params gives them."""

    source: str
    site: np.ndarray
    x: np.ndarray
    y: np.ndarray
    aquifer: np.ndarray
    b_equiv: np.ndarray
    n_equiv: np.ndarray
    kv: np.ndarray
    sske: np.ndarray
    sskv: np.ndarray
    beds: np.ndarray

    @property
    def tau(self) -> np.ndarray:
        """Lag time of the equivalent bed, days."""
        return lag_time(self.b_equiv, self.kv, self.sskv)


def equivalent_bed(thickness) -> tuple[float, float]:
    """(b_equiv, n_equiv) of beds of the given thicknesses (m)."""
    b = np.asarray(thickness, dtype=np.float64)
    b_equiv = float(np.sqrt(np.mean(b ** 2)))
    return b_equiv, float(b.sum() / b_equiv)


def read_stratigraphy(path, aquifers, crs: str | None = None) -> EquivalentBeds:
    frame = tables.read_table(path)
    site_col = tables.find_column(frame, SITE_COLUMNS, path, "site")
    names = frame[site_col].astype(str).str.strip().to_numpy()
    sites, sx, sy = site_positions(frame, path, site_col, crs)
    known = [a.name for a in aquifers]

    thick_col, scale = tables.quantity_column(frame, "thickness", path, "m", required=False)
    top_col, top_scale = tables.quantity_column(frame, "top", path, "m", required=False)
    if top_col is not None:
        bottom_col, bottom_scale = tables.quantity_column(frame, "bottom", path, "m")
        tops = tables.numbers(frame, top_col, path) * top_scale
        bottoms = tables.numbers(frame, bottom_col, path) * bottom_scale
    if thick_col is not None:
        thickness = tables.numbers(frame, thick_col, path) * scale
    elif top_col is not None:
        thickness = bottoms - tops
    else:
        raise InputError(path, "thickness", "no bed thickness: give a thickness column or "
                                            "the beds' top and bottom depths")
    bad = ~(thickness > 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, thick_col or f"{top_col}/{bottom_col}",
                         f'site "{names[i]}" (line {tables.line_of(path, i)}): bed '
                         f"thickness {thickness[i]} m must be > 0")

    aq_col = tables.find_column(frame, ("aquifer", "aquifer_group"))
    if aq_col is not None:
        labels = frame[aq_col].astype(str).str.strip().to_numpy()
        for i, label in enumerate(labels):
            if label not in known:
                raise InputError(path, aq_col, f"line {tables.line_of(path, i)}: unknown "
                                               f'aquifer "{label}"'
                                               f"{suggest(label, known)}; aquifers: "
                                               f"{', '.join(known)}")
        aquifer = np.array([known.index(label) for label in labels])
    elif top_col is not None:
        aquifer = np.array([assign_interval(path, f"{top_col}/{bottom_col}",
                                            f'site "{n}" bed', t, b, aquifers)[0]
                            for n, t, b in zip(names, tops, bottoms)])
    else:
        raise InputError(path, "aquifer", "no aquifer column nor bed top/bottom depths: "
                                          "which aquifer does each bed belong to?")

    given = {}
    for prop in PROPERTIES:
        if prop in frame.columns:
            values = tables.numbers(frame, prop, path, allow_missing=True)
            bad = values <= 0
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(path, prop, f"line {tables.line_of(path, i)}: {values[i]} "
                                             "must be > 0")
            given[prop] = values
    rows = []
    for k, site in enumerate(sites):
        for a in range(len(aquifers)):
            beds = (names == site) & (aquifer == a)
            if not beds.any():
                continue
            b_equiv, n_equiv = equivalent_bed(thickness[beds])
            props = []
            for prop in PROPERTIES:
                default = aquifers[a].interbeds.get(prop, np.nan)
                values = given[prop][beds] if prop in given else np.full(beds.sum(), np.nan)
                values = np.where(np.isnan(values), default, values)
                props.append(float(np.average(values, weights=thickness[beds])))
            rows.append((site, sx[k], sy[k], a, b_equiv, n_equiv, *props, int(beds.sum())))
    columns = list(zip(*rows))
    return EquivalentBeds(
        source=str(path), site=np.array(columns[0]), x=np.array(columns[1]),
        y=np.array(columns[2]), aquifer=np.array(columns[3], dtype=np.int64),
        b_equiv=np.array(columns[4]), n_equiv=np.array(columns[5]), kv=np.array(columns[6]),
        sske=np.array(columns[7]), sskv=np.array(columns[8]),
        beds=np.array(columns[9], dtype=np.int64))
