"""The sampling arithmetic behind validate-profile's bounds (mlsec_gates.gates.validate.tolerance).

Each bound is checked against what it promises: a clean batch drawn from the reference's own
population crosses it rarely (simulated), and an obvious break does not fit inside it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlsec_gates.gates.validate import tolerance


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(0, 1, n),
        lambda rng, n: rng.exponential(2.0, n),
        lambda rng, n: rng.lognormal(0, 1, n),
        lambda rng, n: rng.integers(0, 8, n).astype(float),
        lambda rng, n: np.where(rng.random(n) < 0.7, 0.0, rng.pareto(2.0, n) * 1000),
    ],
    ids=["normal", "exponential", "lognormal", "small-integers", "zero-inflated-pareto"],
)
def test_clean_batches_stay_inside_the_range(draw) -> None:  # type: ignore[no-untyped-def]
    """100 simulated reference/batch pairs per shape: crossings stay near the budget."""
    rng = np.random.default_rng(0)
    alpha, crossings, trials = 0.01, 0, 100
    for _ in range(trials):
        ref = np.sort(draw(rng, 300))
        bounds = tolerance.range_bounds(ref.tolist(), batch=600, alpha=alpha)
        batch = draw(rng, 200)
        crossings += bool((batch < bounds.low).any() or (batch > bounds.high).any())
    assert crossings / trials <= 4 * alpha


def test_a_unit_change_does_not_fit_inside() -> None:
    rng = np.random.default_rng(1)
    ref = np.sort(rng.normal(50, 10, 500))
    bounds = tolerance.range_bounds(ref.tolist(), batch=1000, alpha=1e-4)
    assert bounds.high < ref.max() * 1000
    assert bounds.low > -ref.max() * 1000


def test_never_negative_keeps_zero_as_floor_when_values_press_against_it() -> None:
    """Exponential data crowd 0: with 2,000 values the lower tail model expects many
    negatives and none came; with 200 the same shape is not yet evidence of a wall."""
    rng = np.random.default_rng(2)
    ref = sorted(rng.exponential(1.0, 2000).tolist())
    bounds = tolerance.range_bounds(ref, batch=4000, alpha=1e-3)
    assert bounds.low == 0.0 and bounds.model_low == "floor"
    assert bounds.floor_evidence > -math.log(1e-3)
    small = tolerance.range_bounds(ref[::10], batch=400, alpha=1e-3)
    assert small.low < 0 and small.floor_evidence < -math.log(1e-3)


def test_a_pile_of_zeros_is_a_wall() -> None:
    ref = sorted([0.0] * 150 + np.random.default_rng(4).exponential(5.0, 150).tolist())
    assert tolerance.range_bounds(ref, batch=600, alpha=1e-3).low == 0.0


def test_no_floor_where_the_tail_thins_out_before_zero() -> None:
    """Incomes around 20 (sd 8), all positive in 450 rows: 0 is where the tail ends, not a
    wall, so a rare genuine negative (a business loss) is not a finding (Mroz's income)."""
    rng = np.random.default_rng(5)
    ref = np.sort(rng.normal(20, 8, 600))
    ref = ref[ref > 1.0][:450]
    bounds = tolerance.range_bounds(ref.tolist(), batch=900, alpha=1e-3)
    assert bounds.low < 0 and bounds.model_low != "floor"
    assert bounds.floor_evidence < -math.log(1e-3)


def test_zero_inflated_heavy_tail_still_catches_a_unit_change() -> None:
    """70 % zeros and a Pareto tail: wide enough for the tail, not for values x1000."""
    rng = np.random.default_rng(6)
    ref = np.sort(np.where(rng.random(600) < 0.7, 0.0, rng.pareto(2.0, 600) * 1000))
    bounds = tolerance.range_bounds(ref.tolist(), batch=1200, alpha=1e-3)
    assert bounds.model_high == "gpd"
    assert ref.max() < bounds.high < ref.max() * 1000


def test_ties_at_the_threshold_do_not_shrink_the_tail() -> None:
    """A scale with an atom near its minimum and 20 values below it (Chile's ``statusquo``):
    the tail is fitted beyond the atom, not on ties of zero excess."""
    rng = np.random.default_rng(7)
    body = np.maximum(rng.normal(0, 1, 1400), -1.3)
    beyond = np.concatenate([rng.uniform(-1.45, -1.31, 17), [-1.48, -1.72, -1.74]])
    ref = np.sort(np.concatenate([body, beyond]))
    bounds = tolerance.range_bounds(ref.tolist(), batch=2800, alpha=1e-3)
    assert bounds.low < -1.85  # a clean -1.80 must pass


def test_tail_scale_is_the_exponential_estimate() -> None:
    """On exponential data the mean excess over the top-decile threshold recovers the scale."""
    ref = sorted(np.random.default_rng(3).exponential(5.0, 20_000).tolist())
    bounds = tolerance.range_bounds(ref, batch=40_000, alpha=1e-3)
    assert bounds.scale_high == pytest.approx(5.0, rel=0.1)


def test_few_exceedances_widen_the_bound() -> None:
    """The scale is estimated: ``(1 + t / S) ** -k`` is wider than the plug-in exponential."""
    tail = tolerance.fit_tail([0.0, 1.0, 2.0, 3.0])  # k = 3, S = 6
    plug_in = tail.scale * math.log((1000 * 4 / 101) / 1e-3)
    assert tail.reach(100, 1000, 1e-3) > plug_in


def test_null_bound_without_nulls_allows_a_few() -> None:
    """No null in n rows: about ln(alpha) / ln(m / (n + m)) nulls are still sampling."""
    alpha, n, m = 1e-3, 1000, 500
    bound = tolerance.null_share_bound(0, n, batch=m, alpha=alpha)
    expected = math.log(alpha) / math.log(m / (n + m))
    assert abs(bound * m - expected) <= 1.5
    assert bound < 0.2  # a burst of 20 % nulls is a finding


def test_null_bound_grows_with_the_reference_rate_and_shrinks_with_size() -> None:
    small = tolerance.null_share_bound(50, 1000, batch=500, alpha=1e-3)
    large = tolerance.null_share_bound(5000, 100_000, batch=50_000, alpha=1e-3)
    assert 0.05 < large < small < 0.15


def test_value_sets_need_every_value_seen_five_times() -> None:
    assert tolerance.closed_set_ok([50, 40, 5])
    assert not tolerance.closed_set_ok([50, 40, 4])
    assert not tolerance.closed_set_ok([])
