"""Model inputs: lag times and lagged heads against closed forms, the normalisation
fitted on training entries only, and the stiffness prior."""

import numpy as np
import pytest

from engine.case import Aquifer, Case, Cells, Compressible
from engine.errors import InputError
from surrogates.features import (
    GAMMA_W,
    FeatureSet,
    compressible_thickness,
    lag_times,
    lagged,
    prior_modulus,
    raw_feature,
)


def _case(heads, beds, days=None):
    n, t = heads[0].shape
    days = np.arange(t) * 30.0 if days is None else days
    times = np.datetime64("2001-01-01") + days.astype("timedelta64[D]")
    aquifers = tuple(Aquifer(f"aq{a}", h, interbeds=b) for a, (h, b) in enumerate(zip(heads, beds)))
    cells = Cells(np.array([str(i) for i in range(n)]), np.arange(n) * 100.0, np.zeros(n))
    return Case("t", times, cells, aquifers)


def _beds(n, thickness, count, kv, sskv, sske=1e-5):
    one = np.ones(n)
    return Compressible("interbeds", thickness=thickness * one, count=count * one, kv=kv * one,
                        sske=sske * one, sskv=sskv * one)


def test_lag_time_is_the_terzaghi_time_constant_of_the_equivalent_bed():
    # two systems: 2 beds of 4 m and 1 bed of 10 m -> b_equiv^2 = (2*16 + 100) / 3 = 44
    n = 3
    heads = [np.zeros((n, 5))]
    beds = [(_beds(n, 4.0, 2.0, 1e-4, 1e-3), _beds(n, 10.0, 1.0, 1e-4, 1e-3))]
    tau = lag_times(_case(heads, beds))
    assert tau.shape == (1, n)
    np.testing.assert_allclose(tau, 44.0 / 4.0 * 1e-3 / 1e-4, rtol=1e-12)


def test_lag_time_zero_without_interbeds():
    case = _case([np.zeros((2, 4))], [()])
    assert np.all(lag_times(case) == 0.0)


def test_lagged_ramp_is_shifted_exactly_including_fractional_lags():
    days = np.arange(0.0, 300.0, 30.0)
    ramp = np.vstack([-0.1 * days, -0.1 * days])                 # linear head decline
    lag = np.array([45.0, 12.5])                                   # 1.5 and 0.42 steps
    out = lagged(ramp, days, lag)
    expected = -0.1 * np.maximum(days[None, :] - lag[:, None], 0.0)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_lagged_holds_the_first_value_before_the_start_and_zero_lag_is_identity():
    days = np.arange(0.0, 120.0, 30.0)
    values = np.array([[5.0, 1.0, 2.0, 3.0]])
    np.testing.assert_allclose(lagged(values, days, np.array([200.0])), 5.0)
    np.testing.assert_array_equal(lagged(values, days, np.array([0.0])), values)


def test_stress_load_is_thickness_times_effective_stress_change():
    n, _t = 2, 4
    head = np.array([[10.0, 9.0, 7.0, 8.0], [0.0, -1.0, -1.0, -3.0]])
    case = _case([head], [(_beds(n, 5.0, 3.0, 1e-4, 1e-3),)])
    load = raw_feature(case, "stress_load", 0)
    thickness = compressible_thickness(case.aquifers[0], n)
    np.testing.assert_allclose(thickness, 15.0)
    step = np.diff(head, axis=1, prepend=head[:, :1])
    np.testing.assert_allclose(load, -GAMMA_W * 15.0 * step)
    assert np.all(load[:, 0] == 0.0)


def test_prior_modulus_is_gamma_w_over_the_thickness_weighted_storage():
    n = 2
    case = _case([np.zeros((n, 3)), np.zeros((n, 3))],
                 [(_beds(n, 2.0, 1.0, 1e-4, 1e-3),), (_beds(n, 6.0, 1.0, 1e-4, 3e-3),)])
    # weighted Sskv = (2*1e-3 + 6*3e-3) / 8 = 2.5e-3
    np.testing.assert_allclose(prior_modulus(case), GAMMA_W / 2.5e-3)


def test_normalisation_uses_training_entries_only_and_keeps_changes_uncentred():
    rng = np.random.default_rng(0)
    n, t = 6, 10
    heads = [rng.normal(0, 3, (n, t)), rng.normal(5, 1, (n, t))]
    beds = [(_beds(n, 4.0, 1.0, 1e-4, 1e-3),), (_beds(n, 8.0, 1.0, 1e-4, 2e-3),)]
    case = _case(heads, beds)
    mask = np.zeros((n, t), bool)
    mask[:3, :6] = True
    fs = FeatureSet(["head", "head_change", "thickness"]).fit(case, mask)
    # changing every head outside the training entries changes nothing in the fit
    changed = [h.copy() for h in heads]
    for h in changed:
        h[3:] += 100.0
        h[:3, 6:] -= 50.0
    refit = FeatureSet(["head", "head_change", "thickness"]).fit(_case(changed, beds), mask)
    np.testing.assert_array_equal(fs.center, refit.center)
    np.testing.assert_array_equal(fs.scale, refit.scale)
    # head channels are centred on the training mean; changes are only scaled
    assert fs.channels()[:2] == ["head[aq0]", "head[aq1]"]
    np.testing.assert_allclose(fs.center[:2], [heads[0][mask].mean(), heads[1][mask].mean()])
    assert np.all(fs.center[2:4] == 0.0)
    x = fs.transform(case)
    assert x.dtype == np.float32 and x.shape == (n, t, 6)
    assert np.all(x[:, 0, 2:4] == 0.0)                          # no change at t0 -> exactly 0
    # a training-constant channel (thickness) is not blown up by a zero spread
    assert np.all(np.isfinite(x))


def test_transform_refuses_a_case_with_other_aquifers():
    n, t = 2, 3
    beds = (_beds(n, 4.0, 1.0, 1e-4, 1e-3),)
    fs = FeatureSet(["head_change"]).fit(_case([np.zeros((n, t))], [beds]), np.ones((n, t), bool))
    other = _case([np.zeros((n, t)), np.zeros((n, t))], [beds, beds])
    with pytest.raises(InputError, match="aquifers"):
        fs.transform(other)


def test_unknown_feature_is_named():
    with pytest.raises(InputError, match="rainfall"):
        FeatureSet(["rainfall"])


def test_a_feature_may_select_aquifers_by_name():
    rng = np.random.default_rng(1)
    n, t = 4, 8
    heads = [rng.normal(0, 3, (n, t)) for _ in range(3)]
    beds = [(_beds(n, 4.0, 1.0, 1e-4, 1e-3 * (a + 1)),) for a in range(3)]
    case = _case(heads, beds)
    mask = np.ones((n, t), bool)
    every = FeatureSet(["head_change", "inelastic_storage"]).fit(case, mask)
    some = FeatureSet(["head_change@aq2+aq1", "inelastic_storage@aq1"]).fit(case, mask)
    assert some.channels() == ["head_change[aq2]", "head_change[aq1]", "inelastic_storage[aq1]"]
    np.testing.assert_array_equal(some.transform(case), every.transform(case)[:, :, [2, 1, 4]])
    again = FeatureSet.from_dict(some.to_dict())
    np.testing.assert_array_equal(again.transform(case), some.transform(case))
    with pytest.raises(InputError, match='"aq7" is not an aquifer of the case; aquifers: aq0'):
        FeatureSet(["head@aq7"]).fit(case, mask)
    for bad in ("head@", "head@aq1+aq1", "baseline@aq1"):
        with pytest.raises(InputError, match="@ takes distinct aquifer names"):
            FeatureSet([bad])


def test_the_lagged_head_reads_the_spinup_before_the_first_time():
    from dataclasses import replace

    n, t, s = 2, 12, 6
    record = np.tile(-np.arange(s + t, dtype=float), (n, 1))    # falls 1 m a step
    beds = (_beds(n, 4.0, 1.0, 1e-4, 1e-3),)
    case = _case([record[:, s:]], [beds], days=np.arange(s, s + t) * 30.0)
    lag = lag_times(case)[0]
    spun = replace(case, spinup_times=np.datetime64("2001-01-01")
                   + (np.arange(s) * 30).astype("timedelta64[D]"),
                   aquifers=(replace(case.aquifers[0], spinup_head=record[:, :s]),))
    # the spin-up knows the heads before the first time: the shift holds from the start
    np.testing.assert_allclose(raw_feature(spun, "lagged_head_change", 0),
                               lag[:, None] / 30.0 - np.arange(t)[None, :])
    # without it the head is held at its first value before the start
    assert np.all(raw_feature(case, "lagged_head_change", 0)[:, 0] == 0.0)
