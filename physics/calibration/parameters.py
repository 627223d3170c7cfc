"""The calibrated parameters, their prior and their transforms to and from a Case.

Per aquifer that holds delay interbeds or no-delay beds, five parameters per cell (six
with the head drift):

=========================  =====================================================  =====
``interbed_thickness``     ln of the multiplier of the bed thickness b (m)         log
``kv``                     ln of the multiplier of the interbeds' Kv (m/d)         log
``sskv``                   ln of the multiplier of the inelastic Sskv (1/m)        log
``sske``                   ln of the multiplier of the elastic Sske (1/m), capped   log
                           at Sskv
``preconsolidation_offset``  m of head below the initial (or the case's)           m
                           preconsolidation head at which virgin compaction starts
                           (initial: the first spin-up head when there is one)
``head_drift``             m added to the aquifer's heads, ramping from 0 at the   m
                           first case time to its value at the last time the
                           calibration read, then held (optional: only when
                           given a spread)
=========================  =====================================================  =====

Why a head parameter: the heads of a real case (and of the twin) are interpolated
from wells, and their error is not noise: at a cell it drifts away from the start of
the record, slowly and smoothly (on the tiny Beijing twin, the difference between the
interpolated and the flow model's heads, counted from the first case time, is about
2 m rms per confined aquifer, and a ramp in time takes out 55-70 % of it). Without a
place to go, that drift is fitted by storage, Kv and the offset, and those then answer a
what-if wrongly. The drift is held after the record because nothing tells it more; it
is the same in a baseline and its scenario, so a what-if's effect comes from the
sediments.

The multipliers act on the case's own (prior) values, so the prior is centred on what
the modeller knows and a fitted model applies to any case with the same cells (a
what-if changes the heads, not the sediments). The multipliers act on every interbed
system and on the no-delay beds of the aquifer alike (the coarse skeleton is left as
given: its elastic storage is small and poorly separable from the interbeds').

Prior: each log multiplier ~ N(0, spread^2), the offset ~ N(0, offset_spread^2) in m
(a negative offset is clipped to 0 by the solver: a bed cannot start beyond its
preconsolidation state). The prior's error is spatially correlated, like a geological
model's, so a member is a random field per parameter: a Gaussian-covariance field of
correlation length ``length`` (m), drawn by random Fourier features (cost linear in
cells), plus an independent part per cell (``NUGGET`` of the variance) because the
sediments vary below that length too. The correlation is what lets a cell learn from
its neighbours' observations (the smoother's localization).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.case import Case

KINDS = ("interbed_thickness", "kv", "sskv", "sske", "preconsolidation_offset", "head_drift")
LOG_KINDS = KINDS[:4]
#: kinds a space holds only when ``for_case`` is given their spread
OPTIONAL_KINDS = ("head_drift",)
#: the kinds that change the sediments (the differentiable twin's, ``dpl``'s)
SEDIMENT_KINDS = tuple(k for k in KINDS if k not in OPTIONAL_KINDS)
#: Share of the prior variance that is independent from cell to cell.
NUGGET = 0.3
#: Random Fourier features per prior field.
FEATURES = 256
#: Members are clipped to this many prior standard deviations (keeps the kernels in range).
CLIP_SD = 4.0


@dataclass(frozen=True)
class ParameterSpace:
    """The P calibrated parameters of a case: ``aquifer`` [P] (index) and ``kind`` [P]
    (one of KINDS), aquifer-major; ``spread`` [P] the prior standard deviation (ln units,
    or m for the offset and the drift); ``drift_window`` the first and last dates
    (ISO) of the head drift's ramp, empty without a drift."""

    aquifer: np.ndarray
    kind: np.ndarray
    spread: np.ndarray
    aquifer_names: tuple
    drift_window: tuple = ()

    @classmethod
    def for_case(cls, case: Case, spreads: dict, last_time: int | None = None
                 ) -> "ParameterSpace":
        """``spreads``: KINDS -> prior standard deviation (an OPTIONAL_KINDS kind only
        where given and above 0); ``last_time``: index of the last time the calibration
        reads (the end of the drift's ramp; default the case's last)."""
        kinds = [k for k in KINDS if k not in OPTIONAL_KINDS or spreads.get(k, 0.0) > 0.0]
        aquifer, kind = [], []
        for a, aq in enumerate(case.aquifers):
            if aq.interbeds or aq.nodelay is not None:
                for k in kinds:
                    aquifer.append(a)
                    kind.append(k)
        end = case.n_times - 1 if last_time is None else last_time
        window = (str(case.times[0]), str(case.times[end])) if "head_drift" in kinds else ()
        return cls(np.array(aquifer, dtype=np.int64), np.array(kind),
                   np.array([float(spreads[k]) for k in kind]),
                   tuple(case.aquifer_names), window)

    @property
    def names(self) -> list[str]:
        return [f"{self.aquifer_names[a]}.{k}" for a, k in zip(self.aquifer, self.kind)]

    @property
    def size(self) -> int:
        return len(self.kind)

    def to_dict(self) -> dict:
        return {"aquifer": self.aquifer.tolist(), "kind": self.kind.tolist(),
                "spread": self.spread.tolist(), "aquifer_names": list(self.aquifer_names),
                "drift_window": list(self.drift_window)}

    @classmethod
    def from_dict(cls, d: dict) -> "ParameterSpace":
        return cls(np.array(d["aquifer"], dtype=np.int64), np.array(d["kind"]),
                   np.array(d["spread"], dtype=np.float64), tuple(d["aquifer_names"]),
                   tuple(d.get("drift_window", ())))

    def draw_prior(self, rng: np.random.Generator, x, y, members: int,
                   length: float) -> np.ndarray:
        """[members, P, N] prior members at cells (x, y) (m)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        # random Fourier features of the Gaussian covariance exp(-d^2 / (2 length^2))
        omega = rng.normal(0.0, 1.0 / length, size=(2, FEATURES))
        phase = rng.uniform(0.0, 2.0 * np.pi, size=FEATURES)
        basis = np.sqrt(2.0 / FEATURES) * np.cos(np.column_stack([x, y]) @ omega + phase)
        weights = rng.normal(size=(FEATURES, members * self.size))
        smooth = (basis @ weights).T.reshape(members, self.size, len(x))
        white = rng.normal(size=(members, self.size, len(x)))
        unit = np.sqrt(1.0 - NUGGET) * smooth + np.sqrt(NUGGET) * white
        return unit * self.spread[None, :, None]

    def clip(self, values: np.ndarray) -> np.ndarray:
        """``values`` [..., P, N] within CLIP_SD prior standard deviations."""
        bound = CLIP_SD * self.spread[:, None]
        return np.clip(values, -bound, bound)

    def apply(self, case: Case, values: np.ndarray) -> Case:
        """``case`` with its compressible parameters changed by ``values`` [P, N]."""
        aquifers = list(case.aquifers)
        for a in np.unique(self.aquifer):
            mine = {k: values[p] for p, (b, k) in enumerate(zip(self.aquifer, self.kind))
                    if b == a}
            aq = aquifers[a]
            if "head_drift" in mine:
                aq = replace(aq, head=aq.head + mine["head_drift"][:, None]
                             * self.ramp(case.times)[None, :])
            aquifers[a] = replace(
                aq,
                interbeds=tuple(_changed(m, mine, aq.initial_head) for m in aq.interbeds),
                nodelay=None if aq.nodelay is None else _changed(aq.nodelay, mine,
                                                                 aq.initial_head))
        return replace(case, aquifers=tuple(aquifers))

    def ramp(self, times: np.ndarray) -> np.ndarray:
        """[T] the drift's share at ``times``: 0 up to the window's start, 1 from its end."""
        start, end = (np.datetime64(d, "D") for d in self.drift_window)
        span = max(float((end - start).astype(np.float64)), 1.0)
        return np.clip((times.astype("datetime64[D]") - start).astype(np.float64) / span,
                       0.0, 1.0)

    def replicate(self, case: Case, members: np.ndarray) -> Case:
        """One case holding every member at every cell: cells member-major (cell n of
        member m is cell m * N + n); ``members`` [M, P, N]. Observations are dropped."""
        n_members, _, n = members.shape
        tiled = case.without_observations().take_cells(np.tile(np.arange(n), n_members))
        flat = np.transpose(members, (1, 0, 2)).reshape(self.size, n_members * n)
        return self.apply(tiled, flat)


def _changed(material, mine: dict, initial_head: np.ndarray):
    """One compressible system with its multipliers and offset applied."""
    if material.storage != "specific":
        raise ValueError("calibration needs storage = \"specific\" (sske, sskv given)")
    sskv = material.sskv * np.exp(mine["sskv"])
    # elastic storage never exceeds virgin storage (the solver refuses it)
    changes = {"sske": np.minimum(material.sske * np.exp(mine["sske"]), sskv), "sskv": sskv}
    changes["thickness"] = material.thickness * np.exp(mine["interbed_thickness"])
    if material.kind == "interbeds":
        changes["kv"] = material.kv * np.exp(mine["kv"])
    # the offset moves the case's own initial state (either spelling), stated as a head
    changes["preconsolidation_head"] = (material.initial_preconsolidation(initial_head)
                                        - mine["preconsolidation_offset"])
    changes["preconsolidation_offset"] = None
    return replace(material, **changes)

