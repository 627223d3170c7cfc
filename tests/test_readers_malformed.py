"""Malformed data files: each is refused with an InputError that names the file, the
field and the offending value."""


import h5py
import numpy as np
import pytest
import readers_fixtures as fx

from cases.from_data import FromData, build_case
from cases.readers import read_insar
from cases.readers.extensometers import read_extensometers
from cases.readers.geodesy import project
from cases.readers.params import read_params
from cases.readers.stratigraphy import read_stratigraphy
from cases.readers.wells import read_wells
from engine.errors import InputError

TRUTH = fx.truth(n_dates=10)
DATES = ["20160105", "20160117", "20160129"]


def _ps(tmp, header, rows, comments=()):
    return fx.write_csv(tmp / "ps.csv", header, rows, comments=comments)


def _egms(tmp, level="L2a", name=None, edit=None):
    header, rows = fx.egms_rows(TRUTH, level)
    if edit:
        header, rows = edit(header, rows)
    name = name or f"EGMS_{level}_050A_0123_IW2_VV_2016_2017_1.csv"
    return fx.write_csv(tmp / name, header, rows)


def _edit_h5(path, name, value):
    with h5py.File(path, "a") as f:
        del f[name]
        f.create_dataset(name, data=value)
    return path


def _params(tmp, extra=""):
    return read_params(fx.write_params(tmp, extra))


def _wells(tmp, header, rows):
    p = _params(tmp)
    path = fx.write_csv(tmp / "w.csv", header, rows)
    return lambda: read_wells(path, p.aquifers, p.wells), path


def _ext(tmp, rows, unit_col="compaction_mm"):
    p = _params(tmp)
    path = fx.write_csv(tmp / "e.csv", ["site", "x", "y", "time", "top", "bottom", unit_col], rows)
    return lambda: read_extensometers(path, p.aquifers, p.extensometers), path


def _strat(tmp, rows):
    p = _params(tmp)
    path = fx.write_csv(tmp / "s.csv", ["site", "x", "y", "aquifer", "thickness"], rows)
    return lambda: read_stratigraphy(path, p.aquifers), path


def _build(tmp, wells_rows_extra=(), **kw):
    insar = fx.write_mintpy(tmp / "mintpy", TRUTH)
    wells = fx.write_wells(tmp, TRUTH, extra_rows=wells_rows_extra)
    req = FromData(insar=str(insar), wells=str(wells), out=str(tmp / "out"), crs=fx.CRS,
                   params=str(fx.write_params(tmp)), **kw)
    return lambda: build_case(req), wells


# each case: tmp -> (call, file the message names, field, text of the offending value)
def mintpy_without_dates(tmp):
    p = fx.write_mintpy(tmp, TRUTH, drop=("date",))
    return lambda: read_insar(p), p, "date", "no dataset /date"


def mintpy_duplicated_dates(tmp):
    p = fx.write_mintpy(tmp, TRUTH)
    dates = [str(d).replace("-", "").encode() for d in TRUTH.dates]
    dates[3] = dates[2]
    return lambda: read_insar(_edit_h5(p, "date", np.array(dates))), p, "date", "2016-01-29"


def mintpy_impossible_date(tmp):
    p = fx.write_mintpy(tmp, TRUTH)
    dates = [str(d).replace("-", "").encode() for d in TRUTH.dates]
    dates[0] = b"20161301"
    return lambda: read_insar(_edit_h5(p, "date", np.array(dates))), p, "date", "20161301"


def mintpy_without_geometry(tmp):
    p = fx.write_mintpy(tmp, TRUTH)
    (tmp / "inputs" / "geometryGeo.h5").unlink()
    return lambda: read_insar(p), p, "geometry", "incidenceAngle"


def mintpy_unit_contradicted(tmp):
    p = fx.write_mintpy(tmp, TRUTH)
    return lambda: read_insar(p, unit="mm"), p, "unit", '"mm"'


def mintpy_sign_contradicted(tmp):
    p = fx.write_mintpy(tmp, TRUTH)
    return lambda: read_insar(p, los_sign="away"), p, "sign", '"away"'


def egms_without_pid(tmp):
    p = _egms(tmp, edit=lambda h, r: (["point"] + h[1:], r))
    return lambda: read_insar(p, fmt="egms"), p, "pid", "no column 'pid'"


def egms_duplicated_date_columns(tmp):
    p = _egms(tmp, edit=lambda h, r: (h[:-1] + [h[-2]], r))
    date = str(TRUTH.dates[-2]).replace("-", "")
    return lambda: read_insar(p), p, f'column "{date}"', "twice"


def egms_same_date_twice_spelled_differently(tmp):
    p = _egms(tmp, edit=lambda h, r: (h[:-1] + ["D" + h[-2]], r))
    return lambda: read_insar(p), p, "header", str(TRUTH.dates[-2])


def egms_l3_east_west(tmp):
    p = _egms(tmp, "L3", name="EGMS_L3_E40N24_100km_E_2016_2017_1.csv")
    return lambda: read_insar(p), p, "component", "EGMS_L3_E40N24_100km_E_2016_2017_1.csv"


def egms_l3_component_unknown(tmp):
    p = _egms(tmp, "L3", name="EGMS_L3_2016_2017_clipped.csv")
    return lambda: read_insar(p), p, "component", "EGMS_L3_2016_2017_clipped.csv"


def egms_nan_coordinates(tmp):
    def blank(h, r):
        r[4][h.index("easting")] = ""
        return h, r
    p = _egms(tmp, "L2b", edit=blank)
    return lambda: read_insar(p), p, "easting/northing", "1XZ00004"


def egms_unit_contradicted(tmp):
    p = _egms(tmp)
    return lambda: read_insar(p, unit="m"), p, "unit", '"m"'


def licsbas_without_imdates(tmp):
    p = fx.write_licsbas(tmp, TRUTH, drop=("imdates",))
    return lambda: read_insar(p, fmt="licsbas"), p, "imdates", "no dataset /imdates"


def licsbas_dates_do_not_match_images(tmp):
    p = fx.write_licsbas(tmp, TRUTH)
    dates = np.array([int(str(d).replace("-", "")) for d in TRUTH.dates[:-1]], dtype=np.int32)
    return lambda: read_insar(_edit_h5(p, "imdates", dates)), p, "imdates", "9 dates for 10"


def licsbas_without_los_geometry(tmp):
    p = fx.write_licsbas(tmp, TRUTH, u_geo=False)
    return lambda: read_insar(p), p, "U.geo", "GEOCml1"


def licsbas_reference_window_outside(tmp):
    p = fx.write_licsbas(tmp, TRUTH, refarea="5:2/0:1")
    return lambda: read_insar(p), p, "refarea", "5:2/0:1"


def csv_unit_undeclared(tmp):
    p = _ps(tmp, ["id", "x", "y", *DATES], [["P0", 1, 2, 0, 1, 2]], ["positive: up"])
    return lambda: read_insar(p), p, "unit", "--insar-unit"


def csv_sign_undeclared(tmp):
    p = _ps(tmp, ["id", "x", "y", "incidence", *DATES], [["P0", 1, 2, 35, 0, 1, 2]], ["unit: mm"])
    return lambda: read_insar(p), p, "sign", "--los-sign"


def csv_mixed_sign_conventions(tmp):
    p = _ps(tmp, ["id", "x", "y", "incidence", *DATES], [["P0", 1, 2, 35, 0, 1, 2]],
            ["unit: mm", "positive: away"])
    return lambda: read_insar(p, los_sign="toward"), p, "sign", '"away"'


def csv_vertical_but_los_sign_given(tmp):
    p = _ps(tmp, ["id", "x", "y", *DATES], [["P0", 1, 2, 0, 1, 2]], ["unit: mm", "positive: up"])
    return lambda: read_insar(p, los_sign="away"), p, "positive", "--los-sign away"


def csv_without_geometry_or_declaration(tmp):
    p = _ps(tmp, ["id", "x", "y", *DATES], [["P0", 1, 2, 0, 1, 2]], ["unit: mm"])
    return lambda: read_insar(p), p, "positive", "# positive: up"


def csv_nan_coordinates(tmp):
    p = _ps(tmp, ["id", "x", "y", *DATES], [["P0", 1, 2, 0, 1, 2], ["P1", "", 3, 0, 1, 2]],
            ["unit: mm", "positive: up"])
    return lambda: read_insar(p), p, "x/y", "point P1 has no coordinates (nan"


def csv_duplicated_ids(tmp):
    p = _ps(tmp, ["id", "x", "y", *DATES], [["P0", 1, 2, 0, 1, 2], ["P0", 3, 4, 0, 1, 2]],
            ["unit: mm", "positive: up"])
    return lambda: read_insar(p), p, "id", '"P0" appears 2 times'


def csv_impossible_date_header(tmp):
    p = _ps(tmp, ["id", "x", "y", "20160105", "20151301"], [["P0", 1, 2, 0, 1]],
            ["unit: mm", "positive: up"])
    return lambda: read_insar(p), p, "20151301", "20151301"


def csv_text_in_values(tmp):
    p = _ps(tmp, ["id", "x", "y", *DATES], [["P0", 1, 2, 0, "abc", 2]],
            ["unit: mm", "positive: up"])
    # two comment lines and the header: the row is the file's line 4
    return lambda: read_insar(p), p, 'column "20160117"', 'line 4: "abc"'


def csv_incidence_not_an_angle(tmp):
    p = _ps(tmp, ["id", "x", "y", "incidence", *DATES], [["P0", 1, 2, 95, 0, 1, 2]],
            ["unit: mm", "positive: toward"])
    return lambda: read_insar(p), p, "incidence", "95"


def csv_lonlat_without_crs(tmp):
    p = _ps(tmp, ["id", "lon", "lat", *DATES], [["P0", 116.4, 39.9, 0, 1, 2]],
            ["unit: mm", "positive: up"])
    return lambda: project(read_insar(p), None), p, "coordinates", "--crs"


def insar_neither_hdf5_nor_csv(tmp):
    p = tmp / "ts.bin"
    p.write_bytes(bytes(range(256)) * 4)
    return lambda: read_insar(p), p, "(file)", "binary content"


def insar_hdf5_of_another_kind(tmp):
    p = tmp / "other.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("velocity", data=np.zeros((3, 3)))
    return lambda: read_insar(p), p, "format", "velocity"


def wells_without_head(tmp):
    call, p = _wells(tmp, ["well", "time", "level", "aquifer", "x", "y"],
                     [["A", "2016-01-01", -5, "confined-1", 0, 0]])
    return call, p, "head", "level"


def wells_head_unit_undeclared(tmp):
    call, p = _wells(tmp, ["well", "time", "head", "aquifer", "x", "y"],
                     [["A", "2016-01-01", -5, "confined-1", 0, 0]])
    return call, p, "head", "head_m"


def wells_unknown_aquifer(tmp):
    call, p = _wells(tmp, ["well", "time", "head_m", "aquifer", "x", "y"],
                     [["A", "2016-01-01", -5, "confined-3", 0, 0]])
    return call, p, "aquifer", '"confined-3"'


def wells_two_heads_same_day(tmp):
    call, p = _wells(tmp, ["well", "time", "head_m", "aquifer", "x", "y"],
                     [["A", "2016-01-01", -5, "confined-1", 0, 0],
                      ["A", "2016-01-01", -6, "confined-1", 0, 0]])
    return call, p, "time", "-5.0 and -6.0"


def wells_bad_date(tmp):
    call, p = _wells(tmp, ["well", "time", "head_m", "aquifer", "x", "y"],
                     [["A", "2016-13-01", -5, "confined-1", 0, 0]])
    return call, p, 'column "time"', 'line 2: "2016-13-01"'


def wells_moving_well(tmp):
    call, p = _wells(tmp, ["well", "time", "head_m", "aquifer", "x", "y"],
                     [["A", "2016-01-01", -5, "confined-1", 0, 0],
                      ["A", "2016-02-01", -5, "confined-1", 900, 0]])
    return call, p, "x/y", "900"


def wells_outside_the_area(tmp):
    far = ["W9", "2016-01-15", "-5.0", "confined-1", "540000.00", "4427000.00"]
    call, p = _build(tmp, wells_rows_extra=[far])
    return call, p, "x/y", '"W9" at (540000.0'


def wells_aquifers_without_params(tmp):
    insar = fx.write_mintpy(tmp / "mintpy", TRUTH)
    wells = fx.write_wells(tmp, TRUTH)
    req = FromData(insar=str(insar), wells=str(wells), out=str(tmp / "o"), crs=fx.CRS)
    return lambda: build_case(req), "command line", "--params", "confined-1, confined-2"


def extensometer_compaction_unit_undeclared(tmp):
    call, p = _ext(tmp, [["S", 0, 0, "2016-01-01", 40, 80, 1.0]], unit_col="compaction")
    return call, p, "compaction", "compaction_mm"


def extensometer_layer_upside_down(tmp):
    call, p = _ext(tmp, [["S", 0, 0, "2016-01-01", 80, 40, 1.0]])
    return call, p, "top/bottom", "80.0..40.0"


def extensometer_layer_below_every_aquifer(tmp):
    call, p = _ext(tmp, [["S", 0, 0, "2016-01-01", 300, 320, 1.0]])
    return call, p, "top/bottom", "300..320"


def extensometer_read_twice(tmp):
    call, p = _ext(tmp, [["S", 0, 0, "2016-01-01", 40, 80, 1.0],
                         ["S", 0, 0, "2016-01-01", 40, 80, 1.2]])
    return call, p, "time", "2016-01-01"


def stratigraphy_negative_thickness(tmp):
    call, p = _strat(tmp, [["B", 0, 0, "confined-1", 3.0], ["B", 0, 0, "confined-1", -2.0]])
    return call, p, "thickness", "-2.0"


def stratigraphy_unknown_aquifer(tmp):
    call, p = _strat(tmp, [["B", 0, 0, "confned-1", 3.0]])
    return call, p, "aquifer", 'did you mean "confined-1"'


def params_unknown_key(tmp):
    p = fx.write_params(tmp, "\n[wells]\nidw_pwr = 3\n")
    return lambda: read_params(p), p, "wells.idw_pwr", 'did you mean "idw_power"'


def params_overlapping_aquifers(tmp):
    p = tmp / "params.toml"
    p.write_text('[[aquifers]]\nname = "a"\ntop = 10.0\nbottom = 100.0\n'
                 '[[aquifers]]\nname = "b"\ntop = 90.0\nbottom = 150.0\n')
    return lambda: read_params(p), p, "aquifers[1].top", "90.0"


def params_missing_interbed_property(tmp):
    call, _ = _build(tmp)
    return call, tmp / "params.toml", "aquifers[1].interbeds.thickness", "thickness"


CASES = [mintpy_without_dates, mintpy_duplicated_dates, mintpy_impossible_date,
         mintpy_without_geometry, mintpy_unit_contradicted, mintpy_sign_contradicted,
         egms_without_pid, egms_duplicated_date_columns, egms_same_date_twice_spelled_differently,
         egms_l3_east_west, egms_l3_component_unknown, egms_nan_coordinates,
         egms_unit_contradicted, licsbas_without_imdates, licsbas_dates_do_not_match_images,
         licsbas_without_los_geometry, licsbas_reference_window_outside, csv_unit_undeclared,
         csv_sign_undeclared, csv_mixed_sign_conventions, csv_vertical_but_los_sign_given,
         csv_without_geometry_or_declaration, csv_nan_coordinates, csv_duplicated_ids,
         csv_impossible_date_header, csv_text_in_values, csv_incidence_not_an_angle,
         csv_lonlat_without_crs, insar_neither_hdf5_nor_csv, insar_hdf5_of_another_kind,
         wells_without_head, wells_head_unit_undeclared, wells_unknown_aquifer,
         wells_two_heads_same_day, wells_bad_date, wells_moving_well, wells_outside_the_area,
         wells_aquifers_without_params, extensometer_compaction_unit_undeclared,
         extensometer_layer_upside_down, extensometer_layer_below_every_aquifer,
         extensometer_read_twice, stratigraphy_negative_thickness, stratigraphy_unknown_aquifer,
         params_unknown_key, params_overlapping_aquifers, params_missing_interbed_property]


# fixtures written by MintPy's own writer (a test-only install; pyproj is a dependency)
NEEDS = {"mintpy": "mintpy.utils.writefile",
         "wells_outside_the_area": "mintpy.utils.writefile",
         "wells_aquifers_without_params": "mintpy.utils.writefile",
         "params_missing_interbed_property": "mintpy.utils.writefile"}


def _needs(case):
    return [pytest.mark.needs(module) for prefix, module in NEEDS.items()
            if case.__name__.startswith(prefix)]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.__name__, marks=_needs(c))
                                  for c in CASES])
def test_refused_naming_file_field_and_value(tmp_path, case):
    call, source, field, value = case(tmp_path)
    with pytest.raises(InputError) as info:
        call()
    err = info.value
    assert err.source == str(source)
    assert err.field == field
    assert value in err.detail, err.detail
    assert str(err).startswith(f"{source}: {field}: ")
