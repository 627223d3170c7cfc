"""`landsub verify`: the verification cases against closed-form references.

For every compressible system the reference is whatever is exact for it:

- delay interbeds whose nodes stay on one storage branch (heads never below the
  preconsolidation head: elastic; or a normally consolidated bed under monotonically
  falling heads: every node stays on its virgin curve) behave linearly, so the
  analytical Terzaghi superposition for a piecewise-linear face head is exact at every
  time;
- interbeds that switch branch have no closed form in time, but under monotonically
  falling heads their final equilibrium is exact:
  b*count*(sske*(h0 - h_end) + (sskv - sske)*max(0, pc - h_end));
- no-delay beds and the coarse skeleton are algebraic at every time:
  b*(sske*(h0 - h) + (sskv - sske)*max(0, pc - lowest head so far)).

The comparison is per aquifer (a Result resolves compaction per aquifer) at times
t >= 0.01 tau_max (the early-time limit of the Terzaghi check), or at the last time
only where a system's reference is an equilibrium. Errors are stated relative to the
largest reference compaction in the compared window (the ultimate compaction for a
step load).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from physics.analytical import compaction_piecewise_linear, lag_time

TOLERANCE_PERCENT = 0.5
EARLY_TIME_FRACTION = 0.01


@dataclass
class Reference:
    compaction: np.ndarray   # [N, T] m, shortening positive
    exact_in_time: bool      # False: only the last time is exact (an equilibrium)
    description: str
    lag_time: float = 0.0    # d, the longest among the cells, with the storage used


def _preconsolidation(material, head):
    pc = material.preconsolidation_head
    return head[:, 0].copy() if pc is None else np.minimum(np.asarray(pc, float), head[:, 0])


def interbed_reference(material, head, days) -> Reference:
    """Reference compaction of one delay-interbed system, every cell."""
    pc = _preconsolidation(material, head)
    monotone_falling = np.all(np.diff(head, axis=1) <= 0.0, axis=1)
    out = np.zeros(head.shape)
    exact_in_time = True
    kinds = set()
    tau = 0.0
    for n in range(head.shape[0]):
        b, count, kv = material.thickness[n], material.count[n], material.kv[n]
        sske, sskv = material.sske[n], material.sskv[n]
        if np.all(head[n] >= pc[n]):
            kinds.add("Terzaghi superposition, elastic")
            out[n] = count * compaction_piecewise_linear(days, days, head[n], b, kv, sske)
            tau = max(tau, float(lag_time(b, kv, sske)))
        elif pc[n] >= head[n, 0] and monotone_falling[n]:
            kinds.add("Terzaghi superposition, virgin")
            out[n] = count * compaction_piecewise_linear(days, days, head[n], b, kv, sskv)
            tau = max(tau, float(lag_time(b, kv, sskv)))
        elif monotone_falling[n]:
            kinds.add("final equilibrium")
            exact_in_time = False
            h0, h_end = head[n, 0], head[n, -1]
            out[n, -1] = b * count * (sske * (h0 - h_end)
                                      + (sskv - sske) * max(0.0, pc[n] - h_end))
        else:
            raise ValueError("no closed-form reference for an interbed that switches "
                             "branch under non-monotone heads")
    return Reference(out, exact_in_time, ", ".join(sorted(kinds)), tau)


def algebraic_reference(material, head) -> Reference:
    """No-delay beds (with branch switching) and the elastic coarse skeleton."""
    elastic = material.sske[:, None] * (head[:, :1] - head)
    if material.kind == "coarse":
        return Reference(material.thickness[:, None] * elastic, True, "algebraic, elastic")
    pc = _preconsolidation(material, head)[:, None]
    lowest = np.minimum.accumulate(head, axis=1)
    virgin = (material.sskv - material.sske)[:, None] * np.maximum(0.0, pc - lowest)
    return Reference(material.thickness[:, None] * (elastic + virgin), True, "algebraic")


def case_reference(case):
    """Per aquifer: (reference compaction [N, T], exact in time?, description, tau_max d)."""
    out = []
    for aquifer in case.aquifers:
        refs = [interbed_reference(m, aquifer.head, case.days) for m in aquifer.interbeds]
        refs += [algebraic_reference(m, aquifer.head)
                 for m in (aquifer.nodelay, aquifer.coarse) if m is not None]
        out.append((sum(r.compaction for r in refs), all(r.exact_in_time for r in refs),
                    "; ".join(r.description for r in refs), max(r.lag_time for r in refs)))
    return out


def compare(case, result) -> list[dict]:
    """One row per aquifer: max |numerical - reference|, in mm and in % of the largest
    reference compaction over the compared times."""
    rows = []
    for a, (ref, exact_in_time, description, tau) in enumerate(case_reference(case)):
        if exact_in_time:
            window = case.days >= EARLY_TIME_FRACTION * tau
        else:
            window = np.arange(case.n_times) == case.n_times - 1
        err = np.abs(result.compaction[a][:, window] - ref[:, window]).max()
        percent = 100 * err / np.abs(ref[:, window]).max()
        rows.append({
            "case": case.name, "aquifer": case.aquifers[a].name, "reference": description,
            "compared": (f"t >= {EARLY_TIME_FRACTION:g} tau ({tau:.0f} d)" if exact_in_time
                         else "final equilibrium"),
            "max_error_mm": float(err * 1e3), "max_error_percent": float(percent),
            "tolerance_percent": TOLERANCE_PERCENT,
            "passed": bool(percent <= TOLERANCE_PERCENT),
        })
    return rows


def terzaghi_step_case():
    """The shipped terzaghi-step case (cases/verification/terzaghi-step.toml)."""
    from cases import VERIFICATION_DIR
    from engine.caseio import load_case

    return load_case(VERIFICATION_DIR / "terzaghi-step.toml")


def terzaghi_error(case=None, **options) -> float:
    """max |numerical - analytical| / ultimate for t >= 0.01 tau on a single-aquifer
    case (terzaghi-step by default), with the ``terzaghi`` solver at ``options``."""
    from physics.solver import TerzaghiSolver

    case = case or terzaghi_step_case()
    (row,) = compare(case, TerzaghiSolver(**options).predict(case))
    return row["max_error_percent"] / 100


def refinement_table(case=None, nodes=(19, 39, 79, 159), substeps=(1, 4, 16, 64),
                     scheme: str = "default") -> list[dict]:
    """Error (fraction of ultimate, t >= 0.01 tau) under refinement, one row per level.

    Backward Euler is first order in time and the grid second order in space, so the
    default refines the sub-steps 4x per halving of the cells to keep both errors in
    step; ``order`` is log2 of the error ratio to the previous row (2 = second order in
    the cell size). Pass ``substeps=(1, 1, 1, 1)`` to see the time-error floor of daily
    steps instead.
    """
    case = case or terzaghi_step_case()
    rows = []
    for level, (n, s) in enumerate(zip(nodes, substeps)):
        error = terzaghi_error(case, nodes=n, substeps=s, scheme=scheme)
        order = np.log2(rows[-1]["error"] / error) if level else float("nan")
        rows.append({"nodes": n, "substeps": s, "scheme": scheme, "error": error,
                     "order": float(order)})
    return rows


def _markdown(rows, columns) -> str:
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _figure(case, result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(1, 2, figsize=(11, 4))
    for a, (ref, exact, _, _) in enumerate(case_reference(case)):
        for n in range(case.n_cells):
            label = case.aquifers[a].name + (f" / {case.cells.ids[n]}" if case.n_cells > 1 else "")
            line, = top.plot(case.times, result.compaction[a, n] * 1e3, label=label)
            if exact:
                top.plot(case.times, ref[n] * 1e3, "--", color=line.get_color(), lw=1)
                bottom.plot(case.times, (result.compaction[a, n] - ref[n]) * 1e3,
                            color=line.get_color(), lw=1)
            else:
                top.plot(case.times[-1], ref[n, -1] * 1e3, "o", color=line.get_color())
    top.set_title(f"{case.name}: terzaghi (solid) vs reference (dashed / dot)", fontsize=9)
    top.set_ylabel("compaction (mm, shortening +)")
    top.legend(fontsize=7, ncol=2)
    bottom.set_title("terzaghi - reference", fontsize=9)
    bottom.set_ylabel("mm")
    for ax in (top, bottom):
        ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _refinement_figure(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for scheme in sorted({r["scheme"] for r in rows}):
        sel = [r for r in rows if r["scheme"] == scheme]
        ax.loglog([r["nodes"] for r in sel], [100 * r["error"] for r in sel], "o-",
                  label=scheme)
    ax.axhline(TOLERANCE_PERCENT, color="grey", ls=":", label="0.5% target")
    ax.set(xlabel="nodes across the bed (substeps x4 per doubling)",
           ylabel="max error, % of ultimate", title="terzaghi-step: refinement")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_verification(out_dir="verification-out", cases=None, refinement=True) -> bool:
    """Run every verification case, print and write the error tables and figures
    (verification.md, verification.json, one PNG a case). True when all pass."""
    from cases import verification_cases
    from engine.caseio import load_case
    from physics.solver import TerzaghiSolver

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in cases or verification_cases():
        case = load_case(path)
        result = TerzaghiSolver().predict(case)
        rows += [dict(r, wall_seconds=result.wall_seconds) for r in compare(case, result)]
        _figure(case, result, out / f"{case.name}.png")
    table = _markdown(rows, ["case", "aquifer", "reference", "compared", "max_error_mm",
                             "max_error_percent", "tolerance_percent", "passed"])
    print("terzaghi solver, default options, against closed-form references:\n" + table)
    report = {"cases": rows}
    text = "# landsub verify\n\n" + table + "\n"
    if refinement:
        ref_rows = refinement_table() + refinement_table(scheme="csub")
        shown = [dict(r, error_percent=100 * r["error"]) for r in ref_rows]
        ref_table = _markdown(shown, ["scheme", "nodes", "substeps", "error_percent", "order"])
        print("\nterzaghi-step refinement (max error for t >= 0.01 tau, % of ultimate):\n"
              + ref_table)
        text += "\n## terzaghi-step refinement\n\n" + ref_table + "\n"
        report["refinement"] = ref_rows
        _refinement_figure(ref_rows, out / "terzaghi-step-refinement.png")
    (out / "verification.md").write_text(text)
    (out / "verification.json").write_text(json.dumps(report, indent=2))
    passed = all(r["passed"] for r in rows)
    print(f"\n{sum(r['passed'] for r in rows)}/{len(rows)} comparisons within "
          f"{TOLERANCE_PERCENT}% of their reference -> {out}/")
    return passed
