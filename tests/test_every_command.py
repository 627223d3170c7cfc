"""Every `landsub` command through the command line itself (``engine.app.cli.main``, and
the installed console script once), on tiny inputs. Commands tested elsewhere through
``main``: run, info, solvers, fit (tests/test_cli.py), doctor (tests/test_commands.py),
bench (tests/test_bench.py, a subprocess of the command line). Here: the list itself,
verify (with the README's figures), make-case (both generators), whatif, and run/info
on a made case."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import readers_fixtures as fx

from engine.app.cli import FORWARDED, build_parser, main
from engine.caseio import load_case, write_case

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_commands() -> set[str]:
    block = README.read_text(encoding="utf-8").split("## Command line", 1)[1].split("```")[1]
    return {line.split()[1] for line in block.splitlines() if line.startswith("landsub ")}


def _parser_commands() -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return set(sub.choices)


def test_the_readme_lists_exactly_the_commands_the_parser_has():
    assert _readme_commands() == _parser_commands() >= set(FORWARDED)
    assert _parser_commands() == {"run", "info", "solvers", "verify", "doctor", "make-case",
                                  "fit", "bench", "whatif"}


def test_the_console_script_is_installed_and_runs():
    landsub = shutil.which("landsub")
    assert landsub, "the console script `landsub` is not on PATH (pip install -e .)"
    proc = subprocess.run([landsub, "solvers"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^terzaghi\s+physics", proc.stdout, re.M)


def test_verify_passes_and_prints_the_readme_figures(tmp_path, capsys):
    assert main(["verify", "--out", str(tmp_path)]) == 0
    assert "6/6 comparisons" in capsys.readouterr().out
    report = json.loads((tmp_path / "verification.json").read_text())
    worst = {}
    for row in report["cases"]:
        worst[row["case"]] = max(worst.get(row["case"], 0.0), row["max_error_percent"])
    # the README's table, at the precision it prints
    assert round(worst["terzaghi-step"], 2) == 0.19
    assert round(worst["elastic-cycle"], 2) == 0.09
    assert worst["overconsolidated"] < 1e-11               # README: 4e-13 %
    assert round(worst["three-aquifer-column"], 2) <= 0.03
    # and its refinement sentence: errors per doubling of the nodes, order 2.0
    errors = {(r["scheme"], r["nodes"]): 100 * r["error"] for r in report["refinement"]}
    readme = {"default": (0.19, 0.046, 0.011, 0.0028), "csub": (0.81, 0.16, 0.038, 0.0093)}
    for scheme, figures in readme.items():
        for nodes, figure in zip((19, 39, 79, 159), figures):
            assert f"{errors[(scheme, nodes)]:.2g}" == f"{figure:.2g}", (scheme, nodes)
    last = next(r for r in report["refinement"] if (r["scheme"], r["nodes"]) == ("default", 159))
    assert round(last["order"], 1) == 2.0
    assert (tmp_path / "terzaghi-step-refinement.png").stat().st_size > 10_000


@pytest.mark.modflow
def test_make_case_beijing_then_run_and_info(tmp_path, capsys):
    out = tmp_path / "twin"
    assert main(["make-case", "beijing", "--size", "tiny", "--seed", "0", "--out", str(out)]) == 0
    case = load_case(out / "case.toml")
    assert case.n_cells > 0 and (out / "truth").is_dir()
    assert json.loads((out / "generator.json").read_text())["size"] == "tiny"
    capsys.readouterr()
    assert main(["info", str(out / "case.toml")]) == 0
    assert f"{case.n_cells} cells" in capsys.readouterr().out
    result = tmp_path / "terzaghi.h5"
    assert main(["run", str(out / "case.toml"), "--solver", "terzaghi",
                 "--out", str(result)]) == 0
    with h5py.File(result) as f:
        displacement = f["displacement"][()]
    assert displacement.shape == (case.n_cells, case.n_times)
    # the twin subsides: by the end nearly every point is below where it started
    assert (displacement[:, -1] < 0).mean() > 0.9


@pytest.mark.needs("mintpy.utils.writefile")
def test_make_case_from_data(tmp_path):
    truth = fx.truth(n_dates=40)
    data = tmp_path / "data"
    insar = fx.write_mintpy(data / "mintpy", truth)
    wells = fx.write_wells(data, truth)
    params = fx.write_params(data)
    beds = fx.write_stratigraphy(data, truth)
    out = tmp_path / "case"
    assert main(["make-case", "from-data", "--insar", str(insar), "--wells", str(wells),
                 "--params", str(params), "--stratigraphy", str(beds), "--crs", fx.CRS,
                 "--out", str(out)]) == 0
    case = load_case(out / "case.toml")
    assert case.n_cells == fx.ROWS * fx.COLS
    assert (out / "summary.md").is_file() and (out / "map.png").is_file()
    # the bowl's centre subsides more than the grid's edge, as in the truth
    last = case.observations.displacement[:, -1]
    assert np.nanmin(last) < np.nanmedian(last) < 0.01
    assert main(["make-case", "from-data", "--insar", str(insar), "--wells", str(wells),
                 "--out", str(tmp_path / "no-crs")]) == 2


def test_whatif(tmp_path, capsys):
    from cases.synthetic import synthetic_case

    manifest = write_case(synthetic_case(n_cells=12, n_months=36, seed=4), tmp_path / "case")
    deepest = load_case(manifest).aquifers[-1].name
    scenario = tmp_path / "rise.toml"
    scenario.write_text(f'name = "rise"\nuntil = "2008-12"\n\n[[heads]]\naquifer = "{deepest}"\n'
                        'start = "2008-01"\nend = "2008-12"\noffset = 5.0\n')
    out = tmp_path / "whatif"
    assert main(["whatif", str(manifest), "--scenario", str(scenario), "--solvers", "terzaghi",
                 "--members", "2", "--scheduler", "serial", "--out", str(out)]) == 0
    assert (out / "summary.md").is_file() and (out / "whatif.h5").is_file()
    import xarray as xr

    with xr.open_dataset(out / "whatif.h5", engine="h5netcdf", group="terzaghi.band") as band:
        rise = band["difference_at_until"].values
    # raising the deep heads never adds subsidence, and somewhere it removes some
    assert rise.min() >= -1e-12 and rise.max() > 0
    capsys.readouterr()
    assert main(["whatif", str(manifest), "--scenario", str(tmp_path / "none.toml"),
                 "--solvers", "terzaghi", "--out", str(tmp_path / "x")]) == 2
    assert "none.toml" in capsys.readouterr().err
