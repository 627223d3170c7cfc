"""engine.app.api: the functions scripts use give what the commands give."""

from __future__ import annotations

import numpy as np
import pytest

from cases.synthetic import synthetic_case
from engine.app import api as ls
from engine.caseio import write_case
from engine.errors import InputError
from engine.evaluate import evaluate
from engine.scenario import load_scenario


@pytest.fixture(scope="module")
def case_path(tmp_path_factory):
    return write_case(synthetic_case(n_cells=30, n_months=48, seed=2),
                      tmp_path_factory.mktemp("case"))


def test_predict_is_the_solvers_result_as_a_dataset_with_dates(case_path):
    case = ls.load_case(case_path)
    model = ls.solver("terzaghi")
    ls.fit(model, case)
    ds = ls.predict(model, case)
    result = model.predict(case)
    assert ds.displacement.dims == ("cell", "time")
    assert ds.displacement.attrs == {"units": "m", "positive": "up"}
    np.testing.assert_array_equal(ds.displacement.values, result.displacement)
    np.testing.assert_array_equal(ds.compaction.values, result.compaction)
    assert np.issubdtype(ds.time.dtype, np.datetime64)
    assert str(ds.time.values[0])[:10] == str(case.times[0])
    assert list(ds.aquifer.values) == case.aquifer_names


def test_evaluate_is_the_evaluator_on_the_test_part(case_path):
    case = ls.load_case(case_path)
    split = ls.split(case, "spatial:0.7", seed=1)
    model = ls.solver("terzaghi")
    table = ls.evaluate(ls.predict(model, case), case, split)
    expected = evaluate(model.predict(case), case.observations.displacement,
                        split.test_mask(case), part="test")
    np.testing.assert_array_equal(table.value.values, expected.value.values)


def test_options_as_text_are_typed_and_bad_ones_refused():
    assert ls.solver("lstm", hidden="8", preset="fast").config["hidden"] == 8
    with pytest.raises(InputError, match="hiden"):
        ls.solver("lstm", hiden=8)
    assert "terzaghi" in ls.solvers() and "lstm" in ls.solvers()


def test_a_scenario_built_in_python_is_a_valid_scenario_file(tmp_path):
    table = ls.scenario("cut", until="2035-12", description="less deep pumping",
                        pumping=[{"aquifer": "confined-3", "start": "2027-01",
                                  "multiplier": 0.7}],
                        heads=[{"aquifer": "all", "start": "2026-01", "end": "2030-12",
                                "offset": 5.0}])
    parsed = load_scenario(ls.write_scenario(table, tmp_path / "cut.toml"),
                           ["confined-1", "confined-2", "confined-3"])
    assert parsed.name == "cut" and parsed.until == np.datetime64("2035-12-01")
    assert parsed.pumping_rules[0].aquifer == 2 and parsed.pumping_rules[0].value == 0.7
    assert parsed.head_rules[0].value == 5.0


def test_saved_models_load_back_with_the_same_prediction(case_path, tmp_path):
    case = ls.load_case(case_path)
    model = ls.solver("lstm", preset="fast", epochs=3)
    ls.fit(model, case, ls.split(case, "spatial:0.7"))
    ls.save(model, tmp_path / "model")
    again = ls.load(tmp_path / "model")
    np.testing.assert_array_equal(ls.predict(again, case).displacement.values,
                                  ls.predict(model, case).displacement.values)
