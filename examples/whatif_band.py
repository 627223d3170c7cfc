"""A what-if with an uncertainty band: on the tiny Beijing twin, the deep pumping cut
(cases/beijing/scenarios/deep-pumping-cut-30.toml) against business as usual, each
solver an ensemble (Terzaghi with perturbed parameters, LSTMs with other seeds) run as
Dask tasks; the band is the 5-95 % range of the members' difference.

    python examples/whatif_band.py [--out whatif-band-out] [--members 4] [--quick]

Prints, per solver, the area-mean difference at the end (mm, positive = subsidence
avoided) with its 5-95 % band over the members, and writes whatif-band.png.
``--quick``: 2 members, small LSTMs, to 2028-12, in this process (no cluster).
"""

import argparse
from pathlib import Path

import matplotlib

import cases.beijing

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.app import api as ls  # noqa: E402

SCENARIO = Path(cases.beijing.__file__).parent / "scenarios" / "deep-pumping-cut-30.toml"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("whatif-band-out"))
    p.add_argument("--members", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="small and short (tests)")
    args = p.parse_args()

    quick = {"members": 2, "preset": "fast", "until": "2028-12", "scheduler": "serial",
             "progress": False} if args.quick else {"members": args.members}
    bands = ls.whatif("beijing:tiny", SCENARIO, ["terzaghi", "lstm"], args.out,
                      log=lambda *a: None, **quick)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, band in bands.items():
        area = band.area_mean * 1e3                      # (member, time) mm
        low, high = np.percentile(area, [5, 95], axis=0)
        mean = area.mean("member")
        until = str(band.time.values[-1])[:7]
        print(f"{name}: area-mean difference at {until} {float(mean[-1]):.2f} mm "
              f"[5-95 %: {low[-1]:.2f} .. {high[-1]:.2f}] over {area.sizes['member']} members")
        line, = ax.plot(band.time, mean, label=name)
        ax.fill_between(band.time.values, low, high, color=line.get_color(), alpha=0.3)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("scenario - baseline, area mean (mm)")
    ax.set_title("deep pumping cut on the tiny twin: 5-95 % band")
    ax.legend()
    fig.savefig(args.out / "whatif-band.png", dpi=100, bbox_inches="tight")
    print(f"wrote {args.out / 'whatif-band.png'}")


if __name__ == "__main__":
    main()
