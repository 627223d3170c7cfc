"""The `landsub` command line. Bad input exits with status 2 and one message."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from engine.errors import InputError, run_command


def _solver_options(name: str, pairs: list[str] | None) -> dict:
    """The typed options of the one solver ``name`` from ``--option SOLVER:KEY=VALUE``,
    spelled as on every other command (``bench``, ``whatif``)."""
    from engine.app.options import options_per_solver, parse_solver_options

    return options_per_solver([name], parse_solver_options(pairs))[name]


def cmd_run(args) -> int:
    from engine.atomic import check_output
    from engine.caseio import load_case
    from engine.registry import solver_class
    from engine.resources import check_disk, result_bytes
    from engine.result import write_result

    check_output(args.out, "file")
    case = load_case(args.case)
    check_disk(args.out, result_bytes(case.n_cells, case.n_times, len(case.aquifers)),
               "the result")
    if args.model:
        from engine.persistence import load_model

        if args.option:
            # a fitted model's options are part of what was trained; refuse, not ignore
            raise InputError("--option", args.option[0],
                             "options cannot change a fitted model (--model); refit with "
                             "`landsub fit ... --option`")
        solver = load_model(args.model)
        args.solver = solver.name
    else:
        cls = solver_class(args.solver)
        solver = cls(**_solver_options(args.solver, args.option))
        solver.fit(case)
    result = solver.predict(case)
    write_result(result, args.out)
    last = result.displacement[:, -1] * 1e3
    print(f"{args.solver} on {case.name}: {case.n_cells} cells x {case.n_times} times "
          f"in {result.wall_seconds:.2f} s; displacement at {result.times[-1]}: "
          f"min {last.min():.1f} mm, max {last.max():.1f} mm -> {args.out}")
    return 0


def cmd_fit(args) -> int:
    from engine.app.fit import fit_command

    options = _solver_options(args.solver, args.option)
    report = fit_command(args.case, args.solver, preset=args.preset, split=args.split,
                         out_dir=args.out, options=options, zones=args.zones)
    print(f"{args.solver} fitted on {args.case} ({args.split}) -> {args.out}/")
    for key in ("epochs", "best_epoch", "train_loss", "validation_loss", "seconds"):
        if key in report:
            print(f"  {key}: {report[key]}")
    return 0


def cmd_info(args) -> int:
    path = Path(args.file)
    if path.suffix == ".toml":
        from engine.caseio import load_case
        from engine.schema import confinement

        case = load_case(path)
        print(f"case {case.name}: {case.n_cells} cells, {case.n_times} times "
              f"{case.times[0]} .. {case.times[-1]}")
        for a, (confined, why) in zip(case.aquifers, confinement(case)):
            kinds = [f"interbeds x{len(a.interbeds)}" if a.interbeds else ""]
            kinds += [k for k in ("nodelay", "coarse") if getattr(a, k) is not None]
            print(f"  aquifer {a.name}: head {a.head.min():.2f} .. {a.head.max():.2f} m; "
                  f"{', '.join(k for k in kinds if k) or 'no compressible material'}; "
                  f"{'confined' if confined else 'unconfined'} ({why})")
        if case.study is not None:
            print(f"  study: claims {case.study.claims}"
                  + (f" on {', '.join(case.study.aquifers)}" if case.study.aquifers else ""))
        obs = case.observations.displacement
        if obs is not None:
            print(f"  observed displacement: {int((~np.isnan(obs)).sum())} values")
        return 0
    from engine.result import read_result, result_groups

    for group in result_groups(path):
        r = read_result(path, group=group)
        title = f"[{group}] " if group else ""
        print(f"{title}{r.solver} ({r.kind}) on case {r.case}: {len(r.cell_ids)} cells x "
              f"{len(r.times)} times {r.times[0]} .. {r.times[-1]}")
        last = r.displacement[:, -1] * 1e3
        print(f"  displacement at {r.times[-1]}: min {last.min():.2f} mm, "
              f"median {float(np.median(last)):.2f} mm, max {last.max():.2f} mm")
        if r.compaction is not None:
            per = ", ".join(f"{a} {c * 1e3:.2f}" for a, c in
                            zip(r.aquifers, r.compaction[:, :, -1].max(axis=1)))
            print(f"  max compaction per aquifer (mm): {per}")
        print(f"  options {r.options}; wall {r.wall_seconds:.2f} s; landsub {r.landsub_version}; "
              f"created {r.created}")
    return 0


def cmd_solvers(args) -> int:
    from engine.registry import compositions, load_providers, names, solver_class

    unavailable = load_providers()
    for name in names():
        cls = solver_class(name)
        opts = ", ".join(f"{k}={v!r}" for k, v in cls.defaults.items())
        print(f"{name:14s} {cls.kind:8s} {opts}")
    forms = compositions()
    if forms:
        print("\ncomposed solvers")
        for form in forms:
            print(f"{form.syntax:26s} {form.summary}; e.g. {form.example}")
    if unavailable:
        print("\nunavailable (their solvers are not listed above)")
        for provider, why in sorted(unavailable.items()):
            print(f"{provider:14s} {why}")
    return 0


def cmd_verify(args) -> int:
    from engine.app.verify import run_verification

    ok = run_verification(out_dir=args.out)
    return 0 if ok else 1


def cmd_doctor(args) -> int:
    from physics.modflow.executables import doctor_report

    rows = doctor_report()
    missing = False
    for row in rows:
        status = row.get("version") or "MISSING"
        missing |= not row.get("path")
        print(f"{row['program']:8s} {status:30s} {row.get('path') or row.get('hint', '')}")
    return 1 if missing else 0


def cmd_make_case(args) -> int:
    # The generators own their arguments; importing them only here keeps `landsub` fast.
    from engine.app.make_case import main_from_data, main_make_case

    main = main_from_data if args.generator == "from-data" else main_make_case
    return main(args.args)


#: commands that parse their own arguments: name -> ("module:function", help)
FORWARDED = {
    "bench": ("engine.app.bench:main_bench", "benchmark solvers on one case and split: metrics, "
                                         "figures, report (`landsub bench --help`)"),
    "whatif": ("engine.app.whatif:main_whatif", "a management scenario's effect with its "
                                            "ensemble uncertainty (`landsub whatif --help`)"),
}


#: options every command takes, anywhere on its command line (``_global_options``)
ALLOW_OUTSIDE = "--allow-outside-case"
MAX_MEMORY = "--max-memory"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="landsub", description=__doc__)
    p.add_argument(ALLOW_OUTSIDE, action="store_true",
                   help="let case files name files outside their folder (absolute paths, "
                        "\"..\", symbolic links, HDF5 external links); any command")
    p.add_argument(MAX_MEMORY, metavar="SIZE",
                   help="memory a command may plan for, e.g. 2T (default: this machine's); "
                        "any command")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one solver on a case and write its result")
    r.add_argument("case", help="case manifest (TOML)")
    how = r.add_mutually_exclusive_group(required=True)
    how.add_argument("--solver", help="registered solver name (see `landsub solvers`)")
    how.add_argument("--model", help="a model folder written by `landsub fit`")
    r.add_argument("--option", action="append", metavar="SOLVER:KEY=VALUE",
                   help="solver option, repeatable, e.g. terzaghi:nodes=39")
    r.add_argument("--out", required=True, help="result file (.h5)")
    r.set_defaults(func=cmd_run)

    f = sub.add_parser("fit", help="train a solver on a case's training split and save it")
    f.add_argument("case", help="case manifest (TOML)")
    f.add_argument("--solver", required=True)
    f.add_argument("--preset", help="named hyperparameters: fast, default, seminar")
    f.add_argument("--split", default="spatial:0.7",
                   help="spatial:0.7 | temporal:2015-01 | both:0.7:2015-01 | none")
    f.add_argument("--option", action="append", metavar="SOLVER:KEY=VALUE",
                   help="solver option, repeatable, e.g. lstm:hidden=32")
    f.add_argument("--zones", help="rate-zone limits SEVERE,REBOUND of the metrics, mm/yr "
                   "(default: the seminar's, as on bench)")
    f.add_argument("--out", required=True, help="model folder")
    f.set_defaults(func=cmd_fit)

    i = sub.add_parser("info", help="describe a result file or a case manifest")
    i.add_argument("file")
    i.set_defaults(func=cmd_info)

    s = sub.add_parser("solvers", help="list registered solvers and their options")
    s.set_defaults(func=cmd_solvers)

    v = sub.add_parser("verify", help="run the verification cases against analytical solutions")
    v.add_argument("--out", default="verification-out", help="folder for the table and figures")
    v.set_defaults(func=cmd_verify)

    m = sub.add_parser("make-case", help="build a case: from-data (InSAR, wells, ...) or beijing "
                                         "(the Beijing Plain twin); `landsub make-case GEN --help`")
    m.add_argument("generator", choices=["from-data", "beijing"])
    m.add_argument("args", nargs=argparse.REMAINDER, help="the generator's own arguments")
    m.set_defaults(func=cmd_make_case)

    d = sub.add_parser("doctor", help="check the MODFLOW executables")
    d.set_defaults(func=cmd_doctor)
    for name, (_, text) in FORWARDED.items():
        sub.add_parser(name, help=text, add_help=False)
    return p


def _global_options(argv: list[str]) -> tuple[list[str], bool, str | None]:
    """``argv`` without the options every command takes (so that the commands parsing
    their own arguments need not know them), whether case files may reach outside their
    folder, and the --max-memory text."""
    rest, allow, memory = [], False, None
    items = iter(argv)
    for item in items:
        if item == ALLOW_OUTSIDE:
            allow = True
        elif item == MAX_MEMORY:
            memory = next(items, "")
        elif item.startswith(MAX_MEMORY + "="):
            memory = item.partition("=")[2]
        else:
            rest.append(item)
    return rest, allow, memory


def main(argv=None) -> int:
    from engine.app.options import signed_values
    from engine.resources import memory_limit, parse_size
    from engine.tables import outside_case

    argv, allow, memory = _global_options(signed_values(sys.argv[1:] if argv is None
                                                        else list(argv)))
    limit = None
    if memory is not None:
        sizes = []
        code = run_command("landsub", lambda: sizes.append(parse_size(memory)))
        if code:
            return code
        limit = sizes[0]
    with outside_case(allow), memory_limit(limit):
        if argv and argv[0] in FORWARDED:
            import importlib

            module, function = FORWARDED[argv[0]][0].split(":")
            return getattr(importlib.import_module(module), function)(argv[1:])
        args = build_parser().parse_args(argv)
        return run_command(f"landsub {args.command}", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
