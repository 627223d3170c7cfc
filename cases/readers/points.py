"""The point time series every InSAR reader returns, and the conventions it carries.

A reader turns a product (MintPy, EGMS, LiCSBAS, a PS table) into one ``PointSeries``:
values in METRES, and either already vertical (``component == "up"``, positive up) or
along the line of sight (``component == "los"``, positive TOWARD the satellite, the
convention of MintPy, LiCSBAS and EGMS). Everything that was done to the numbers on the
way (unit scaling, sign flips, LOS to vertical, re-referencing) is appended to
``conversions`` so the case summary can say it.

Units and signs are never guessed: ``resolve_unit`` and ``resolve_los_sign`` combine what
the file says with what the user said on the command line, and refuse when neither says
or when they disagree.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field, replace

import numpy as np

from cases.readers.declarations import missing
from engine.errors import InputError
from engine.units import DAYS_PER_YEAR

METRES_PER_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001}
LOS_SIGNS = ("toward", "away")
COMPONENTS = ("up", "los")

_DATE_LABEL = re.compile(r"^D?(\d{8})$", re.IGNORECASE)


@dataclass(frozen=True)
class PointSeries:
    """Displacement time series at P points over D acquisition dates.

    source : the file read.
    ids : [P] str, unique point identifiers.
    dates : [D] datetime64[D], strictly increasing acquisition dates.
    values : [P, D] float64, m; NaN where a point has no measurement at a date.
    component : "up" (vertical, positive up) or "los" (line of sight, positive toward
        the satellite).
    x, y : [P] projected coordinates, m, in ``crs`` (None until projected).
    lon, lat : [P] geographic coordinates, degrees (None when the product has none).
    los_up : [P] up component of the unit vector from the ground to the satellite
        (cos of the incidence angle), needed to turn "los" into "up".
    los_east, los_north : [P] its east and north components (None when the product
        gives only the incidence), needed to decompose several tracks.
    east : [P, D] east-west displacement, m, east positive, of a series decomposed from
        several tracks (``component == "up"``); None otherwise.
    reference : where the product says its values are referenced (point, area, date).
    conversions : what was done to the values since they left the file, in order.
    """

    source: str
    ids: np.ndarray
    dates: np.ndarray
    values: np.ndarray
    component: str
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    crs: str | None = None
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    los_up: np.ndarray | None = None
    los_east: np.ndarray | None = None
    los_north: np.ndarray | None = None
    east: np.ndarray | None = None
    reference: str = "as delivered"
    conversions: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, not {self.component!r}")
        n_points, n_dates = self.values.shape
        if len(self.ids) != n_points or len(self.dates) != n_dates:
            raise ValueError("values must be [len(ids), len(dates)]")

    def __len__(self) -> int:
        return len(self.ids)

    def with_conversion(self, note: str, **changes) -> "PointSeries":
        """A copy with ``changes`` applied and ``note`` appended to the conversions."""
        return replace(self, conversions=self.conversions + (note,), **changes)

    def take(self, points) -> "PointSeries":
        """The same series at a subset of points (integer or boolean index)."""
        def sub(a):
            return None if a is None else a[points]
        return replace(self, ids=self.ids[points], values=self.values[points],
                       x=sub(self.x), y=sub(self.y), lon=sub(self.lon), lat=sub(self.lat),
                       los_up=sub(self.los_up), los_east=sub(self.los_east),
                       los_north=sub(self.los_north), east=sub(self.east))

    @property
    def has_geometry(self) -> bool:
        """Whether the full line-of-sight unit vector (east, north, up) is known."""
        return self.los_east is not None and self.los_north is not None \
            and self.los_up is not None

    def rates(self) -> np.ndarray:
        """[P] least-squares linear rate, m/yr, over each point's measured dates (NaN
        where a point has fewer than two)."""
        years = (self.dates - self.dates[0]).astype(np.float64) / DAYS_PER_YEAR
        ok = ~np.isnan(self.values)
        count = ok.sum(axis=1)
        t = np.where(ok, years, 0.0)
        v = np.where(ok, self.values, 0.0)
        t_mean = t.sum(axis=1) / np.maximum(count, 1)
        v_mean = v.sum(axis=1) / np.maximum(count, 1)
        dt = np.where(ok, years - t_mean[:, None], 0.0)
        sxx = (dt ** 2).sum(axis=1)
        sxy = (dt * (v - v_mean[:, None])).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((count >= 2) & (sxx > 0), sxy / sxx, np.nan)


def parse_date_label(label: str):
    """datetime64[D] of a column header ``YYYYMMDD`` or ``DYYYYMMDD``; None when the
    header is not shaped like a date; ValueError when it is shaped like one but is not
    a calendar date (e.g. 20151301)."""
    match = _DATE_LABEL.match(str(label).strip())
    if match is None:
        return None
    digits = match.group(1)
    day = _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    return np.datetime64(day, "D")


def parse_yyyymmdd(source, field: str, labels) -> np.ndarray:
    """[D] datetime64[D] from YYYYMMDD labels (str, bytes or int), refusing bad or
    duplicated dates. Order is preserved; callers sort."""
    out = []
    for label in labels:
        text = label.decode() if isinstance(label, bytes) else str(label)
        try:
            date = parse_date_label(text)
        except ValueError:
            date = None
        if date is None:
            raise InputError(source, field, f'"{text}" is not a date YYYYMMDD')
        out.append(date)
    dates = np.array(out, dtype="datetime64[D]")
    check_unique_dates(source, field, dates)
    return dates


def check_unique_dates(source, field: str, dates: np.ndarray) -> None:
    values, counts = np.unique(dates, return_counts=True)
    if (counts > 1).any():
        raise InputError(source, field,
                         f"date {values[counts > 1][0]} appears {counts.max()} times")


def resolve_unit(source, file_unit: str | None, flag_unit: str | None) -> float:
    """Metres per unit of the values, from the file's own declaration and --insar-unit.

    Refuses when neither says, when the file's unit is not one of mm/cm/m, and when the
    two disagree."""
    if file_unit is not None:
        unit = file_unit.strip().lower()
        unit = {"meter": "m", "meters": "m", "metre": "m", "metres": "m",
                "millimeter": "mm", "millimeters": "mm", "millimetre": "mm",
                "centimeter": "cm", "centimeters": "cm", "centimetre": "cm"}.get(unit, unit)
        if unit not in METRES_PER_UNIT:
            raise InputError(source, "unit", f'unit "{file_unit}" is not one of mm, cm, m')
        if flag_unit is not None and flag_unit != unit:
            raise InputError(source, "unit",
                             f'the file says its values are in "{unit}" but --insar-unit '
                             f'says "{flag_unit}"; drop the flag or fix the file')
        return METRES_PER_UNIT[unit]
    if flag_unit is None:
        # metres stand in while every missing declaration is being collected
        flag_unit = missing(source, "unit", "the file does not say the unit of its values: "
                            'give --insar-unit mm|cm|m (a PS CSV may say "# unit: mm")', "m")
    return METRES_PER_UNIT[flag_unit]


def resolve_los_sign(source, file_sign: str | None, flag_sign: str | None) -> float:
    """+1 when line-of-sight values are positive toward the satellite, -1 when positive
    away from it; refuses when neither the file nor --los-sign says, or they disagree."""
    if file_sign is not None and flag_sign is not None and file_sign != flag_sign:
        raise InputError(source, "sign",
                         f'the file says line-of-sight values are positive "{file_sign}" '
                         f'(the satellite) but --los-sign says "{flag_sign}"')
    sign = file_sign or flag_sign or missing(
        source, "sign", "the file does not say whether line-of-sight values are positive "
        "toward or away from the satellite: give --los-sign toward|away (a PS CSV may say "
        '"# positive: toward")', "toward")
    return 1.0 if sign == "toward" else -1.0


def check_los_up(source, field: str, ids, los_up: np.ndarray) -> None:
    """Refuse LOS up components that are missing or would blow a LOS value up more than
    tenfold (incidence beyond ~84 degrees is not a SAR geometry)."""
    bad = ~(np.isfinite(los_up) & (los_up > 0.1) & (los_up <= 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(source, field,
                         f"point {ids[i]}: up component of the line of sight {los_up[i]} is "
                         "not in (0.1, 1] (incidence 0..84 degrees)")


def check_los_vector(source, field: str, ids, east, north, up) -> None:
    """Refuse a line-of-sight vector that is not a unit vector (within 2 %, the rounding
    of products that print three decimals) or whose up component check_los_up refuses."""
    check_los_up(source, field, ids, up)
    norm = np.sqrt(east ** 2 + north ** 2 + up ** 2)
    bad = ~(np.abs(norm - 1.0) <= 0.02)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(source, field,
                         f"point {ids[i]}: line-of-sight vector ({east[i]}, {north[i]}, "
                         f"{up[i]}) has length {norm[i]:.3f}, not 1")


def check_coordinates(source, fields: tuple[str, str], ids, a: np.ndarray, b: np.ndarray):
    """Refuse points whose coordinates are missing (NaN, empty)."""
    bad = ~(np.isfinite(a) & np.isfinite(b))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(source, f"{fields[0]}/{fields[1]}",
                         f"point {ids[i]} has no coordinates ({a[i]}, {b[i]}); "
                         f"{int(bad.sum())} point(s) lack them")


def open_hdf5(path):
    """An HDF5 product opened for reading, or an InputError naming the file."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise InputError(path, "file", f"not an HDF5 file: {err}") from None
