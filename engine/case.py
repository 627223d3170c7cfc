"""The case: one study area, its time axis, cells, aquifer systems and observations.

Units and signs are those of DESIGN.md: metres, days inside physics, heads in metres
above a common datum, displacement positive up, compaction positive = shortening.
Every per-cell parameter is a float64 array of shape [N] (a scalar in the case file is
broadcast on loading), so solvers never deal with the file format.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.errors import InputError

STORAGE_KINDS = ("specific", "indices")


@dataclass(frozen=True)
class Compressible:
    """One system of compressible material in one aquifer, parameters per cell [N].

    ``kind`` is "interbeds" (delay beds: slow vertical drainage to the aquifer),
    "nodelay" (beds that equilibrate with the aquifer head at once) or "coarse"
    (the aquifer's own coarse-grained skeleton, elastic only).

    thickness : m. For interbeds the thickness of ONE equivalent bed (b_equiv); for
        nodelay and coarse the total thickness of that material in the aquifer.
    count : number of equivalent beds (interbeds only, >= 1, may be fractional).
    kv : m/d, vertical hydraulic conductivity of the interbeds (interbeds only).
    sske, sskv : 1/m, elastic and inelastic (virgin) skeletal specific storage.
        With ``storage == "indices"`` they are None and cc, cr, void_ratio are given:
        Ss = 0.434 C / ((1 + e) sigma'), sigma' in metres of water (MODFLOW 6 CSUB).
    preconsolidation_head : m above datum; None means the initial aquifer head
        (normally consolidated start). Not used by "coarse".
    preconsolidation_offset : m of head below the initial aquifer head (>= 0): the
        same state stated relative to the head, for a modeller who knows how far a bed
        was unloaded before the record but not the datum; at most one of the two forms.
        "Initial" is the first head of the record a solver runs: the first spin-up head
        when the case has a spin-up (Aquifer.initial_head).
    """

    kind: str
    thickness: np.ndarray
    sske: np.ndarray | None = None
    sskv: np.ndarray | None = None
    count: np.ndarray | None = None
    kv: np.ndarray | None = None
    preconsolidation_head: np.ndarray | None = None
    preconsolidation_offset: np.ndarray | None = None
    storage: str = "specific"
    cc: np.ndarray | None = None
    cr: np.ndarray | None = None
    void_ratio: np.ndarray | None = None

    def take(self, cells: np.ndarray) -> "Compressible":
        """The same material at a subset of cells (integer index array)."""
        changes = {
            name: getattr(self, name)[cells]
            for name in ("thickness", "sske", "sskv", "count", "kv",
                         "preconsolidation_head", "preconsolidation_offset", "cc", "cr",
                         "void_ratio")
            if getattr(self, name) is not None
        }
        return replace(self, **changes)

    def initial_preconsolidation(self, initial_head: np.ndarray) -> np.ndarray:
        """[N] preconsolidation head (m above datum) at the first time of the record, as
        stated: the given head, the initial head less the offset, or (neither given) the
        initial head itself. Solvers lower a value above the initial head to it."""
        first = np.asarray(initial_head, dtype=np.float64)
        if self.preconsolidation_head is not None:
            return np.asarray(self.preconsolidation_head, dtype=np.float64)
        if self.preconsolidation_offset is not None:
            return first - np.asarray(self.preconsolidation_offset, dtype=np.float64)
        return first.copy()


@dataclass(frozen=True)
class Aquifer:
    """One aquifer system (top first in Case.aquifers).

    head : [N, T] m above datum at the case times (linear in between).
    interbeds : delay interbed systems (CSUB's ninterbeds), possibly empty.
    nodelay, coarse : optional no-delay beds and coarse-grained skeleton.
    top, bottom : [N] depth below land surface, m (needed for stress-dependent storage).
    spinup_head : [N, S] m above datum at the case's spin-up times (Case.spinup_times),
        the stress history before the first case time; None without a spin-up.
    confined : True when the head stays above the aquifer's top (a change of head is a
        change of pore pressure only), False when it is a water table inside the aquifer
        (its changes also change the weight of the sediment above it); None when the case
        does not say, and ``engine.schema.confinement`` derives it from the stratigraphy.
    """

    name: str
    head: np.ndarray
    interbeds: tuple[Compressible, ...] = ()
    nodelay: Compressible | None = None
    coarse: Compressible | None = None
    top: np.ndarray | None = None
    bottom: np.ndarray | None = None
    spinup_head: np.ndarray | None = None
    confined: bool | None = None

    @property
    def initial_head(self) -> np.ndarray:
        """[N] m: the head at which the beds start in equilibrium, the first of the
        spin-up when there is one, else the first case head."""
        return (self.head if self.spinup_head is None else self.spinup_head)[:, 0]

    def materials(self):
        """All compressible systems of this aquifer, delay interbeds first."""
        out = list(self.interbeds)
        out += [m for m in (self.nodelay, self.coarse) if m is not None]
        return out

    def take(self, cells: np.ndarray) -> "Aquifer":
        return replace(
            self,
            head=self.head[cells],
            interbeds=tuple(ib.take(cells) for ib in self.interbeds),
            nodelay=None if self.nodelay is None else self.nodelay.take(cells),
            coarse=None if self.coarse is None else self.coarse.take(cells),
            top=None if self.top is None else self.top[cells],
            bottom=None if self.bottom is None else self.bottom[cells],
            spinup_head=None if self.spinup_head is None else self.spinup_head[cells],
        )


@dataclass(frozen=True)
class Geostatic:
    """Geostatic load for stress-dependent storage.

    sgm, sgs : specific gravity of moist (above the water table) and saturated sediment.
    land_surface : [N] m above datum (default 0), turns depths into elevations.
    """

    sgm: float
    sgs: float
    land_surface: np.ndarray

    def take(self, cells: np.ndarray) -> "Geostatic":
        return replace(self, land_surface=self.land_surface[cells])


@dataclass(frozen=True)
class Study:
    """What a case is a study of, for the reports: ``claims`` names the published claims
    set that ``landsub bench`` sets against a run (e.g. "zhu-beijing-seminar"), and
    ``aquifers`` the case aquifers its per-aquifer claims are about, in the set's order
    (None: the case's confined aquifers)."""

    claims: str
    aquifers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Cells:
    """The N points of the case: ids (str), projected x, y in metres, optional zone label."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    zone: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, cells: np.ndarray) -> "Cells":
        return Cells(self.ids[cells], self.x[cells], self.y[cells],
                     None if self.zone is None else self.zone[cells])


@dataclass(frozen=True)
class Observations:
    """What was measured; never needed by predict().

    displacement : [N, T] m, up positive, NaN where not observed (or None).
    extensometers : dict of equal-length arrays: site (str), cell (int index),
        aquifer (int index), time (datetime64[D]), compaction (m, shortening positive).
    wells : dict of equal-length arrays: well (str), x, y (m), aquifer (int index),
        time (datetime64[D]), head (m above datum).
    displacement_east : [N, T] m, east positive, NaN where not resolved (or None): the
        east-west part of InSAR tracks decomposed with the vertical (``displacement``);
        kept for reports, no solver predicts it.
    """

    displacement: np.ndarray | None = None
    extensometers: dict | None = None
    wells: dict | None = None
    displacement_east: np.ndarray | None = None

    def take(self, cells: np.ndarray) -> "Observations":
        ext = None
        if self.extensometers is not None:
            # re-index cells; drop records at cells that are not kept
            old = self.extensometers["cell"]
            remap = np.full(max(int(old.max(initial=-1)), int(np.max(cells, initial=-1))) + 1, -1)
            remap[cells] = np.arange(len(cells))
            keep = remap[old] >= 0
            ext = {k: v[keep] for k, v in self.extensometers.items()}
            ext["cell"] = remap[ext["cell"]]
        return Observations(
            displacement=None if self.displacement is None else self.displacement[cells],
            extensometers=ext,
            wells=self.wells,
            displacement_east=(None if self.displacement_east is None
                               else self.displacement_east[cells]),
        )


@dataclass(frozen=True)
class Case:
    """One study area. ``times`` is datetime64[D] of shape [T], strictly increasing.

    ``spinup_times`` (datetime64[D] [S], strictly increasing, all before ``times[0]``),
    with every aquifer's ``spinup_head``, is the stress history the physics solvers run
    before the first case time; results still start at 0 at ``times[0]``.
    """

    name: str
    times: np.ndarray
    cells: Cells
    aquifers: tuple[Aquifer, ...]
    description: str = ""
    geostatic: Geostatic | None = None
    observations: Observations = field(default_factory=Observations)
    source: str | None = None  # the manifest path the case was read from, if any
    spinup_times: np.ndarray | None = None
    study: Study | None = None

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_times(self) -> int:
        return len(self.times)

    @property
    def days(self) -> np.ndarray:
        """[T] float64 days since the first time."""
        return (self.times - self.times[0]).astype("timedelta64[D]").astype(np.float64)

    @property
    def aquifer_names(self) -> list[str]:
        return [a.name for a in self.aquifers]

    def take_cells(self, cells) -> "Case":
        """The same case restricted to some cells (integer indices, in that order)."""
        cells = np.asarray(cells, dtype=np.int64)
        return replace(
            self,
            cells=self.cells.take(cells),
            aquifers=tuple(a.take(cells) for a in self.aquifers),
            geostatic=None if self.geostatic is None else self.geostatic.take(cells),
            observations=self.observations.take(cells),
        )

    def without_observations(self) -> "Case":
        return replace(self, observations=Observations())

    def window(self, start, end) -> "Case":
        """The same study area over the case times from ``start`` to ``end`` (ISO dates
        "YYYY", "YYYY-MM" or "YYYY-MM-DD"; ``end`` includes the whole year, month or day
        it names), as if it had been set up for that period:

        - the case times before ``start`` join the spin-up (heads included), so the
          physics still runs the whole stress history and the beds keep their state;
        - observed displacement (and its east-west part) is rebased to the window's
          first time, which becomes the reference epoch, as every result starts at 0
          there: less the cell's value at that time, or, where it was not observed then,
          the linear interpolation in time of its observations on either side (a cell
          without one on each side has no usable reference and becomes unobserved);
        - extensometer and well records outside the window are dropped (extensometer
          readings are compared as changes since each instrument's first reading).

        Refused (InputError naming the case) when a date is not a date or the window
        holds fewer than two case times."""
        source = self.source or f'case "{self.name}"'
        bounds = []
        for label, text in (("start", start), ("end", end)):
            try:
                day = np.datetime64(str(text))
            except ValueError:
                day = np.datetime64("NaT")
            if np.isnat(day) or np.datetime_data(day.dtype)[0] not in ("Y", "M", "D"):
                raise InputError(source, f"time window {label}", f'"{text}" is not a date '
                                 "(YYYY[-MM[-DD]])")
            bounds.append(day)
        first = bounds[0].astype("datetime64[D]")
        after = (bounds[1] + 1).astype("datetime64[D]")      # the end's unit, inclusive
        keep = (self.times >= first) & (self.times < after)
        if keep.sum() < 2:
            raise InputError(source, "time window", f"{start} .. {end} holds "
                             f"{int(keep.sum())} of the case times ({self.times[0]} .. "
                             f"{self.times[-1]}); a window needs at least two")
        i0, i1 = int(np.argmax(keep)), int(len(keep) - np.argmax(keep[::-1]))
        if i0 == 0:
            spinup_times = self.spinup_times
            aquifers = tuple(replace(a, head=a.head[:, :i1]) for a in self.aquifers)
        else:
            spinup_times = np.concatenate([self.spinup_times if self.spinup_times is not None
                                           else self.times[:0], self.times[:i0]])
            aquifers = tuple(replace(
                a, head=a.head[:, i0:i1],
                spinup_head=np.concatenate([a.spinup_head, a.head[:, :i0]], axis=1)
                if a.spinup_head is not None else a.head[:, :i0]) for a in self.aquifers)
        obs = self.observations
        days = self.days

        def rebased(values):
            return None if values is None else _rebased(values, days, i0)[:, i0:i1]

        def inside(records):
            if not records:
                return records
            when = np.asarray(records["time"]).astype("datetime64[D]")
            pick = (when >= self.times[i0]) & (when <= self.times[i1 - 1])
            return {k: np.asarray(v)[pick] for k, v in records.items()}

        observations = Observations(rebased(obs.displacement), inside(obs.extensometers),
                                    inside(obs.wells), rebased(obs.displacement_east))
        return replace(self, times=self.times[i0:i1], aquifers=aquifers,
                       spinup_times=spinup_times, observations=observations)

    def spinup_record(self) -> tuple["Case", int]:
        """(the case a physics solver runs, S): with a spin-up, the spin-up and the case
        as one record (times and heads concatenated, no spin-up left) and S its number
        of spin-up times; without one, the case itself and 0. A solver runs the record
        and reports it from index S on, less its value there (0 at the first case time).
        """
        if self.spinup_times is None:
            return self, 0
        times = np.concatenate([self.spinup_times, self.times])
        aquifers = tuple(replace(a, head=np.concatenate([a.spinup_head, a.head], axis=1),
                                 spinup_head=None) for a in self.aquifers)
        return (replace(self, times=times, aquifers=aquifers, spinup_times=None,
                        observations=Observations()), len(self.spinup_times))


def _rebased(values: np.ndarray, days: np.ndarray, i0: int) -> np.ndarray:
    """values [N, T] less each row's value at time index ``i0`` (interpolated in time
    between the row's finite values on either side where it is NaN there; NaN rows where
    it cannot be)."""
    values = np.asarray(values, dtype=np.float64)
    reference = values[:, i0].copy()
    for n in np.flatnonzero(~np.isfinite(reference)):
        seen = np.flatnonzero(np.isfinite(values[n]))
        before, later = seen[seen < i0], seen[seen > i0]
        if len(before) and len(later):
            b, a = before[-1], later[0]
            reference[n] = np.interp(days[i0], days[[b, a]], values[n, [b, a]])
    return values - reference[:, None]


def build_case(name: str, days, aquifers, geostatic: dict | None = None,
               spinup_days=None) -> Case:
    """A Case from plain values (tests, benchmarks, generators).

    days : [T] whole days from 2000-01-01, increasing. aquifers : list of dicts with
    "head" ([N, T] m, or [T] for one cell) and optionally "interbeds" (a list of dicts),
    "nodelay", "coarse" (dicts of Compressible fields; scalars apply to every cell),
    "top", "bottom" (depths, m), "name", "confined" (bool) and, with ``spinup_days`` ([S] whole days from
    2000-01-01, before days[0]), "spinup_head" ([N, S] or [S] m). geostatic : dict of
    Geostatic fields.
    """
    days = np.asarray(days)
    heads = [np.atleast_2d(np.asarray(aq["head"], dtype=np.float64)) for aq in aquifers]
    n = heads[0].shape[0]

    def per_cell(value):
        return None if value is None else np.broadcast_to(
            np.asarray(value, dtype=np.float64), (n,)).copy()

    def material(kind, fields):
        fields = dict(fields)
        storage = fields.pop("storage", "specific")
        return Compressible(kind, storage=storage,
                            **{k: per_cell(v) for k, v in fields.items()})

    built = []
    for a, (aq, head) in enumerate(zip(aquifers, heads)):
        built.append(Aquifer(
            aq.get("name", f"aquifer-{a}"), head,
            interbeds=tuple(material("interbeds", ib) for ib in aq.get("interbeds", ())),
            nodelay=material("nodelay", aq["nodelay"]) if "nodelay" in aq else None,
            coarse=material("coarse", aq["coarse"]) if "coarse" in aq else None,
            top=per_cell(aq.get("top")), bottom=per_cell(aq.get("bottom")),
            confined=aq.get("confined"),
            spinup_head=None if spinup_days is None else np.atleast_2d(
                np.asarray(aq["spinup_head"], dtype=np.float64))))
    ids = np.array([str(i) for i in range(n)])
    geo = None
    if geostatic is not None:
        geo = Geostatic(geostatic["sgm"], geostatic["sgs"],
                        per_cell(geostatic.get("land_surface", 0.0)))
    origin = np.datetime64("2000-01-01")
    spinup = (None if spinup_days is None
              else origin + np.asarray(spinup_days).astype("timedelta64[D]"))
    return Case(name=name, times=origin + days.astype("timedelta64[D]"),
                cells=Cells(ids, np.zeros(n), np.zeros(n)), aquifers=tuple(built),
                geostatic=geo, spinup_times=spinup)
