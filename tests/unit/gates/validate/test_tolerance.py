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
    ],
    ids=["normal", "exponential", "lognormal", "small-integers"],
)
def test_clean_batches_stay_inside_the_range(draw) -> None:  # type: ignore[no-untyped-def]
    """400 simulated reference/batch pairs per shape: crossings stay near the budget."""
    rng = np.random.default_rng(0)
    alpha, crossings, trials = 0.01, 0, 400
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


def test_never_negative_keeps_zero_as_floor() -> None:
    ref = sorted(np.random.default_rng(2).exponential(1.0, 200).tolist())
    assert tolerance.range_bounds(ref, batch=400, alpha=1e-3).low == 0.0


def test_tail_scale_is_the_exponential_estimate() -> None:
    """On exponential data the top-decile spacing estimate recovers the scale."""
    ref = sorted(np.random.default_rng(3).exponential(5.0, 20_000).tolist())
    assert tolerance.tail_scale(ref, upper=True) == pytest.approx(5.0, rel=0.1)


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
