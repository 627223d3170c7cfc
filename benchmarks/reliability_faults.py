"""Fault table (issue 13): SIGKILL at random moments of make-case, fit, run, bench and
whatif, and a failing write (disk full) injected into every writer; the state each
leaves behind.

Kills: each command runs as its own process on a tiny case (fast preset), over an
earlier complete output of the same command, and is killed with SIGKILL after a delay
drawn uniformly from 0 .. its measured duration (seed 0). Then the output is judged:

    old      the earlier output, whole (it loads)
    new      a whole new output (it loads)
    refused  the output is refused by name when loaded (model manifest)
    BROKEN   the output exists and loads wrongly or crashes the loader
and whether the process left a temporary name (".NAME.PID.HEX.tmp|partial|old") that
the next write in that folder sweeps (``engine.atomic.sweep``, checked by running the
command once more after the last kill).

Disk full: ``os.replace``/``os.rename`` and every ``open(..., "w"/"wb")`` are made to
raise ENOSPC inside the writer (in this process); each writer must exit through the
error handler (status 2, one line naming the path) and leave the earlier file whole.

    python benchmarks/reliability_faults.py [--kills 20] [--make-case-kills 5]

Writes benchmarks/results/reliability_faults.json and prints the table.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPORARY = (".tmp", ".partial", ".old")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name.endswith(TEMPORARY))


def judge_result(path: Path) -> str:
    from engine.result import read_result, result_groups

    if not path.exists():
        return "absent"
    try:
        for group in result_groups(path):
            read_result(path, group=group)
        return "whole"
    except Exception as e:  # noqa: BLE001 -- what a kill leaves is judged, whatever it is
        return f"BROKEN ({type(e).__name__})"


def judge_model(folder: Path) -> str:
    from engine.errors import InputError
    from engine.persistence import load_model

    if not folder.exists():
        return "absent"
    try:
        load_model(folder)
        return "whole"
    except InputError:
        return "refused"
    except Exception as e:  # noqa: BLE001
        return f"BROKEN ({type(e).__name__})"


def judge_case(folder: Path) -> str:
    from engine.caseio import load_case

    if not folder.exists():
        return "absent"
    try:
        load_case(folder / "case.toml")
    except Exception as e:  # noqa: BLE001
        return f"BROKEN ({type(e).__name__})"
    missing = [
        p for p in ("README.md", "figures", "truth/generation.json") if not (folder / p).exists()
    ]
    return f"BROKEN (loads without {', '.join(missing)})" if missing else "whole"


def commands(work: Path, case: Path, scenario: Path) -> dict:
    """name -> (argv, output path, judge(output) -> state)."""
    landsub = [sys.executable, "-m", "engine.app.cli"]
    return {
        "run": (
            landsub
            + ["run", str(case), "--solver", "terzaghi", "--out", str(work / "run" / "r.h5")],
            work / "run" / "r.h5",
            judge_result,
        ),
        "fit": (
            landsub
            + [
                "fit",
                str(case),
                "--solver",
                "lstm",
                "--preset",
                "fast",
                "--option",
                "lstm:epochs=5",
                "--out",
                str(work / "fit"),
            ],
            work / "fit" / "model",
            judge_model,
        ),
        "bench": (
            landsub
            + [
                "bench",
                str(case),
                "--solvers",
                "terzaghi,trend",
                "--scheduler",
                "serial",
                "--force",
                "--out",
                str(work / "bench"),
            ],
            work / "bench" / "results.h5",
            judge_result,
        ),
        "whatif": (
            landsub
            + [
                "whatif",
                str(case),
                "--scenario",
                str(scenario),
                "--solvers",
                "terzaghi",
                "--members",
                "2",
                "--scheduler",
                "serial",
                "--out",
                str(work / "whatif"),
            ],
            work / "whatif" / "whatif.h5",
            judge_result,
        ),
        "make-case": (
            landsub + ["make-case", "beijing", "--size", "tiny", "--out", str(work / "twin")],
            work / "twin",
            judge_case,
        ),
    }


def run_to_end(argv) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def kill_once(argv, delay: float) -> None:
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True
    )
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the command and children
        process.wait()


def kills(work: Path, name: str, argv, output: Path, judge, count: int, rng) -> dict:
    duration = run_to_end(argv)  # the earlier, complete output
    states: dict[str, int] = {}
    left = 0
    for _ in range(count):
        kill_once(argv, rng.uniform(0, duration))
        state = judge(output)
        states[state] = states.get(state, 0) + 1
        left += bool(leftovers(output.parent))
    run_to_end(argv)
    return {
        "command": name,
        "kills": count,
        "seconds_per_run": round(duration, 1),
        "states": states,
        "kills_leaving_temporaries": left,
        "temporaries_after_next_run": leftovers(output.parent),
    }


# -- disk full ---------------------------------------------------------------------------


def disk_full(work: Path, case: Path) -> list[dict]:
    """Every writer run with ENOSPC injected at its writes, in this process."""
    import builtins
    import contextlib
    import io

    import engine.atomic as atomic
    from engine.app.cli import main

    rows = []
    real_open = builtins.open

    def full(*args, **kwargs):
        # as the system's error: naming the file written (the target of a rename)
        raise OSError(errno.ENOSPC, "No space left on device", str(args[-1]) if args else None)

    def failing_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax") and str(work) in str(file):
            full(file)
        return real_open(file, mode, *args, **kwargs)

    writers = {
        "run (result)": [
            "run",
            str(case),
            "--solver",
            "terzaghi",
            "--out",
            str(work / "df" / "r.h5"),
        ],
        "fit (model, result, report)": [
            "fit",
            str(case),
            "--solver",
            "trend",
            "--out",
            str(work / "df" / "fit"),
        ],
        "bench (results, metrics, figures)": [
            "bench",
            str(case),
            "--solvers",
            "trend",
            "--scheduler",
            "serial",
            "--out",
            str(work / "df" / "bench"),
        ],
        "atomic.write_text": None,
    }
    for name, argv in writers.items():
        for how, patches in (
            ("rename fails", [(os, "replace", full), (Path, "rename", full)]),
            (
                "open for writing fails",
                [(builtins, "open", failing_open), (io, "open", failing_open)],
            ),
        ):
            saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
            err = io.StringIO()
            try:
                for obj, attr, value in patches:
                    setattr(obj, attr, value)
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    if argv is None:
                        from engine.errors import run_command

                        code = run_command(
                            "atomic", lambda: atomic.write_text(work / "df" / "t.txt", "x")
                        )
                    else:
                        code = main(argv)
                outcome = f"exit {code}"
            except BaseException as e:  # noqa: BLE001
                outcome = f"traceback ({type(e).__name__})"
            finally:
                for obj, attr, value in saved:
                    setattr(obj, attr, value)
            lines = [line for line in err.getvalue().splitlines() if line.strip()]
            rows.append(
                {
                    "writer": name,
                    "fault": how,
                    "outcome": outcome,
                    "message": (lines or [""])[-1][:200],
                    "temporaries": leftovers(work / "df") if (work / "df").exists() else [],
                }
            )
    return rows


def main_faults() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--make-case-kills", type=int, default=5)
    p.add_argument("--only", nargs="*")
    p.add_argument(
        "--disk-full",
        action="store_true",
        help="only the disk-full rows, replaced in the existing JSON",
    )
    p.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "reliability_faults.json")
    )
    args = p.parse_args()
    from cases.synthetic import synthetic_case
    from engine.caseio import write_case

    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="landsub-faults-") as tmp:
        work = Path(tmp)
        case = write_case(synthetic_case(n_cells=8, n_months=24, seed=1), work / "case")
        scenario = work / "up.toml"
        scenario.write_text(
            'name = "up"\nuntil = "2007-12"\n[[heads]]\naquifer = "all"\n'
            'start = "2007-01"\nend = "2007-06"\noffset = 1.0\n'
        )
        if args.disk_full:
            full = disk_full(work, case)
            for row in full:
                print(json.dumps(row), flush=True)
            saved = json.loads(Path(args.out).read_text())
            Path(args.out).write_text(json.dumps({**saved, "disk_full": full}, indent=1) + "\n")
            return 0
        table = []
        for name, (argv, output, judge) in commands(work, case, scenario).items():
            if args.only and name not in args.only:
                continue
            count = args.make_case_kills if name == "make-case" else args.kills
            row = kills(work, name, argv, output, judge, count, rng)
            print(json.dumps(row), flush=True)
            table.append(row)
        full = [] if args.only else disk_full(work, case)
        for row in full:
            print(json.dumps(row), flush=True)
    if not args.only:
        Path(args.out).write_text(json.dumps({"kills": table, "disk_full": full}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main_faults())
