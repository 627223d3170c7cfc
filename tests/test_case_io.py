"""Case files: what load_case reads from a hand-written case, and exact round trips
through write_case."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pandas as pd
import pytest
from case_files import MANIFEST, assert_same, write_base_case

from engine.case import Aquifer, Case, Cells, Compressible, Geostatic, Observations
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.tables import read_wide


def test_hand_written_case_reads_as_written(tmp_path):
    manifest = write_base_case(tmp_path)
    case = load_case(manifest)

    assert case.source == str(manifest)
    assert case.name == "two-aquifers"
    np.testing.assert_array_equal(case.times, np.array(
        ["2000-01-01", "2000-02-01", "2000-03-01", "2000-04-01"], dtype="datetime64[D]"))
    assert list(case.cells.ids) == ["A", "B", "C"]
    np.testing.assert_array_equal(case.cells.x, [100.5, 300.0, 0.125])
    assert list(case.cells.zone) == ["north", "north", "south"]

    upper, lower = case.aquifers
    # heads.csv is [time, cell]; the case stores [cell, time]
    table = pd.read_csv(tmp_path / "heads.csv")
    np.testing.assert_array_equal(upper.head, table[["A", "B", "C"]].to_numpy().T)
    np.testing.assert_array_equal(lower.head, np.full((3, 4), 12.0))
    assert upper.head.dtype == np.float64 and upper.head.flags.c_contiguous

    (ib,) = upper.interbeds
    np.testing.assert_array_equal(ib.count, [3.0, 3.0, 3.0])
    assert ib.preconsolidation_head is None
    np.testing.assert_array_equal(upper.nodelay.preconsolidation_head, [18.0] * 3)
    first, second = lower.interbeds
    assert first.storage == "indices" and first.sske is None and first.sskv is None
    np.testing.assert_array_equal(first.thickness, [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(first.count, [1.0, 1.0, 1.0])  # default
    np.testing.assert_array_equal(second.kv, [2e-6, 3e-6, 4e-6])
    assert lower.coarse.kind == "coarse" and lower.nodelay is None
    np.testing.assert_array_equal(case.geostatic.land_surface, [0.0, 0.0, 0.0])

    # insar.csv observes A and C at two of the four case times; NaN elsewhere
    expected = np.full((3, 4), np.nan)
    expected[0, 1], expected[0, 3], expected[2, 3] = -0.001, -0.003, -0.002
    np.testing.assert_array_equal(case.observations.displacement, expected)
    ext = case.observations.extensometers
    np.testing.assert_array_equal(ext["cell"], [1, 1])
    np.testing.assert_array_equal(ext["aquifer"], [0, 1])
    np.testing.assert_array_equal(ext["compaction"], [0.004, 0.001])
    wells = case.observations.wells
    np.testing.assert_array_equal(wells["aquifer"], [1, 0])
    np.testing.assert_array_equal(wells["time"], np.array(["2000-01-15", "2000-02-01"],
                                                          dtype="datetime64[D]"))


def test_hand_written_case_round_trips(tmp_path):
    case = load_case(write_base_case(tmp_path / "in"))
    assert_same(case, load_case(write_case(case, tmp_path / "out")))


def _rich_case(rng) -> Case:
    """Three aquifers, per-cell values at full precision over a wide exponent range, an
    irregular time axis, awkward cell ids and all three kinds of observations."""
    ids = np.array(["007", "a b", "x,y", "NA", "ü-1", "head", "5"])
    n, t = len(ids), 9
    times = np.datetime64("1999-12-30") + np.cumsum(rng.integers(1, 40, t))

    def positive(scale=1.0):
        return scale * rng.uniform(0.5, 2.0, n) * 10.0 ** rng.integers(-3, 4, n) / 3.0

    def storage_pair():
        sske = positive(1e-6)
        return sske, sske * (1.0 + rng.uniform(0, 100, n))

    def specific(kind, **extra):
        sske, sskv = storage_pair()
        return Compressible(kind=kind, thickness=positive(), sske=sske,
                            sskv=None if kind == "coarse" else sskv, **extra)

    def indices(kind, **extra):
        cr = positive(1e-2)
        return Compressible(kind=kind, thickness=positive(), storage="indices",
                            cc=None if kind == "coarse" else cr * rng.uniform(1, 20, n),
                            cr=cr, void_ratio=positive(), **extra)

    def delay(maker):
        return maker("interbeds", count=1.0 + rng.integers(0, 5, n) + rng.uniform(0, 1, n),
                     kv=positive(1e-5), preconsolidation_head=rng.normal(0, 30, n))

    top = rng.uniform(0, 50, n)
    aquifers = (
        Aquifer("unconfined", head=rng.normal(10, 5, (n, t))),
        Aquifer("confined 1", head=rng.normal(0, 20, (n, t)),
                interbeds=(delay(specific), delay(indices), delay(specific)),
                nodelay=specific("nodelay", preconsolidation_head=rng.normal(0, 9, n)),
                coarse=indices("coarse"), top=top, bottom=top + positive()),
        Aquifer("confined-2", head=np.full((n, t), -3.25),
                interbeds=(Compressible("interbeds", thickness=np.full(n, 2.0),
                                        sske=np.full(n, 1e-5), sskv=np.full(n, 1e-3),
                                        count=np.ones(n), kv=np.full(n, 1e-6)),),
                coarse=specific("coarse")),
    )
    displacement = rng.normal(0, 0.01, (n, t))
    displacement[rng.uniform(size=(n, t)) < 0.4] = np.nan
    displacement[:, 3] = np.nan
    m = 6
    extensometers = {"site": np.array(["E-1", "E 2", "E-1", "007", "E,3", "E-1"]),
                     "cell": rng.integers(0, n, m), "aquifer": rng.integers(0, 3, m),
                     "time": times[rng.integers(0, t, m)], "compaction": rng.normal(0, 0.1, m)}
    wells = {"well": np.array(["W1", "W2", "W3"]), "x": rng.normal(0, 1e5, 3),
             "y": rng.normal(0, 1e5, 3), "aquifer": np.array([2, 0, 1]),
             "time": np.array(["1990-05-17", "2001-02-03", "2030-12-31"], dtype="datetime64[D]"),
             "head": rng.normal(0, 10, 3)}
    return Case(
        name='rich "case"', description="several interbed systems,\nindices storage, ünïcode",
        times=times, cells=Cells(ids, rng.normal(4.5e5, 1e4, n), rng.normal(4.4e6, 1e4, n),
                                 np.array(["north", "", "south", "NA", "north", "x", "y"])),
        aquifers=aquifers,
        geostatic=Geostatic(sgm=1.7, sgs=2.0000000000000004, land_surface=rng.normal(40, 5, n)),
        observations=Observations(displacement, extensometers, wells),
    )


@pytest.mark.parametrize("arrays", ["csv", "hdf5"])
def test_rich_case_round_trips_exactly(tmp_path, arrays):
    case = _rich_case(np.random.default_rng(7))
    manifest = write_case(case, tmp_path / "out", name="rich.toml", arrays=arrays)
    loaded = load_case(manifest)
    assert_same(case, loaded)
    assert loaded.source == str(manifest)
    # writing what was read reproduces the same files byte for byte
    again = write_case(loaded, tmp_path / "again", name="rich.toml", arrays=arrays)
    for path in sorted((tmp_path / "out").iterdir()):
        assert (again.parent / path.name).read_bytes() == path.read_bytes(), path.name


def test_scalar_parameters_are_broadcast_to_every_cell(tmp_path):
    manifest = tmp_path / "case.toml"
    manifest.write_text("""
schema = 1
name = "terzaghi-step"
[time]
start = 2000-01-01
periods = 5
freq = "D"
[cells]
count = 4
[[aquifers]]
name = "confined-1"
head = -2.5
  [aquifers.interbeds]
  thickness = 1.0
  count = 2
  kv = 2.5e-6
  sske = 1.0e-5
  sskv = 1.0e-2
  preconsolidation_head = -5
""")
    case = load_case(manifest)
    assert case.description == "" and case.geostatic is None
    assert case.observations == Observations()
    assert list(case.cells.ids) == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(case.cells.x, np.zeros(4))
    np.testing.assert_array_equal(case.times, np.arange("2000-01-01", "2000-01-06",
                                                        dtype="datetime64[D]"))
    (aquifer,) = case.aquifers
    assert aquifer.head.shape == (4, 5) and np.all(aquifer.head == -2.5)
    (ib,) = aquifer.interbeds
    for name, value in [("thickness", 1.0), ("count", 2.0), ("kv", 2.5e-6), ("sske", 1e-5),
                        ("sskv", 1e-2), ("preconsolidation_head", -5.0)]:
        values = getattr(ib, name)
        assert values.dtype == np.float64 and values.shape == (4,)
        np.testing.assert_array_equal(values, value)
    assert_same(case, load_case(write_case(case, tmp_path / "out")))
    # a uniform case writes no tables at all
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["case.toml"]


@pytest.mark.parametrize("freq,start,periods", [("D", "2003-02-26", 40), ("MS", "1999-11-01", 30),
                                                ("YS", "1996-01-01", 12)])
def test_regular_time_axes_match_pandas(tmp_path, freq, start, periods):
    manifest = tmp_path / "case.toml"
    manifest.write_text(f'schema = 1\nname = "axis"\n[time]\nstart = "{start}"\n'
                        f'periods = {periods}\nfreq = "{freq}"\n[cells]\ncount = 1\n'
                        '[[aquifers]]\nname = "a"\nhead = 0.0\n'
                        '[aquifers.coarse]\nthickness = 1.0\nsske = 1e-6\n')
    case = load_case(manifest)
    expected = pd.date_range(start, periods=periods, freq=freq).to_numpy().astype("datetime64[D]")
    np.testing.assert_array_equal(case.times, expected)
    assert case.times.dtype == np.dtype("datetime64[D]")
    written = write_case(case, tmp_path / "out")
    assert f'freq = "{freq}"' in written.read_text()
    np.testing.assert_array_equal(load_case(written).times, expected)


def test_single_head_column_applies_to_every_cell(tmp_path):
    manifest = write_base_case(tmp_path)
    (tmp_path / "heads.csv").write_text("time,head\n2000-01-01,5\n2000-02-01,4\n"
                                        "2000-03-01,3.5\n2000-04-01,3\n")
    head = load_case(manifest).aquifers[0].head
    np.testing.assert_array_equal(head, np.tile([5.0, 4.0, 3.5, 3.0], (3, 1)))


def test_hdf5_heads_and_displacement(tmp_path):
    manifest = write_base_case(tmp_path)
    rng = np.random.default_rng(3)
    head, displacement = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    displacement[1, 2] = np.nan
    with h5py.File(tmp_path / "arrays.h5", "w") as f:
        f["heads/upper"] = head.astype(np.float32)
        f["displacement"] = displacement
    text = MANIFEST.replace('head = { file = "heads.csv" }',
                            'head = { file = "arrays.h5", dataset = "heads/upper" }')
    text = text.replace('displacement = { file = "insar.csv" }',
                        'displacement = { file = "arrays.h5", dataset = "displacement" }')
    manifest.write_text(text)
    case = load_case(manifest)
    np.testing.assert_array_equal(case.aquifers[0].head, head.astype(np.float32))
    assert case.aquifers[0].head.dtype == np.float64
    np.testing.assert_array_equal(case.observations.displacement, displacement)


def test_hdf5_arrays_are_referenced_from_the_manifest(tmp_path):
    case = _rich_case(np.random.default_rng(8))
    manifest = write_case(case, tmp_path, arrays="hdf5")
    text = manifest.read_text()
    assert 'head = { file = "arrays.h5", dataset = "aquifers[0].head" }' in text
    assert 'displacement = { file = "arrays.h5", dataset = "observations.displacement" }' in text
    assert not (tmp_path / "params.csv").exists() and not list(tmp_path.glob("heads_*.csv"))
    assert 'thickness = { file = "arrays.h5", dataset = "aquifers[1].interbeds[0].thickness" }' \
        in text
    with h5py.File(tmp_path / "arrays.h5", "r") as f:
        assert f["aquifers[0].head"].shape == (case.n_cells, case.n_times)
        thickness = f["aquifers[1].interbeds[0].thickness"][()]
    np.testing.assert_array_equal(thickness, case.aquifers[1].interbeds[0].thickness)


def test_hdf5_parameters_are_checked_like_csv_ones(tmp_path):
    manifest = write_base_case(tmp_path)
    with h5py.File(tmp_path / "params.h5", "w") as f:
        f["kv"] = np.array([2e-6, -3e-6, 4e-6])
        f["short"] = np.ones(2)
    manifest.write_text(MANIFEST.replace('kv = { file = "params.csv", column = "kv_lower" }',
                                         'kv = { file = "params.h5", dataset = "kv" }'))
    with pytest.raises(InputError, match=r'params.h5: dataset "kv": cell "B": kv = -3e-06 '
                                         r"must be > 0 \(m/d\)"):
        load_case(manifest)
    manifest.write_text(MANIFEST.replace('kv = { file = "params.csv", column = "kv_lower" }',
                                         'kv = { file = "params.h5", dataset = "short" }'))
    with pytest.raises(InputError, match=r"\(2,\); expected \(3,\) \[cell\]"):
        load_case(manifest)


def test_unknown_array_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="arrays='netcdf'"):
        write_case(_rich_case(np.random.default_rng(1)), tmp_path, arrays="netcdf")


def test_times_file_gives_an_irregular_axis(tmp_path):
    manifest = write_base_case(tmp_path)
    dates = ["2000-01-01", "2000-02-01", "2000-03-01", "2000-04-01"]
    (tmp_path / "times.csv").write_text("time\n" + "\n".join(dates) + "\n")
    manifest.write_text(MANIFEST.replace('start = "2000-01-01"\nperiods = 4\nfreq = "MS"',
                                         'file = "times.csv"'))
    np.testing.assert_array_equal(load_case(manifest).times, np.array(dates, "datetime64[D]"))


def test_wide_table_readers_agree(tmp_path):
    # complete tables, tables with gaps (first, last, adjacent cells) and tables that spell
    # gaps "NA" take three different parsers; all must give the same numbers
    rng = np.random.default_rng(5)
    values = rng.normal(size=(6, 30)) * 10.0 ** rng.integers(-5, 5, (6, 30))
    times = np.arange("2001-01-01", "2001-01-31", dtype="datetime64[D]")
    frame = pd.DataFrame(values.T, columns=[f"c{i}" for i in range(6)])
    frame.insert(2, "time", np.datetime_as_string(times))
    frame.to_csv(tmp_path / "complete.csv", index=False)
    for row, column in ((7, "c0"), (7, "c5"), (9, "c3"), (9, "c4"), (9, "c5"), (29, "c0")):
        frame.loc[row, column] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    frame.to_csv(tmp_path / "na.csv", index=False, na_rep="NA")
    expected = {"complete.csv": values.T, "gaps.csv": frame.drop(columns="time"),
                "na.csv": frame.drop(columns="time")}
    for name, table in expected.items():
        read_times, columns, read = read_wide(tmp_path / name)
        np.testing.assert_array_equal(read_times, times)
        assert columns == [f"c{i}" for i in range(6)]
        np.testing.assert_array_equal(read, np.asarray(table, dtype=np.float64))


@pytest.mark.parametrize("arrays", ["csv", "hdf5"])
def test_bigger_case_round_trips(tmp_path, arrays):
    # 2000 cells x 264 months: the wide-table path with many columns
    rng = np.random.default_rng(11)
    n, t = 2000, 264
    times = np.arange("2000-01", "2022-01", dtype="datetime64[M]").astype("datetime64[D]")
    ids = np.array([f"PS{i:05d}" for i in rng.permutation(n)])
    interbeds = Compressible("interbeds", thickness=rng.uniform(1, 2, n), sske=np.full(n, 1e-5),
                             sskv=np.full(n, 1e-3), count=np.ones(n), kv=np.full(n, 1e-6))
    case = Case(name="big", times=times, cells=Cells(ids, rng.normal(size=n), rng.normal(size=n)),
                aquifers=(Aquifer("a", head=rng.normal(size=(n, t)), interbeds=(interbeds,)),),
                observations=Observations(displacement=rng.normal(size=(n, t))))
    assert_same(case, load_case(write_case(case, tmp_path, arrays=arrays)))


def test_errors_name_the_line_an_editor_shows(tmp_path):
    # a blank line holds no row, but it counts as a line of the file
    manifest = write_base_case(tmp_path)
    (tmp_path / "params.csv").write_text("id,b_lower,kv_lower\nA,1.5,2e-6\n\nB,2.5,fast\n"
                                         "C,3.5,4e-6\n")
    with pytest.raises(InputError, match=r'column "kv_lower": line 4: "fast" is not a number'):
        load_case(manifest)


def _spinup_case(rng, regular: bool) -> Case:
    """Two cells, two aquifers, a spin-up (regular years or irregular dates) and both
    spellings of the initial preconsolidation state."""
    times = np.array(["2003-01-01", "2003-02-01", "2003-03-01"], dtype="datetime64[D]")
    spinup = (np.arange(1995, 2003).astype(str).astype("datetime64[Y]").astype("datetime64[D]")
              if regular else np.array(["1955-01-01", "1980-06-01", "2002-12-01"],
                                       dtype="datetime64[D]"))
    n, s = 2, len(spinup)

    def interbed(**extra):
        return Compressible(kind="interbeds", thickness=np.array([2.0, 3.0]),
                            count=np.ones(n), kv=np.full(n, 1e-5), sske=np.full(n, 1e-5),
                            sskv=np.array([1e-3, 2e-3]), **extra)

    aquifers = tuple(
        Aquifer(name=f"aq{a}", head=rng.normal(-10, 1, (n, 3)),
                spinup_head=rng.normal(-5, 1, (n, s)), interbeds=(ib,))
        for a, ib in enumerate((interbed(preconsolidation_offset=np.array([0.0, 1.5])),
                                interbed(preconsolidation_head=np.array([-3.0, -4.0])))))
    return Case(name="spun-up", times=times, cells=Cells(np.array(["a", "b"]),
                                                           np.zeros(n), np.zeros(n)),
                aquifers=aquifers, spinup_times=spinup)


@pytest.mark.parametrize("arrays", ["csv", "hdf5"])
@pytest.mark.parametrize("regular", [True, False])
def test_spinup_and_preconsolidation_offset_round_trip(tmp_path, arrays, regular):
    case = _spinup_case(np.random.default_rng(3), regular)
    manifest = write_case(case, tmp_path / "out", arrays=arrays)
    text = manifest.read_text()
    assert "[spinup]" in text and "spinup_head" in text and "preconsolidation_offset" in text
    assert ("freq = \"YS\"" in text) == regular
    loaded = load_case(manifest)
    assert_same(case, loaded)
    again = write_case(loaded, tmp_path / "again", arrays=arrays)
    for path in sorted((tmp_path / "out").iterdir()):
        assert (again.parent / path.name).read_bytes() == path.read_bytes(), path.name
    # the record a physics solver runs: spin-up then case, heads joined
    record, skip = loaded.spinup_record()
    assert skip == len(case.spinup_times) and record.spinup_times is None
    np.testing.assert_array_equal(record.times[skip:], case.times)
    np.testing.assert_array_equal(record.aquifers[1].head[:, :skip], case.aquifers[1].spinup_head)
    np.testing.assert_array_equal(loaded.aquifers[0].initial_head,
                                  case.aquifers[0].spinup_head[:, 0])
    np.testing.assert_array_equal(
        loaded.aquifers[0].interbeds[0].initial_preconsolidation(loaded.aquifers[0].initial_head),
        case.aquifers[0].spinup_head[:, 0] - [0.0, 1.5])


def _spinup_manifest(tmp_path, spinup: str, head_key: str = 'spinup_head = -3.0',
                     interbed: str = "") -> str:
    manifest = tmp_path / "case.toml"
    manifest.write_text(f"""schema = 1
name = "s"
[time]
start = 2003-01-01
periods = 3
freq = "MS"
{spinup}
[cells]
count = 2
[[aquifers]]
name = "a"
head = -5.0
{head_key}
  [aquifers.interbeds]
  thickness = 1.0
  kv = 1e-5
  sske = 1e-5
  sskv = 1e-3
{interbed}
""")
    return manifest


@pytest.mark.parametrize("spinup,head_key,interbed,field,words", [
    ('[spinup]\ntime = { start = 2000-01-01, periods = 40, freq = "MS" }', "spinup_head = -3.0",
     "", "spinup.time", ["2003-04-01", "not before the first case time 2003-01-01"]),
    ('[spinup]\ntime = { start = 2000-01-01, periods = 3, freq = "YS" }', "", "",
     "aquifers[0].spinup_head", ['missing required key "spinup_head"']),
    ("", "spinup_head = -3.0", "", "aquifers[0].spinup_head", ["without a [spinup] table"]),
    ('[spinup]\ntime = { start = 2000-01-01, periods = 3, freq = "W" }', "spinup_head = 1.0",
     "", "spinup.time.freq", ['"W" is not a known frequency']),
    ('[spinup]\ntime = { start = 2000-01-01, periods = 3, freq = "YS" }',
     'spinup_head = { file = "sp.csv" }', "", 'column "time"',
     ["has 2 rows; the spin-up time axis has 3 times"]),
    ("", "", "  preconsolidation_offset = -1.0", "aquifers[0].interbeds.preconsolidation_offset",
     ["preconsolidation_offset = -1.0 must be >= 0 (m below the initial head)"]),
    ("", "", "  preconsolidation_offset = 1.0\n  preconsolidation_head = -6.0",
     "aquifers[0].interbeds.preconsolidation_offset", ["not both"]),
])
def test_spinup_and_offset_refusals_name_file_field_value(tmp_path, spinup, head_key, interbed,
                                                          field, words):
    (tmp_path / "sp.csv").write_text("time,head\n2000-01-01,1.0\n2001-01-01,2.0\n")
    manifest = _spinup_manifest(tmp_path, spinup, head_key, interbed)
    with pytest.raises(InputError) as err:
        load_case(manifest)
    assert err.value.field == field
    for word in words:
        assert word in str(err.value), str(err.value)


def test_validate_case_refuses_a_spinup_without_heads():
    from engine.schema import validate_case
    case = _spinup_case(np.random.default_rng(0), True)
    broken = replace(case, aquifers=(replace(case.aquifers[0], spinup_head=None),
                                     case.aquifers[1]))
    with pytest.raises(InputError, match=r"aquifers\[0\]\.spinup_head.*missing"):
        validate_case(broken)
    late = replace(case, spinup_times=case.spinup_times + np.timedelta64(3000, "D"))
    with pytest.raises(InputError, match="not before the first case time"):
        validate_case(late)
