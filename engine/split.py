"""Which observations train, validate and test a solver (DESIGN.md, "Split").

Kinds, over a case with N cells and T times:

- ``"spatial"``: a seeded random ``train_fraction`` of the cells train (all their
  times), the other cells test (all their times): the seminar's 70/30 holdout of
  thinned PS points.
- ``"temporal"``: every cell trains at the times up to and including ``train_until``
  and tests at the times after it (forecasting: prediction-horizon analysis).
- ``"both"``: the training cells (as for "spatial") at the training times (as for
  "temporal") train; everything else tests, that is the test cells at ALL times plus
  every cell at the times after ``train_until``.
- ``"blocks"``: as "spatial", but whole square blocks of ``block_size`` metres go to
  training or test, so a test cell is not surrounded by training cells of its own
  cluster (a random cell split leaks there). Blocks are aligned to a grid with origin at
  the minimum x and y of the cells; the seed shuffles them, and training takes them in
  that order up to the cumulative cell count closest to ``train_fraction`` of the cells
  (the shorter prefix on a tie; at least one block on each side).
- ``"cells"``: the cells named in ``test_ids`` (ids) test, at all their times; every
  other cell trains: a protocol's chosen validation points (the seminar's four points
  of case study 1).
- ``"none"``: every observation trains; nothing is held out (``split=None`` in fit).

Validation, for early stopping, is carved out of the training part: for "spatial",
"both" and "cells" a seeded ``validation_fraction`` of the training cells (over the training
times), for "blocks" whole training blocks (the last ones taken, up to the count
closest to ``validation_fraction`` of the training cells; none when only one block
trains), so early stopping is not flattered by neighbours, for "temporal" the last
``validation_fraction`` of the training times (over all cells). Train, validation and
test masks are disjoint and together cover every (cell, time) of the case; they say
which observations a part may use, whether or not an observation exists there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.errors import InputError, suggest

KINDS = ("spatial", "temporal", "both", "blocks", "cells", "none")
_CELL_KINDS = ("spatial", "both", "blocks", "cells")     # kinds that hold out whole cells
_FRACTION_KINDS = ("spatial", "both", "blocks")          # kinds with a train_fraction
_SOURCE = "split"


@dataclass(frozen=True)
class Split:
    """A seeded split. ``train_until`` is an ISO date "YYYY-MM-DD" (temporal kinds);
    ``block_size`` the side of a block in metres ("blocks" only); ``test_ids`` the ids
    of the test cells ("cells" only)."""

    kind: str
    train_fraction: float | None = None
    train_until: str | None = None
    validation_fraction: float = 0.1
    seed: int = 0
    block_size: float | None = None
    test_ids: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(_SOURCE, "kind", f'unknown split kind "{self.kind}"'
                             f"{suggest(self.kind, KINDS)}; kinds: {', '.join(KINDS)}")
        spatial = self.kind in _FRACTION_KINDS
        temporal = self.kind in ("temporal", "both")
        if spatial != (self.train_fraction is not None):
            raise InputError(_SOURCE, "train_fraction", f"a {self.kind} split "
                             f"{'needs' if spatial else 'takes no'} train_fraction "
                             f"(got {self.train_fraction})")
        if spatial and not 0.0 < self.train_fraction < 1.0:
            raise InputError(_SOURCE, "train_fraction", f"{self.train_fraction} is not "
                             "strictly between 0 and 1")
        if temporal != (self.train_until is not None):
            raise InputError(_SOURCE, "train_until", f"a {self.kind} split "
                             f"{'needs' if temporal else 'takes no'} train_until "
                             f"(got {self.train_until})")
        if temporal:
            object.__setattr__(self, "train_until", _iso_date(self.train_until, "train_until"))
        blocks = self.kind == "blocks"
        if blocks != (self.block_size is not None):
            raise InputError(_SOURCE, "block_size", f"a {self.kind} split "
                             f"{'needs' if blocks else 'takes no'} block_size "
                             f"(got {self.block_size})")
        if blocks and not (np.isfinite(self.block_size) and self.block_size > 0):
            raise InputError(_SOURCE, "block_size", f"{self.block_size} is not a positive "
                             "number of metres")
        listed = self.kind == "cells"
        if listed != (self.test_ids is not None):
            raise InputError(_SOURCE, "test_ids", f"a {self.kind} split "
                             f"{'needs' if listed else 'takes no'} test_ids "
                             f"(got {self.test_ids})")
        if listed:
            ids = tuple(str(c) for c in self.test_ids)
            if not ids or len(set(ids)) != len(ids):
                raise InputError(_SOURCE, "test_ids", f"{list(ids)}: give one or more "
                                 "distinct cell ids")
            object.__setattr__(self, "test_ids", ids)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise InputError(_SOURCE, "validation_fraction",
                             f"{self.validation_fraction} is not in [0, 1)")

    @classmethod
    def parse(cls, text: str, case=None, seed: int = 0,
              validation_fraction: float = 0.1) -> "Split":
        """``"spatial:0.7"``, ``"temporal:2015-01"``, ``"both:0.7:2015-01"``,
        ``"blocks:0.7:10000"`` (fraction, block side in metres), ``"cells:ID+ID+..."``
        (the test cells' ids) or ``"none"``.

        A date may be "YYYY", "YYYY-MM" or "YYYY-MM-DD" and means the first day it
        names ("2015-01" is 2015-01-01). With ``case`` the split is also checked
        against it (every part that should exist is non-empty).
        """
        parts = text.strip().split(":")
        kind, args = parts[0], parts[1:]
        expected = {"spatial": 1, "temporal": 1, "both": 2, "blocks": 2, "cells": 1, "none": 0}
        if kind not in expected:
            raise InputError(_SOURCE, "kind", f'unknown split "{text}"{suggest(kind, KINDS)}; '
                             'use "spatial:0.7", "temporal:2015-01", "both:0.7:2015-01", '
                             '"blocks:0.7:10000", "cells:ID+ID" or "none"')
        if len(args) != expected[kind]:
            raise InputError(_SOURCE, kind, f'"{text}" needs {expected[kind]} value(s) '
                             f"after \"{kind}\", got {len(args)}")
        fraction = until = size = listed = None
        if kind in _FRACTION_KINDS:
            try:
                fraction = float(args[0])
            except ValueError:
                raise InputError(_SOURCE, "train_fraction",
                                 f'"{args[0]}" in "{text}" is not a number') from None
        if kind in ("temporal", "both"):
            until = args[-1]
        if kind == "blocks":
            try:
                size = float(args[1])
            except ValueError:
                raise InputError(_SOURCE, "block_size",
                                 f'"{args[1]}" in "{text}" is not a number of metres') from None
        if kind == "cells":
            listed = tuple(args[0].split("+"))
        split = cls(kind, fraction, until, validation_fraction, seed, size, listed)
        if case is not None:
            split.check(case)
        return split

    def to_dict(self) -> dict:
        d = asdict(self)
        # the dict of every other kind stays as before blocks and listed cells existed,
        # so a bench folder written then still matches its plan and resumes
        for key in ("block_size", "test_ids"):
            if d[key] is None:
                del d[key]
        if "test_ids" in d:
            d["test_ids"] = list(d["test_ids"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Split":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(_SOURCE, sorted(unknown)[0], "unknown split field")
        if "kind" not in d:
            raise InputError(_SOURCE, "kind", "missing")
        try:
            return cls(**d)
        except TypeError as exc:  # a number stored as text, or the like
            raise InputError(_SOURCE, "(fields)", f"{d}: {exc}") from None

    # -- the parts, over a case -------------------------------------------------------

    def check(self, case) -> None:
        """Refuse a split that leaves a part empty on ``case``."""
        if self.kind in _CELL_KINDS:
            if case.n_cells < 2:
                raise InputError(_SOURCE, "train_fraction", f"a {self.kind} split needs "
                                 f"at least 2 cells; case {case.name} has {case.n_cells}")
        if self.kind == "cells":
            known = set(np.asarray(case.cells.ids).astype(str))
            missing = [c for c in self.test_ids if c not in known]
            if missing:
                raise InputError(_SOURCE, "test_ids", f'cell "{missing[0]}" is not a '
                                 f"cell of case {case.name}")
            if len(self.test_ids) >= case.n_cells:
                raise InputError(_SOURCE, "test_ids", f"{len(self.test_ids)} test "
                                 f"cells leave none of the {case.n_cells} of case "
                                 f"{case.name} to train")
        if self.kind == "blocks":
            n_blocks = len(_block_counts(case, self.block_size)[1])
            if n_blocks < 2:
                x, y = case.cells.x, case.cells.y
                raise InputError(_SOURCE, "block_size", f"{self.block_size:g} m puts all "
                                 f"{case.n_cells} cells of case {case.name} (extent "
                                 f"{np.ptp(x):g} x {np.ptp(y):g} m) in 1 block: no cell "
                                 "would be left to test; use a smaller block size")
        if self.kind in ("temporal", "both"):
            b = self.time_boundary(case)
            if b == 0 or b == case.n_times:
                raise InputError(_SOURCE, "train_until", f"{self.train_until} leaves no "
                                 f"{'training' if b == 0 else 'test'} times in case "
                                 f"{case.name} ({case.times[0]} to {case.times[-1]})")

    def time_boundary(self, case) -> int:
        """Index of the first test time: times[:b] train, times[b:] test (b = T when
        there is no temporal holdout)."""
        if self.train_until is None:
            return case.n_times
        return int(np.searchsorted(case.times, np.datetime64(self.train_until, "D"),
                                   side="right"))

    def validation_time_start(self, case) -> int:
        """Index of the first validation time of a "temporal" split (else the boundary)."""
        b = self.time_boundary(case)
        if self.kind != "temporal":
            return b
        return b - _part_size(b, self.validation_fraction)

    def _cell_parts(self, case):
        n = case.n_cells
        if self.kind not in _CELL_KINDS:
            everything = np.arange(n)
            return everything, everything[:0], everything[:0]
        if self.kind == "blocks":
            return self._block_parts(case)
        if self.kind == "cells":
            return self._listed_parts(case)
        order = np.random.default_rng(self.seed).permutation(n)
        n_train = min(max(int(round(self.train_fraction * n)), 1), n - 1)
        n_validation = _part_size(n_train, self.validation_fraction)
        fit = np.sort(order[:n_train - n_validation])
        validation = np.sort(order[n_train - n_validation:n_train])
        test = np.sort(order[n_train:])
        return fit, validation, test

    def _listed_parts(self, case):
        # checked here too: a split read back from a dict meets its case here
        self.check(case)
        ids = np.asarray(case.cells.ids).astype(str)
        test = np.flatnonzero(np.isin(ids, self.test_ids))
        train = np.flatnonzero(~np.isin(ids, self.test_ids))
        order = train[np.random.default_rng(self.seed).permutation(len(train))]
        n_validation = _part_size(len(train), self.validation_fraction)
        return (np.sort(order[:len(train) - n_validation]),
                np.sort(order[len(train) - n_validation:]), test)

    def _block_parts(self, case):
        # a split built without a case (from a stored dict) meets the case here: one
        # block would leave nothing to test, so it is refused by name, not by argmin
        self.check(case)
        block_of_cell, counts = _block_counts(case, self.block_size)
        order = np.random.default_rng(self.seed).permutation(len(counts))
        n_train = _closest_prefix(counts[order], self.train_fraction * case.n_cells)
        train = order[:n_train]
        n_validation = 0
        if self.validation_fraction > 0.0 and n_train >= 2:
            last_first = train[::-1]
            n_validation = _closest_prefix(counts[last_first],
                                           self.validation_fraction * counts[train].sum())
        fit = train[:n_train - n_validation]
        validation = train[n_train - n_validation:]
        return tuple(np.flatnonzero(np.isin(block_of_cell, blocks))
                     for blocks in (fit, validation, order[n_train:]))

    def train_mask(self, case) -> np.ndarray:
        """bool [N, T]: the observations fit() may learn from."""
        fit, _, _ = self._cell_parts(case)
        mask = np.zeros((case.n_cells, case.n_times), dtype=bool)
        mask[fit, :self.validation_time_start(case)] = True
        return mask

    def validation_mask(self, case) -> np.ndarray:
        """bool [N, T]: the observations fit() may use for early stopping only."""
        _, validation, _ = self._cell_parts(case)
        mask = np.zeros((case.n_cells, case.n_times), dtype=bool)
        b = self.time_boundary(case)
        mask[validation, :b] = True
        if self.kind == "temporal":
            mask[:, self.validation_time_start(case):b] = True
        return mask

    def test_mask(self, case) -> np.ndarray:
        """bool [N, T]: the observations fit() must never see."""
        return ~(self.train_mask(case) | self.validation_mask(case))

    def train_cells(self, case) -> np.ndarray:
        """Indices of the cells with at least one training entry."""
        return np.flatnonzero(self.train_mask(case).any(axis=1))

    def validation_cells(self, case) -> np.ndarray:
        return np.flatnonzero(self.validation_mask(case).any(axis=1))

    def test_cells(self, case) -> np.ndarray:
        """Indices of the cells with at least one test entry (for "both": every cell)."""
        return np.flatnonzero(self.test_mask(case).any(axis=1))

    def median_holdout_distance(self, case) -> float | None:
        """Median distance (metres) from a held-out cell (no training or validation
        entry at any time) to its nearest training cell: how far a spatial score
        extrapolates. None when the split holds out no whole cell ("temporal", "none")."""
        from scipy.spatial import cKDTree  # here, so importing the core stays light

        seen = (self.train_mask(case) | self.validation_mask(case)).any(axis=1)
        held_out = np.flatnonzero(~seen)
        train = self.train_cells(case)
        if len(held_out) == 0 or len(train) == 0:
            return None
        xy = np.column_stack([case.cells.x, case.cells.y])
        distance, _ = cKDTree(xy[train]).query(xy[held_out])
        return float(np.median(distance))


def allowed_target(case, split: Split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target [N, T] m, train mask, validation mask): observed displacement copied
    only at the entries the training and validation parts may use, NaN elsewhere, so a
    fit that reads only ``target`` cannot see a test observation."""
    observed = case.observations.displacement
    if observed is None:
        raise InputError(case.source or case.name, "observations.displacement",
                         "training needs observed displacement")
    train_mask, validation_mask = split.train_mask(case), split.validation_mask(case)
    allowed = train_mask | validation_mask
    target = np.full((case.n_cells, case.n_times), np.nan)
    target[allowed] = observed[allowed]
    if not np.isfinite(target[train_mask]).any():
        raise InputError(case.source or case.name, "observations.displacement",
                         "no observation in the training part of the split")
    return target, train_mask, validation_mask


def _block_counts(case, size: float) -> tuple[np.ndarray, np.ndarray]:
    """(block index of each cell, cells per block) for square blocks of ``size`` metres
    on a grid with origin at the cells' minimum x and y; only blocks holding cells."""
    x, y = np.asarray(case.cells.x, float), np.asarray(case.cells.y, float)
    ij = np.column_stack([np.floor((x - x.min()) / size), np.floor((y - y.min()) / size)])
    _, block_of_cell, counts = np.unique(ij, axis=0, return_inverse=True, return_counts=True)
    return block_of_cell.ravel(), counts


def _closest_prefix(counts: np.ndarray, target: float) -> int:
    """How many of ``counts`` (taken in order) bring their sum closest to ``target``:
    the shorter on a tie, at least 1, leaving at least 1 (so both sides get a block)."""
    cumulative = np.cumsum(counts[:-1])
    return int(np.argmin(np.abs(cumulative - target))) + 1


def _part_size(n: int, fraction: float) -> int:
    """round(fraction * n), at least 1 when fraction > 0, leaving at least 1 of n."""
    if fraction <= 0.0 or n < 2:
        return 0
    return min(max(int(round(fraction * n)), 1), n - 1)


def _iso_date(text, field: str) -> str:
    try:
        day = np.datetime64(str(text)).astype("datetime64[D]")
    except ValueError:
        day = np.datetime64("NaT")
    if np.isnat(day):
        raise InputError(_SOURCE, field, f'"{text}" is not a date (YYYY[-MM[-DD]])')
    return str(day)
