"""The engine's building blocks against numpy/scipy, and the histograms of the HTML report."""

from __future__ import annotations

import pytest

from mlsec_gates.gates.drift.engine import DriftSettings, check_column, summarise_column
from mlsec_gates.gates.drift.plots import histogram, histogram_svg
from mlsec_gates.gates.drift.stattests import (
    CategoryCounts,
    NumericValues,
    Wasserstein,
    auto_method,
    histogram_counts,
    sturges_edges,
)

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("integer", [False, True])
def test_sturges_bins_and_counts_equal_numpy(seed: int, integer: bool) -> None:
    rng = np.random.default_rng(seed)
    n_ref, n_cur = rng.integers(30, 3000, 2)
    if integer:  # narrow integer ranges: numpy widens the bins to 1
        ref, cur = rng.integers(0, 25, n_ref), rng.integers(3, 30, n_cur)
    else:
        ref, cur = rng.normal(0, 1, n_ref), rng.standard_t(3, n_cur)
    expected = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    r, c = NumericValues.from_array(ref), NumericValues.from_array(cur)
    edges = sturges_edges(r.sorted, c.sorted, integer=r.integer and c.integer)
    np.testing.assert_array_equal(edges, expected)
    np.testing.assert_array_equal(histogram_counts(r.sorted, edges), np.histogram(ref, edges)[0])
    np.testing.assert_array_equal(histogram_counts(c.sorted, edges), np.histogram(cur, edges)[0])


@pytest.mark.parametrize("seed", range(5))
def test_wasserstein_equals_scipy_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 8, 500).astype(float)  # many ties on both sides
    cur = np.concatenate([rng.integers(0, 10, 300), rng.normal(4, 2, 100)])
    outcome = Wasserstein().compute(NumericValues.from_array(ref), NumericValues.from_array(cur))
    expected = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
    assert outcome.statistic == pytest.approx(expected, rel=1e-12)


def test_nan_and_inf_are_dropped_like_evidently() -> None:
    values = NumericValues.from_array(np.array([1.0, np.nan, np.inf, -np.inf, 2.0, 2.0]))
    assert (values.n, values.nunique) == (3, 2)
    counts = CategoryCounts.from_series(pd.Series(["a", None, "b", "a", np.nan]))
    assert counts.as_dict() == {"a": 2, "b": 1}


def test_auto_follows_the_1000_row_switch_and_unique_counts() -> None:
    def values(n: int, distinct: int) -> NumericValues:
        return NumericValues.from_array(np.arange(n) % distinct)

    assert auto_method("numeric", values(1000, 50), values(100, 50)) == "ks"
    assert auto_method("numeric", values(1001, 50), values(100, 50)) == "wasserstein"
    assert auto_method("numeric", values(1000, 4), values(100, 5)) == "chisquare"
    assert auto_method("numeric", values(1000, 4), values(100, 6)) == "ks"  # 6 together
    assert auto_method("numeric", values(1000, 2), values(100, 2)) == "z"
    assert auto_method("numeric", values(5000, 3), values(100, 3)) == "jensenshannon"
    cats = CategoryCounts(np.array(["x", "y"]), np.array([300, 300]))
    assert auto_method("categorical", cats, cats) == "z"


def test_a_named_method_falls_back_to_auto_where_it_does_not_apply() -> None:
    ref = summarise_column(pd.Series(["a", "b"] * 50), "categorical")
    check = check_column("c", "categorical", ref, ref, DriftSettings(method="ks"))
    assert check.method == "z"


def test_histograms_are_escaped_svg() -> None:
    ref = summarise_column(pd.Series(["<script>alert(1)</script>", "b"] * 20), "categorical")
    cur = summarise_column(pd.Series(["b"] * 30), "categorical")
    data = histogram(ref, cur)
    assert data is not None and data["labels"][0] in {"b", "<script>alert(1)</script>"}
    svg = histogram_svg(data)
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    numeric = histogram(
        summarise_column(pd.Series(np.arange(100.0)), "numeric"),
        summarise_column(pd.Series(np.arange(50.0, 150.0)), "numeric"),
    )
    assert numeric is not None and len(numeric["labels"]) == 20
    assert sum(numeric["reference"]) == pytest.approx(1.0)
    assert histogram_svg({"labels": []}) == ""
