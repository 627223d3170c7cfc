"""``make-case from-data`` warns, on stderr and in summary.md, when the heads interpolated
from the wells have a leave-one-out error above LOO_WARNING_FRACTION of their range."""

from pathlib import Path

import numpy as np
import readers_fixtures as fx
from test_from_data_declarations import TRUTH, _ps_csv

from cases.readers.geodesy import lonlat_to_projected
from cases.readers.interpolation import LOO_WARNING_FRACTION, interpolate
from engine.app.make_case import main_from_data
from engine.caseio import load_case

# confined-1 alternates between two levels 30 m apart from well to well: no well's
# neighbours tell its head
ERRATIC = {"W1": -10.0, "W2": -40.0, "W3": -10.0, "W4": -40.0}


def _smooth(name, month) -> float:
    """One decline for every well of an aquifer, offset by a few centimetres per well:
    the neighbours of each well tell its head."""
    aquifer = fx.WELLS[name][2]
    first = next(w for w, v in fx.WELLS.items() if v[2] == aquifer)
    return fx.well_head(first, month) - 0.05 * int(name[1:])


def _wells(folder, erratic: bool):
    months = np.arange(np.datetime64("2015-06"), np.datetime64("2018-01")).astype("datetime64[D]")
    rows = []
    for name, (r, c, aquifer, _, _) in fx.WELLS.items():
        x, y = lonlat_to_projected(TRUTH.lon[r, c], TRUTH.lat[r, c], fx.CRS)
        for m in months + 14:
            head = ERRATIC[name] if erratic and name in ERRATIC else _smooth(name, m)
            rows.append([name, str(m), f"{head:.4f}", aquifer, f"{float(x):.2f}",
                         f"{float(y):.2f}"])
    return fx.write_csv(folder / "wells.csv", ["well", "time", "head_m", "aquifer", "x", "y"],
                        rows)


def _argv(folder, erratic: bool):
    folder.mkdir()
    insar = _ps_csv(folder, comments=["unit: mm", "positive: toward"])
    return ["--insar", str(insar), "--wells", str(_wells(folder, erratic)),
            "--params", str(fx.write_params(folder)),
            "--stratigraphy", str(fx.write_stratigraphy(folder, TRUTH)), "--crs", fx.CRS,
            "--out", str(folder / "case")]


def test_poorly_interpolated_heads_are_warned_of(tmp_path, capsys):
    assert main_from_data(_argv(tmp_path / "erratic", erratic=True)) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    prefix = "landsub make-case from-data: warning: aquifer confined-1: heads interpolated from "
    assert err[0].startswith(prefix + "4 well(s) have a leave-one-out RMSE of ")
    rmse, fraction, spread = (float(err[0].split(word)[1].split()[0]) for word in
                              ("RMSE of ", " m, ", "their range "))
    assert spread == 30.0 and fraction > LOO_WARNING_FRACTION
    assert abs(fraction - rmse / spread) < 0.01
    assert f"(more than {LOO_WARNING_FRACTION:g})" in err[0]
    summary = (tmp_path / "erratic" / "case" / "summary.md").read_text()
    warned = summary.split("## Warnings\n\n")[1].splitlines()[0]
    assert warned == "- " + err[0].split(": warning: ")[1]
    assert summary.index("## Warnings") < summary.index("## Inputs")


def test_heads_the_wells_agree_on_pass_quietly(tmp_path, capsys):
    assert main_from_data(_argv(tmp_path / "smooth", erratic=False)) == 0
    assert capsys.readouterr().err == ""
    assert "## Warnings" not in (tmp_path / "smooth" / "case" / "summary.md").read_text()


def test_the_fraction_is_of_the_measured_range():
    values = np.array([[0.0, 1.0], [10.0, np.nan], [2.0, 3.0]])
    result = interpolate([0.5], [0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 0.0], values)
    assert result.value_range == 10.0
    assert result.loo_fraction == result.loo_rmse / 10.0
    flat = interpolate([0.5], [0.0], [0.0, 1.0], [0.0, 0.0], np.ones((2, 3)))
    assert np.isnan(flat.loo_fraction)            # no range: nothing to compare with


def test_a_case_without_a_name_is_named_after_its_folder(tmp_path):
    """Not after the temporary folder it was written in before being renamed."""
    argv = _argv(tmp_path / "data", erratic=False)
    params = Path(argv[argv.index("--params") + 1])
    params.write_text(params.read_text().replace('name = "synthetic-beijing-patch"\n', ""))
    argv[-1] = str(tmp_path / "my-study")
    assert main_from_data(argv) == 0
    assert load_case(tmp_path / "my-study" / "case.toml").name == "my-study"
