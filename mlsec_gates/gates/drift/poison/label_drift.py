"""Batch-level label tests: the label distribution, and each class's feature distributions.

Flipping labels moves the class prior when flips are not balanced (targeted flips always);
relabelling rows of one class into another also makes the receiving class look like the
giving one, which a per-class, per-feature two-sample test sees. Neither names rows: they are
batch alarms that back up the row detectors, and on weak-signal data the label distribution is
often the only visible trace of flips.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mlsec_gates.gates.drift.poison.outcome import DetectorOutcome

#: Fewest rows of a class, in each batch, for its class-conditional tests.
MIN_CLASS_ROWS = 20


class LabelDistribution:
    """Chi-squared test of the current label counts against the reference's."""

    name = "label_distribution"
    weight = 1

    def run(self, ctx: Any, alpha: float) -> DetectorOutcome:
        """Contingency test of reference vs current label counts (unseen labels included)."""
        ref, cur = ctx.ref, ctx.current
        n_classes = len(ref.encoder.classes)
        ref_counts = ref.arrays["label_counts"].astype(np.float64)
        cur_counts = np.bincount(cur.y[cur.y >= 0], minlength=n_classes).astype(np.float64)
        unseen = float(np.sum(cur.y == -1))
        table = np.vstack([np.append(ref_counts, 0.0), np.append(cur_counts, unseen)])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2 or table[1].sum() == 0:
            p = 1.0
        else:
            _stat, p, _, _ = stats.chi2_contingency(table, correction=False)
            p = float(p)
        prior = ref_counts / ref_counts.sum()
        now = cur_counts / max(1.0, cur_counts.sum() + unseen)
        moved = {
            c: {"reference": round(float(prior[i]), 4), "current": round(float(now[i]), 4)}
            for i, c in enumerate(ref.encoder.classes)
        }
        moved_most = max(
            moved.items(), key=lambda kv: abs(kv[1]["current"] - kv[1]["reference"]), default=None
        )
        summary = (
            "label shares "
            + (
                f"changed most for {moved_most[0]!r}: {moved_most[1]['reference']:.0%} in the "
                f"reference, {moved_most[1]['current']:.0%} here"
                if moved_most
                else "unchanged"
            )
            + (f"; {int(unseen)} rows with labels the reference never had" if unseen else "")
        )
        details = {"classes": moved, "unseen_label_rows": int(unseen)}
        return DetectorOutcome(self.name, p, alpha, p <= alpha, summary, (), details)


class ClassConditional:
    """Per class and feature, KS (numeric) or chi-squared (categorical) vs the reference."""

    name = "class_conditional"
    weight = 1

    def run(self, ctx: Any, alpha: float) -> DetectorOutcome:
        """Test P(feature | class) against the reference sample, Bonferroni over all tests."""
        ref, cur = ctx.ref, ctx.current
        sample = ref.sample
        d_num = sample.x_num.shape[1]
        results = []
        for c, name in enumerate(ref.encoder.classes):
            in_ref, in_cur = sample.y == c, cur.y == c
            if in_ref.sum() < MIN_CLASS_ROWS or in_cur.sum() < MIN_CLASS_ROWS:
                continue
            for j in range(d_num):
                a = sample.x_num[in_ref, j]
                b = cur.x_num[in_cur, j]
                a, b = a[~np.isnan(a)], b[~np.isnan(b)]
                if a.size < MIN_CLASS_ROWS or b.size < MIN_CLASS_ROWS:
                    continue
                p = float(stats.ks_2samp(a, b, method="asymp").pvalue)
                results.append((p, ref.encoder.features[j], name))
            for j in range(sample.x_cat.shape[1]):
                a = sample.x_cat[in_ref, j] + 1
                b = cur.x_cat[in_cur, j] + 1
                size = int(max(a.max(), b.max())) + 1
                table = np.vstack([np.bincount(a, minlength=size), np.bincount(b, minlength=size)])
                table = table[:, table.sum(axis=0) > 0]
                if table.shape[1] < 2:
                    continue
                p = float(stats.chi2_contingency(table, correction=False)[1])
                results.append((p, ref.encoder.features[d_num + j], name))
        tests = len(results)
        pvalues = np.asarray([r[0] for r in results])
        p_batch = float(min(1.0, pvalues.min() * tests)) if tests else 1.0
        worst = sorted(results)[:5]
        summary = (
            f"rows labelled {worst[0][2]!r} differ from the reference's {worst[0][2]!r} rows in "
            f"feature {worst[0][1]!r} (one of {tests} per-class comparisons)"
            if worst
            else "no class could be compared (too few rows per class)"
        )
        details = {
            "tests": tests,
            "most_shifted": [{"feature": f, "label": c, "p_value": p} for p, f, c in worst],
        }
        return DetectorOutcome(self.name, p_batch, alpha, p_batch <= alpha, summary, (), details)
