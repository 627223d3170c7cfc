"""Several InSAR tracks: the line-of-sight geometry the readers take (columns, header
lines), the decomposition into vertical and east-west against known answers (the twin's
two-track test bed on a synthetic truth, and real-format files through make-case
from-data), the case that keeps the east-west part, and the refusals."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest
import readers_fixtures as fx

from cases.beijing.domain import Domain
from cases.beijing.settings import load_settings
from cases.beijing.tracks import TRUTH_FILE, noise_rmse, write_tracks
from cases.from_data import FromData, build_case, make_case_from_data
from cases.readers import read_insar
from cases.readers.geodesy import lonlat_to_projected, los_to_vertical, los_unit_vector
from cases.readers.points import PointSeries
from cases.readers.ps_csv import read_ps_csv
from cases.readers.resample import bin_mean
from cases.readers.tracks import common_axis, decompose
from engine import caseio
from engine.app.make_case import main_from_data
from engine.case import Compressible, Observations
from engine.case import build_case as plain_case
from engine.errors import InputError

DATES = ["20160105", "20160117", "20160210"]


def _rmse(a, b) -> float:
    return float(np.sqrt(np.nanmean((a - b) ** 2)))


@pytest.mark.needs("mintpy.utils.utils0")
def test_line_of_sight_vector_is_mintpys():
    from mintpy.utils.utils0 import enu2los

    for incidence, heading in ((39.0, -12.0), (39.0, -168.0), (31.5, 190.0), (44.0, 349.0)):
        e, n, u = los_unit_vector(incidence, heading)
        assert e * 1.0 + n * 2.0 + u * 3.0 == pytest.approx(
            enu2los(1.0, 2.0, 3.0, incidence, head_angle=heading), abs=1e-12)
    east, _, _ = los_unit_vector(39.0, -12.0)
    assert east < 0     # ascending, looking east: the satellite is west of the ground


def test_ps_csv_geometry_from_columns_or_header_lines(tmp_path):
    values = [["0", "1.0", "2.0"], ["0", "-1.0", ""]]
    coords = [["1", "2"], ["3", "4"]]
    angles = fx.write_csv(tmp_path / "a.csv", ["id", "x", "y", "incidence", "heading", *DATES],
                          [[f"P{i}", *coords[i], "38.0", "-12.0", *v]
                           for i, v in enumerate(values)],
                          comments=["unit: mm", "positive: toward"])
    header = fx.write_csv(tmp_path / "h.csv", ["id", "x", "y", *DATES],
                          [[f"P{i}", *coords[i], *v] for i, v in enumerate(values)],
                          comments=["unit: mm", "positive: toward", "incidence: 38",
                                    "heading: -12"])
    expected = los_unit_vector(38.0, -12.0)
    for path in (angles, header):
        s = read_ps_csv(path)
        for got, want in zip((s.los_east, s.los_north, s.los_up), expected):
            np.testing.assert_allclose(got, [want, want])
        assert s.has_geometry
    up_only = fx.write_csv(tmp_path / "u.csv", ["id", "x", "y", "incidence", *DATES],
                           [["P0", "1", "2", "38.0", *values[0]]],
                           comments=["unit: mm", "positive: toward"])
    s = read_ps_csv(up_only)
    assert not s.has_geometry and s.los_up[0] == pytest.approx(np.cos(np.radians(38.0)))


@pytest.mark.parametrize("header, row, comments, field, words", [
    (["los_e", "los_u"], ["-0.6", "0.8"], [], "los_n", "los_n missing"),
    (["heading"], ["-12"], [], "heading", "without an incidence"),
    (["incidence"], ["38"], ["heading: west"], "heading", '"# heading: west"'),
    (["los_e", "los_n", "los_u"], ["-0.5", "-0.1", "0.7"], [], "los_e/los_n/los_u",
     "length 0.866"),
])
def test_ps_csv_refuses_broken_geometry(tmp_path, header, row, comments, field, words):
    path = fx.write_csv(tmp_path / "ps.csv", ["id", "x", "y", *header, *DATES],
                        [["P0", "1", "2", *row, "0", "1", "2"]],
                        comments=["unit: mm", "positive: toward", *comments])
    with pytest.raises(InputError) as info:
        read_ps_csv(path)
    assert info.value.field == field and words in str(info.value)


def _twin_bed(tmp_path, n=300, seed=0):
    """The twin's two tracks written from a synthetic vertical truth (two subsidence
    bowls and a seasonal term, monthly 2003-2024) at random points of the domain."""
    domain = Domain.create(load_settings(), 0)
    rng = np.random.default_rng(seed)
    (x0, y0), (width, height) = domain.origin, domain.extent
    x, y = x0 + rng.uniform(0, width, n), y0 + rng.uniform(0, height, n)
    ids = np.array([f"ps{k:04d}" for k in range(n)])
    times = np.arange(np.datetime64("2003-01"), np.datetime64("2025-01")).astype("datetime64[D]")
    years = (times - times[0]).astype(float) / 365.25
    rate = np.zeros(n)
    for name in ("north_centre", "south_centre"):
        cx, cy = domain.landmark(name)
        rate -= 0.06 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 9000.0 ** 2))
    up = rate[:, None] * years + 0.004 * np.sin(2 * np.pi * years) * (rate[:, None] / -0.06)
    material = {"interbeds": Compressible("interbeds", thickness=np.ones(n), count=np.ones(n),
                                          kv=np.ones(n), sske=np.ones(n), sskv=np.ones(n)),
                "coarse": Compressible("coarse", thickness=np.ones(n), sske=np.ones(n))}
    materials = [(material["interbeds"], material["coarse"])] * len(domain.aquifer_names)
    folder = write_tracks(tmp_path, tmp_path / "truth", domain, ids, x, y, times, up,
                          materials, np.random.default_rng(seed + 1))
    with h5py.File(tmp_path / "truth" / TRUTH_FILE, "r") as f:
        east = f["east"][()]
    return domain, folder, times, up, east


def test_twin_tracks_decompose_to_the_truth_within_the_noise(tmp_path):
    domain, folder, times, up, east = _twin_bed(tmp_path)
    settings = domain.settings["tracks"]
    tracks = [read_insar(folder / f"{name}.csv") for name in ("ascending", "descending")]
    result = decompose(tracks, "MS", 100.0)
    s = result.series
    assert len(s) == len(up) and result.dropped_unpaired == 0
    at = np.searchsorted(times, s.dates)
    true_up, true_east = up[:, at] - up[:, at[:1]], east[:, at] - east[:, at[:1]]
    counts = np.array([bin_mean(t.dates, np.ones((1, len(t.dates))), s.dates, "MS")[1][0]
                       for t in tracks])
    partner = [tracks[1].ids.tolist().index(f"D-{i}") for i in s.ids]
    expected = noise_rmse((tracks[0].los_east, tracks[0].los_up),
                          (tracks[1].los_east[partner], tracks[1].los_up[partner]), counts,
                          settings["noise_mm"] * 1e-3)
    got = _rmse(s.values, true_up), _rmse(s.east, true_east)
    # within the noise: the noise alone explains the error (1.5-3.5 mm), and the
    # east-west motion (up to 35 mm since 2016) is found
    assert 1e-3 < expected[0] < 4e-3 and 1e-3 < expected[1] < 4e-3
    assert got[0] < 1.15 * expected[0] and got[1] < 1.15 * expected[1], (got, expected)
    assert np.abs(true_east).max() > 0.02
    # one track turned vertical takes the east-west motion for vertical
    alone = los_to_vertical(tracks[0])
    binned, _ = bin_mean(alone.dates, alone.values, s.dates, "MS")
    assert _rmse(binned - binned[:, :1], true_up) > 2.5 * got[0]
    # the truth moves east-west only, so the tracks agree in the residual and disagree in
    # their rates turned vertical where the ground moves east-west
    assert result.rms_residual < 1e-3 and result.max_north < 0.15
    pair = result.pairs[0]
    assert pair.groups == len(s) and pair.vertical_only_p90 > 2e-3, pair


def _two_track_files(tmp_path, east_rate=0.004):
    """Real-format PS tables of the readers' fixture truth plus an east-west motion:
    the ascending track on the pixel centres with incidence and heading columns, the
    descending one 20 m east of them, 5 days later, its geometry in header lines."""
    t = fx.truth()
    x, y = lonlat_to_projected(t.lon.ravel(), t.lat.ravel(), fx.CRS)
    rows, cols = np.mgrid[0:fx.ROWS, 0:fx.COLS]
    ve = east_rate * (cols.ravel() - fx.COLS / 2) / fx.COLS
    paths = {}
    for name, shift, heading, comments in (
            ("asc", 0, -12.0, []), ("desc", 5, -168.0, ["incidence: 39", "heading: -168"])):
        dates = t.dates + shift
        years = (dates - t.dates[0]).astype(float) / 365.25
        inc = t.incidence.ravel() if name == "asc" else np.full(x.size, 39.0)
        e, _, u = los_unit_vector(inc, heading)
        up = np.array([np.interp((dates - t.dates[0]).astype(float),
                                 (t.dates - t.dates[0]).astype(float), series)
                       for series in t.up.reshape(len(t.dates), -1).T])
        los = e[:, None] * ve[:, None] * years + u[:, None] * up
        geometry = ["incidence", "heading"] if name == "asc" else []
        header = ["id", "x", "y", *geometry, *[str(d).replace("-", "") for d in dates]]
        ids = [f"r{r}c{c}" if name == "asc" else f"D{r}-{c}"
               for r, c in zip(rows.ravel(), cols.ravel())]
        body = [[ids[i], f"{x[i] + (20.0 if name == 'desc' else 0.0):.2f}", f"{y[i]:.2f}",
                 *([f"{inc[i]:.3f}", f"{heading}"] if geometry else []),
                 *[f"{v * 1e3:.4f}" for v in los[i]]] for i in range(x.size)]
        paths[name] = str(fx.write_csv(tmp_path / f"{name}.csv", header, body,
                                       comments=["unit: mm", "positive: toward",
                                                 f"crs: {fx.CRS}", *comments]))
    return paths, ve.reshape(fx.ROWS, fx.COLS), t


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    d = tmp_path_factory.mktemp("tracks")
    paths, ve, t = _two_track_files(d)
    return {"paths": paths, "ve": ve, "truth": t, "wells": str(fx.write_wells(d, t)),
            "params": str(fx.write_params(d)), "strat": str(fx.write_stratigraphy(d, t)),
            "dir": d}


def _request(kit, out, insar, **more):
    return FromData(insar=insar, wells=kit["wells"], params=kit["params"], out=str(out),
                    stratigraphy=kit["strat"], crs=fx.CRS, **more)


def test_from_data_decomposes_two_tracks_and_keeps_east_west(kit, tmp_path):
    paths, t = kit["paths"], kit["truth"]
    built = build_case(_request(kit, tmp_path / "o", (paths["asc"], paths["desc"])))
    case = built.case
    obs = case.observations
    assert case.n_cells == fx.ROWS * fx.COLS and obs.displacement_east.shape == \
        obs.displacement.shape
    # noise-free tracks: the decomposition gives the truth's period means back, to a
    # millimetre: the mean acquisition day of a period differs between the tracks (by up
    # to 6 days), and the solve mixes the two (compared with the mean of both tracks'
    # period means)
    first = np.datetime64(case.times[0], "M")
    months = [(t.dates + shift).astype("datetime64[M]") for shift in (0, 5)]
    up = t.up.reshape(len(t.dates), -1)
    expected = []
    for m in months:
        means = np.array([up[m == month].mean(axis=0) for month in case.times.astype(
            "datetime64[M]")]).T
        expected.append(means - means[:, :1])
    np.testing.assert_allclose(obs.displacement, np.mean(expected, axis=0), atol=1e-3)
    years = [np.array([((t.dates + s) - t.dates[0])[m == month].astype(float).mean()
                       for month in case.times.astype("datetime64[M]")]) / 365.25
             for s, m in zip((0, 5), months)]
    years = np.mean(years, axis=0)
    np.testing.assert_allclose(obs.displacement_east,
                               kit["ve"].ravel()[:, None] * (years - years[0]), atol=1e-3)
    assert first == np.datetime64("2016-01")
    text = built.summary.markdown()
    for needle in ("InSAR track 2:", "agreement of tracks 1 and 2 over 180 co-located groups",
                   "RMS residual of the decomposition", "north-south motion is not resolved",
                   "no north-south motion", "within 100 m (--track-distance)"):
        assert needle in text, needle
    assert "line of sight turned into vertical" not in text


def test_the_made_case_stores_and_loads_the_east_west_part(kit, tmp_path):
    paths = kit["paths"]
    manifest = make_case_from_data(_request(kit, tmp_path / "o", (paths["asc"], paths["desc"])))
    assert "displacement_east" in manifest.read_text()
    case = caseio.load_case(manifest)
    again = build_case(_request(kit, tmp_path / "p", (paths["asc"], paths["desc"]))).case
    np.testing.assert_allclose(case.observations.displacement_east,
                               again.observations.displacement_east, rtol=0, atol=1e-15)


def test_one_track_keeps_the_vertical_only_conversion(kit, tmp_path):
    built = build_case(_request(kit, tmp_path / "o", kit["paths"]["asc"]))
    assert built.case.observations.displacement_east is None
    text = built.summary.markdown()
    assert "the ground moved vertically only" in text and "## Tracks" not in text


@pytest.mark.parametrize("arrays", ["csv", "hdf5"])
def test_east_west_observations_round_trip(tmp_path, arrays):
    case = plain_case("t", np.arange(0, 90, 30), [{"head": np.ones((3, 3)),
                                                    "coarse": {"thickness": 10.0, "sske": 1e-5}}])
    east = np.array([[0.0, 1e-3, np.nan], [0.0, 2e-3, 3e-3], [0.0, 0.0, -4e-3]])
    case = replace(case, observations=Observations(displacement=2 * east,
                                                   displacement_east=east))
    back = caseio.load_case(caseio.write_case(case, tmp_path, arrays=arrays))
    np.testing.assert_array_equal(back.observations.displacement_east, east)
    np.testing.assert_array_equal(back.take_cells([2, 0]).observations.displacement_east,
                                  east[[2, 0]])


def test_a_track_without_horizontal_geometry_is_refused_in_one_line(kit, tmp_path, capsys):
    bare = kit["dir"] / "bare.csv"
    lines = [ln for ln in open(kit["paths"]["desc"]).read().splitlines()
             if not ln.startswith("# heading")]
    bare.write_text("\n".join(lines) + "\n")
    argv = ["--insar", kit["paths"]["asc"], "--insar", str(bare), "--wells", kit["wells"],
            "--params", kit["params"], "--stratigraphy", kit["strat"], "--crs", fx.CRS,
            "--out", str(tmp_path / "o")]
    assert main_from_data(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bare) in err[0] and "east and north" in err[0], err
    # alone, the same file is one track: turned vertical, not refused
    assert main_from_data(argv[2:]) == 0


@pytest.mark.parametrize("extra, words", [
    (["--insar-unit", "mm", "--insar-unit", "mm", "--insar-unit", "mm"],
     "--insar-unit: given 3 times for 2 --insar files"),
    (["--track-distance", "0"], "--track-distance: 0.0 is not a distance > 0 m"),
])
def test_track_options_are_checked_before_any_work(kit, tmp_path, capsys, extra, words):
    argv = ["--insar", kit["paths"]["asc"], "--insar", kit["paths"]["desc"], "--wells",
            kit["wells"], "--params", kit["params"], "--stratigraphy", kit["strat"], "--crs",
            fx.CRS, "--out", str(tmp_path / "o"), *extra]
    assert main_from_data(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_tracks_that_do_not_overlap_in_time_are_refused():
    def track(source, first):
        dates = np.datetime64(first) + 12 * np.arange(5)
        return PointSeries(source=source, ids=np.array(["a"]), dates=dates,
                           values=np.zeros((1, 5)), component="los")
    with pytest.raises(InputError) as info:
        common_axis([track("a.csv", "2016-01-01"), track("b.csv", "2018-01-01")], "MS")
    assert info.value.source == "b.csv" and "do not overlap" in str(info.value)


@pytest.mark.parametrize("text, field, words", [
    ('[tracks]\nenabled = "yes"', "tracks.enabled", "is not true or false"),
    ("[tracks]\nrevisit_days = 0", "tracks.revisit_days", "0 is out of range"),
    ('[tracks]\neast_centres = ["nowhere"]', "tracks.east_centres[0]", "is not a landmark"),
    ("[tracks]\nincidence_spread = 80.0", "tracks.ascending.incidence", "spans -1..79"),
    ('[tracks.descending]\nfirst = "2030-01-01"', "tracks.descending.first", "is not before"),
])
def test_track_settings_are_checked(tmp_path, text, field, words):
    path = tmp_path / "mine.toml"
    path.write_text(text + "\n")
    with pytest.raises(InputError) as info:
        load_settings(path)
    assert info.value.field == field and words in str(info.value), str(info.value)
