"""How much room a derived suite leaves around what the reference showed, from sampling.

A suite profiled from ``n`` reference rows is applied to later batches of the same
population. Every bound it writes is a statement about the *population*, estimated from a
sample, so each is widened by what sampling alone can explain, with one budget for the
whole suite: ``false_alarm_rate`` (default 1 %) is the chance that a clean batch fails any
statistical check, split evenly over the suite's ``T`` checks (Bonferroni):
``alpha = false_alarm_rate / T`` per check.

Ranges (numbers and timestamps), per side. Beyond the largest reference value the tail is
modelled as exponential with scale ``beta``, estimated from the spacings of the top decile
(``k = max(1, n // 10)``, ``H_k`` the k-th harmonic number; the maximum-likelihood scale of
an exponential tail, which over-estimates the scale of lighter tails: safe; when the whole
decile is one repeated value, ``k`` reaches down to the first value below it)::

    beta = (x[n] - x[n-k]) / H_k

Of ``m`` new values, about ``m / (n + 1)`` exceed the reference maximum (exchangeability),
and by the exponential model each exceeds it by more than ``t`` with chance ``exp(-t / beta)``.
So a batch stays below ``x[n] + t`` with chance at least ``1 - alpha`` when::

    t = beta * ln(m / ((n + 1) * alpha))

with ``m`` the largest batch the row-count check lets through. The same is done on the
logarithm of strictly positive columns (a Pareto tail, where the linear model is too tight)
and the wider of the two bounds is kept. A column never negative in the reference keeps 0
as its floor: a negative count or price is a sign flip or a sentinel, not a tail.

Null rates. Given ``k`` nulls among ``n`` reference rows and ``c`` among ``m`` batch rows of
the same population, the batch's part of all ``k + c`` nulls is binomial with share
``s = m / (n + m)`` (the exact conditional two-sample test). The suite allows the largest
``c`` for which ``P(Binomial(k + c, s) >= c) > alpha``, at the smallest batch the row-count
check lets through; ``mostly`` is ``1 - c / m``. A column with no null in the reference then
still allows a few (``c`` is about ``ln(alpha) / ln(s)``: 8-9 rows), so a rare null is not a
finding, while a burst from a failed join (tens of percent) is.

Closed value sets. The Good-Turing estimate of the chance that the next row carries a value
the reference never showed is ``N1 / n`` (``N1``: values seen exactly once), and values seen
only a few times are the visible part of a tail of rarer ones the reference missed. A value
set is written only when every value was seen at least :data:`MIN_VALUE_COUNT` (5) times, a
gap in the counts that says the set is closed; otherwise a legitimate unseen value is likely
and the column gets no closed set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: Fewest times each value must have been seen for a closed value set.
MIN_VALUE_COUNT = 5
#: Share of the sample whose top spacings estimate a tail's scale (the top decile).
TAIL_SHARE = 0.1


@dataclass(frozen=True)
class Bounds:
    """A range and how it was derived (for the suite's comment)."""

    low: float
    high: float
    scale_low: float
    scale_high: float
    """The tail scales ``beta`` of each side (in the column's units)."""
    margin_low: float
    margin_high: float
    """The distance added beyond the seen minimum and maximum."""


def tail_points(n: int) -> int:
    """``k``: how many top spacings estimate a tail's scale (1 for tiny samples)."""
    return max(1, int(n * TAIL_SHARE))


def _harmonic(k: int) -> float:
    if k > 100:  # Euler-Maclaurin: exact to 1e-10 here
        return math.log(k) + 0.5772156649015329 + 1 / (2 * k) - 1 / (12 * k * k)
    return sum(1.0 / i for i in range(1, k + 1))


def tail_scale(sorted_values: list[float], *, upper: bool) -> float:
    """``beta`` of one tail: the mean top spacing, weighted as an exponential tail's."""
    n = len(sorted_values)
    if n < 2:
        return 0.0
    k = min(tail_points(n), n - 1)
    edge = sorted_values[-1] if upper else sorted_values[0]
    inner = (lambda i: sorted_values[-1 - i]) if upper else (lambda i: sorted_values[i])
    if inner(k) == edge:
        # The whole top decile is one value (bedrooms 1-5, with 5 common): reach down to the
        # first value below it, so a discrete column still has a tail above its maximum.
        import bisect

        if upper:
            k = n - bisect.bisect_left(sorted_values, edge)
        else:
            k = bisect.bisect_right(sorted_values, edge)
        if k >= n:
            return 0.0  # a constant column
    return abs(edge - inner(k)) / _harmonic(k)


def tail_margin(scale: float, n: int, batch: int, alpha: float) -> float:
    """``t``: how far beyond the seen extreme a clean batch of ``batch`` values stays."""
    exceed = batch / (n + 1)  # expected batch values beyond the reference extreme
    return scale * max(0.0, math.log(exceed / alpha)) if scale > 0 else 0.0


def range_bounds(sorted_values: list[float], *, batch: int, alpha: float) -> Bounds:
    """The range a clean batch stays within, with chance ``1 - alpha`` per side.

    ``sorted_values`` are the reference's finite values in increasing order; ``batch`` the
    most values a batch may have.
    """
    n = len(sorted_values)
    lo_seen, hi_seen = sorted_values[0], sorted_values[-1]
    s_lo = tail_scale(sorted_values, upper=False)
    s_hi = tail_scale(sorted_values, upper=True)
    t_lo = tail_margin(s_lo, n, batch, alpha)
    t_hi = tail_margin(s_hi, n, batch, alpha)
    low, high = lo_seen - t_lo, hi_seen + t_hi
    if lo_seen > 0:  # a Pareto-like tail: the same model on the log scale, keep the wider
        logs = [math.log(v) for v in sorted_values]
        g_lo = tail_margin(tail_scale(logs, upper=False), n, batch, alpha)
        g_hi = tail_margin(tail_scale(logs, upper=True), n, batch, alpha)
        high = max(high, math.exp(min(logs[-1] + g_hi, 700.0)))
        low = min(low, math.exp(logs[0] - g_lo))
    if lo_seen >= 0:
        low = max(low, 0.0)
    return Bounds(low, high, s_lo, s_hi, lo_seen - low, high - hi_seen)


def null_share_bound(nulls: int, rows: int, *, batch: int, alpha: float) -> float:
    """Largest null share a clean batch of ``batch`` rows shows, with chance ``1 - alpha``."""
    m = max(1, batch)
    share = m / (rows + m)
    low, high = 0, m  # invariant: low nulls pass; find the largest that does
    if _upper_tail(nulls + high, high, share) > alpha:
        return 1.0
    while high - low > 1:
        mid = (low + high) // 2
        if _upper_tail(nulls + mid, mid, share) > alpha:
            low = mid
        else:
            high = mid
    return low / m


def _upper_tail(trials: int, k: int, p: float) -> float:
    """P(Binomial(trials, p) >= k): exact up to 2,000 trials, else normal (continuity)."""
    if k <= 0:
        return 1.0
    if trials > 2000:
        mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
        return 1 - NormalDist(mean, sd).cdf(k - 0.5) if sd > 0 else float(k <= mean)
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(trials + 1)
        - math.lgamma(i + 1)
        - math.lgamma(trials - i + 1)
        + i * log_p
        + (trials - i) * log_q
        for i in range(k, trials + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def closed_set_ok(counts: list[int]) -> bool:
    """True when every value was seen at least :data:`MIN_VALUE_COUNT` times."""
    return bool(counts) and min(counts) >= MIN_VALUE_COUNT


def per_check_alpha(false_alarm_rate: float, checks: int) -> float:
    """Bonferroni share of the suite's budget for one check."""
    return false_alarm_rate / max(1, checks)
