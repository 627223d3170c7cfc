"""Model inputs from a case: what the neural models see at each cell and month.

Every feature is computed from the case's inputs (heads and compressible material),
never from its observations, per aquifer system (the aquifers in case order):

``head``                 m above datum, the aquifer head h(t)
``head_change``          m, h(t) - h(t0): the head change since the first time
``head_step``            m, h(t) - h(t-1): the change over one step (0 at t0)
``lagged_head_change``   m, h(t - tau) - h(t0): the head change the interbeds have felt
                         after their lag time tau (see ``lag_times``); before the first
                         time from the case's spin-up heads where it has them
``stress_load``          kN/m, H * dsigma'(t) with dsigma' = -gamma_w (h(t) - h(t-1)):
                         the compaction driver of the effective-stress principle, H the
                         aquifer's compressible thickness
``thickness``            m, compressible thickness H (interbeds count x b, no-delay beds)
``inelastic_storage``    log10 of the thickness-weighted inelastic specific storage
                         Sskv (1/m) of the aquifer's compressible beds

and, supplied by the caller rather than the case (``extra``):

``baseline``             m, a physics solver's displacement (residual models)

A feature is computed for every aquifer unless its name selects some: ``name@A+B``
takes aquifers A and B only (case aquifer names, e.g. ``head_change@confined-1+confined-2``,
the inputs of a study that uses some aquifers only).

A ``FeatureSet`` fits its normalisation on the training entries only (a mask over
[cells, times]); changes (``*_change``, ``head_step``, ``stress_load``, ``baseline``)
are only scaled, so that "no change" stays exactly 0 for every model, the others are
centred and scaled.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InputError
from physics.analytical import lag_time

#: Unit weight of water, kN/m^3: one metre of head is GAMMA_W kPa of effective stress.
GAMMA_W = 9.80665

DYNAMIC = ("head", "head_change", "head_step", "lagged_head_change", "stress_load")
STATIC = ("thickness", "inelastic_storage")
EXTRA = ("baseline",)
KNOWN = DYNAMIC + STATIC + EXTRA
#: Features that are changes from a resting state: scaled, never shifted.
_UNCENTRED = ("head_change", "head_step", "lagged_head_change", "stress_load", "baseline")


def _source(case) -> str:
    return case.source or case.name


def _material(aquifer):
    """Compressible beds that compact inelastically (delay interbeds, no-delay beds)."""
    return list(aquifer.interbeds) + ([aquifer.nodelay] if aquifer.nodelay is not None else [])


def _total_thickness(m) -> np.ndarray:
    return m.thickness * (m.count if m.count is not None else 1.0)


def compressible_thickness(aquifer, n_cells: int) -> np.ndarray:
    """[N] m: the aquifer's compressible thickness, interbeds (count x b) plus no-delay beds."""
    total = np.zeros(n_cells)
    for m in _material(aquifer):
        total += _total_thickness(m)
    return total


def _sskv(m, case, a: int) -> np.ndarray:
    if m.sskv is None:
        raise InputError(_source(case), f"aquifers[{a}].{m.kind}.sskv",
                         f'storage = "{m.storage}" gives no inelastic specific storage; '
                         "the neural models need sskv (1/m)")
    return m.sskv


def inelastic_specific_storage(case, a: int) -> np.ndarray:
    """[N] 1/m: thickness-weighted mean Sskv of aquifer ``a``'s compressible beds
    (0 where the aquifer has none)."""
    aquifer = case.aquifers[a]
    weighted = np.zeros(case.n_cells)
    thickness = np.zeros(case.n_cells)
    for m in _material(aquifer):
        b = _total_thickness(m)
        weighted += b * _sskv(m, case, a)
        thickness += b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(thickness > 0, weighted / np.where(thickness > 0, thickness, 1.0), 0.0)


def lag_times(case) -> np.ndarray:
    """[A, N] days: each aquifer's interbed lag time tau = (b_equiv/2)^2 Sskv / Kv.

    b_equiv = sqrt(mean(b_i^2)) over the aquifer's interbeds (each equivalent bed of a
    system counted ``count`` times, so fractional counts weigh proportionally); Sskv and
    Kv are the means over the beds weighted by their thickness. 0 without interbeds.
    """
    tau = np.zeros((len(case.aquifers), case.n_cells))
    for a, aquifer in enumerate(case.aquifers):
        beds = aquifer.interbeds
        if not beds:
            continue
        counts = np.array([ib.count for ib in beds])              # [S, N]
        b = np.array([ib.thickness for ib in beds])
        weight = counts * b
        sskv = np.array([_sskv(ib, case, a) for ib in beds])
        kv = np.array([ib.kv for ib in beds])
        # physics.analytical.equivalent_thickness over the beds, each system's bed
        # repeated ``count`` times; written with weights so that counts may be fractional
        b_equiv = np.sqrt((counts * b * b).sum(0) / counts.sum(0))
        tau[a] = lag_time(b_equiv, (weight * kv).sum(0) / weight.sum(0),
                          (weight * sskv).sum(0) / weight.sum(0))
    return tau


def lagged(values: np.ndarray, days: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """values [N, T] at times ``days - lag`` (lag [N] days), linear in between, held at
    the first value before the first time (equilibrium before the case starts)."""
    t = len(days)
    position = days[None, :] - lag[:, None]
    right = np.clip(np.searchsorted(days, position, side="right"), 1, t - 1)
    left = right - 1
    span = days[right] - days[left]
    frac = np.clip((position - days[left]) / span, 0.0, 1.0)
    rows = np.arange(len(values))[:, None]
    out = values[rows, left] * (1.0 - frac) + values[rows, right] * frac
    return np.where(position <= days[0], values[:, :1], out)


def prior_modulus(case) -> np.ndarray:
    """[N] kPa: the constrained modulus E = gamma_w / Sskv of each cell's compressible
    beds, Sskv thickness-weighted over all aquifers (the stiffness prior of pc-rnn)."""
    weighted = np.zeros(case.n_cells)
    thickness = np.zeros(case.n_cells)
    for a, aquifer in enumerate(case.aquifers):
        h = compressible_thickness(aquifer, case.n_cells)
        weighted += h * inelastic_specific_storage(case, a)
        thickness += h
    if np.any(weighted <= 0):
        n = int(np.flatnonzero(weighted <= 0)[0])
        raise InputError(_source(case), "aquifers", f"cell {case.cells.ids[n]} has no "
                         "compressible beds with inelastic storage: no stiffness prior")
    return GAMMA_W * thickness / weighted


def _lagged_head(case, aquifer, a: int) -> np.ndarray:
    """[N, T] m: the head at t - tau, read from the spin-up heads where t - tau is before
    the first case time (and the case has them)."""
    lag = lag_times(case)[a]
    if aquifer.spinup_head is None:
        return lagged(aquifer.head, case.days, lag)
    times = np.concatenate([case.spinup_times, case.times])
    days = (times - times[0]).astype("timedelta64[D]").astype(np.float64)
    record = np.concatenate([aquifer.spinup_head, aquifer.head], axis=1)
    return lagged(record, days, lag)[:, -case.n_times:]


def raw_feature(case, name: str, a: int, extra=None) -> np.ndarray:
    """One channel at every cell of ``case``, [N, T] float64, in physical units (see the
    module docstring); ``extra`` features are [N, T] arrays over the same cells."""
    if name in EXTRA:
        if extra is None or name not in extra:
            raise InputError("features", name, f'feature "{name}" must be given by the caller')
        return np.asarray(extra[name], dtype=np.float64)
    aquifer = case.aquifers[a]
    if name in STATIC:
        if name == "thickness":
            value = compressible_thickness(aquifer, case.n_cells)
        else:
            sskv = inelastic_specific_storage(case, a)
            value = np.log10(np.where(sskv > 0, sskv, 1e-12))
        return np.broadcast_to(value[:, None], (case.n_cells, case.n_times))
    head = aquifer.head
    if name == "head":
        return head
    if name == "head_change":
        return head - head[:, :1]
    if name == "lagged_head_change":
        return _lagged_head(case, aquifer, a) - head[:, :1]
    step = np.diff(head, axis=1, prepend=head[:, :1])
    if name == "head_step":
        return step
    thickness = compressible_thickness(aquifer, case.n_cells)
    return -GAMMA_W * step * thickness[:, None]


def _parse(name: str) -> tuple[str, tuple[str, ...] | None]:
    """(feature, the aquifer names it selects or None for all) of ``name@A+B``."""
    feature, at, chosen = name.partition("@")
    if feature not in KNOWN:
        raise InputError("features", name, f"unknown feature; known: {', '.join(KNOWN)}")
    if not at:
        return feature, None
    aquifers = tuple(chosen.split("+"))
    if feature in EXTRA or not all(aquifers) or len(set(aquifers)) != len(aquifers):
        raise InputError("features", name, "@ takes distinct aquifer names joined by +, "
                         f"after a feature of the case ({', '.join(DYNAMIC + STATIC)})")
    return feature, aquifers


class FeatureSet:
    """Named features per aquifer (``names`` x their aquifers channels, in that order)
    and their normalisation, fitted on training entries only."""

    def __init__(self, names, aquifers=None, center=None, scale=None):
        self.parsed = [_parse(f) for f in names]
        self.names = list(names)
        self.aquifers = None if aquifers is None else list(aquifers)
        self.center = None if center is None else np.asarray(center, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def selected(self, aquifer_names) -> list[tuple[str, list[int]]]:
        """(feature, the indices of its aquifers among ``aquifer_names``) per name; an
        aquifer a name selects that is not among them is refused."""
        out = []
        for (feature, chosen), name in zip(self.parsed, self.names):
            if feature in EXTRA:
                out.append((feature, [0]))
                continue
            missing = [aq for aq in chosen or () if aq not in aquifer_names]
            if missing:
                raise InputError("features", name, f'"{missing[0]}" is not an aquifer of '
                                 f"the case; aquifers: {', '.join(aquifer_names)}")
            out.append((feature, [list(aquifer_names).index(aq) for aq in chosen]
                        if chosen else list(range(len(aquifer_names)))))
        return out

    def channels(self) -> list[str]:
        """Channel labels, "feature[aquifer]" (one "baseline" channel, it has no aquifer)."""
        out = []
        for feature, indices in self.selected(self.aquifers):
            out += [feature] if feature in EXTRA else [f"{feature}[{self.aquifers[a]}]"
                                                       for a in indices]
        return out

    @property
    def size(self) -> int:
        return len(self.channels())

    def _columns(self, case, cells, extra=None):
        """Each channel at ``cells``, [n, T] float64: the features of the case cut to them."""
        part = case.without_observations().take_cells(cells)
        part_extra = None if extra is None else {k: np.asarray(v)[cells] for k, v in extra.items()}
        for feature, indices in self.selected(case.aquifer_names):
            for a in indices:
                yield raw_feature(part, feature, a, part_extra)

    def fit(self, case, mask: np.ndarray, extra=None) -> "FeatureSet":
        """Fit the normalisation on the entries where ``mask`` [N, T] is True."""
        self.aquifers = case.aquifer_names
        cells = np.flatnonzero(mask.any(axis=1))
        entries = mask[cells]
        raw = np.stack([c[entries] for c in self._columns(case, cells, extra)], axis=-1)
        center = raw.mean(axis=0)
        uncentred = np.array([c.split("[")[0] in _UNCENTRED for c in self.channels()])
        center[uncentred] = 0.0
        spread = np.sqrt(((raw - center) ** 2).mean(axis=0))
        # a channel constant over the training entries carries no information to scale
        self.scale = np.where(spread > 1e-12 * (1.0 + np.abs(center)), spread, 1.0)
        self.center = center
        return self

    def transform(self, case, cells=None, extra=None) -> np.ndarray:
        """[n, T, F] float32 normalised inputs at ``cells`` (all when None)."""
        if self.center is None:
            raise InputError("features", "normalisation", "transform() before fit()")
        if case.aquifer_names != self.aquifers:
            raise InputError(_source(case), "aquifers", f"the case has aquifers "
                             f"{case.aquifer_names}; the model was fitted on {self.aquifers}")
        cells = np.arange(case.n_cells) if cells is None else np.asarray(cells)
        out = np.empty((len(cells), case.n_times, self.size), dtype=np.float32)
        for c, column in enumerate(self._columns(case, cells, extra)):
            out[:, :, c] = (column - self.center[c]) / self.scale[c]
        return out

    def to_dict(self) -> dict:
        return {"names": self.names, "aquifers": self.aquifers,
                "center": self.center.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSet":
        return cls(d["names"], d["aquifers"], d["center"], d["scale"])
