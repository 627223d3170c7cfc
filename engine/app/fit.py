"""`landsub fit`: fit one solver on a case's training split, save it, and score it.

Works for any registered solver; a stateful one is saved with ``engine.persistence``
(``landsub run --model`` loads it back).
"""

from __future__ import annotations

from pathlib import Path

from engine.app.distributed import epoch_bars
from engine.atomic import check_output, write_json
from engine.caseio import load_case
from engine.errors import InputError
from engine.evaluate import ZONE_LIMITS, evaluate, parse_zone_limits, write_csv, write_markdown
from engine.persistence import save_model
from engine.registry import parse_option, solver_class
from engine.split import Split


def fit_command(case_path, solver: str, preset: str | None = None, split="spatial:0.7",
                out_dir="model-out", options: dict | None = None,
                zones: str | None = None) -> dict:
    """Fit ``solver`` on the case at ``case_path`` and write, under ``out_dir``:
    ``model/`` (the saved solver, if stateful), ``result.h5`` (its prediction on the
    whole case), ``metrics.csv`` and ``metrics.md`` (on the test part, and on every
    observation when the split holds nothing out) and ``report.json``. ``split`` is a
    Split or a text such as "spatial:0.7" (validation fraction from the solver's
    configuration); ``options`` values may be typed or command-line strings; ``zones``:
    the --zones text of the metrics' rate zones (None: the default). Returns the
    report."""
    check_output(out_dir, "folder")
    limits = ZONE_LIMITS if zones is None else parse_zone_limits(zones)
    case = load_case(case_path)
    cls = solver_class(solver)
    options = {k: parse_option(cls, k, v) if isinstance(v, str) else v
               for k, v in (options or {}).items()}
    if preset is not None:
        if "preset" not in cls.defaults:
            raise InputError("command line", "preset", f"solver {solver} has no presets")
        options["preset"] = preset
    model = cls(**options)
    if isinstance(split, str):
        config = getattr(model, "config", model.options)
        split = Split.parse(split, case, seed=int(config.get("seed", 0)),
                            validation_fraction=float(config.get("validation_fraction", 0.1)))
    with epoch_bars(solver):        # a network's training shows its epochs
        report = model.fit(case, split)
    result = model.predict(case)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cls.stateful:
        save_model(model, out / "model")
    result.write(out / "result.h5")
    if case.observations.displacement is not None:
        test = (split or Split("none")).test_mask(case)
        part = "test" if test.any() else "all"
        table = evaluate(result, case.observations.displacement,
                         test if test.any() else None, part=part, zones=limits)
        write_csv(table, out / "metrics.csv")
        write_markdown(table, out / "metrics.md", limits)
    report = {**report, "out_dir": str(out), "split": None if split is None else split.to_dict()}
    write_json(out / "report.json", report)
    return report
