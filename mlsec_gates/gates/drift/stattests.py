"""The drift tests, one class each, computed the way Evidently 0.7 computes them.

Each test is the formula of ``evidently/legacy/calculations/stattests/<name>.py``, run on
pre-summarised columns instead of pandas Series: a numeric column is its sorted finite values
(:class:`NumericValues`), a categorical one its value counts (:class:`CategoryCounts`). The
reference side is summarised once (and can be stored, see :mod:`.profile`); sorting is what
makes Wasserstein, the histogram of PSI and Jensen-Shannon, and the unique counts cheap.
Where Evidently calls scipy (``ks_2samp``, ``chisquare``, ``jensenshannon``, ``norm``), so do
these, with the same inputs, so statistics agree to rounding and decisions are identical.

Evidently's rules reproduced here:

- Values: NaN and +-inf are dropped on both sides before any test.
- ``auto`` (:func:`auto_method`): reference (non-null) rows <= 1000: numeric columns with
  more than 5 distinct values (reference and current together) use ``ks``; categorical
  columns and numeric ones with <= 5 distinct values use ``chisquare``, or ``z`` when there
  are <= 2. Above 1000 rows: ``wasserstein`` for numeric columns with > 5 distinct values,
  else ``jensenshannon``.
- Binning (PSI, Jensen-Shannon): numeric columns whose reference has more than 20 distinct
  values use equal-width bins on reference and current combined, as many as Sturges' rule
  gives for their combined size (``np.histogram_bin_edges(..., bins="sturges")``;
  Evidently's ``n_bins`` is ignored); other columns use each value as a bin. PSI replaces
  empty bins by a small share, Jensen-Shannon does not.
- Decisions: p-value tests drift when ``p < threshold`` (``ks``: ``p <= threshold``);
  distances when ``statistic >= threshold``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

SMALL_REFERENCE_ROWS = 1000
"""Evidently's switch from p-value tests to distances (reference rows, NaN dropped)."""
FEW_VALUES = 5
"""Numeric columns with at most this many distinct values are tested as categories."""
BIN_VALUES = 20
"""Numeric columns whose reference has more distinct values than this are binned."""


class NumericValues:
    """A numeric column's finite values, sorted (NaN and +-inf dropped)."""

    def __init__(self, sorted_values: Any, *, integer: bool = False) -> None:
        self.sorted = sorted_values
        self.integer = integer
        """The column has an integer dtype (numpy then uses bins at least 1 wide)."""

    @classmethod
    def from_array(cls, values: Any) -> NumericValues:
        """Summarise raw values (any numeric dtype, NaN allowed)."""
        import numpy as np

        raw = np.asarray(values)
        integer = bool(np.issubdtype(raw.dtype, np.integer))
        arr = raw.astype(np.float64)
        arr = arr[np.isfinite(arr)]
        arr.sort()
        return cls(arr, integer=integer)

    @property
    def n(self) -> int:
        """Number of values."""
        return int(self.sorted.size)

    @cached_property
    def nunique(self) -> int:
        """Number of distinct values."""
        import numpy as np

        if self.n == 0:
            return 0
        return 1 + int(np.count_nonzero(np.diff(self.sorted)))

    @cached_property
    def std(self) -> float:
        """Population standard deviation (``np.std`` of the reference, as Evidently)."""
        import numpy as np

        return float(np.std(self.sorted))

    def per_value(self) -> CategoryCounts:
        """Each distinct value with its count (for the per-value tests)."""
        import numpy as np

        values, counts = np.unique(self.sorted, return_counts=True)
        return CategoryCounts(values, counts)


class CategoryCounts:
    """A categorical column's distinct non-null values and their counts."""

    def __init__(self, values: Any, counts: Any) -> None:
        self.values = values
        self.counts = counts

    @classmethod
    def from_series(cls, series: Any) -> CategoryCounts:
        """Summarise a pandas Series; values become strings (how profiles store them)."""
        import numpy as np

        counted = series.dropna().astype(str).value_counts(sort=False)
        values = np.asarray(counted.index.to_numpy(), dtype=str)
        return cls(values, counted.to_numpy(dtype=np.int64))

    @classmethod
    def from_values(cls, items: Iterable[Any]) -> CategoryCounts:
        """Summarise raw values (None: missing) as :meth:`from_series` does, without pandas.

        The text of each value, counted in order of first appearance (the order of
        ``value_counts(sort=False)``).
        """
        import numpy as np

        counted = Counter(str(v) for v in items if v is not None)
        counts = np.fromiter(counted.values(), dtype=np.int64, count=len(counted))
        return cls(np.asarray(list(counted), dtype=str), counts)

    @property
    def n(self) -> int:
        """Number of values."""
        return int(self.counts.sum())

    @property
    def nunique(self) -> int:
        """Number of distinct values."""
        return int(self.values.size)

    def as_dict(self) -> dict[Any, int]:
        """Value to count."""
        return {v: int(c) for v, c in zip(self.values.tolist(), self.counts.tolist(), strict=True)}

    def per_value(self) -> CategoryCounts:
        """Itself (the per-value view of a categorical column)."""
        return self


Values = NumericValues | CategoryCounts


def combined_nunique(ref: Values, cur: Values) -> int:
    """Distinct values of both sides together; exact up to ``FEW_VALUES + 1``."""
    if ref.nunique > FEW_VALUES or cur.nunique > FEW_VALUES:
        return max(ref.nunique, cur.nunique, FEW_VALUES + 1)
    return len(set(ref.per_value().as_dict()) | set(cur.per_value().as_dict()))


def auto_method(kind: str, ref: Values, cur: Values) -> str:
    """The test Evidently's ``DataDriftPreset`` picks for a column (its default rule)."""
    n_values = combined_nunique(ref, cur)
    if ref.n <= SMALL_REFERENCE_ROWS:
        if kind == "numeric" and n_values > FEW_VALUES:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numeric" and n_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def _keys(ref: CategoryCounts, cur: CategoryCounts) -> tuple[list[Any], Any, Any]:
    """The union of the values and each side's count per value, as float arrays."""
    import numpy as np

    r, c = ref.as_dict(), cur.as_dict()
    keys = list(set(r) | set(c))
    return (
        keys,
        np.array([r.get(k, 0) for k in keys], dtype=np.float64),
        np.array([c.get(k, 0) for k in keys], dtype=np.float64),
    )


def binned_shares(ref: Values, cur: Values, *, fill_zeroes: bool) -> tuple[Any, Any]:
    """Evidently's ``get_binned_data``: each side's share per bin (or per value)."""
    import numpy as np

    if isinstance(ref, NumericValues) and isinstance(cur, NumericValues) and ref.nunique > 20:
        edges = sturges_edges(ref.sorted, cur.sorted, integer=ref.integer and cur.integer)
        ref_share = histogram_counts(ref.sorted, edges) / ref.n
        cur_share = histogram_counts(cur.sorted, edges) / cur.n
    else:
        _, r, c = _keys(ref.per_value(), cur.per_value())
        ref_share, cur_share = r / ref.n, c / cur.n
    if fill_zeroes:
        for share in (ref_share, cur_share):
            smallest = share[share != 0].min()
            np.place(share, share == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return ref_share, cur_share


def sturges_edges(ref_sorted: Any, cur_sorted: Any, *, integer: bool = False) -> Any:
    """``np.histogram_bin_edges(concat(ref, cur), bins="sturges")`` from two sorted arrays.

    ``integer``: both columns have an integer dtype, for which numpy widens bins to 1.
    """
    import numpy as np

    first = min(ref_sorted[0], cur_sorted[0])
    last = max(ref_sorted[-1], cur_sorted[-1])
    size = ref_sorted.size + cur_sorted.size
    width = (last - first) / (np.log2(size) + 1.0)
    if integer and 0 < width < 1:
        width = 1
    n_bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, n_bins + 1, endpoint=True, dtype=np.float64)


def histogram_counts(sorted_values: Any, edges: Any) -> Any:
    """``np.histogram(values, edges)[0]`` for sorted values inside the edges' range."""
    import numpy as np

    below = np.searchsorted(sorted_values, edges, side="left")
    counts = np.diff(below)
    counts[-1] = sorted_values.size - below[-2]  # the last bin includes its right edge
    return counts


@dataclass(frozen=True)
class Outcome:
    """One test on one column: the statistic, and the effect size of p-value tests."""

    statistic: float
    effect_size: float | None = None


class StatTest:
    """A drift test. Subclasses set the class variables and implement :meth:`compute`."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    """Column kinds Evidently allows the test on (``numeric``, ``categorical``)."""
    default_threshold: ClassVar[float]
    p_value: ClassVar[bool] = False
    """True: the statistic is a p-value (small means drift); False: a distance."""
    inclusive: ClassVar[bool] = False
    """p-value tests: drift also when ``p == threshold`` (Evidently's K-S)."""

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """The statistic on two summarised columns (both non-empty)."""
        raise NotImplementedError

    def drifted(self, statistic: float, threshold: float) -> bool:
        """Evidently's decision for this test."""
        if self.p_value:
            return statistic <= threshold if self.inclusive else statistic < threshold
        return statistic >= threshold


class KolmogorovSmirnov(StatTest):
    """Two-sample K-S (``scipy.stats.ks_2samp``); effect size: the K-S distance D."""

    name = "ks"
    display_name = "K-S p-value"
    kinds = frozenset({"numeric"})
    default_threshold = 0.05
    p_value = True
    inclusive = True

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """p-value of ``ks_2samp`` (auto mode: exact up to 10,000 values per side)."""
        from scipy.stats import ks_2samp

        assert isinstance(ref, NumericValues) and isinstance(cur, NumericValues)
        res = ks_2samp(ref.sorted, cur.sorted)
        return Outcome(float(res.pvalue), float(res.statistic))


class ChiSquare(StatTest):
    """Chi-squared test of the current value counts against the reference shares."""

    name = "chisquare"
    display_name = "chi-square p-value"
    kinds = frozenset({"categorical"})
    default_threshold = 0.05
    p_value = True

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """p-value of ``scipy.stats.chisquare``; a value new in current gives p = 0."""
        from scipy.stats import chisquare

        _, r, c = _keys(ref.per_value(), cur.per_value())
        with warnings.catch_warnings(), _np_errstate():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = chisquare(c, r * (cur.n / ref.n))[1]
        return Outcome(float(p), total_variation(r, c))


class ZTest(StatTest):
    """Two-proportion z-test on the share of the first value (binary columns)."""

    name = "z"
    display_name = "Z-test p-value"
    kinds = frozenset({"categorical"})
    default_threshold = 0.05
    p_value = True

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """Two-sided p-value of the difference of proportions, as Evidently computes it.

        ``2 * (1 - norm.cdf(|z|))`` is ``erfc(|z| / sqrt(2))``: the same number without
        importing scipy.stats (a second of CPU for one line).
        """
        rc, cc = ref.per_value().as_dict(), cur.per_value().as_dict()
        keys, r, c = _keys(ref.per_value(), cur.per_value())
        effect = total_variation(r, c)
        if len(rc) == 1 and len(cc) == 1 and next(iter(rc)) == next(iter(cc)):
            return Outcome(1.0, effect)
        first = sorted(keys)[0]
        n1, n2 = ref.n, cur.n
        p1 = float(n1 - rc.get(first, 0)) / n1
        p2 = float(n2 - cc.get(first, 0)) / n2
        pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
        with _np_errstate():
            import numpy as np

            z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
            p = math.erfc(abs(float(z)) / math.sqrt(2)) if np.isfinite(z) else float("nan")
        return Outcome(float(p), effect)


class Wasserstein(StatTest):
    """Wasserstein-1 distance divided by the reference's standard deviation."""

    name = "wasserstein"
    display_name = "Wasserstein distance (normed)"
    kinds = frozenset({"numeric"})
    default_threshold = 0.1

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """``scipy.stats.wasserstein_distance`` on sorted arrays / max(std(ref), 0.001)."""
        import numpy as np

        assert isinstance(ref, NumericValues) and isinstance(cur, NumericValues)
        both = np.concatenate((ref.sorted, cur.sorted))
        order = np.argsort(both, kind="stable")  # two sorted runs: one linear merge
        from_ref = order < ref.n
        deltas = np.diff(both[order])
        del both, order  # 1M-row columns: keep the temporaries few
        # scipy's CDFs are searchsorted(..., "right") at each merged value. Where the next
        # value differs (delta > 0) that is the running count itself; inside a run of ties
        # delta is 0 and the CDF does not matter. So running counts replace two searches.
        ref_count = np.cumsum(from_ref)[:-1]
        cur_count = np.arange(1, ref_count.size + 1, dtype=np.int64)
        cur_count -= ref_count
        ref_cdf = ref_count / ref.n
        del ref_count
        cur_cdf = cur_count / cur.n
        del cur_count
        np.subtract(ref_cdf, cur_cdf, out=ref_cdf)
        distance = float(np.vecdot(np.abs(ref_cdf, out=ref_cdf), deltas))
        return Outcome(distance / max(ref.std, 0.001))


class JensenShannon(StatTest):
    """Jensen-Shannon distance of the binned (or per-value) shares."""

    name = "jensenshannon"
    display_name = "Jensen-Shannon distance"
    kinds = frozenset({"numeric", "categorical"})
    default_threshold = 0.1

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """``scipy.spatial.distance.jensenshannon`` (natural log) of the shares.

        Written out in numpy (``rel_entr`` terms, then ``sqrt(js / 2)``): importing
        scipy.spatial costs more CPU than a small batch's whole drift check.
        """
        import numpy as np

        r, c = binned_shares(ref, cur, fill_zeroes=False)
        p = np.asarray(r, dtype=np.float64) / np.sum(r)
        q = np.asarray(c, dtype=np.float64) / np.sum(c)
        m = (p + q) / 2.0
        with _np_errstate():
            left = np.where(p > 0, p * np.log(p / m), 0.0)
            right = np.where(q > 0, q * np.log(q / m), 0.0)
        js = float(np.sum(left) + np.sum(right))
        return Outcome(math.sqrt(max(js, 0.0) / 2.0))


class PopulationStability(StatTest):
    """Population Stability Index of the binned (or per-value) shares."""

    name = "psi"
    display_name = "PSI"
    kinds = frozenset({"numeric", "categorical"})
    default_threshold = 0.1

    def compute(self, ref: Values, cur: Values) -> Outcome:
        """Sum of ``(ref - cur) * ln(ref / cur)`` over the bins, empty bins filled."""
        import numpy as np

        r, c = binned_shares(ref, cur, fill_zeroes=True)
        return Outcome(float(np.sum((r - c) * np.log(r / c))))


TESTS: tuple[StatTest, ...] = (
    KolmogorovSmirnov(),
    ChiSquare(),
    ZTest(),
    Wasserstein(),
    JensenShannon(),
    PopulationStability(),
)
BY_NAME: dict[str, StatTest] = {t.name: t for t in TESTS}


def total_variation(ref_counts: Any, cur_counts: Any) -> float:
    """Half the L1 distance between two count vectors' shares (0: same, 1: disjoint)."""
    import numpy as np

    return float(0.5 * np.abs(ref_counts / ref_counts.sum() - cur_counts / cur_counts.sum()).sum())


def _np_errstate() -> Any:
    import numpy as np

    return np.errstate(divide="ignore", invalid="ignore")


def is_finite(value: float) -> bool:
    """True for a real number (not NaN or inf), for JSON reports."""
    return math.isfinite(value)
