"""Result store: exact round trip, xarray compatibility, groups, atomic writes, bad files."""

import json

import h5py
import numpy as np
import pytest
import xarray as xr

import engine.result as result_module
from engine.errors import InputError
from engine.result import Result, read_result, result_groups, write_result


def make_result(solver="trend", with_compaction=True, seed=0):
    rng = np.random.default_rng(seed)
    times = np.arange(np.datetime64("2010-01"), np.datetime64("2011-01")).astype("datetime64[D]")
    n, t = 5, len(times)
    return Result(
        solver=solver, kind="ml", case="unit",
        times=times, cell_ids=np.array(["a", "PS-17", "c 3", "d", "é"]),
        x=rng.uniform(4e5, 5e5, n), y=rng.uniform(4.4e6, 4.5e6, n),
        displacement=rng.normal(0.0, 0.05, (n, t)),
        compaction=rng.normal(0.0, 0.02, (2, n, t)) if with_compaction else None,
        aquifers=["unconfined", "confined-1"] if with_compaction else None,
        options={"k": 4, "power": 2.0, "name": "x"},
        split={"kind": "spatial", "train_fraction": 0.7, "seed": 3},
        wall_seconds=1.25,
    )


def assert_same(a: Result, b: Result):
    for name in ("solver", "kind", "case", "aquifers", "options", "split", "wall_seconds",
                 "landsub_version", "created"):
        assert getattr(a, name) == getattr(b, name), name
    assert b.times.dtype == np.dtype("datetime64[D]")
    for name in ("times", "cell_ids", "x", "y", "displacement"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    if a.compaction is None:
        assert b.compaction is None
    else:
        assert np.array_equal(a.compaction, b.compaction)


@pytest.mark.parametrize("with_compaction", [True, False])
def test_round_trip_is_exact(tmp_path, with_compaction):
    r = make_result(with_compaction=with_compaction)
    r.write(tmp_path / "r.nc")
    assert_same(r, Result.read(tmp_path / "r.nc"))
    assert result_groups(tmp_path / "r.nc") == [None]


def test_xarray_opens_the_file_with_the_documented_layout(tmp_path):
    r = make_result()
    write_result(r, tmp_path / "r.nc")
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf") as ds:
        assert dict(ds.sizes) == {"time": 12, "cell": 5, "aquifer": 2}
        # CF dates: xarray decodes them
        assert np.issubdtype(ds.time.dtype, np.datetime64)
        np.testing.assert_array_equal(ds.time.values.astype("datetime64[D]"), r.times)
        assert ds.time.encoding["units"] == "days since 2010-01-01"
        assert ds.time.encoding["calendar"] == "proleptic_gregorian"
        assert list(ds["cell"].values) == list(r.cell_ids)
        assert list(ds["aquifer"].values) == r.aquifers
        assert ds["displacement"].dims == ("cell", "time")
        assert ds["displacement"].attrs["units"] == "m"
        assert ds["displacement"].attrs["positive"] == "up"
        assert ds["compaction"].dims == ("aquifer", "cell", "time")
        assert ds["compaction"].attrs["positive"] == "shortening"
        np.testing.assert_array_equal(ds["displacement"].values, r.displacement)
        np.testing.assert_array_equal(ds["x"].values, r.x)
        assert ds.attrs["solver"] == "trend" and ds.attrs["kind"] == "ml"
        assert ds.attrs["schema_version"] == result_module.RESULT_SCHEMA_VERSION
        assert json.loads(ds.attrs["options"]) == r.options
        assert json.loads(ds.attrs["split"]) == r.split
        assert ds.attrs["wall_seconds"] == 1.25
        for key in ("landsub_version", "created", "case"):
            assert key in ds.attrs


def test_groups_accumulate_in_one_benchmark_file(tmp_path):
    path = tmp_path / "bench.nc"
    first, second = make_result("zero", seed=1), make_result("residual:terzaghi+lstm", seed=2)
    write_result(first, path, group="zero")
    write_result(second, path, group=second.solver)
    assert_same(first, read_result(path, "zero"))
    assert_same(second, read_result(path, second.solver))
    with xr.open_dataset(path, engine="h5netcdf", group=second.solver) as ds:
        np.testing.assert_array_equal(ds["displacement"].values, second.displacement)
        assert np.issubdtype(ds.time.dtype, np.datetime64)

    assert result_groups(path) == ["zero", second.solver]
    replacement = make_result("zero", with_compaction=False, seed=3)
    write_result(replacement, path, group="zero")
    assert_same(replacement, read_result(path, "zero"))
    assert_same(second, read_result(path, second.solver))


def _write_schema_1(path, r: Result, group=None):
    """A result as landsub wrote them before CF dates (schema_version 1): time as ISO
    date strings, written here by hand."""
    import h5netcdf

    with h5netcdf.File(path, "a" if path.exists() else "w") as f:
        g = f if group is None else f.create_group(group)
        g.dimensions.update(time=len(r.times), cell=len(r.cell_ids))
        string = h5py.string_dtype()
        g.create_variable("time", ("time",), dtype=string,
                          data=np.array([str(t) for t in r.times], dtype=object))
        g.create_variable("cell", ("cell",), dtype=string,
                          data=np.array(list(r.cell_ids), dtype=object))
        g.create_variable("x", ("cell",), data=r.x)
        g.create_variable("y", ("cell",), data=r.y)
        g.create_variable("displacement", ("cell", "time"), data=r.displacement)
        g.attrs.update(schema_version=1, solver=r.solver, kind=r.kind, case=r.case,
                       options=json.dumps(r.options), split=json.dumps(r.split),
                       wall_seconds=r.wall_seconds, landsub_version="0.1",
                       created="2024-01-01T00:00:00+00:00")


@pytest.mark.parametrize("group", [None, "trend"])
def test_files_with_string_times_still_load(tmp_path, group):
    r = make_result(with_compaction=False)
    path = tmp_path / "old.h5"
    _write_schema_1(path, r, group)
    old = read_result(path, group)
    assert old.times.dtype == np.dtype("datetime64[D]")
    np.testing.assert_array_equal(old.times, r.times)
    np.testing.assert_array_equal(old.displacement, r.displacement)
    assert result_groups(path) == [group]


def test_cf_times_that_are_not_dates_are_refused(tmp_path):
    path = tmp_path / "r.h5"
    write_result(make_result(), path)
    with h5py.File(path, "a") as f:
        f["time"].attrs["units"] = "hours since 2010-01-01"
    with pytest.raises(InputError, match=r"time\.attrs\.units: \"hours since 2010-01-01\""):
        read_result(path)
    with h5py.File(path, "a") as f:
        f["time"].attrs["units"] = "days since 2010-01-01"
        f["time"].attrs["calendar"] = "360_day"
    with pytest.raises(InputError, match=r"time\.attrs\.calendar: \"360_day\""):
        read_result(path)


def _fail_midway(g, r):
    g.dimensions["time"] = len(r.times)
    g.create_variable("x", ("time",), data=np.zeros(len(r.times)))
    raise RuntimeError("disk full")


def test_interrupted_new_file_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(result_module, "_write_dataset", _fail_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        write_result(make_result(), tmp_path / "r.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("group", [None, "lstm", "zero"])
def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch, group):
    path = tmp_path / "bench.nc"
    kept = make_result("zero")
    write_result(kept, path, group="zero")
    before = path.read_bytes()
    monkeypatch.setattr(result_module, "_write_dataset", _fail_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        write_result(make_result("lstm", seed=5), path, group=group)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bench.nc"]
    monkeypatch.undo()
    assert_same(kept, read_result(path, "zero"))


def test_wrong_shape_is_refused_before_any_file_appears(tmp_path):
    r = make_result()
    r.displacement = r.displacement.T
    with pytest.raises(ValueError, match="shape"):
        write_result(r, tmp_path / "r.nc")
    assert list(tmp_path.iterdir()) == []


def test_reading_a_file_that_is_not_a_result_names_file_and_what_is_missing(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["time"] = np.arange(3)
    with pytest.raises(InputError) as err:
        read_result(path)
    assert str(path) in str(err.value) and "displacement" in str(err.value)

    text = tmp_path / "notes.nc"
    text.write_text("hello")
    with pytest.raises(InputError, match="notes.nc"):
        read_result(text)
    with pytest.raises(InputError, match="no such"):
        read_result(tmp_path / "absent.nc")
    with pytest.raises(InputError, match="no landsub result"):
        result_groups(path)


def test_missing_group_lists_the_groups_there(tmp_path):
    path = tmp_path / "bench.nc"
    write_result(make_result(), path, group="trend")
    with pytest.raises(InputError) as err:
        read_result(path, group="lstm")
    assert err.value.field == "group" and "trend" in str(err.value)
    with pytest.raises(InputError):
        write_result(make_result(), path, group="a/b")
    text = tmp_path / "notes.txt"
    text.write_text("keep me")
    with pytest.raises(InputError, match="not a netCDF4/HDF5"):
        write_result(make_result(), text, group="trend")
    assert text.read_text() == "keep me"


def test_missing_folders_are_made(tmp_path):
    path = tmp_path / "runs" / "today" / "r.nc"
    r = make_result()
    write_result(r, path)
    assert_same(r, read_result(path))


def test_missing_attribute_is_named(tmp_path):
    path = tmp_path / "r.nc"
    write_result(make_result(), path)
    with h5py.File(path, "a") as f:
        del f.attrs["solver"]
    with pytest.raises(InputError) as err:
        read_result(path)
    assert "solver" in err.value.field
