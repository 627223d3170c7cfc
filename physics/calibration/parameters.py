"""The calibrated parameters, their prior and their transforms to and from a Case.

Per aquifer that holds delay interbeds or no-delay beds, five parameters per cell:

=========================  =====================================================  =====
``interbed_thickness``     ln of the multiplier of the bed thickness b (m)         log
``kv``                     ln of the multiplier of the interbeds' Kv (m/d)         log
``sskv``                   ln of the multiplier of the inelastic Sskv (1/m)        log
``sske``                   ln of the multiplier of the elastic Sske (1/m), capped   log
                           at Sskv
``preconsolidation_offset``  m of head below the initial (or the case's)           m
                           preconsolidation head at which virgin compaction starts
                           (initial: the first spin-up head when there is one)
=========================  =====================================================  =====

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

KINDS = ("interbed_thickness", "kv", "sskv", "sske", "preconsolidation_offset")
LOG_KINDS = KINDS[:4]
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
    or m for the offset)."""

    aquifer: np.ndarray
    kind: np.ndarray
    spread: np.ndarray
    aquifer_names: tuple

    @classmethod
    def for_case(cls, case: Case, spreads: dict) -> "ParameterSpace":
        """``spreads``: KINDS -> prior standard deviation."""
        aquifer, kind = [], []
        for a, aq in enumerate(case.aquifers):
            if aq.interbeds or aq.nodelay is not None:
                for k in KINDS:
                    aquifer.append(a)
                    kind.append(k)
        return cls(np.array(aquifer, dtype=np.int64), np.array(kind),
                   np.array([float(spreads[k]) for k in kind]),
                   tuple(case.aquifer_names))

    @property
    def names(self) -> list[str]:
        return [f"{self.aquifer_names[a]}.{k}" for a, k in zip(self.aquifer, self.kind)]

    @property
    def size(self) -> int:
        return len(self.kind)

    def to_dict(self) -> dict:
        return {"aquifer": self.aquifer.tolist(), "kind": self.kind.tolist(),
                "spread": self.spread.tolist(), "aquifer_names": list(self.aquifer_names)}

    @classmethod
    def from_dict(cls, d: dict) -> "ParameterSpace":
        return cls(np.array(d["aquifer"], dtype=np.int64), np.array(d["kind"]),
                   np.array(d["spread"], dtype=np.float64), tuple(d["aquifer_names"]))

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
            aquifers[a] = replace(
                aq,
                interbeds=tuple(_changed(m, mine, aq.initial_head) for m in aq.interbeds),
                nodelay=None if aq.nodelay is None else _changed(aq.nodelay, mine,
                                                                 aq.initial_head))
        return replace(case, aquifers=tuple(aquifers))

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

