"""Small statistical helpers shared by the detectors (exact tails, multiple testing)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def poisson_upper(k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ Poisson(mean), elementwise."""
    return np.asarray(stats.poisson.sf(np.asarray(k) - 1, mean), dtype=np.float64)


def binomial_upper(k: np.ndarray, n: np.ndarray, p: float | np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ Binomial(n, p), elementwise."""
    return np.asarray(stats.binom.sf(np.asarray(k) - 1, n, p), dtype=np.float64)


def two_sample_count_p(k_cur: np.ndarray, k_ref: np.ndarray, share_cur: float) -> np.ndarray:
    """Exact conditional test that a cell is more frequent in the current batch.

    Given ``k_cur + k_ref`` rows in a cell, under "same rate in both batches" the current
    batch's count is Binomial(total, share of current rows). Accounts for the reference's own
    sampling noise, which a Poisson test against the reference rate ignores.
    """
    k_cur = np.asarray(k_cur)
    return binomial_upper(k_cur, k_cur + np.asarray(k_ref), share_cur)


def bh_qvalues(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values: rejecting every row with q <= a keeps the FDR at a."""
    m = pvalues.shape[0]
    if m == 0:
        return np.zeros(0)
    order = np.argsort(pvalues, kind="stable")
    ranked = pvalues[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return out


def bonferroni(pvalues: np.ndarray) -> float:
    """The Bonferroni-adjusted minimum p-value of a family (1.0 for an empty family)."""
    if pvalues.size == 0:
        return 1.0
    return float(min(1.0, np.nanmin(pvalues) * pvalues.size))
