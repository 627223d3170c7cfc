"""Reading a case file's ``[observations]``: observed displacement (wide CSV or an HDF5
dataset [cell, time], m up positive, NaN where not observed), its east-west companion
``displacement_east`` (same layouts, m east positive) and the long tables of
extensometer compaction and well heads. A part of the case loader
(``engine.caseio._Loader``), kept apart because observations are never needed to
predict: every refusal names the file, the field and the value, as the loader does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.case import Observations
from engine.casewrite import EXTENSOMETER_COLUMNS, WELL_COLUMNS
from engine.errors import InputError, suggest
from engine.tables import dates, line_of, read_hdf5, read_table

OBSERVATION_KEYS = ("displacement", "extensometers", "wells", "displacement_east")
#: [cell, time] observations, read alike
SERIES_KEYS = ("displacement", "displacement_east")
#: did-you-mean looks at no more names (difflib over 100,000 ids takes seconds)
SUGGEST_AMONG = 10_000


class ObservationReading:
    """Mixin of the case loader: needs its ``ids``, ``times``, ``manifest``, ``keys``,
    ``file_reference``, ``wide_table``, ``column_cells`` and ``finite_column``."""

    def observations(self, table, aquifer_names: list[str]) -> Observations:
        self.keys(table, OBSERVATION_KEYS, "observations")
        found = {}
        for key in SERIES_KEYS:
            if key in table:
                found[key] = self.displacement(table[key], key)
        for key, columns in (("extensometers", EXTENSOMETER_COLUMNS), ("wells", WELL_COLUMNS)):
            if key in table:
                path = self.file_reference(table[key], ("file",), f"observations.{key}")
                found[key] = self.records(path, columns, aquifer_names)
        return Observations(**found)

    def displacement(self, value, key: str = "displacement") -> np.ndarray:
        """[N, T] m (up positive; east positive for ``displacement_east``), NaN where
        not observed."""
        field = f"observations.{key}"
        path = self.file_reference(value, ("file", "dataset"), field)
        shape = (len(self.ids), len(self.times))
        if "dataset" in value:
            observed = read_hdf5(path, value["dataset"], shape, self.manifest, f"{field}.dataset")
        else:
            times, columns, values = self.wide_table(path)
            steps = np.searchsorted(self.times, times)
            last = len(self.times) - 1
            outside = (steps > last) | (self.times[np.minimum(steps, last)] != times)
            if outside.any():
                row = int(np.argmax(outside))
                raise InputError(path, 'column "time"', f"line {line_of(path, row)}: "
                                 f"{times[row]} is not a time of the case axis "
                                 f"({self.times[0]} to {self.times[-1]}, {len(self.times)} "
                                 "times); observations must fall on case times")
            observed = np.full(shape, np.nan)
            observed[np.ix_(self.column_cells(columns, path), steps)] = values.T
        infinite = np.isinf(observed)
        if infinite.any():
            cell, step = np.unravel_index(int(np.argmax(infinite)), shape)
            where = (f'dataset "{value["dataset"]}"' if "dataset" in value
                     else f'column "{self.ids[cell]}"')
            raise InputError(path, where, f'cell "{self.ids[cell]}", time {self.times[step]}: '
                             f"{key} {float(observed[cell, step])!r} is not finite")
        return observed

    def records(self, path: Path, columns, aquifer_names: list[str]) -> dict:
        """A long observation table as a dict of equal-length arrays (see Observations)."""
        frame = read_table(path, columns, ())
        out = {}
        for column in columns:
            if column in ("site", "well"):
                out[column] = frame[column].to_numpy(dtype=str)
            elif column == "cell":
                out[column] = self.lookup(frame[column], self.ids, path, "a cell id")
            elif column == "aquifer":
                out[column] = self.lookup(frame[column], aquifer_names, path, "an aquifer name")
            elif column == "time":
                out[column] = dates(frame[column], path, 'column "time"')
            else:
                out[column] = self.finite_column(frame, column, path)
        return out

    @staticmethod
    def lookup(column: pd.Series, names, path: Path, what: str) -> np.ndarray:
        """Positions in ``names`` of each entry, refusing one that is not there."""
        text = column.str.strip()
        index = pd.Index(names).get_indexer(text)
        if (index < 0).any():
            row = int(np.argmax(index < 0))
            raise InputError(path, f'column "{column.name}"', f"line {line_of(path, row)}: "
                             f'"{text.iloc[row]}" is not {what} of the case'
                             f"{suggest(text.iloc[row], names[:SUGGEST_AMONG])}")
        return index.astype(np.int64)
