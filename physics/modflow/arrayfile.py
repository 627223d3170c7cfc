"""Reader of MODFLOW-2005-style binary array files (heads, SUB compaction...).

Each record is a header (KSTP, KPER: int32; PERTIM, TOTIM: real; TEXT: 16 characters;
NCOL, NROW, ILAY: int32) followed by NROW x NCOL reals, without Fortran record markers.
The real kind (4 or 8 bytes) is that of the build, found from the first header.
FloPy 3.11's HeadFile cannot read the SUB package's file, which mixes several texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ArrayRecord:
    kstp: int
    kper: int
    totim: float
    text: str
    ilay: int
    values: np.ndarray      # [nrow, ncol]


def _header_dtype(real: str) -> np.dtype:
    return np.dtype([("kstp", "<i4"), ("kper", "<i4"), ("pertim", real), ("totim", real),
                     ("text", "S16"), ("ncol", "<i4"), ("nrow", "<i4"), ("ilay", "<i4")])


def _plausible(header) -> bool:
    text = bytes(header["text"])
    return (header["kstp"] >= 1 and header["kper"] >= 1 and header["ncol"] >= 1
            and header["nrow"] >= 1 and all(32 <= c < 127 for c in text))


def read_records(path: str | Path) -> list[ArrayRecord]:
    """Every array record of the file, in file order."""
    data = Path(path).read_bytes()
    if not data:
        return []
    for real in ("<f4", "<f8"):
        header = np.frombuffer(data, _header_dtype(real), count=1)[0]
        if _plausible(header):
            break
    else:
        raise ValueError(f"{path}: not a MODFLOW binary array file")
    hdtype, size = _header_dtype(real), np.dtype(real).itemsize
    records, offset = [], 0
    while offset < len(data):
        header = np.frombuffer(data, hdtype, count=1, offset=offset)[0]
        offset += hdtype.itemsize
        count = int(header["ncol"]) * int(header["nrow"])
        values = np.frombuffer(data, real, count=count, offset=offset)
        offset += count * size
        records.append(ArrayRecord(int(header["kstp"]), int(header["kper"]),
                                   float(header["totim"]),
                                   bytes(header["text"]).decode().strip(),
                                   int(header["ilay"]),
                                   values.reshape(int(header["nrow"]), int(header["ncol"]))
                                   .astype(np.float64)))
    return records
