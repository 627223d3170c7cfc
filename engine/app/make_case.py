"""`landsub make-case GENERATOR ...`: the command lines of the case generators.

``from-data`` builds a case from real data files (``cases.from_data``); ``beijing``
makes the Beijing Plain twin (``cases.beijing.make``). The generators themselves are
plain functions; only their arguments are parsed here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cases import from_data
from cases.beijing.make import HEADS, make_twin
from cases.beijing.settings import SIZES
from cases.from_data import FromData, make_case_from_data
from cases.readers import INSAR_FORMATS
from cases.readers.points import LOS_SIGNS, METRES_PER_UNIT
from cases.readers.resample import FREQS
from engine.atomic import check_output, replacing_folder
from engine.errors import run_command


def add_from_data_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``from-data`` to the ``make-case`` subcommands; sets ``func`` to run it."""
    p = subparsers.add_parser("from-data", help="build a case from InSAR, wells, "
                                                "extensometers and stratigraphy files",
                              description=from_data.__doc__.split("\n\n")[0])
    p.add_argument("--insar", required=True, action="append",
                   help="InSAR product (MintPy timeseries.h5, EGMS CSV, LiCSBAS cum.h5, PS "
                        "CSV); repeat it for several tracks of the same ground, which are "
                        "decomposed into vertical and east-west")
    p.add_argument("--insar-format", action="append", choices=INSAR_FORMATS,
                   help="format (default auto); once for every track or once per track")
    p.add_argument("--insar-unit", action="append", choices=tuple(METRES_PER_UNIT),
                   help="unit of the InSAR values when the file does not say; once for "
                        "every track or once per track")
    p.add_argument("--los-sign", action="append", choices=LOS_SIGNS,
                   help="line-of-sight values positive toward or away from the satellite, "
                        "when the file does not say; once for every track or once per track")
    p.add_argument("--track-distance", type=float, default=from_data.TRACK_DISTANCE,
                   help="m: several tracks are decomposed on the points of every track "
                        "within this distance of each point of the first track (default "
                        f"{from_data.TRACK_DISTANCE:g})")
    p.add_argument("--crs", help="projected CRS of the case, EPSG:NNNN (needed for "
                                 "longitude/latitude inputs)")
    p.add_argument("--wells", required=True, help="well heads CSV (long or wide)")
    p.add_argument("--extensometers", help="layered extensometer CSV")
    p.add_argument("--stratigraphy", help="borehole clay-bed CSV")
    p.add_argument("--params", help="TOML of aquifers and assumptions "
                                     "(see cases.readers.params)")
    p.add_argument("--freq", default="MS", choices=tuple(FREQS),
                   help="time step of the case (default MS: months)")
    p.add_argument("--out", required=True, help="folder for the case, summary.md, map.png")
    p.set_defaults(func=run_from_data)
    return p


def run_from_data(args) -> int:
    out = check_output(args.out, "folder")
    with replacing_folder(out) as partial:
        req = FromData(insar=tuple(args.insar), wells=args.wells, out=str(partial),
                       insar_format=tuple(args.insar_format or ("auto",)),
                       insar_unit=tuple(args.insar_unit or (None,)),
                       los_sign=tuple(args.los_sign or (None,)), crs=args.crs,
                       extensometers=args.extensometers, stratigraphy=args.stratigraphy,
                       params=args.params, freq=args.freq, track_distance=args.track_distance,
                       name=out.name)   # not the temporary folder's name
        manifest = make_case_from_data(req, warn=_warn_from_data)
    print(f"case written to {out / manifest.name}; summary {out / 'summary.md'}, "
          f"map {out / 'map.png'}")
    return 0


def make_twin_whole(out, *args, log=print, source: str = "--out") -> Path:
    """``make_twin`` into a temporary folder renamed onto ``out`` at the end, so that a
    make-case, or a built-in twin made into the cache (``engine.app.bench``), killed or
    failing half-way leaves the previous case (or none), never a case without its truth,
    figures or README, or a mix of two seeds; a killed run's temporary folder goes with
    the next write beside it. ``source`` names ``out`` in a refusal. Returns the
    manifest."""
    out = check_output(out, "folder", source)
    with replacing_folder(out) as partial:
        # the log names the folder the user asked for, not its temporary name
        made = make_twin(partial, *args, log=lambda text: log(str(text).replace(str(partial),
                                                                                str(out))))
    return out / Path(made["manifest"]).name


def _warn_from_data(line: str) -> None:
    print(f"landsub make-case from-data: warning: {line}", file=sys.stderr)


def main_from_data(argv) -> int:
    """Entry point of `landsub make-case from-data` (argv: the generator's arguments)."""
    parser = argparse.ArgumentParser(prog="landsub make-case")
    add_from_data_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["from-data", *argv])
    return run_command("landsub make-case from-data", lambda: args.func(args))


def main_make_case(argv) -> int:
    """Entry point of `landsub make-case beijing` (argv: the generator's arguments)."""
    p = argparse.ArgumentParser(prog="landsub make-case beijing",
                                description="Build the Beijing Plain twin (see cases/beijing).")
    p.add_argument("--size", choices=SIZES, default="small",
                   help="tiny (tests), small (~2,000 PS points), medium (~20,000), full "
                        "(>= 100,000); see [sizes] in cases/beijing/settings.toml")
    p.add_argument("--seed", type=int, default=0, help="the world's seed (same seed, "
                                                       "same files)")
    p.add_argument("--heads", choices=HEADS, default="interpolated",
                   help="heads at the cells: interpolated from the wells, or the flow "
                        "model's (exact)")
    p.add_argument("--scenario", help="scenario file (TOML), e.g. "
                                      "cases/beijing/scenarios/drought.toml")
    p.add_argument("--until", help="month the scenario runs to, e.g. 2035-12")
    p.add_argument("--settings", help="TOML overriding the generator settings")
    p.add_argument("--arrays", choices=("auto", "csv", "hdf5"), default="auto")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    return run_command("landsub make-case beijing", lambda: make_twin_whole(
        args.out, args.size, args.seed, args.heads, args.scenario, args.until, args.settings,
        args.arrays))
