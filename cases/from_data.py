"""``landsub make-case from-data``: a case from real data files.

    landsub make-case from-data --insar FILE [--insar FILE ...]
        [--insar-format auto|mintpy|egms|licsbas|csv] [--insar-unit mm|cm|m]
        [--los-sign toward|away] [--track-distance METRES] [--crs EPSG:NNNN] --wells FILE
        [--extensometers FILE] [--stratigraphy FILE] [--params FILE] [--freq MS] --out DIR

What it builds (DESIGN.md, case schema 1):

- cells: the InSAR points (after optional re-referencing and thinning), in --crs;
- time axis: periods of --freq (MS: months) from the first to the last acquisition,
  clipped to the periods where every aquifer has a head;
- heads per aquifer: the wells' period means (short interior gaps filled linearly in
  time, reported) interpolated to the cells per period (IDW or ordinary kriging), with
  leave-one-out RMSE;
- interbeds from --stratigraphy (equivalent beds per borehole, IDW to the cells) or the
  --params defaults; no-delay beds and coarse skeleton from --params;
- observations: InSAR displacement (vertical, m, up positive, the period mean of the
  acquisitions inside each period, NaN where none, zero at the first period),
  extensometer compaction per aquifer at the nearest cell, the well records.

One --insar file is one track: its line of sight is turned vertical assuming vertical
motion (an assumption the summary states). Several --insar files are tracks of the same
ground (ascending and descending): each keeps its own dates and geometry and they are
decomposed into vertical (the cells' displacement) and east-west displacement
(``observations.displacement_east``) on groups of points within --track-distance of
the first track's points (``cases.readers.tracks``); the summary reports the tracks'
agreement and the residual of the decomposition. --insar-format, --insar-unit and
--los-sign are given once (every track) or once per track, in the order of --insar.

It writes the case (engine.caseio.write_case), ``summary.md`` (counts, dates, gaps,
outliers, reference, conversions, interpolation errors, assumptions; first, warnings:
heads interpolated with a leave-one-out error above LOO_WARNING_FRACTION of their range)
and ``map.png``.
Units, signs, CRS, aquifer order and material that neither a flag nor the files give are
refused, never guessed: all of them in one refusal (``cases.readers.declarations``).
The --params format is documented in ``cases.readers.params``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cases.readers import read_insar
from cases.readers.declarations import collecting, missing
from cases.readers.extensometers import read_extensometers
from cases.readers.geodesy import check_crs, los_to_vertical, project
from cases.readers.interpolation import LOO_WARNING_FRACTION, interpolate
from cases.readers.params import MATERIAL_KEYS, Params, read_params
from cases.readers.quality import outliers
from cases.readers.reference import to_reference_date, to_reference_points
from cases.readers.resample import FREQS, bin_mean, period_axis, period_index, runs
from cases.readers.sites import check_near
from cases.readers.stratigraphy import read_stratigraphy
from cases.readers.thinning import thin
from cases.readers.tracks import check_tracks, decompose
from cases.readers.wells import heads_on_axis, read_wells
from engine.case import Aquifer, Case, Cells, Compressible, Observations
from engine.errors import InputError
from engine.schema import nothing_compressible
from engine.units import DAYS_PER_MONTH
from physics.analytical import lag_time

#: m, default radius of the groups of points decomposed together (several tracks)
TRACK_DISTANCE = 100.0


@dataclass(frozen=True)
class FromData:
    """The command-line request. ``insar`` is one file or a sequence of tracks; the
    InSAR format, unit and sign are one value for every track or one per track."""

    insar: str | tuple[str, ...]
    wells: str
    out: str
    insar_format: str | tuple[str, ...] = "auto"
    insar_unit: str | tuple[str | None, ...] | None = None
    los_sign: str | tuple[str | None, ...] | None = None
    crs: str | None = None
    extensometers: str | None = None
    stratigraphy: str | None = None
    params: str | None = None
    freq: str = "MS"
    track_distance: float = TRACK_DISTANCE
    #: the case's name where the params file gives none (None: the name of ``out``)
    name: str | None = None

    def tracks(self) -> list[tuple[str, str, str | None, str | None]]:
        """(path, format, unit, sign) of each --insar file, in order."""
        paths = (self.insar,) if isinstance(self.insar, str) else tuple(self.insar)

        def per_track(flag, value):
            values = (value,) if value is None or isinstance(value, str) else tuple(value)
            if len(values) == 1:
                return values * len(paths)
            if len(values) != len(paths):
                raise InputError("command line", flag,
                                 f"given {len(values)} times for {len(paths)} --insar files: "
                                 "give it once (every track) or once per track, in the "
                                 "order of --insar")
            return values

        return list(zip(paths, per_track("--insar-format", self.insar_format),
                        per_track("--insar-unit", self.insar_unit),
                        per_track("--los-sign", self.los_sign)))


class Summary:
    """The lines of summary.md, by section."""

    SECTIONS = ("Inputs", "Time axis", "InSAR", "Tracks", "Conversions applied", "Outliers",
                "Gaps",
                "Wells", "Heads", "Spin-up", "Interbeds", "Extensometers", "Assumptions")

    def __init__(self, title: str):
        self.title = title
        self.sections: dict[str, list[str]] = {name: [] for name in self.SECTIONS}
        self.warnings: list[str] = []

    def add(self, section: str, line: str) -> None:
        self.sections[section].append(line)

    def warn(self, line: str) -> None:
        """A doubt about the case the user must hear of: first in summary.md, and the
        command prints it."""
        self.warnings.append(line)

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        if self.warnings:
            out += ["## Warnings", ""] + [f"- {line}" for line in self.warnings] + [""]
        for name, lines in self.sections.items():
            if lines:
                out += [f"## {name}", ""] + [f"- {line}" for line in lines] + [""]
        return "\n".join(out)


@dataclass
class Built:
    """A case built from data, with what the summary and the map need."""

    case: Case
    summary: Summary
    rates: np.ndarray          # [N] m/yr of the cells, from the acquisitions
    wells_xy: np.ndarray       # [W, 2]
    extensometers_xy: np.ndarray  # [S, 2]


def _format_runs(axis, missing, limit=8) -> str:
    spans = [str(axis[a]) if a == b else f"{axis[a]}..{axis[b]}" for a, b in runs(missing)]
    more = f" and {len(spans) - limit} more" if len(spans) > limit else ""
    return ", ".join(spans[:limit]) + more if spans else "none"


def build_case(req: FromData) -> Built:
    """The case of ``req`` and what its summary and map need. Every declaration that
    neither the files nor the command line give (InSAR unit and sign, CRS, head unit,
    aquifer order, compressible material) is refused in one go, each with the flag or
    --params key that gives it (``cases.readers.declarations``)."""
    with collecting():
        return _build(req)


def _build(req: FromData) -> Built:
    params = read_params(req.params) if req.params else Params(source="--params")
    crs = check_crs(req.crs) if req.crs else None
    if req.freq not in FREQS:
        raise InputError("command line", "--freq", f'"{req.freq}" is not one of '
                                                   f"{', '.join(FREQS)}")
    if not (np.isfinite(req.track_distance) and req.track_distance > 0):
        raise InputError("command line", "--track-distance", f"{req.track_distance} is not a "
                                                             "distance > 0 m")
    tracks = req.tracks()
    name = params.name or req.name or Path(req.out).name
    summary = Summary(f"Case {name}: built from data")
    for k, (path, fmt, _, _) in enumerate(tracks):
        label = f"InSAR track {k + 1}" if len(tracks) > 1 else "InSAR"
        summary.add("Inputs", f"{label}: {path} (format {fmt})")
    summary.add("Inputs", f"wells: {req.wells}")
    for label, path in (("extensometers", req.extensometers),
                        ("stratigraphy", req.stratigraphy), ("params", req.params)):
        if path:
            summary.add("Inputs", f"{label}: {path}")

    series, cells_rates = _insar(req, tracks, params, crs, summary)
    crs = crs or series.crs
    wells = read_wells(req.wells, params.aquifers, params.wells, params.source,
                       params.relative(params.wells["metadata"]) if params.wells["metadata"]
                       else None, crs)
    aquifer_names = list(wells.aquifer_names)
    for k, a in enumerate(aquifer_names):
        mine = np.isin(wells.record_well, np.flatnonzero(wells.aquifer == k))
        summary.add("Wells", f"{a}: {int((wells.aquifer == k).sum())} well(s), "
                             f"{int(mine.sum())} record(s)"
                             + (f" {wells.record_time[mine].min()}..{wells.record_time[mine].max()}"
                                if mine.any() else ""))
    check_near(req.wells, "x/y", wells.names, wells.x, wells.y, series.x, series.y,
               params.wells["max_distance"], "well")

    full_axis = period_axis(series.dates.min(), series.dates.max(), req.freq)
    on_axis = heads_on_axis(wells, full_axis, req.freq, params.wells["max_gap"])
    first, last = _head_span(req, wells, on_axis, full_axis, aquifer_names, params)
    axis = full_axis[first:last + 1]
    if len(axis) < 2:
        raise InputError(req.wells, "time", f"InSAR and heads overlap in {len(axis)} period(s) "
                                            f"({axis[0] if len(axis) else 'none'}): a case needs 2")
    if first > 0 or last < len(full_axis) - 1:
        summary.add("Time axis", f"InSAR spans {full_axis[0]}..{full_axis[-1]}; clipped to "
                                 f"{axis[0]}..{axis[-1]} where every aquifer has a head")

    displacement, counts = bin_mean(series.dates, series.values, axis, req.freq)
    east = None if series.east is None else bin_mean(series.dates, series.east, axis,
                                                     req.freq)[0]
    no_start = np.isnan(displacement[:, 0])
    if no_start.all():
        raise InputError(series.source, "dates", f"no point has an acquisition in the first "
                                                 f"period {axis[0]}")
    if no_start.any():
        summary.add("InSAR", f"{int(no_start.sum())} point(s) dropped: no acquisition in the "
                             f"first period {axis[0]}, so no common zero")
    keep = np.flatnonzero(~no_start)
    series, cells_rates = series.take(keep), cells_rates[keep]
    displacement, counts = displacement[keep] - displacement[keep, :1], counts[keep]
    if east is not None:
        east = east[keep] - east[keep, :1]
    summary.add("Time axis", f"{req.freq} periods {axis[0]}..{axis[-1]}: T = {len(axis)}")
    summary.add("InSAR", f"periods without any acquisition (left empty): "
                         f"{_format_runs(axis, counts.sum(axis=0) == 0)}")
    summary.add("Gaps", f"InSAR: {int((counts == 0).sum())} of {counts.size} cell-periods "
                        f"have no acquisition ({int((counts == 0).any(axis=1).sum())} cell(s) "
                        "with at least one); they stay empty")
    if east is None:
        summary.add("InSAR", "each period holds the mean of the acquisitions inside it; the "
                             f"first period is the zero (median {np.median(counts[:, 0]):.0f} "
                             "acquisition(s) in it)")
    else:
        summary.add("InSAR", "each period holds the vertical part decomposed from the tracks' "
                             "period means (see Tracks); the first period is the zero")
    summary.add("InSAR", f"cells: {len(series)} points")

    cells = Cells(ids=np.asarray(series.ids, dtype=str), x=series.x, y=series.y)
    heads = _heads(wells, on_axis, first, last, cells, aquifer_names, params, summary)
    beds = (read_stratigraphy(req.stratigraphy, params.aquifers, crs)
            if req.stratigraphy else None)
    spinup_times, spinup = _spinup(req, wells, axis, cells, heads, aquifer_names, params,
                                   summary)
    aquifers = tuple(
        Aquifer(name=a, head=heads[k],
                interbeds=_interbeds(k, a, params, beds, cells, summary),
                nodelay=_material(params, k, "nodelay", len(cells)),
                coarse=_material(params, k, "coarse", len(cells)),
                spinup_head=None if spinup is None else spinup[k],
                **_depths(params, k, len(cells)))
        for k, a in enumerate(aquifer_names))
    nothing = nothing_compressible(None, aquifers)
    if nothing:
        where = (req.params, "aquifers") if req.params else ("command line", "--params")
        missing(*where, f"{nothing} in --params (or clay beds per borehole in "
                        "--stratigraphy)", None)

    ext, ext_xy = None, np.empty((0, 2))
    if req.extensometers:
        ext, ext_xy = _extensometers(req, params, crs, cells, axis, summary)
    inside = period_index(wells.record_time, axis, req.freq) >= 0
    well_obs = {
        "well": wells.names[wells.record_well[inside]],
        "x": wells.x[wells.record_well[inside]], "y": wells.y[wells.record_well[inside]],
        "aquifer": wells.aquifer[wells.record_well[inside]],
        "time": wells.record_time[inside], "head": wells.record_head[inside],
    }
    insar_names = ", ".join(Path(path).name for path, *_ in tracks)
    case = Case(name=name, times=axis, cells=cells, aquifers=aquifers,
                description=params.description or f"built from {insar_names} and "
                                                  f"{Path(req.wells).name}",
                observations=Observations(displacement=displacement, extensometers=ext,
                                          wells=well_obs, displacement_east=east),
                spinup_times=spinup_times)
    _assumptions(params, req, crs, summary)
    return Built(case=case, summary=summary, rates=cells_rates,
                 wells_xy=np.column_stack([wells.x, wells.y]), extensometers_xy=ext_xy)


def _insar(req, tracks, params, crs, summary):
    """The InSAR points, vertical, projected, referenced, outliers handled, thinned;
    and their linear rates (m/yr). One track is turned vertical assuming vertical
    motion; several are decomposed (``cases.readers.tracks``), the east-west part kept
    in the series' ``east``."""
    read = [read_insar(path, fmt, unit, sign, crs) for path, fmt, unit, sign in tracks]
    if len(read) > 1:
        check_tracks(read)
    # " track k" after "InSAR" in the lines naming one of several tracks
    labels = [f" track {k + 1}" if len(read) > 1 else "" for k in range(len(read))]
    for label, series in zip(labels, read):
        summary.add("InSAR", f"{_lead(label)}{len(series)} points x {len(series.dates)} "
                             f"acquisitions {series.dates.min()}..{series.dates.max()} read "
                             f"({'vertical' if series.component == 'up' else 'line of sight'})")
        summary.add("InSAR", f"{_lead(label)}reference as delivered: {series.reference}")
    if len(read) == 1:
        series = read[0]
        if series.component == "los":
            summary.add("Assumptions", "the ground moved vertically only (line of sight turned "
                                       "into vertical displacement; one track cannot tell "
                                       "east-west motion from vertical: give a second track "
                                       "with --insar to decompose them)")
        series = _prepared(project(los_to_vertical(series), crs), params, summary, "")
    else:
        crs = crs or project(read[0], None).crs
        declared = [t for t in read[1:] if t.x is not None and t.crs is not None]
        if crs is None and declared:
            raise InputError(read[0].source, "crs", f"x, y declare no CRS while "
                                                    f"{declared[0].source} is in "
                                                    f"{declared[0].crs}: give --crs or a "
                                                    "# crs: line")
        prepared = [_prepared(project(track, crs), params, summary, label)
                    for track, label in zip(read, labels)]
        for label, track in zip(labels, prepared):
            for note in track.conversions:
                summary.add("Conversions applied", f"{_lead(label)}{note}")
        series = _decomposed(req, prepared, summary)
    thinning = params.insar["thinning"]
    if thinning is not None:
        before = len(series)
        method = thinning.get("method", "grid")
        kept = thin(series.x, series.y, method, thinning["spacing"], thinning.get("seed", 0))
        series = series.with_conversion(
            f"thinned ({method}, {thinning['spacing']:g} m, seed {thinning.get('seed', 0)}): "
            f"{before} -> {len(kept)} points").take(kept)
    for note in series.conversions:
        summary.add("Conversions applied", note)
    return series, series.rates()


def _prepared(series, params, summary, label):
    """A projected track re-referenced in space and time, its outliers reported (and
    set to gaps when [insar] drop_outliers says so)."""
    settings = params.insar
    if settings["reference"] is not None:
        ref = settings["reference"]
        series = to_reference_points(series, ref["x"], ref["y"], ref["radius"], params.source)
    series, dropped = to_reference_date(series, settings["reference_date"])
    if dropped:
        summary.add("InSAR", f"{_lead(label)}{dropped} point(s) dropped: no value on the "
                             "reference date")
    flags = outliers(series.values, series.dates, settings["outlier_threshold"],
                     settings["outlier_floor"])
    if flags.any():
        worst = np.unravel_index(np.argmax(np.where(flags, np.abs(series.values), -1)),
                                 flags.shape)
        action = "set to gaps" if settings["drop_outliers"] else "kept (drop_outliers = false)"
        summary.add("Outliers", f"InSAR{label}: {int(flags.sum())} value(s) at "
                                f"{int(flags.any(axis=1).sum())} point(s) depart more than "
                                f"{settings['outlier_threshold']:g} robust sd (and "
                                f"{settings['outlier_floor'] * 1e3:g} mm) from their neighbours "
                                f"in time, {action}; e.g. point {series.ids[worst[0]]} on "
                                f"{series.dates[worst[1]]}")
        if settings["drop_outliers"]:
            series = series.with_conversion(f"{int(flags.sum())} outlier(s) set to gaps",
                                            values=np.where(flags, np.nan, series.values))
    else:
        summary.add("Outliers", f"InSAR{label}: none found")
    return series


def _lead(label: str) -> str:
    """"track k: " leading a line about one of several tracks; "" for a single one."""
    return f"{label.strip()}: " if label else ""


def _decomposed(req, tracks, summary):
    """The tracks decomposed into vertical and east-west, with what the summary says of
    it: the method, the points dropped, the tracks' agreement, the residual."""
    result = decompose(tracks, req.freq, req.track_distance)
    series = result.series
    mm = 1e3
    summary.add("Tracks", f"{len(tracks)} tracks, each on its own dates and line of sight, "
                          f"put on {req.freq} periods {series.dates[0]}..{series.dates[-1]} "
                          "(their common span; period means of the acquisitions, zero at the "
                          "first period), then decomposed by least squares into vertical "
                          "(the cells' displacement) and east-west (observations."
                          "displacement_east, east positive) on groups: the points of every "
                          f"track within {req.track_distance:g} m (--track-distance) of each "
                          "point of track 1, each track weighted equally")
    for k, dropped in enumerate(result.dropped_no_zero):
        if dropped:
            summary.add("Tracks", f"track {k + 1}: {dropped} point(s) dropped: no acquisition "
                                  f"in the first period {series.dates[0]}")
    summary.add("Tracks", f"cells: {len(series)} points of track 1 ({result.dropped_unpaired} "
                          "dropped: no point of every other track within "
                          f"{req.track_distance:g} m); resolved in "
                          f"{100 * result.resolved_share:.1f} % of the cell-periods where two "
                          "tracks or more have a value (the others are gaps)")
    for pair in result.pairs:
        summary.add("Tracks", f"agreement of tracks {pair.first + 1} and {pair.second + 1} over "
                              f"{pair.groups} co-located groups: median line-of-sight rates "
                              f"{pair.rate_first * mm:.2f} and {pair.rate_second * mm:.2f} "
                              f"mm/yr, median difference {pair.rate_difference * mm:.2f} mm/yr; "
                              "turned vertical as if the ground moved vertically only they "
                              f"would differ by {pair.vertical_only_difference * mm:.2f} mm/yr "
                              f"(median; by more than {pair.vertical_only_p90 * mm:.2f} mm/yr "
                              "at a tenth of the groups): east-west motion, or a reference or "
                              "calibration difference")
    summary.add("Tracks", f"RMS residual of the decomposition {result.rms_residual * mm:.2f} mm "
                          f"over {result.residual_count} point-periods (with one point of each "
                          "of two tracks in a group the fit is exact: the residual is the "
                          "scatter of a track's points within their group)")
    summary.add("Tracks", "north-south motion is not resolved: near-polar orbits look almost "
                          "east-west (largest |north component| of the lines of sight "
                          f"{result.max_north:.2f}), so north-south motion stays in the fit, "
                          "mostly inside the vertical part")
    summary.add("Assumptions", "no north-south motion (near-polar orbits cannot resolve it); "
                               "the tracks are referenced to the same stable ground")
    return series


def _head_span(req, wells, on_axis, axis, aquifer_names, params):
    """First and last period where every aquifer has a head; refuses holes inside."""
    covered = np.array([~np.isnan(on_axis.heads[wells.aquifer == a]).all(axis=0)
                        for a in range(len(aquifer_names))])
    for a, name in enumerate(aquifer_names):
        if not covered[a].any():
            raise InputError(req.wells, "time", f"aquifer {name}: no head in "
                                                f"{axis[0]}..{axis[-1]}, the InSAR span")
    first = int(max(np.argmax(c) for c in covered))
    last = int(min(len(c) - 1 - np.argmax(c[::-1]) for c in covered))
    if first > last:
        raise InputError(req.wells, "time", "no period in the InSAR span where every aquifer "
                                            "has a head")
    for a, name in enumerate(aquifer_names):
        hole = ~covered[a, first:last + 1]
        if hole.any():
            raise InputError(req.wells, "time",
                             f"aquifer {name}: no well has a head in "
                             f"{_format_runs(axis[first:last + 1], hole)}; fill the records or "
                             f"raise [wells] max_gap in --params (now {params.wells['max_gap']})")
    return first, last


def _spinup(req, wells, axis, cells, heads, aquifer_names, params, summary):
    """(times [S], heads per aquifer [N, S]) of the spin-up: the well record before the
    first case period, on periods of --freq from the first period in which every aquifer
    has a well head, interpolated in space as the case's heads are; a period in which
    an aquifer has none is filled linearly in time, toward the case's first heads after
    the last one. (None, None) when no well was read before the case."""
    before = wells.record_time < axis[0]
    if not before.any():
        summary.add("Spin-up", f"none: no well record before the first case period {axis[0]}; "
                               "the beds start in equilibrium with the first heads")
        return None, None
    periods = period_axis(wells.record_time[before].min(), axis[0], req.freq)
    periods = periods[periods < axis[0]]
    on_axis = heads_on_axis(wells, periods, req.freq, params.wells["max_gap"])
    covered = np.array([~np.isnan(on_axis.heads[wells.aquifer == a]).all(axis=0)
                        for a in range(len(aquifer_names))])
    if not covered.any(axis=1).all():
        summary.add("Spin-up", f"none: before {axis[0]} not every aquifer has a well head")
        return None, None
    start = int(max(np.argmax(c) for c in covered))
    times = periods[start:]
    days = np.concatenate([times, axis[:1]]).astype(np.float64)
    out, filled = [], 0
    for a in range(len(aquifer_names)):
        mine = wells.aquifer == a
        values = interpolate(cells.x, cells.y, wells.x[mine], wells.y[mine],
                             on_axis.heads[mine][:, start:], params.wells["interpolation"],
                             params.wells["idw_power"], params.source).values
        known = np.append(covered[a, start:], True)
        filled += int((~known).sum())
        joined = np.column_stack([values, heads[a][:, :1]])
        out.append(np.array([np.interp(days[:-1], days[known], row[known])
                             for row in joined]))
    summary.add("Spin-up", f"{len(times)} {req.freq} periods {times[0]}..{times[-1]} from the "
                           f"well record before the first case period {axis[0]} (interpolated "
                           f"as the heads; {filled} aquifer-period(s) without a well head "
                           "filled linearly in time); physics solvers run it before the case, "
                           "so the beds start the case with that drawdown history behind them")
    return times, out


def _heads(wells, on_axis, first, last, cells, aquifer_names, params, summary):
    settings = params.wells
    span = slice(first, last + 1)
    flags = outliers(on_axis.measured[:, span], on_axis.axis[span],
                     settings["outlier_threshold"], settings["outlier_floor"])
    if flags.any():
        w, t = np.nonzero(flags)
        times = on_axis.axis[span]
        listed = ", ".join(f"{wells.names[i]} {times[j]}" for i, j in zip(w[:5], t[:5]))
        summary.add("Outliers", f"wells: {int(flags.sum())} period head(s) flagged and kept "
                                f"({listed}{' ...' if len(w) > 5 else ''})")
    else:
        summary.add("Outliers", "wells: none found")
    for well, start, stop, filled in on_axis.gaps:
        summary.add("Gaps", f"well {well}: no head {start}..{stop}"
                            + (" (filled linearly in time)" if filled else
                               f" (left open: longer than max_gap {settings['max_gap']})"))
    if not on_axis.gaps:
        summary.add("Gaps", "wells: no gap inside any well's record")
    for note in wells.notes:
        summary.add("Wells", note)
    heads = []
    for a, name in enumerate(aquifer_names):
        mine = wells.aquifer == a
        result = interpolate(cells.x, cells.y, wells.x[mine], wells.y[mine],
                             on_axis.heads[mine][:, span], settings["interpolation"],
                             settings["idw_power"], params.source)
        heads.append(result.values)
        line = (f"{name}: {int(mine.sum())} well(s), {settings['interpolation']}; "
                f"leave-one-out RMSE {result.loo_rmse:.3f} m over {result.loo_count} "
                "well-periods")
        if result.variogram is not None:
            v = result.variogram
            line += (f"; exponential variogram nugget {v.nugget:.3g} m^2, partial sill "
                     f"{v.partial_sill:.3g} m^2, range {v.range:.0f} m")
            if mine.sum() < 10:
                line += f" (poorly constrained by {int(mine.sum())} wells)"
        summary.add("Heads", line)
        if result.loo_fraction > LOO_WARNING_FRACTION:
            summary.warn(f"aquifer {name}: heads interpolated from {int(mine.sum())} well(s) "
                         f"have a leave-one-out RMSE of {result.loo_rmse:.2f} m, "
                         f"{result.loo_fraction:.2f} of their range {result.value_range:.2f} m "
                         f"(more than {LOO_WARNING_FRACTION:g}): the heads between the wells, "
                         "and the compaction computed from them, are poorly known")
    return heads


def _interbeds(k, name, params, beds, cells, summary):
    defaults = params.aquifers[k].interbeds if params.aquifers else {}
    from_beds = beds is not None and (beds.aquifer == k).any()
    if not from_beds and not defaults:
        return ()
    values = {}
    if from_beds:
        mine = beds.aquifer == k
        power = params.stratigraphy["idw_power"]
        site_values = {"thickness": beds.b_equiv[mine], "count": beds.n_equiv[mine],
                       "kv": beds.kv[mine], "sske": beds.sske[mine], "sskv": beds.sskv[mine]}
        for key, v in site_values.items():
            if np.isnan(v).any():
                raise InputError(beds.source, key, f"aquifer {name}: {key} is neither in the "
                                                   "table nor in --params [aquifers.interbeds]")
            values[key] = interpolate(cells.x, cells.y, beds.x[mine], beds.y[mine], v, "idw",
                                      power).values[:, 0]
        tau = beds.tau[mine] / DAYS_PER_MONTH
        summary.add("Interbeds", f"{name}: {int(mine.sum())} borehole(s); b_equiv "
                                 f"{beds.b_equiv[mine].min():.1f}..{beds.b_equiv[mine].max():.1f} "
                                 f"m, n_equiv {beds.n_equiv[mine].min():.1f}.."
                                 f"{beds.n_equiv[mine].max():.1f}, lag time tau "
                                 f"{tau.min():.2f}..{tau.max():.2f} months (IDW to the cells)")
    else:
        missing = [key for key in MATERIAL_KEYS["interbeds"] if key not in defaults]
        if missing:
            raise InputError(params.source, f"aquifers[{k}].interbeds.{missing[0]}",
                             f"aquifer {name}: interbeds need {', '.join(missing)} (no "
                             "--stratigraphy for this aquifer)")
        values = {key: np.full(len(cells), defaults[key]) for key in defaults}
        tau = lag_time(defaults["thickness"], defaults["kv"], defaults["sskv"]) / DAYS_PER_MONTH
        summary.add("Interbeds", f"{name}: uniform from --params; lag time tau {tau:.2f} months")
    return (Compressible(kind="interbeds", **values),)


def _material(params, k, kind, n):
    table = getattr(params.aquifers[k], kind) if params.aquifers else None
    if table is None:
        return None
    return Compressible(kind=kind, **{key: np.full(n, v) for key, v in table.items()})


def _depths(params, k, n):
    if not params.aquifers or params.aquifers[k].top is None:
        return {}
    a = params.aquifers[k]
    return {"top": np.full(n, a.top), "bottom": np.full(n, a.bottom)}


def _extensometers(req, params, crs, cells, axis, summary):
    from scipy.spatial import cKDTree

    if not params.aquifers:
        raise InputError("command line", "--params", "extensometer layers are mapped to "
                                                     "aquifers by depth: give --params with "
                                                     "the aquifers' top and bottom")
    ext = read_extensometers(req.extensometers, params.aquifers, params.extensometers,
                             params.source, crs)
    distance = check_near(req.extensometers, "x/y", ext.sites, ext.x, ext.y, cells.x,
                          cells.y, params.extensometers["max_distance"], "extensometer")
    _, nearest = cKDTree(np.column_stack([cells.x, cells.y])).query(
        np.column_stack([ext.x, ext.y]))
    for site, d, cell in zip(ext.sites, distance, nearest):
        summary.add("Extensometers", f"{site}: nearest cell {cells.ids[cell]} at {d:.0f} m")
    for note in ext.notes:
        summary.add("Extensometers", note)
    inside = period_index(ext.record_time, axis, req.freq) >= 0
    if (~inside).any():
        summary.add("Extensometers", f"{int((~inside).sum())} reading(s) outside "
                                     f"{axis[0]}..{axis[-1]} left out")
    records = {
        "site": ext.sites[ext.record_site[inside]],
        "cell": nearest[ext.record_site[inside]].astype(np.int64),
        "aquifer": ext.record_aquifer[inside],
        "time": ext.record_time[inside],
        "compaction": ext.record_compaction[inside],
    }
    return records, np.column_stack([ext.x, ext.y])


def _assumptions(params, req, crs, summary):
    summary.add("Assumptions", f"coordinates: {crs or 'as given in the files (no --crs)'}")
    summary.add("Assumptions", "a period's value (displacement, head) is the mean of the "
                               "measurements inside it, stamped at the period's start")
    if params.given:
        for item in params.given:
            summary.add("Assumptions", f"from --params: {item}")
    else:
        summary.add("Assumptions", "no --params: defaults of cases.readers.params")


def write_map(built: Built, path: Path) -> None:
    """Cells coloured by their linear rate (mm/yr), wells, extensometers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    case = built.case
    rates = built.rates * 1e3
    limit = float(np.nanpercentile(np.abs(rates), 98)) if np.isfinite(rates).any() else 1.0
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=120)
    size = float(np.clip(20000.0 / case.n_cells, 2.0, 30.0))
    dots = ax.scatter(case.cells.x, case.cells.y, c=rates, s=size, cmap="RdBu",
                      vmin=-limit, vmax=limit, linewidths=0)
    fig.colorbar(dots, ax=ax, label="vertical rate (mm/yr, up positive)")
    ax.scatter(built.wells_xy[:, 0], built.wells_xy[:, 1], marker="^", s=60, c="k",
               label=f"wells ({len(built.wells_xy)})")
    if len(built.extensometers_xy):
        ax.scatter(built.extensometers_xy[:, 0], built.extensometers_xy[:, 1], marker="*",
                   s=160, c="gold", edgecolors="k", label=f"extensometers "
                                                          f"({len(built.extensometers_xy)})")
    ax.set_aspect("equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{case.name}: {case.n_cells} cells, {case.times[0]}..{case.times[-1]}")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def make_case_from_data(req: FromData, warn=None) -> Path:
    """Build the case, write it with its summary and map into ``req.out``; returns the
    case manifest. ``warn(line)`` hears each warning (also in summary.md)."""
    from engine.caseio import write_case

    built = build_case(req)
    for line in built.summary.warnings:
        if warn is not None:
            warn(line)
    out = Path(req.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_case(built.case, out)
    (out / "summary.md").write_text(built.summary.markdown())
    write_map(built, out / "map.png")
    return Path(manifest)
