"""Splits: parsing, disjoint parts covering the case, the documented semantics, seeds."""

import json

import numpy as np
import pytest

from engine.conformance import conformance_case
from engine.errors import InputError
from engine.split import Split

CASE = conformance_case(n_cells=20, n_months=24)   # monthly from 2000-01-01
SPECS = ["spatial:0.7", "temporal:2001-03", "both:0.7:2001-03", "none"]


def parts(split, case=CASE):
    return split.train_mask(case), split.validation_mask(case), split.test_mask(case)


@pytest.mark.parametrize("spec", SPECS)
def test_parts_are_disjoint_and_cover_every_entry(spec):
    train, validation, test = parts(Split.parse(spec, CASE, validation_fraction=0.25))
    assert train.shape == (CASE.n_cells, CASE.n_times)
    total = train.astype(int) + validation.astype(int) + test.astype(int)
    assert np.all(total == 1)
    assert train.any()


def test_spatial_holds_out_whole_cells():
    split = Split.parse("spatial:0.7", CASE, seed=4, validation_fraction=0.2)
    train, validation, test = parts(split)
    fit, val, held = split.train_cells(CASE), split.validation_cells(CASE), split.test_cells(CASE)
    assert len(fit) + len(val) == 14 and len(val) == round(0.2 * 14)
    assert len(held) == 6
    assert len(set(fit) | set(val) | set(held)) == CASE.n_cells
    assert train[fit].all() and validation[val].all() and test[held].all()
    assert split.time_boundary(CASE) == CASE.n_times


def test_temporal_trains_up_to_and_including_the_date():
    split = Split.parse("temporal:2001-03", CASE, validation_fraction=0.25)
    assert split.train_until == "2001-03-01"
    b = split.time_boundary(CASE)
    assert str(CASE.times[b - 1]) == "2001-03-01" and b == 15
    train, validation, test = parts(split)
    v = b - round(0.25 * b)
    assert split.validation_time_start(CASE) == v
    assert train[:, :v].all() and not train[:, v:].any()
    assert validation[:, v:b].all() and not validation[:, :v].any() and not validation[:, b:].any()
    assert test[:, b:].all() and not test[:, :b].any()


def test_a_date_between_case_times_keeps_the_earlier_time():
    split = Split.parse("temporal:2001-03-15", CASE)
    assert str(CASE.times[split.time_boundary(CASE) - 1]) == "2001-03-01"


def test_both_tests_held_out_cells_at_all_times_and_every_cell_after_the_date():
    split = Split.parse("both:0.6:2001-03", CASE, seed=1, validation_fraction=0.25)
    b = split.time_boundary(CASE)
    spatial = Split.parse("spatial:0.6", CASE, seed=1, validation_fraction=0.25)
    held = spatial.test_cells(CASE)
    train, validation, test = parts(split)
    expected_test = np.zeros_like(test)
    expected_test[held, :] = True
    expected_test[:, b:] = True
    np.testing.assert_array_equal(test, expected_test)
    np.testing.assert_array_equal(train, spatial.train_mask(CASE) & (np.arange(CASE.n_times) < b))
    np.testing.assert_array_equal(validation,
                                  spatial.validation_mask(CASE) & (np.arange(CASE.n_times) < b))
    assert len(split.test_cells(CASE)) == CASE.n_cells


def test_none_trains_on_everything():
    train, validation, test = parts(Split("none"))
    assert train.all() and not validation.any() and not test.any()


def test_same_seed_same_parts_other_seed_other_parts():
    a = Split.parse("spatial:0.5", CASE, seed=7).train_mask(CASE)
    b = Split.parse("spatial:0.5", CASE, seed=7).train_mask(CASE)
    c = Split.parse("spatial:0.5", CASE, seed=8).train_mask(CASE)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("spec", SPECS)
def test_json_round_trip(spec):
    split = Split.parse(spec, CASE, seed=11, validation_fraction=0.3)
    again = Split.from_dict(json.loads(json.dumps(split.to_dict())))
    assert again == split
    np.testing.assert_array_equal(again.test_mask(CASE), split.test_mask(CASE))


@pytest.mark.parametrize("spec, field", [
    ("spatial", "spatial"),
    ("spatial:abc", "train_fraction"),
    ("spatial:1.5", "train_fraction"),
    ("spatial:0", "train_fraction"),
    ("both:0.7", "both"),
    ("temporal:last-year", "train_until"),
    ("temporal:1999-01", "train_until"),     # no training time in the case
    ("temporal:2001-12", "train_until"),     # no test time left
    ("spatail:0.7", "kind"),
])
def test_bad_strings_are_refused(spec, field):
    with pytest.raises(InputError) as err:
        Split.parse(spec, CASE)
    assert err.value.field == field
    if spec.startswith("spatail"):
        assert 'did you mean "spatial"' in str(err.value)


def test_bad_dicts_are_refused():
    with pytest.raises(InputError):
        Split.from_dict({"kind": "spatial", "train_fraction": 0.7, "colour": "red"})
    with pytest.raises(InputError):
        Split.from_dict({"kind": "spatial", "train_fraction": "0.7"})
    with pytest.raises(InputError):
        Split.from_dict({"kind": "spatial", "train_fraction": 0.7, "validation_fraction": 1.0})
