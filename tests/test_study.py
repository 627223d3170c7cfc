"""The seminar-claims table of a bench appears only for a case that asks for it in its
[study] table (the Beijing twin does); [study] is checked at load, an unknown claims set
is refused before any solver runs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from case_files import MANIFEST, assert_same, write_base_case

from cases.synthetic import synthetic_case
from engine.app.bench import bench, main_bench
from engine.case import Study
from engine.caseio import load_case, write_case
from engine.errors import InputError

SEMINAR = "zhu-beijing-seminar"


def with_study(text: str) -> str:
    return MANIFEST + "\n[study]\n" + text


@pytest.mark.parametrize("study, field, why", [
    ("aquifers = []\n", r"study\.claims", "missing required key"),
    ('claims = ""\n', r"study\.claims", "should be a non-empty string"),
    (f'claims = "{SEMINAR}"\naquifers = ["upper", "middle"]\n', r"study\.aquifers\[1\]",
     '"middle" is not an aquifer of the case'),
    (f'claims = "{SEMINAR}"\naquifers = ["upper", "upper"]\n', r"study\.aquifers\[1\]",
     "named twice"),
    (f'claims = "{SEMINAR}"\naquifers = "upper"\n', r"study\.aquifers", "should be a list"),
    (f'claims = "{SEMINAR}"\nname = "x"\n', r"study\.name", 'unknown key "name"'),
])
def test_a_bad_study_table_is_refused_at_load(tmp_path, study, field, why):
    manifest = write_base_case(tmp_path)
    manifest.write_text(with_study(study))
    with pytest.raises(InputError, match=f"{field}: .*{why}") as caught:
        load_case(manifest)
    assert caught.value.source == str(manifest)


def test_a_study_round_trips(tmp_path):
    manifest = write_base_case(tmp_path)
    manifest.write_text(with_study(f'claims = "{SEMINAR}"\naquifers = ["lower"]\n'))
    case = load_case(manifest)
    assert case.study == Study(SEMINAR, ("lower",))
    assert_same(case, load_case(write_case(case, tmp_path / "again")))


def _bench(root, case, name):
    manifest = write_case(case, root / f"{name}-case")
    out = root / name
    result = bench(str(manifest), ["zero"], "spatial:0.7", out, scheduler="serial",
                   log=lambda *a: None)
    return result, (out / "report.md").read_text(), json.loads((out / "claims.json").read_text())


@pytest.fixture(scope="module")
def generic_case():
    return synthetic_case(n_cells=12, n_months=36, seed=5)


def test_a_generic_case_gets_no_claims_table(tmp_path, generic_case):
    result, report, stored = _bench(tmp_path, generic_case, "generic")
    assert result["claims"] == [] and stored == []
    assert "Seminar claim" not in report and "| seminar claim |" not in report
    assert "No claims set requested" in report


def test_a_case_that_asks_gets_the_seminar_claims(tmp_path, generic_case):
    asked = replace(generic_case, study=Study(SEMINAR))
    result, report, stored = _bench(tmp_path, asked, "asked")
    assert "## Seminar claim vs this run" in report and "| seminar claim |" in report
    rows = {r["claim"]: r for r in stored}
    # the synthetic case's three aquifers: none declared, derived confined
    assert rows["lag times of the confined aquifers (months)"]["verdict"] \
        .startswith("reproduced")
    assert rows["GW-LSTM fits cumulative subsidence"]["verdict"] == \
        "not tested: add gw-lstm to --solvers"


def test_named_aquifers_decide_what_the_lag_claim_is_about(tmp_path, generic_case):
    from engine.app.bench.claims import lag_time_claim

    two = replace(generic_case, study=Study(SEMINAR, ("confined-1", "confined-3")))
    row = lag_time_claim(two)
    assert row["measured"] == "case has 2 aquifers named in [study] aquifers"
    assert row["verdict"].startswith("not tested")


def test_an_unknown_claims_set_is_refused_before_any_solver_runs(tmp_path, generic_case,
                                                                 capsys):
    manifest = write_case(replace(generic_case, study=Study("zhu-beijing-seminr")),
                          tmp_path / "case")
    out = tmp_path / "out"
    assert main_bench([str(manifest), "--solvers", "zero", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{manifest}: study.claims:" in err[0]
    assert f'did you mean "{SEMINAR}"' in err[0]
    assert not (out / "bench.json").exists()


@pytest.mark.slow
def test_the_twins_bench_report_has_the_seminar_claims(tmp_path):
    from cases.beijing.make import make_twin

    manifest = make_twin(tmp_path / "twin", size="tiny", seed=0, log=lambda *a: None)["manifest"]
    result = bench(str(manifest), ["zero"], "spatial:0.7", tmp_path / "bench",
                   scheduler="serial", log=lambda *a: None)
    report = (tmp_path / "bench" / "report.md").read_text()
    assert "## Seminar claim vs this run" in report
    lag = {r["claim"]: r for r in result["claims"]}["lag times of the confined aquifers (months)"]
    assert lag["measured"].startswith("case prior, 5th-95th percentile")
