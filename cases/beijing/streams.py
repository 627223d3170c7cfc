"""Independent random streams of the twin, one per purpose, all from the one seed.

Each purpose draws from its own stream, so that asking for more PS points, say, leaves
the sediments, the pumping and the noise of the wells exactly as they were.
"""

from __future__ import annotations

import numpy as np

PURPOSES = ("domain", "pumping", "truth", "points", "insar", "wells", "extensometers", "prior",
            "tracks")


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The generator of ``purpose`` (one of PURPOSES) for ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed),
                                                        spawn_key=(PURPOSES.index(purpose),)))
