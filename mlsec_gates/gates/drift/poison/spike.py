"""Value x label spike: a feature value that suddenly comes with one label far too often.

A dirty-label backdoor plants a trigger value (rare, or an in-bounds one such as the median)
in rows relabelled to the target class. Per (feature, cell, label) the current count is
compared with the reference's: cells are the reference's deciles of each numeric feature
and every exact value (numeric point masses, categories) seen at least
:data:`MIN_COUNT` times in the current batch. A decile cell is an excess when the exact
two-sample test (which accounts for the reference's own noise) rejects at the Bonferroni
level; so is an exact-value cell of a value the reference has. For a value the reference
has at most once, two tests must agree at the Bonferroni level: a Poisson test against the
reference rate (smoothed by half a row, so a new value still has an expected count) and the
two-sample test (a looser two-sample level raised clean-batch alarms on data whose exact
values repeat by nature).

Rows in the excess cell of a *planted* value (new to the reference, or more frequent over
all labels, not just relabelled) are candidates, with the cell's local false-discovery rate
(expected over observed rows) as their p-value; decile cells and relabelled values only
raise the batch alarm (their rows are label consistency's to judge).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlsec_gates.gates.drift.poison.outcome import DetectorOutcome, Suspect
from mlsec_gates.gates.drift.poison.stats import poisson_upper, two_sample_count_p

NAME = "value_label_spike"
#: Smallest current count of a cell worth testing.
MIN_COUNT = 3
#: Exact values kept per feature in the reference profile (most frequent first).
MAX_VALUES = 1000
_QUANTILES = np.linspace(0.1, 0.9, 9)
_BINS = _QUANTILES.shape[0] + 2  # deciles, plus one bin for missing values


def profile(
    x_num: np.ndarray, x_cat: np.ndarray, y: np.ndarray, n_classes: int
) -> dict[str, np.ndarray]:
    """Reference counts per decile and per frequent exact value, split by label."""
    d_num = x_num.shape[1]
    edges = np.full((d_num, _QUANTILES.shape[0]), np.nan)
    bin_counts = np.zeros((d_num, _BINS, n_classes), dtype=np.int64)
    for j in range(d_num):
        col = x_num[:, j]
        finite = col[~np.isnan(col)]
        if finite.size:
            uniq = np.unique(np.quantile(finite, _QUANTILES))
            edges[j, : uniq.shape[0]] = uniq
        bins = _bin(col, edges[j])
        np.add.at(bin_counts[j], (bins, y), 1)
    values, counts, offsets, bounds = [], [], [0], []
    for col in _columns(x_num, x_cat):
        uniq, inverse = np.unique(col, return_inverse=True)
        per_label = np.zeros((uniq.shape[0], n_classes), dtype=np.int64)
        np.add.at(per_label, (inverse.ravel(), y), 1)
        totals = per_label.sum(axis=1)
        order = np.lexsort((uniq, -totals))
        keep = np.sort(order[:MAX_VALUES])
        bounds.append(int(totals[order[MAX_VALUES]]) if order.shape[0] > MAX_VALUES else 0)
        values.append(uniq[keep])
        counts.append(per_label[keep])
        offsets.append(offsets[-1] + keep.shape[0])
    return {
        "spike_edges": edges,
        "spike_bin_counts": bin_counts,
        "spike_values": np.concatenate(values) if values else np.zeros(0),
        "spike_value_counts": np.concatenate(counts)
        if counts
        else np.zeros((0, n_classes), np.int64),
        "spike_value_offsets": np.asarray(offsets, dtype=np.int64),
        "spike_value_bound": np.asarray(bounds, dtype=np.int64),
    }


def _columns(x_num: np.ndarray, x_cat: np.ndarray) -> list[np.ndarray]:
    """Every feature as a float column (categorical codes as numbers; NaN kept)."""
    return [x_num[:, j] for j in range(x_num.shape[1])] + [
        x_cat[:, j].astype(np.float64) for j in range(x_cat.shape[1])
    ]


def _bin(col: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Decile bin of each value; missing values in the last bin."""
    edges = edges[~np.isnan(edges)]
    bins = np.searchsorted(edges, col, side="right")
    bins[np.isnan(col)] = _BINS - 1
    return bins


class ValueLabelSpike:
    """Feature values over-represented with one label, compared with the reference."""

    name = NAME
    weight = 1

    def run(self, ctx: Any, alpha: float) -> DetectorOutcome:
        """Test every (feature, cell, label) cell; flag rows of the excess cells."""
        ref, cur = ctx.ref, ctx.current
        arrays = ref.arrays
        n_classes = len(ref.encoder.classes)
        known = cur.y >= 0
        y = cur.y[known]
        n_cur = int(known.sum())
        columns = _columns(cur.x_num[known], cur.x_cat[known])
        d_num = cur.x_num.shape[1]
        # One entry per tested cell: feature, kind ("bin" or "value"), cell key, label.
        cells: list[tuple[int, str, float, int]] = []
        k_cur: list[np.ndarray] = []
        k_ref: list[np.ndarray] = []
        new_value: list[np.ndarray] = []  # per cell: the reference has the value at most once
        value_rows: list[
            np.ndarray
        ] = []  # per value cell: rows with the value, any label (cur, ref)
        tests = 0
        for j in range(d_num):
            edges = arrays["spike_edges"][j]
            tests += (int(np.sum(~np.isnan(edges))) + 2) * n_classes
            counts = np.zeros((_BINS, n_classes), dtype=np.int64)
            np.add.at(counts, (_bin(columns[j], edges), y), 1)
            b, c = np.nonzero(counts >= MIN_COUNT)
            cells += [(j, "bin", float(bi), int(ci)) for bi, ci in zip(b, c, strict=True)]
            k_cur.append(counts[b, c])
            k_ref.append(arrays["spike_bin_counts"][j][b, c])
            new_value.append(np.zeros(b.shape[0], dtype=bool))
            value_rows.append(np.zeros((b.shape[0], 2), dtype=np.int64))
        offsets = arrays["spike_value_offsets"]
        for j, col in enumerate(columns):
            uniq, inverse = np.unique(col, return_inverse=True)
            per_label = np.zeros((uniq.shape[0], n_classes), dtype=np.int64)
            np.add.at(per_label, (inverse.ravel(), y), 1)
            v, c = np.nonzero(per_label >= MIN_COUNT)
            if j >= d_num and _truncated(ref.encoder, j - d_num):
                # The "other" code of a high-cardinality category (timestamps, ids, free
                # text) holds every value the reference's top categories miss: a batch has
                # more of them by nature, and no single planted value hides in it.
                keep = uniq[v] >= 0
                v, c = v[keep], c[keep]
            if not v.size:
                continue
            tests += v.size
            stored = arrays["spike_values"][offsets[j] : offsets[j + 1]]
            stored_counts = arrays["spike_value_counts"][offsets[j] : offsets[j + 1]]
            pos = np.minimum(np.searchsorted(stored, uniq[v]), max(0, stored.shape[0] - 1))
            hit = (stored.shape[0] > 0) & (
                (stored[pos] == uniq[v]) | (np.isnan(stored[pos]) & np.isnan(uniq[v]))
                if stored.shape[0]
                else np.zeros(v.shape[0], dtype=bool)
            )
            ref_counts = np.where(
                hit, stored_counts[pos, c] if stored.shape[0] else 0, arrays["spike_value_bound"][j]
            )
            totals = np.where(
                hit,
                stored_counts[pos].sum(axis=1) if stored.shape[0] else 0,
                arrays["spike_value_bound"][j],
            )
            cells += [(j, "value", float(uniq[vi]), int(ci)) for vi, ci in zip(v, c, strict=True)]
            k_cur.append(per_label[v, c])
            k_ref.append(ref_counts)
            new_value.append(totals <= 1)
            value_rows.append(np.stack([per_label[v].sum(axis=1), totals], axis=1))
        k_cur_a = np.concatenate(k_cur).astype(np.float64) if k_cur else np.zeros(0)
        k_ref_a = np.concatenate(k_ref).astype(np.float64) if k_ref else np.zeros(0)
        level = alpha / max(1, tests)
        expected = (k_ref_a + 0.5) * n_cur / ref.n_rows
        p_pois = poisson_upper(k_cur_a, expected)
        p_cond = two_sample_count_p(k_cur_a, k_ref_a, n_cur / (n_cur + ref.n_rows))
        is_new = np.concatenate(new_value) if new_value else np.zeros(0, dtype=bool)
        is_bin = np.asarray([kind == "bin" for _, kind, _, _ in cells], dtype=bool)
        # Cells the reference knows: the exact two-sample test alone decides. A value the
        # reference (almost) never had: the smoothed Poisson test and the two-sample test must
        # both reject (the two-sample test alone at a looser level raised clean-batch alarms
        # on ratios and counts whose exact values repeat by nature: 7-11 % of clean batches).
        combined = np.where(is_new, np.maximum(p_pois, p_cond), p_cond)
        p_batch = float(min(1.0, combined.min() * tests)) if combined.size else 1.0
        excess = np.nonzero(combined <= level)[0]
        # Did the value itself become more frequent (a planted value), or did only its label
        # change (flips, which the label-consistency detector handles)?
        totals_a = np.concatenate(value_rows) if value_rows else np.zeros((0, 2), np.int64)
        planted = ~is_bin & (
            two_sample_count_p(totals_a[:, 0], totals_a[:, 1], n_cur / (n_cur + ref.n_rows))
            <= level
        )
        excess = excess[np.argsort(combined[excess], kind="stable")]
        rows = np.nonzero(known)[0]
        row_scores: dict[int, list[float]] = {}
        row_reasons: dict[int, list[str]] = {}
        report = []
        for i in excess:
            j, kind, key, c = cells[i]
            col = columns[j]
            if kind == "bin":
                in_cell = (_bin(col, arrays["spike_edges"][j]) == int(key)) & (y == c)
                text = _bin_text(arrays["spike_edges"][j], int(key))
            else:
                same = np.isnan(col) if np.isnan(key) else col == key
                in_cell = same & (y == c)
                text = _value_text(ref.encoder, j, d_num, key)
            feature, label = ref.encoder.features[j], ref.encoder.classes[c]
            reason = (
                f"{feature}={text} with label {label!r} in {int(k_cur_a[i])} rows "
                f"({expected[i]:.1f} expected)"
            )
            report.append(
                {
                    "feature": feature,
                    "cell": text,
                    "label": label,
                    "rows": int(k_cur_a[i]),
                    "expected": round(float(expected[i]), 2),
                    "p_value": float(p_pois[i]),
                }
            )
            # Only the cells of a planted value (new to the reference, or more frequent over
            # all labels) name rows: a row there is clean with chance about expected / rows,
            # the cell's local false-discovery rate. Decile cells and relabelled values only
            # raise the batch alarm; their rows are label-consistency's to judge.
            if not (is_new[i] or planted[i]):
                continue
            lfdr = float(min(1.0, expected[i] / k_cur_a[i]))
            for local in np.nonzero(in_cell)[0]:
                row = int(rows[local])
                row_scores.setdefault(row, []).append(lfdr)
                row_reasons.setdefault(row, []).append(reason)
        suspects = tuple(
            Suspect(
                row,
                float(1.0 - min(scores)),
                " | ".join(row_reasons[row][:3]),
                NAME,
                p=float(min(scores)),
            )
            for row, scores in row_scores.items()
        )
        top = (
            f": {report[0]['feature']}={report[0]['cell']} with label {report[0]['label']!r} in "
            f"{report[0]['rows']} rows ({report[0]['expected']:.1f} expected)"
            if report
            else ""
        )
        summary = (
            f"{excess.size} feature value(s) come with one label far more often than in the "
            f"reference{top}; {len(suspects)} rows listed as suspects"
        )
        details = {"cells_tested": tests, "excess_cells": report[:20]}
        return DetectorOutcome(NAME, p_batch, alpha, bool(excess.size), summary, suspects, details)


def _truncated(encoder: Any, j: int) -> bool:
    """True when the categorical column kept only its most frequent categories."""
    from mlsec_gates.gates.drift.poison.encoding import MAX_CATEGORIES

    return len(encoder.categories[j]) >= MAX_CATEGORIES


def _bin_text(edges: np.ndarray, b: int) -> str:
    """Readable decile bin, e.g. ``[3.2, 4.1)``."""
    edges = edges[~np.isnan(edges)]
    if b == _BINS - 1:
        return "missing"
    lo = f"{edges[b - 1]:.4g}" if b > 0 else "-inf"
    hi = f"{edges[b]:.4g}" if b < edges.shape[0] else "inf"
    return f"[{lo}, {hi})"


def _value_text(encoder: Any, j: int, d_num: int, value: float) -> str:
    """A numeric value, or the category behind a code."""
    if j < d_num:
        return "missing" if np.isnan(value) else f"{value:.6g}"
    code = int(value)
    return repr(encoder.categories[j - d_num][code]) if code >= 0 else "other/missing"
