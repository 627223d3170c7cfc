"""Which aquifer system a depth interval (a well screen, an extensometer layer, a clay
bed) belongs to: the one it overlaps most, depths in metres below land surface."""

from __future__ import annotations

import numpy as np

from engine.errors import InputError


def assign_interval(source, field: str, label: str, top: float, bottom: float,
                    aquifers) -> tuple[int, float]:
    """(aquifer index, fraction of the interval inside that aquifer).

    ``aquifers`` are AquiferParams with top/bottom; refuses an interval that is upside
    down or overlaps none of them."""
    if not (np.isfinite(top) and np.isfinite(bottom) and 0 <= top < bottom):
        raise InputError(source, field, f"{label}: interval {top}..{bottom} m is not "
                                        "0 <= top < bottom (m below land surface)")
    known = [a for a in aquifers if a.top is not None]
    if not known:
        raise InputError(source, field, f"{label}: mapping depths to aquifers needs the "
                                        "aquifers' top and bottom in --params")
    overlap = np.array([max(0.0, min(bottom, a.bottom) - max(top, a.top)) if a.top is not None
                        else 0.0 for a in aquifers])
    if not overlap.max() > 0:
        spans = ", ".join(f"{a.name} {a.top:g}..{a.bottom:g}" for a in known)
        raise InputError(source, field, f"{label}: interval {top:g}..{bottom:g} m overlaps no "
                                        f"aquifer ({spans} m)")
    best = int(np.argmax(overlap))
    return best, float(overlap[best] / (bottom - top))
