"""How much room a derived suite leaves around what the reference showed, from sampling.

A suite profiled from ``n`` reference rows is applied to later batches of the same
population. Every bound it writes is a statement about the *population*, estimated from a
sample, so each is widened by what sampling alone can explain, with one budget for the
whole suite: ``false_alarm_rate`` (default 1 %) is the chance that a clean batch fails any
statistical check, split evenly over the suite's ``T`` checks (Bonferroni):
``alpha = false_alarm_rate / T`` per check.

Ranges (numbers and timestamps), per side: a peaks-over-threshold model. The threshold ``u``
is the ``(k+1)``-th largest of the ``n`` reference values (``k = max(1, n // 10)``, the top
decile); its exceedances are the ``k`` values strictly above it (when ties at ``u`` leave
fewer than ``min(k, 10)``, ``u`` moves down to the next smaller distinct value, so a count
still has a tail). A new value exceeds ``u`` with chance ``(k + 1) / (n + 1)``
(exchangeability), so about ``r = m (k + 1) / (n + 1)`` of a batch of ``m`` values do. Two
models of the excesses over ``u`` are fitted, and the wider bound is kept:

- exponential, with the scale estimated (``S``: the sum of the ``k`` excesses, ``beta = S /
  k`` its maximum-likelihood value). An excess ``Y`` then has ``Y k / S ~ F(2, 2k)``, that is
  ``P(Y > t) = (1 + t / S) ** -k`` exactly, and the union bound over the batch gives::

      t = S * ((r / alpha) ** (1 / k) - 1)     # ~ beta * ln(r / alpha) for large k

- generalized Pareto (the limit law of excesses over a high threshold), shape ``xi`` and
  scale ``sigma`` by maximum likelihood (scipy), when the tail is heavy (``xi > 0``: incomes,
  populations, amounts, zero-inflated or not) and at least 10 values exceed ``u``::

      t = sigma / xi * ((r / alpha) ** xi - 1)

The bound is ``u + t``, never below the seen extreme, with ``m`` the largest batch the
row-count check lets through: a clean batch crosses it with chance at most ``alpha``. The lower
side is the same on the mirrored values.

Sign floor. A column never negative in the reference keeps 0 as its floor only when the
reference is evidence that 0 is a wall, not where a tail happened to stop: the exponential
lower-tail model (threshold ``u`` and ``S`` of the smallest values) puts
``lambda = n (k + 1) / (n + 1) * (1 + u / S) ** -k`` of the reference's values below 0, and
none was there. When ``exp(-lambda) <= alpha`` (a pile of zeros, values crowding 0) the floor
is 0; otherwise the tail models' bound stands, and a rare genuine negative (a loss, a log
below 0) passes.

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
and the column gets no closed set. Text columns without one get the same rule applied to the
values' *shapes* (:mod:`.shape`): a closed set of forms when every form was seen at least
:data:`MIN_VALUE_COUNT` times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: Fewest times each value must have been seen for a closed value set.
MIN_VALUE_COUNT = 5
#: Share of the sample above a tail's threshold (the top decile).
TAIL_SHARE = 0.1
#: Fewest exceedances for a generalized Pareto fit (below, the exponential model alone),
#: and for a threshold at an atom of tied values (below, it moves past the atom).
MIN_GPD_POINTS = MIN_TAIL_POINTS = 10


@dataclass(frozen=True)
class Bounds:
    """A range and how it was derived (for the suite's comment)."""

    low: float
    high: float
    scale_low: float
    scale_high: float
    """The tail scales ``beta`` of each side (on the scale of that side's model)."""
    margin_low: float
    margin_high: float
    """The distance added beyond the seen minimum and maximum."""
    model_low: str = "linear"
    model_high: str = "linear"
    """Which tail model set each side: ``linear`` (exponential), ``gpd`` (generalized Pareto)
    or ``floor`` (0, for a column never negative)."""
    floor_evidence: float = 0.0
    """For a column never negative: how many reference values the lower tail model expected
    below 0 (``lambda``); the floor 0 is kept when ``exp(-lambda) <= alpha``."""


@dataclass(frozen=True)
class Tail:
    """An exponential tail fitted to the ``k`` values beyond a threshold, on one scale."""

    threshold: float
    k: int
    excess: float
    """``S``: the sum of the ``k`` excesses over the threshold."""

    @property
    def scale(self) -> float:
        """``beta = S / k``: the maximum-likelihood scale."""
        return self.excess / self.k if self.k else 0.0

    def reach(self, n: int, batch: int, alpha: float) -> float:
        """``t``: how far beyond the threshold a clean batch stays, with chance ``1 - alpha``."""
        if self.excess <= 0 or self.k == 0:
            return 0.0
        expected = batch * (self.k + 1) / (n + 1)  # batch values beyond the threshold
        if expected <= alpha:
            return 0.0
        return self.excess * math.expm1(math.log(expected / alpha) / self.k)

    def expected_beyond(self, n: int, distance: float) -> float:
        """How many of ``n`` values the model puts more than ``distance`` beyond the threshold."""
        if self.excess <= 0:
            return 0.0
        share = (self.k + 1) / (n + 1)  # of values beyond the threshold (exchangeability)
        return n * share * math.exp(-self.k * math.log1p(distance / self.excess))


def gpd_reach(excesses: list[float], expected: float, alpha: float) -> float:
    """``t`` under a generalized Pareto tail, or ``-inf`` when the tail is not heavy.

    ``excesses`` are the values above the threshold minus the threshold; ``expected`` is how
    many batch values exceed the threshold. The shape ``xi`` and scale ``sigma`` are scipy's
    maximum-likelihood fit (location 0); a light or bounded tail (``xi <= 0``) is left to the
    exponential model, which is then the wider one.
    """
    from scipy import stats

    if len(excesses) < MIN_GPD_POINTS or expected <= alpha or max(excesses) <= 0:
        return -math.inf
    xi, _, sigma = stats.genpareto.fit(excesses, floc=0)
    if not (xi > 1e-6 and sigma > 0 and math.isfinite(xi)):
        return -math.inf
    return sigma / xi * math.expm1(min(xi * math.log(expected / alpha), 700.0))


def tail_points(n: int) -> int:
    """``k``: how many values beyond the threshold fit a tail (1 for tiny samples)."""
    return max(1, int(n * TAIL_SHARE))


def fit_tail(top: list[float]) -> Tail:
    """The exponential tail of ``top``: the largest values, increasing, threshold first."""
    threshold, above = top[0], top[1:]
    return Tail(threshold, len(above), math.fsum(v - threshold for v in above))


def _top(sorted_values: list[float]) -> list[float]:
    """The threshold and the values strictly above it, increasing.

    The threshold is the ``(k+1)``-th largest value (``k`` from :func:`tail_points`): a
    peaks-over-threshold fit counts exceedances, and a value equal to the threshold is none.
    When ties at the threshold (an atom: a scale's floor, a common round price) leave fewer
    than ``min(k, MIN_TAIL_POINTS)`` values strictly above it, the threshold moves down to the
    next smaller distinct value, so that a discrete column (counts, bedrooms) still has a tail.
    """
    import bisect

    n = len(sorted_values)
    k = min(tail_points(n), n - 1)
    threshold = sorted_values[-1 - k]
    start = bisect.bisect_right(sorted_values, threshold)
    if n - start < min(k, MIN_TAIL_POINTS):
        below = bisect.bisect_left(sorted_values, threshold)
        if below > 0:
            threshold, start = sorted_values[below - 1], below
    return [threshold, *sorted_values[start:]]


def _side(sorted_values: list[float], n: int, batch: int, alpha: float) -> tuple[float, float, str]:
    """The bound beyond the largest of ``sorted_values``: (bound, scale, model).

    The exponential tail (``linear``) and the generalized Pareto tail (``gpd``: heavy tails,
    as incomes, populations and amounts have, zero-inflated or not) are both fitted to the
    same exceedances, and the wider bound is kept: a tail too heavy for the exponential model
    is exactly what fails clean batches.
    """
    top = _top(sorted_values)
    linear = fit_tail(top)
    bound = max(top[-1], linear.threshold + linear.reach(n, batch, alpha))
    scale, model = linear.scale, "linear"
    if linear.excess > 0:
        expected = batch * (linear.k + 1) / (n + 1)
        heavy = linear.threshold + gpd_reach([v - top[0] for v in top[1:]], expected, alpha)
        if heavy > bound:
            bound, model = heavy, "gpd"
    return bound, scale, model


def range_bounds(sorted_values: list[float], *, batch: int, alpha: float) -> Bounds:
    """The range a clean batch stays within, with chance ``1 - alpha`` per side.

    ``sorted_values`` are the reference's finite values in increasing order; ``batch`` the
    most values a batch may have.
    """
    n = len(sorted_values)
    lo_seen, hi_seen = sorted_values[0], sorted_values[-1]
    high, s_hi, m_hi = _side(sorted_values, n, batch, alpha)
    mirrored = [-v for v in reversed(sorted_values)]
    neg_low, s_lo, m_lo = _side(mirrored, n, batch, alpha)
    low = -neg_low
    evidence = 0.0
    if lo_seen >= 0 and low < 0:
        # Is 0 a wall? The exponential lower tail, fitted to the smallest values, says how
        # many of the n reference values it expected below 0; there were none. Only when that
        # was unlikely at the check's level (exp(-lambda) <= alpha) does the floor 0 overrule
        # the tail models.
        tail = fit_tail(_top(mirrored))
        evidence = tail.expected_beyond(n, -tail.threshold)  # mirrored: 0 is -threshold away
        if math.exp(-evidence) <= alpha:
            low, m_lo = 0.0, "floor"
    return Bounds(low, high, s_lo, s_hi, lo_seen - low, high - hi_seen, m_lo, m_hi, evidence)


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
