"""Splits: parsing, disjoint parts covering the case, the documented semantics, seeds."""

import json

import numpy as np
import pytest

from engine.conformance import conformance_case
from engine.errors import InputError
from engine.split import Split

CASE = conformance_case(n_cells=20, n_months=24)   # monthly from 2000-01-01
SPECS = ["spatial:0.7", "temporal:2001-03", "both:0.7:2001-03", "cells:p3+p7+p11", "none"]


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
    ("cells:p3+p3", "test_ids"),
    ("cells:p3+nowhere", "test_ids"),
    ("cells:" + "+".join(f"p{i}" for i in range(20)), "test_ids"),   # none left to train
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


# -- blocked spatial split ("blocks:F:SIZE") -------------------------------------------

def on_grid(case, x, y):
    """``case`` with its cells moved to the coordinates x, y (metres)."""
    from dataclasses import replace

    cells = replace(case.cells, x=np.asarray(x, float), y=np.asarray(y, float))
    return replace(case, cells=cells)


def scattered(n=400, seed=0):
    """n cells scattered over 40 x 40 km (blocks of 10 km: 16 blocks)."""
    rng = np.random.default_rng(seed)
    return on_grid(conformance_case(n_cells=n, n_months=12),
                   rng.uniform(5e5, 5.4e5, n), rng.uniform(4e6, 4.04e6, n))


def blocks_of(case, size):
    """Block index (i, j) of each cell, as the documented grid defines it."""
    x, y = case.cells.x, case.cells.y
    return list(zip(np.floor((x - x.min()) / size), np.floor((y - y.min()) / size)))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_blocks_go_whole_to_one_part_and_train_near_the_fraction(seed):
    case = scattered()
    split = Split.parse("blocks:0.7:10000", case, seed=seed, validation_fraction=0.2)
    assert split.kind == "blocks" and split.block_size == 10000.0
    train, validation, test = parts(split, case)
    assert np.all(train.astype(int) + validation.astype(int) + test.astype(int) == 1)
    part = np.select([train[:, 0], validation[:, 0]], ["train", "validation"], "test")
    owner = {}
    for block, p in zip(blocks_of(case, 10000), part):
        assert owner.setdefault(block, p) == p, f"block {block} is split"
    assert set(owner.values()) == {"train", "validation", "test"}
    # 16 blocks of ~25 cells: the closest cumulative count is within half a block
    trained = np.mean(part != "test")
    assert abs(trained - 0.7) < 0.1
    assert abs(np.mean(part == "validation") / trained - 0.2) < 0.15


def test_blocks_are_seeded_and_repeatable():
    case = scattered()
    a = Split.parse("blocks:0.7:10000", case, seed=7).test_mask(case)
    b = Split.parse("blocks:0.7:10000", case, seed=7).test_mask(case)
    c = Split.parse("blocks:0.7:10000", case, seed=8).test_mask(case)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_blocks_take_shuffled_blocks_up_to_the_closest_cumulative_count():
    # 10 cells in a row, 1 km apart; blocks of 2 km hold 2 cells each: 5 blocks, and
    # 0.7 of 10 cells is 7 -> the closest prefixes are 6 or 8 cells, the shorter wins
    case = on_grid(conformance_case(n_cells=10, n_months=12), np.arange(10) * 1000.0,
                   np.zeros(10))
    split = Split.parse("blocks:0.7:2000", case, seed=5, validation_fraction=0.0)
    held = split.test_cells(case)
    assert len(split.train_cells(case)) == 6 and len(held) == 4
    assert all(c // 2 * 2 in held and c // 2 * 2 + 1 in held for c in held)


def test_validation_takes_whole_training_blocks():
    case = scattered()
    split = Split.parse("blocks:0.7:10000", case, seed=2, validation_fraction=0.25)
    blocks = blocks_of(case, 10000)
    validation = {blocks[c] for c in split.validation_cells(case)}
    fit = {blocks[c] for c in split.train_cells(case)}
    assert validation and fit and not validation & fit


def test_median_distance_to_the_nearest_training_cell_known_by_hand():
    # a row of 10 cells 1 km apart, blocks of 5 km: one block of 5 trains, the other
    # tests; the test cells lie 1, 2, 3, 4 and 5 km from the nearest training cell
    row = on_grid(conformance_case(n_cells=10, n_months=12), np.arange(10) * 1000.0,
                  np.zeros(10))
    for seed in range(4):
        split = Split.parse("blocks:0.5:5000", row, seed=seed, validation_fraction=0.0)
        assert split.median_holdout_distance(row) == 3000.0
    # a 4 x 4 grid, 1 km apart, blocks of 2 km: the test quadrant's cells lie 1, 1, 1
    # and 2 km (the corner) from the training quadrants
    gx, gy = np.meshgrid(np.arange(4) * 1000.0, np.arange(4) * 1000.0)
    grid = on_grid(conformance_case(n_cells=16, n_months=12), gx.ravel(), gy.ravel())
    split = Split.parse("blocks:0.75:2000", grid, seed=1, validation_fraction=0.0)
    assert len(split.test_cells(grid)) == 4
    assert split.median_holdout_distance(grid) == 1000.0
    # a cell split on a 1 km grid: every held-out cell has a training cell 1 km away or
    # (all four neighbours held out) further; splits that hold out no cell give None
    assert Split.parse("spatial:0.7", grid, seed=0).median_holdout_distance(grid) >= 1000.0
    assert Split.parse("temporal:2000-06", grid).median_holdout_distance(grid) is None
    assert Split("none").median_holdout_distance(grid) is None


def test_blocks_json_round_trip_and_old_dicts_unchanged():
    case = scattered()
    split = Split.parse("blocks:0.6:8000", case, seed=3, validation_fraction=0.2)
    d = json.loads(json.dumps(split.to_dict()))
    assert d["kind"] == "blocks" and d["block_size"] == 8000.0
    again = Split.from_dict(d)
    assert again == split
    np.testing.assert_array_equal(again.test_mask(case), split.test_mask(case))
    # other kinds keep the dict they had before blocks, so old bench folders resume
    assert "block_size" not in Split.parse("spatial:0.7", CASE).to_dict()


@pytest.mark.parametrize("spec, field, words", [
    ("blocks:0.7:0", "block_size", "0.0 is not a positive"),
    ("blocks:0.7:-100", "block_size", "-100.0 is not a positive"),
    ("blocks:0.7:ten", "block_size", '"ten"'),
    ("blocks:0.7:nan", "block_size", "nan"),
    ("blocks:1.0:1000", "train_fraction", "1.0 is not strictly between 0 and 1"),
    ("blocks:0:1000", "train_fraction", "0.0 is not strictly between 0 and 1"),
    ("blocks:0.7", "blocks", "needs 2 value(s)"),
    ("blocks:0.7:5000", "block_size", "5000 m puts all 20 cells of case conformance "
                                      "(extent 3000 x 4000 m) in 1 block"),
])
def test_bad_blocks_are_refused_in_one_line(spec, field, words):
    with pytest.raises(InputError) as err:
        Split.parse(spec, CASE)
    assert err.value.field == field and words in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_block_dicts_are_refused():
    with pytest.raises(InputError):
        Split.from_dict({"kind": "blocks", "train_fraction": 0.7})
    with pytest.raises(InputError):
        Split.from_dict({"kind": "spatial", "train_fraction": 0.7, "block_size": 1000.0})
    with pytest.raises(InputError):
        Split.from_dict({"kind": "blocks", "train_fraction": 0.7, "block_size": "1000"})


@pytest.fixture(scope="module")
def small_case(tmp_path_factory):
    from cases.synthetic import synthetic_case
    from engine.caseio import write_case

    # 30 cells over ~40 km: blocks of 10 km leave several blocks on each side
    return write_case(synthetic_case(30, 24, seed=3), tmp_path_factory.mktemp("case"))


def test_fit_and_bench_take_a_blocks_split(small_case, tmp_path):
    from engine.app.cli import main

    assert main(["fit", str(small_case), "--solver", "trend", "--split", "blocks:0.7:10000",
                 "--out", str(tmp_path / "fit")]) == 0
    stored = json.loads((tmp_path / "fit" / "report.json").read_text())["split"]
    assert stored["kind"] == "blocks" and stored["block_size"] == 10000.0
    assert main(["bench", str(small_case), "--solvers", "trend", "--split", "blocks:0.7:10000",
                 "--out", str(tmp_path / "bench")]) == 0
    plan = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert Split.from_dict(plan["split"]) == Split.parse("blocks:0.7:10000", seed=0,
                                                         validation_fraction=0.2)
    assert main(["bench", str(small_case), "--solvers", "trend", "--split", "blocks:0.7:1e9",
                 "--out", str(tmp_path / "refused")]) == 2


def test_listed_cells_test_at_every_time_and_the_rest_train():
    split = Split.parse("cells:p3+p7+p11", CASE, seed=2, validation_fraction=0.25)
    train, validation, test = parts(split)
    ids = list(CASE.cells.ids)
    listed = [ids.index(c) for c in ("p3", "p7", "p11")]
    assert test[listed].all() and test.sum() == 3 * CASE.n_times
    assert validation.any(axis=1).sum() == 4              # a quarter of the 17 others
    assert (train | validation)[[i for i in range(20) if i not in listed]].all()
    assert "test_ids" not in Split.parse("spatial:0.7").to_dict()
