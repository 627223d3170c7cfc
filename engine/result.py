"""The result of one solver on one case: displacement [N, T] (m, up positive) and,
where the solver resolves it, compaction per aquifer [A, N, T] (m, shortening positive).

Stored as netCDF4-compatible HDF5 (see DESIGN.md, "Result"); reading and writing are
implemented in this module (``write``/``read``)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np

from engine import __version__

RESULT_SCHEMA_VERSION = 1


@dataclass
class Result:
    solver: str
    kind: str                       # "physics" | "ml" | "hybrid"
    case: str                       # case name
    times: np.ndarray               # [T] datetime64[D]
    cell_ids: np.ndarray            # [N] str
    x: np.ndarray                   # [N] m
    y: np.ndarray                   # [N] m
    displacement: np.ndarray        # [N, T] m, positive up
    compaction: np.ndarray | None = None   # [A, N, T] m, positive = shortening
    aquifers: list[str] | None = None      # [A] names, required with compaction
    options: dict = field(default_factory=dict)
    split: dict | None = None
    wall_seconds: float = 0.0
    landsub_version: str = __version__
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc)
                         .isoformat(timespec="seconds"))

    @classmethod
    def for_case(cls, case, solver: str, kind: str, displacement, **kw) -> "Result":
        """A result on ``case``'s cells and times."""
        return cls(solver=solver, kind=kind, case=case.name, times=case.times,
                   cell_ids=case.cells.ids, x=case.cells.x, y=case.cells.y,
                   displacement=np.asarray(displacement, dtype=np.float64),
                   aquifers=kw.pop("aquifers", case.aquifer_names), **kw)
