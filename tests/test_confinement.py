"""A case declares which aquifers are confined ([[aquifers]] confined = true|false), or
the schema derives it from the stratigraphy (engine.schema.confinement), never from
aquifer names; the field round-trips through write_case and load_case, and the Beijing
twin writes it explicitly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from case_files import MANIFEST, assert_same, write_base_case

from engine.case import build_case
from engine.caseio import load_case, write_case
from engine.errors import InputError
from engine.schema import confinement, validate_case

DAYS = np.arange(0, 40, 10)
BED = {"thickness": 1.0, "count": 1.0, "kv": 1e-4, "sske": 1e-5, "sskv": 1e-3}


def column(top_heads, **first):
    """Three aquifers named against their confinement, the first with ``first``."""
    names = ("confined", "unconfined-b", "deep")
    return build_case("c", DAYS, [{"name": n, "head": top_heads if a == 0
                                   else np.full(len(DAYS), -50.0 - a),
                                   "interbeds": [BED], **(first if a == 0 else {})}
                                  for a, n in enumerate(names)],
                      geostatic={"sgm": 1.7, "sgs": 2.0, "land_surface": 10.0})


def test_names_say_nothing_the_stratigraphy_and_declarations_do():
    # the top aquifer's top at 20 m depth lies at -10 m above datum
    under_pressure = column(np.full(len(DAYS), -5.0), top=20.0, bottom=60.0)
    water_table = column(np.array([-5.0, -8.0, -10.0, -12.0]), top=20.0, bottom=60.0)
    no_depths = column(np.full(len(DAYS), -5.0))
    declared = column(np.full(len(DAYS), -5.0), top=20.0, bottom=60.0, confined=False)
    assert [c for c, _ in confinement(under_pressure)] == [True, True, True]
    assert [c for c, _ in confinement(water_table)] == [False, True, True]
    assert [c for c, _ in confinement(no_depths)] == [True, True, True]
    assert [c for c, _ in confinement(declared)] == [False, True, True]
    why = dict(enumerate(w for _, w in confinement(water_table)))
    assert why[0].startswith("its head is a water table inside it at 2 of 4 cell-times")
    assert why[1] == 'below aquifer "confined"'
    assert "no top depth" in confinement(no_depths)[0][1]
    assert confinement(declared)[0][1] == "declared"


def test_a_spinup_head_below_the_top_makes_a_water_table():
    case = build_case("s", DAYS, [{"head": np.full(len(DAYS), -5.0), "top": 20.0,
                                   "bottom": 60.0, "interbeds": [BED],
                                   "spinup_head": [-11.0, -5.0]}],
                      geostatic={"sgm": 1.7, "sgs": 2.0, "land_surface": 10.0},
                      spinup_days=[-20, -10])
    assert confinement(case)[0][0] is False


def test_a_declaration_must_be_a_boolean():
    case = column(np.full(len(DAYS), -5.0))
    case = replace(case, aquifers=(replace(case.aquifers[0], confined="yes"),)
                   + case.aquifers[1:])
    with pytest.raises(InputError, match=r"aquifers\[0\]\.confined: 'yes' should be true"):
        validate_case(case)


def test_declarations_round_trip_and_are_written_only_when_made(tmp_path):
    case = load_case(write_base_case(tmp_path / "base"))
    assert [a.confined for a in case.aquifers] == [None, None]
    assert "confined" not in write_case(case, tmp_path / "plain").read_text()
    declared = replace(case, aquifers=(replace(case.aquifers[0], confined=False),
                                       replace(case.aquifers[1], confined=True)))
    manifest = write_case(declared, tmp_path / "declared")
    text = manifest.read_text()
    assert "confined = false" in text and "confined = true" in text
    again = load_case(manifest)
    assert [a.confined for a in again.aquifers] == [False, True]
    assert_same(declared, again)


@pytest.mark.parametrize("value, shown", [('"yes"', '"yes"'), ("1", "1")])
def test_a_bad_declaration_in_a_file_is_refused_by_name(tmp_path, value, shown):
    manifest = write_base_case(tmp_path)
    manifest.write_text(MANIFEST.replace('name = "lower"\n',
                                         f'name = "lower"\nconfined = {value}\n'))
    with pytest.raises(InputError, match=rf"aquifers\[1\]\.confined: {shown} should be true "
                                         "or false") as caught:
        load_case(manifest)
    assert caught.value.source == str(manifest)


def test_no_guessing_from_names_is_left():
    import pathlib

    for path in list(pathlib.Path("engine").rglob("*.py")):
        text = path.read_text()
        assert '"confined" in name' not in text and "'confined' in name" not in text, path


def test_the_twin_declares_every_group_and_asks_for_the_seminar_claims(tmp_path):
    from cases.beijing.domain import Domain
    from cases.beijing.make import CLAIMS
    from cases.beijing.make import build_case as twin_case
    from cases.beijing.settings import load_settings
    from engine.case import Compressible, Observations

    domain = Domain.create(load_settings(), 0)
    names = domain.aquifer_names
    n, times = 2, np.array(["2003-01-01", "2003-02-01"], dtype="datetime64[D]")
    bed = Compressible("interbeds", thickness=np.ones(n), count=np.ones(n),
                       kv=np.full(n, 1e-4), sske=np.full(n, 1e-5), sskv=np.full(n, 1e-3))
    coarse = Compressible("coarse", thickness=np.full(n, 10.0), sske=np.full(n, 1e-6))
    case = twin_case("t", "twin", times, np.array(["a", "b"]), np.zeros(n), np.zeros(n),
                     domain, np.zeros((len(names), n, 2)), [(bed, coarse)] * len(names),
                     Observations())
    assert [a.confined for a in case.aquifers] == [True] * len(names)
    assert case.study.claims == CLAIMS and case.study.aquifers == tuple(names[1:])
    text = write_case(case, tmp_path).read_text()
    assert text.count("confined = true") == len(names)
    assert f'[study]\nclaims = "{CLAIMS}"\naquifers = ["confined-1"' in text
    assert_same(case, load_case(tmp_path / "case.toml"))


def test_a_cached_twin_from_an_older_generator_is_made_again(tmp_path, monkeypatch):
    import json

    from cases.beijing.make import GENERATOR_RECORD, TWIN_VERSION
    from engine.app import make_case
    from engine.app.bench import resolve_case

    monkeypatch.setenv("LANDSUB_CACHE", str(tmp_path))
    folder = tmp_path / "beijing-tiny-seed0"
    folder.mkdir()
    (folder / "case.toml").write_text("old")
    (folder / GENERATOR_RECORD).write_text(json.dumps({"generator": "beijing"}))
    made = []

    def make(out, size, seed, log=print, source=""):
        made.append((out, size, seed))
        (out / GENERATOR_RECORD).write_text(json.dumps({"version": TWIN_VERSION}))
        return out / "case.toml"

    monkeypatch.setattr(make_case, "make_twin_whole", make)
    assert resolve_case("beijing:tiny", log=lambda *a: None) == folder / "case.toml"
    assert made == [(folder, "tiny", 0)]            # no version: made again
    assert resolve_case("beijing:tiny", log=lambda *a: None) == folder / "case.toml"
    assert len(made) == 1                            # this version: kept
