"""Drift tests on column summaries: what Spark or the database hands back instead of the rows.

The in-memory engine keeps a numeric column as its sorted values. At tens of millions of rows
the Spark and SQL engines keep a :class:`NumericSummary` instead: count, min, max, population
standard deviation, the exact value counts when the column has at most 20 distinct values,
all sorted values when it has at most :data:`EXACT_VALUES`, and otherwise a quantile sketch
on a grid of :data:`GRID` + 1 probabilities with a known rank error. A summary may also
carry a :class:`Live` handle on the data, which answers exact follow-up queries (histogram
counts on given edges, counts below given points, the exact merged CDFs of two columns).

What that gives, test by test (``docs/scale.md`` has the table):

- chi-squared, z, Jensen-Shannon and PSI on categories or on numeric columns with <= 20
  distinct values: exact (value counts).
- Jensen-Shannon and PSI on binned numeric columns: exact with live data (the Sturges edges
  need only min, max and counts; the bin counts are one exact query); from a stored sketch,
  approximate: each cumulative bin share is within ``rank_error + 1/GRID`` of the truth.
- K-S: exact (D from counts at the small side's values, or the merged CDFs; the p-value is
  scipy's ``ks_2samp`` formula for that D and those sizes).
- Wasserstein: from two quantile functions the distance lies in an interval whose width
  follows from the rank error (:func:`wasserstein_interval`); when the threshold falls inside
  it and the data are live, the exact distance is computed (merged CDFs), so the decision is
  the in-memory engine's. Without live data the estimate decides and the check says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlsec_gates.gates.drift.stattests import (
    BIN_VALUES,
    CategoryCounts,
    NumericValues,
    Outcome,
    StatTest,
    _keys,
    sturges_edges,
)

EXACT_VALUES = 10_000
"""Columns with at most this many values are summarised by all their sorted values (this is
also scipy's limit for the exact K-S p-value)."""
GRID = 10_000
"""Quantile sketches hold the values at probabilities 0, 1/GRID, ..., 1."""


class Live(Protocol):
    """Exact follow-up queries on one column of a batch that Spark or the database holds."""

    def histogram(self, edges: Any) -> Any:
        """Counts per bin, as ``np.histogram(values, edges)`` (values inside the edges)."""

    def below(self, points: Any) -> tuple[Any, Any]:
        """For each point, how many values are ``< point`` and how many ``<= point``."""

    def merged(self, other: Live) -> tuple[float, float] | None:
        """Exact ``(K-S D, unnormed Wasserstein-1)`` of this column against ``other``'s.

        None when the two live in different engines.
        """


@dataclass
class NumericSummary:
    """A numeric column as Spark or SQL summarised it (finite values only)."""

    n: int
    nunique: int
    """Distinct values, exact up to ``BIN_VALUES + 1`` (more are reported as that)."""
    minimum: float
    maximum: float
    std: float
    """Population standard deviation (``np.std``)."""
    integer: bool = False
    counts: CategoryCounts | None = None
    """Value counts, when ``nunique <= BIN_VALUES`` (values as floats, like ``np.unique``)."""
    sorted: Any = None
    """All values sorted, when ``n <= EXACT_VALUES``."""
    sketch: Any = None
    """Values at probabilities ``i / GRID`` (``sketch[0]`` = min, ``sketch[-1]`` = max)."""
    rank_error: float = 0.0
    """The sketch's rank error as a share of ``n`` (0: exact quantiles)."""
    live: Live | None = field(default=None, repr=False)

    def per_value(self) -> CategoryCounts:
        """Each distinct value with its count (only for columns with few values)."""
        if self.counts is None:
            raise ValueError("per-value counts exist only for columns with <= 20 values")
        return self.counts

    def values(self) -> NumericValues | None:
        """The in-memory engine's summary, when every value is at hand."""
        if self.sorted is None:
            return None
        return NumericValues(self.sorted, integer=self.integer)


@dataclass(frozen=True)
class SummaryOutcome(Outcome):
    """An outcome computed from summaries; ``note`` says when and how it is approximate."""

    note: str = ""
    approximate: bool = False
    interval: tuple[float, float] | None = None


def is_summary(value: Any) -> bool:
    """True for a :class:`NumericSummary` (the in-memory engine then hands over)."""
    return isinstance(value, NumericSummary)


def compute(test: StatTest, ref: Any, cur: Any, threshold: float) -> Outcome:
    """``test`` on two columns, either of which may be a :class:`NumericSummary`."""
    ref_values = ref.values() if is_summary(ref) else ref
    cur_values = cur.values() if is_summary(cur) else cur
    if ref_values is not None and cur_values is not None:
        return test.compute(ref_values, cur_values)
    if test.name in ("chisquare", "z"):
        return test.compute(ref.per_value(), cur.per_value())
    if test.name == "ks":
        return _ks(ref, cur)
    if test.name == "wasserstein":
        return _wasserstein(ref, cur, threshold)
    return _binned(test, ref, cur)


# -- K-S -------------------------------------------------------------------------------


def _ks(ref: Any, cur: Any) -> SummaryOutcome:
    d = ks_distance(ref, cur)
    if d is None:
        from mlsec_gates.errors import ConfigError

        raise ConfigError(
            "method ks on two large columns needs both batches live in one engine (a stored "
            "profile keeps only a sketch of a large reference): use wasserstein, or --reference"
        )
    return SummaryOutcome(ks_p_value(d, ref.n, cur.n), d)


def ks_distance(ref: Any, cur: Any) -> float | None:
    """The exact two-sample K-S D, or None when the summaries cannot give it.

    From the merged CDFs of two live columns, or the sorted values of one side and live
    counts of the other.
    """
    import numpy as np

    ref_live, cur_live = getattr(ref, "live", None), getattr(cur, "live", None)
    if ref_live is not None and cur_live is not None:
        merged = ref_live.merged(cur_live)
        if merged is not None:
            return merged[0]
    for small, big in ((ref, cur), (cur, ref)):
        small_sorted = getattr(small, "sorted", None)
        if small_sorted is None or small.n > EXACT_VALUES or getattr(big, "live", None) is None:
            continue
        points, counts = np.unique(small_sorted, return_counts=True)
        lt, le = big.live.below(points)
        f_small = np.cumsum(counts) / small.n  # F_small at each point (right-continuous)
        f_small_before = f_small - counts / small.n
        diffs = np.concatenate(
            (
                f_small - np.asarray(le) / big.n,  # at each point
                f_small_before - np.asarray(lt) / big.n,  # just before it
            )
        )
        return float(np.max(np.abs(diffs)))
    return None


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Scipy's two-sided ``ks_2samp(method="auto")`` p-value for statistic ``d``."""
    import numpy as np
    from scipy.stats import distributions

    if max(n1, n2) <= EXACT_VALUES:
        from scipy.stats._stats_py import _attempt_exact_2kssamp

        g = math.gcd(n1, n2)
        success, _, prob = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
        if success:
            return float(np.clip(prob, 0, 1))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(distributions.kstwo.sf(d, np.round(en)), 0, 1))


# -- Wasserstein -----------------------------------------------------------------------


def _wasserstein(ref: Any, cur: Any, threshold: float) -> SummaryOutcome:
    std = max(ref.std, 0.001)
    ref_live, cur_live = getattr(ref, "live", None), getattr(cur, "live", None)
    if not (_has_quantiles(ref) and _has_quantiles(cur)):  # SQL: exact by push-down
        merged = ref_live.merged(cur_live) if ref_live and cur_live else None
        if merged is None:
            raise ValueError("Wasserstein needs quantiles or live data of both sides")
        return SummaryOutcome(merged[1] / std)
    low, high, estimate = wasserstein_interval(ref, cur)
    low, high, estimate = low / std, high / std, estimate / std
    if not low <= threshold <= high:
        note = f"from quantile sketches: the distance is in [{low:.4g}, {high:.4g}]"
        return SummaryOutcome(estimate, note=note, approximate=True, interval=(low, high))
    merged = ref_live.merged(cur_live) if ref_live is not None and cur_live is not None else None
    if merged is not None:
        return SummaryOutcome(
            merged[1] / std,
            note=f"exact (the sketch interval [{low:.4g}, {high:.4g}] held the threshold)",
        )
    return SummaryOutcome(
        estimate,
        note=f"APPROXIMATE: the distance is in [{low:.4g}, {high:.4g}], which holds the "
        "threshold; no live data for the exact value (rebuild the profile or use live data)",
        approximate=True,
        interval=(low, high),
    )


def _has_quantiles(side: Any) -> bool:
    return getattr(side, "sorted", None) is not None or getattr(side, "sketch", None) is not None


def wasserstein_interval(ref: Any, cur: Any) -> tuple[float, float, float]:
    """Bounds and estimate of the (unnormed) Wasserstein-1 distance of two columns.

    ``W = integral over u in [0, 1] of |Q_ref(u) - Q_cur(u)|``. On each grid cell
    ``[i/GRID, (i+1)/GRID]`` each side's true quantile lies between its sketch values
    ``a`` cells further out, where ``a = ceil(rank_error * GRID) + 1`` (the sketch value at
    ``p`` has a true rank within ``(p +- rank_error) * n``); summing the smallest and the
    largest possible ``|Q_ref - Q_cur|`` over the cells gives a guaranteed interval. Exact
    sides (all values at hand) have ``a = 0`` and only the grid's own width.
    """
    import numpy as np

    lo_r, hi_r, mid_r = _cell_bounds(ref)
    lo_c, hi_c, mid_c = _cell_bounds(cur)
    low = np.maximum(0.0, np.maximum(lo_r - hi_c, lo_c - hi_r))
    high = np.maximum(hi_r - lo_c, hi_c - lo_r)
    return float(low.mean()), float(high.mean()), float(np.abs(mid_r - mid_c).mean())


def _cell_bounds(side: Any) -> tuple[Any, Any, Any]:
    """Per grid cell: lowest and highest possible quantile, and the value at the middle."""
    import numpy as np

    sorted_values = getattr(side, "sorted", None)
    if sorted_values is not None:
        n = sorted_values.size
        p = np.arange(GRID + 1) / GRID
        low_idx = np.minimum(np.floor(p[:-1] * n).astype(np.int64), n - 1)
        high_idx = np.clip(np.ceil(p[1:] * n).astype(np.int64) - 1, 0, n - 1)
        mid_idx = np.minimum(np.floor((p[:-1] + 0.5 / GRID) * n).astype(np.int64), n - 1)
        return sorted_values[low_idx], sorted_values[high_idx], sorted_values[mid_idx]
    sketch = np.asarray(side.sketch, dtype=np.float64)
    a = math.ceil(side.rank_error * GRID - 1e-9) + 1 if side.rank_error > 0 else 0
    cells = np.arange(GRID)
    low = sketch[np.clip(cells - a, 0, GRID)]
    high = sketch[np.clip(cells + 1 + a, 0, GRID)]
    mid = (sketch[:-1] + sketch[1:]) / 2
    return low, high, mid


# -- binned tests (Jensen-Shannon, PSI) ------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """Just what :func:`sturges_edges` reads of a sorted array: ends and size."""

    first: float
    last: float
    size: int

    def __getitem__(self, index: int) -> float:
        return self.first if index == 0 else self.last


def _span(side: Any) -> _Span:
    if isinstance(side, NumericValues):
        return _Span(float(side.sorted[0]), float(side.sorted[-1]), side.n)
    return _Span(side.minimum, side.maximum, side.n)


def _binned(test: StatTest, ref: Any, cur: Any) -> SummaryOutcome:
    import numpy as np

    fill = test.name == "psi"
    if ref.nunique > BIN_VALUES:
        edges = sturges_edges(_span(ref), _span(cur), integer=ref.integer and cur.integer)
        r, r_note = _histogram(ref, edges)
        c, c_note = _histogram(cur, edges)
        ref_share, cur_share = r / ref.n, c / cur.n
        note = "; ".join(x for x in (r_note, c_note) if x)
    else:
        _, r, c = _keys(ref.per_value(), cur.per_value())
        ref_share, cur_share, note = r / ref.n, c / cur.n, ""
    if fill:
        for share in (ref_share, cur_share):
            smallest = share[share != 0].min()
            np.place(share, share == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    if test.name == "psi":
        statistic = float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))
    else:
        from scipy.spatial import distance

        statistic = float(distance.jensenshannon(ref_share, cur_share))
    return SummaryOutcome(statistic, note=note, approximate=bool(note))


def _histogram(side: Any, edges: Any) -> tuple[Any, str]:
    """Bin counts of one side: exact from values or live data, else from its sketch."""
    import numpy as np

    from mlsec_gates.gates.drift.stattests import histogram_counts

    if getattr(side, "sorted", None) is not None:
        return histogram_counts(side.sorted, edges).astype(np.float64), ""
    if getattr(side, "live", None) is not None:
        return np.asarray(side.live.histogram(edges), dtype=np.float64), ""
    error = side.rank_error + 1.0 / GRID
    p = np.arange(GRID + 1) / GRID
    cdf = np.interp(edges, side.sketch, p)
    cdf[0], cdf[-1] = 0.0, 1.0
    counts = np.diff(cdf) * side.n
    return counts, (
        f"APPROXIMATE: bins of the stored sketch (each cumulative share within +-{error:.2g})"
    )


def plot_histogram(ref: Any, cur: Any) -> dict[str, Any] | None:
    """:func:`~mlsec_gates.gates.drift.plots.histogram` for columns that may be summaries.

    Columns with value counts on both sides are drawn per value; others on the plot's equal
    bins, counted exactly (values or live data) or read off a stored sketch.
    """
    import numpy as np

    from mlsec_gates.gates.drift.plots import NUMERIC_BINS, histogram

    if ref.n == 0 or cur.n == 0:
        return None
    if isinstance(ref, CategoryCounts) or isinstance(cur, CategoryCounts):
        return histogram(ref, cur)
    ref_values = ref.values() if is_summary(ref) else ref
    cur_values = cur.values() if is_summary(cur) else cur
    if ref_values is not None and cur_values is not None:
        return histogram(ref_values, cur_values)
    few = [side.counts if is_summary(side) else None for side in (ref, cur)]
    if few[0] is not None and few[1] is not None and max(ref.nunique, cur.nunique) <= 12:
        return histogram(few[0], few[1])
    low = min(_span(ref).first, _span(cur).first)
    high = max(_span(ref).last, _span(cur).last)
    edges = np.linspace(low, high, NUMERIC_BINS + 1)
    ref_share = _histogram(ref, edges)[0] / ref.n
    cur_share = _histogram(cur, edges)[0] / cur.n
    return {
        "labels": [f"{edges[i]:.4g}" for i in range(NUMERIC_BINS)],
        "reference": [round(float(v), 5) for v in ref_share],
        "current": [round(float(v), 5) for v in cur_share],
        "range": [float(low), float(high)],
    }
