"""``make-case from-data`` lists every missing declaration (InSAR unit and sign, CRS, head
unit, aquifer order and material) in one refusal, each with the flag or --params key that
gives it, instead of one per run."""

import numpy as np
import pytest
import readers_fixtures as fx

from cases.readers.declarations import MissingDeclaration, collecting, missing
from engine.app.make_case import main_from_data
from engine.errors import InputError

TRUTH = fx.truth(n_dates=40)


def _ps_csv(folder, comments=()):
    """A PS table of the truth along the line of sight, mm, in longitude/latitude, with
    the incidence per point and no header line unless ``comments``."""
    dates = [str(d).replace("-", "") for d in TRUTH.dates]
    los = fx.los_toward(TRUTH).reshape(len(TRUTH.dates), -1).T * 1e3
    rows = [[f"P{i}", f"{lon:.6f}", f"{lat:.6f}", f"{inc:.3f}", *[f"{v:.3f}" for v in series]]
            for i, (lon, lat, inc, series) in enumerate(zip(
                TRUTH.lon.ravel(), TRUTH.lat.ravel(), TRUTH.incidence.ravel(), los))]
    return fx.write_csv(folder / "ps.csv", ["id", "lon", "lat", "incidence", *dates], rows,
                        comments=comments)


@pytest.fixture()
def files(tmp_path):
    return {"insar": _ps_csv(tmp_path),
            "wells": fx.write_wells(tmp_path, TRUTH, unit_suffix="", lonlat=True),
            "out": tmp_path / "case"}


def test_every_missing_declaration_in_one_refusal(files, capsys):
    argv = ["--insar", str(files["insar"]), "--wells", str(files["wells"]),
            "--out", str(files["out"])]
    assert main_from_data(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("landsub make-case from-data: error: 5 declarations are missing")
    items = line.split(": error: ", 1)[1].split("; ")
    expected = [(f"{files['insar']}: unit: ", "--insar-unit mm|cm|m"),
                (f"{files['insar']}: sign: ", "--los-sign toward|away"),
                (f"{files['insar']}: coordinates: ", "--crs EPSG:NNNN"),
                (f"{files['wells']}: head: ", "[wells] unit in --params"),
                ("command line: --params: ", "[[aquifers]] tables")]
    for start, flag in expected:
        assert any(start in item and flag in item for item in items), (start, line)
    assert "no aquifer (confined-1, confined-2) has compressible material" in line
    assert not files["out"].exists()


def test_declared_in_the_file_and_the_flags_it_builds(files, tmp_path, capsys):
    """The same data with every declaration given: the header lines of the PS table, the
    CRS flag, --params (order, materials, head unit) and the boreholes build the case."""
    insar = _ps_csv(tmp_path / "declared", comments=["unit: mm", "positive: toward"])
    params = fx.write_params(tmp_path, '\n[wells]\nunit = "m"\n')
    argv = ["--insar", str(insar), "--wells", str(files["wells"]), "--params", str(params),
            "--stratigraphy", str(fx.write_stratigraphy(tmp_path, TRUTH)), "--crs", fx.CRS,
            "--out", str(files["out"])]
    assert main_from_data(argv) == 0, capsys.readouterr().err
    assert (files["out"] / "case.toml").is_file()


def test_a_reader_on_its_own_refuses_at_the_first():
    with pytest.raises(MissingDeclaration, match="f.csv: unit: say it"):
        missing("f.csv", "unit", "say it", "m")


def test_an_error_after_a_stand_in_gives_way_to_the_declarations():
    """A failure after a stand-in was handed out may be the stand-in's doing: the missing
    declarations are refused in its place."""
    with pytest.raises(MissingDeclaration, match="f.csv: unit: say it") as caught:
        with collecting():
            scale = {"m": 1.0}[missing("f.csv", "unit", "say it", "m")]
            raise InputError("g.csv", "x", f"{scale} is far from every point")
    assert "far from" not in str(caught.value)
    with pytest.raises(InputError, match="g.csv: x: nothing missing"):
        with collecting():
            raise InputError("g.csv", "x", "nothing missing")
    with collecting():
        np.zeros(1)
