"""Physics against machine learning on a case file: Terzaghi with the case's own
parameters, Terzaghi calibrated to the training cells' record (ES-MDA), an LSTM and the
LSTM learning Terzaghi's residual, all on the same spatial split, scored on the held-out
cells. The LSTM is saved and loaded back to show a fitted model travels.

    python examples/physics_vs_ml.py [CASE] [--out physics-vs-ml-out] [--quick]

CASE: a case manifest (default: the tiny Beijing twin's case.toml, made once). Prints
the cumulative RMSE and R² on the test cells per solver and writes physics-vs-ml.png.
``--quick`` trains small networks briefly and calibrates a small ensemble.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.app import api as ls  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("case", nargs="?", default=None, help="case manifest (TOML)")
    p.add_argument("--out", type=Path, default=Path("physics-vs-ml-out"))
    p.add_argument("--quick", action="store_true", help="small and short fits (tests)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    case = ls.load_case(args.case or ls.case_file("beijing:tiny"))
    split = ls.split(case, "spatial:0.7", seed=0)
    networks = {"preset": "fast", "epochs": 15} if args.quick else {}
    ensemble = {"members": 8, "iterations": 2} if args.quick else {}
    models = {
        "terzaghi": ls.solver("terzaghi"),
        "calibrated:terzaghi": ls.solver("calibrated:terzaghi", **ensemble),
        "lstm": ls.solver("lstm", **networks),
        "residual:terzaghi+lstm": ls.solver("residual:terzaghi+lstm", **networks),
    }
    predictions = {}
    print(f"{case.name}: {case.n_cells} cells x {case.n_times} months, test on "
          f"{len(split.test_cells(case))} held-out cells")
    print(f"{'solver':24s} {'RMSE (mm)':>10s} {'R²':>7s}")
    for name, model in models.items():
        ls.fit(model, case, split, progress=not args.quick)
        predictions[name] = ls.predict(model, case)
        table = ls.evaluate(predictions[name], case, split)
        pooled = table[(table.series == "cumulative") & (table.zone == "all")
                       & (table.statistic == "pooled")].set_index("metric").value
        print(f"{name:24s} {pooled['rmse_mm']:10.2f} {pooled['r2']:7.3f}")

    ls.save(models["lstm"], args.out / "lstm-model")
    again = ls.predict(ls.load(args.out / "lstm-model"), case)
    same = np.array_equal(again.displacement.values, predictions["lstm"].displacement.values)
    print(f"lstm saved and loaded back: same prediction {same}")

    cell = int(split.test_cells(case)[0])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(case.times, case.observations.displacement[cell] * 1e3, "k.", ms=2,
            label="observed")
    for name, ds in predictions.items():
        ax.plot(ds.time, ds.displacement.isel(cell=cell) * 1e3, label=name)
    ax.set_ylabel("displacement (mm, up positive)")
    ax.set_title(f"held-out cell {case.cells.ids[cell]}")
    ax.legend(fontsize=8)
    fig.savefig(args.out / "physics-vs-ml.png", dpi=100, bbox_inches="tight")
    print(f"wrote {args.out / 'physics-vs-ml.png'}")


if __name__ == "__main__":
    main()
