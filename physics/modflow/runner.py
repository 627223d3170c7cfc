"""What every MODFLOW-backed solver does around the model itself: validate options,
find the executable, split a large case into chunks of cells, give each chunk a run
folder (removed on success and on Ctrl-C, kept and named on failure or with
``keep_files``; the folders of killed runs are swept by the next run), and turn the
compaction of every compressible material into a Result.

A subclass says which program it runs and how one chunk is simulated
(``simulate_chunk``), returning the compaction parts of that chunk.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from engine.atomic import left_by_dead_processes
from engine.errors import InputError, SolverError
from engine.result import Result
from engine.schema import validate_physics_case
from engine.solver import Limit, Solver
from physics.modflow import executables
from physics.modflow.listing import failure_message

# (aquifer index, material label) -> compaction [N, T], m, shortening positive, 0 at t0.
# Labels: "interbeds[i]" (delay systems in case order), "nodelay", "coarse".
CompactionParts = dict[tuple[int, str], np.ndarray]

#: a run folder: landsub-SOLVER-PID-RANDOM; a kept one holds KEPT_MARKER
_RUN_FOLDER = re.compile(r"^landsub-(mf6-csub|mf-sub)-(?P<pid>\d+)-\w+$")
KEPT_MARKER = "landsub-kept.txt"


def material_labels(aquifer) -> list[tuple[str, object]]:
    """(label, Compressible) for every compressible system of an aquifer."""
    labels = [(f"interbeds[{i}]", ib) for i, ib in enumerate(aquifer.interbeds)]
    labels += [(m.kind, m) for m in (aquifer.nodelay, aquifer.coarse) if m is not None]
    return labels


class ModflowSolver(Solver):
    """Base of the MODFLOW solvers. Options shared by all of them:

    substeps : MODFLOW time steps per case time step (heads still vary linearly).
    chunk_cells : at most this many case cells per MODFLOW model, so that memory and
        file sizes stay bounded on large cases.
    workdir : folder under which run folders are made ("" = the system temp folder).
    keep_files : keep the run folders even when the run succeeds.
    """

    kind = "physics"
    program: ClassVar[str] = ""
    defaults: ClassVar[dict] = {"substeps": 1, "chunk_cells": 2000, "workdir": "",
                                "keep_files": False}
    # MODFLOW writes every step of every cell: these bound its files and run time
    limits: ClassVar[dict] = {"substeps": Limit(1, 1000, why="files and run time grow "
                                                "with sub-steps"),
                              "chunk_cells": Limit(1, 100_000, why="one MODFLOW model's "
                                                   "memory grows with its cells")}

    def __init__(self, **options):
        super().__init__(**options)
        for key in ("substeps", "chunk_cells"):
            if int(self.options[key]) < 1:
                raise InputError("solver options", key,
                                 f"must be a positive integer, got {self.options[key]!r}")

    # -- to implement -------------------------------------------------------------
    def check_case(self, case) -> None:
        """Raise InputError when this solver cannot represent ``case`` (one that the
        schema allows: ``engine.schema.validate_physics_case`` has passed it)."""

    def simulate_chunk(self, case, folder: Path, exe: Path) -> CompactionParts:
        """Build, run and read one model of ``case`` (a chunk) in ``folder``."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------
    def predict(self, case) -> Result:
        started = time.perf_counter()
        compaction = np.zeros((len(case.aquifers), case.n_cells, case.n_times))
        for (a, _), values in self.compaction_parts(case).items():
            compaction[a] += values
        return Result.for_case(
            case, self.name, self.kind, -compaction.sum(axis=0), compaction=compaction,
            options=dict(self.options), wall_seconds=time.perf_counter() - started)

    def compaction_parts(self, case) -> CompactionParts:
        """Compaction of every compressible system, [N, T] each (see CompactionParts).

        A case with a spin-up is run as one record, spin-up then case
        (``Case.spinup_record``), and reported from the first case time, less its value
        there."""
        validate_physics_case(case, self.name)
        record, skip = case.spinup_record()
        parts = self._record_parts(record)
        if skip:
            parts = {key: part[:, skip:] - part[:, skip:skip + 1] for key, part in parts.items()}
        return parts

    def _record_parts(self, case) -> CompactionParts:
        self.check_case(case)
        exe = executables.require(self.program)
        parts: CompactionParts = {}
        if case.n_times < 2:        # nothing can have compacted since the first time
            return parts
        chunk = int(self.options["chunk_cells"])
        for first in range(0, case.n_cells, chunk):
            cells = np.arange(first, min(first + chunk, case.n_cells))
            for key, values in self._run_chunk(case.take_cells(cells), exe).items():
                parts.setdefault(key, np.zeros((case.n_cells, case.n_times)))[cells] = values
        return parts

    def _run_chunk(self, case, exe: Path) -> CompactionParts:
        parent = Path(self.options["workdir"] or tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        sweep_run_folders(parent)
        folder = Path(tempfile.mkdtemp(prefix=f"landsub-{self.name}-{os.getpid()}-",
                                       dir=parent))
        try:
            parts = self.simulate_chunk(case, folder, exe)
        except SolverError:
            _keep(folder, "the run failed")
            raise
        except InputError:
            shutil.rmtree(folder, ignore_errors=True)   # the case, not the run, is wrong
            raise
        except Exception as exc:
            _keep(folder, "the run failed")
            raise SolverError(failure_message(self.program, folder)
                              + f"\n  ({type(exc).__name__}: {exc})") from exc
        except BaseException:                           # Ctrl-C: nothing worth keeping
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if self.options["keep_files"]:
            _keep(folder, "keep_files was set")
        else:
            shutil.rmtree(folder, ignore_errors=True)
        return parts


def _keep(folder: Path, why: str) -> None:
    """Mark a run folder the user is told about, so that ``sweep_run_folders`` leaves it."""
    (folder / KEPT_MARKER).write_text(f"kept by landsub: {why}\n")


def sweep_run_folders(parent: Path) -> None:
    """Remove the run folders that killed processes left in ``parent`` (their pid no
    longer runs and nobody was told to look at them)."""
    for entry, _ in left_by_dead_processes(parent, _RUN_FOLDER):
        if (entry.is_dir(follow_symlinks=False)
                and not os.path.exists(os.path.join(entry.path, KEPT_MARKER))):
            shutil.rmtree(entry.path, ignore_errors=True)
