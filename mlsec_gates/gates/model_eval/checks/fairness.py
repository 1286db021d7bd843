"""Fairness: the model's selection rate and error rates per sensitive group (fairlearn).

For each sensitive column, and for their combinations (intersectional groups), fairlearn's
``MetricFrame`` gives per group the row count, accuracy, selection rate (share predicted
positive), true- and false-positive rate. Between the groups large enough to judge:

- demographic-parity ratio (lowest selection rate / highest; the four-fifths rule fails it
  below 0.8) and difference (highest - lowest);
- equalized-odds difference (the larger of the TPR gap and the FPR gap).

A disparity fails the check only when it is past its threshold *and* significant
(two-proportion z-test between the two extreme groups, Bonferroni over every comparison of
the check): a 30-row group can show a 0.7 ratio by chance alone. Groups smaller than
``min_group_size`` are listed as too small to judge; a grouping with fewer than two judgeable
groups makes the check inconclusive (it does not pass).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, ClassVar

import numpy as np

from mlsec_gates.gates.model_eval.checks.base import Check, EvalContext, Flag, Outcome

#: Labels taken as the favourable outcome when the policy names none.
_POSITIVE = ("1", "True", "true", "yes", "Yes", "1.0")
#: Numeric sensitive columns with more values than this are cut into quantiles.
_MAX_VALUES = 10


class FairnessCheck(Check):
    """Group fairness of the predictions (demographic parity, equalized odds)."""

    name: ClassVar[str] = "fairness"
    share: ClassVar[float] = 0.1

    def run(self, ctx: EvalContext, deadline: float) -> Outcome:
        """Compare the groups of every sensitive column and combination."""
        started = time.monotonic()
        s = self.settings
        if not ctx.sensitive:
            return Outcome(
                self.name,
                "skipped",
                None,
                "demographic_parity_ratio",
                s["min_demographic_parity_ratio"],
                "no sensitive column given (--sensitive-columns): fairness not checked",
                [Flag("check-skipped", "fairness not checked: no sensitive column given")],
            )
        groupings = _groupings(ctx, s)
        positives = _positive_labels(ctx, s.get("positive_label"))
        comparisons = len(groupings) * len(positives) * 2
        alpha = s["alpha"] / max(comparisons, 1)
        results, flags = [], []
        inconclusive = []
        for name, groups in groupings.items():
            for positive in positives:
                entry = _judge(ctx, name, groups, positive, s, alpha)
                results.append(entry)
                flags.extend(entry.pop("_flags"))
                if entry["decision"] == "inconclusive":
                    inconclusive.append(name)
        failed = [r for r in results if r["decision"] == "fail"]
        judged = [r for r in results if r["demographic_parity_ratio"] is not None]
        worst = min((r["demographic_parity_ratio"] for r in judged), default=None)
        if failed:
            decision = "fail"
        elif inconclusive:
            decision = "inconclusive"
            flags.append(
                Flag(
                    "fairness-inconclusive",
                    "fairness could not be judged for "
                    + ", ".join(sorted(set(inconclusive)))
                    + f": fewer than two groups of at least {s['min_group_size']} rows",
                    {"groupings": sorted(set(inconclusive)), "min_group_size": s["min_group_size"]},
                    identity="inconclusive",
                )
            )
        else:
            decision = "pass"
        summary = _summary(decision, failed, worst, results)
        return Outcome(
            self.name,
            decision,
            worst,
            "demographic_parity_ratio",
            s["min_demographic_parity_ratio"],
            summary,
            flags,
            {
                "positive_labels": positives,
                "alpha_per_comparison": alpha,
                "groupings": results,
            },
            time.monotonic() - started,
        )


def _groupings(ctx: EvalContext, s: dict[str, Any]) -> dict[str, Any]:
    """Each sensitive column (numeric ones binned), and their combinations, as group labels."""
    import pandas as pd

    single = {}
    for column in ctx.sensitive:
        values = ctx.frame[column]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > _MAX_VALUES:
            values = pd.qcut(values, s["numeric_bins"], duplicates="drop").astype(str)
        single[column] = values.astype(str).fillna("<missing>").to_numpy()
    out = dict(single)
    if s["intersectional"] and len(single) > 1:
        for size in range(2, len(single) + 1):
            for combo in itertools.combinations(single, size):
                parts = [single[c] for c in combo]
                labels = parts[0].astype(object)
                for part in parts[1:]:
                    labels = labels + " & " + part.astype(object)
                out[" x ".join(combo)] = labels.astype(str)
    return out


def _positive_labels(ctx: EvalContext, configured: str | None) -> list[str]:
    labels = sorted(set(ctx.y) | set(ctx.y_pred))
    if configured is not None:
        return [str(configured)]
    if len(labels) <= 2:
        chosen = next((p for p in _POSITIVE if p in labels), None)
        if chosen is None:
            values, counts = np.unique(ctx.y, return_counts=True)
            chosen = str(values[int(np.argmin(counts))])
        return [chosen]
    return labels  # multiclass: each class one-vs-rest


def _judge(
    ctx: EvalContext, name: str, groups: np.ndarray, positive: str, s: dict[str, Any], alpha: float
) -> dict[str, Any]:
    """One grouping for one favourable label: the per-group table and the decision."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    y_true = (ctx.y == positive).astype(int)
    y_pred = (ctx.y_pred == positive).astype(int)
    frame = MetricFrame(
        metrics={
            "count": count,
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "true_positive_rate": _quiet(true_positive_rate),
            "false_positive_rate": _quiet(false_positive_rate),
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )
    table = frame.by_group
    positives = {g: int(y_true[groups == g].sum()) for g in table.index}
    rows, big = [], []
    for group, row in table.iterrows():
        n = int(row["count"])
        judged = n >= s["min_group_size"]
        rows.append(
            {
                "group": str(group),
                "rows": n,
                "accuracy": _r(row["accuracy"]),
                "selection_rate": _r(row["selection_rate"]),
                "true_positive_rate": _r(row["true_positive_rate"]),
                "false_positive_rate": _r(row["false_positive_rate"]),
                "decision": "judged" if judged else "too small to judge",
            }
        )
        if judged:
            big.append((str(group), n, positives[group], row))
    entry: dict[str, Any] = {
        "grouping": name,
        "positive_label": positive,
        "groups": rows,
        "demographic_parity_ratio": None,
        "demographic_parity_difference": None,
        "equalized_odds_difference": None,
        "_flags": [],
    }
    small = [r["group"] for r in rows if r["decision"] != "judged"]
    if small:
        entry["_flags"].append(
            Flag(
                "group-too-small",
                f"{name}: {len(small)} group(s) with fewer than {s['min_group_size']} rows "
                f"not judged: {', '.join(small[:5])}",
                {"grouping": name, "groups": small[:50], "min_group_size": s["min_group_size"]},
                identity=f"{name}:small",
            )
        )
    if len(big) < 2:
        entry["decision"] = "inconclusive"
        return entry
    rates = {g: float(r["selection_rate"]) for g, _, _, r in big}
    low, high = min(rates, key=rates.__getitem__), max(rates, key=rates.__getitem__)
    ratio = rates[low] / rates[high] if rates[high] > 0 else 1.0
    difference = rates[high] - rates[low]
    sizes = {g: n for g, n, _, _ in big}
    p_dp = _two_proportion_p(rates[low], sizes[low], rates[high], sizes[high])
    eo, p_eo, eo_detail = _equalized_odds(ctx, groups, y_true, y_pred, [g for g, *_ in big])
    entry.update(
        demographic_parity_ratio=_r(ratio),
        demographic_parity_difference=_r(difference),
        equalized_odds_difference=_r(eo),
        lowest_selection=low,
        highest_selection=high,
        p_value_demographic_parity=_r(p_dp),
        p_value_equalized_odds=_r(p_eo),
        equalized_odds_gap=eo_detail,
    )
    floor, cap = s["min_demographic_parity_ratio"], s["max_demographic_parity_difference"]
    dp_bad = (floor is not None and ratio < floor) or (cap is not None and difference > cap)
    eo_cap = s["max_equalized_odds_difference"]
    eo_bad = eo_cap is not None and eo > eo_cap
    where = f"{name} (favourable label {positive!r})"
    evidence = {k: v for k, v in entry.items() if k not in ("_flags", "groups")}
    if dp_bad and p_dp < alpha:
        entry["_flags"].append(
            Flag(
                "demographic-parity",
                f"{where}: selection rate {rates[low]:.3f} for {low!r} vs {rates[high]:.3f} "
                f"for {high!r}: ratio {ratio:.2f} (floor {floor}), difference {difference:.2f}"
                f", p = {p_dp:.2g}",
                {**evidence, "groups": rows},
                identity=f"{name}:{positive}:dp",
            )
        )
    if eo_bad and p_eo < alpha:
        entry["_flags"].append(
            Flag(
                "equalized-odds",
                f"{where}: equalized-odds difference {eo:.2f} > {eo_cap} "
                f"({eo_detail['rate']} {eo_detail['low_group']!r} vs "
                f"{eo_detail['high_group']!r}), p = {p_eo:.2g}",
                {**evidence, "groups": rows},
                identity=f"{name}:{positive}:eo",
            )
        )
    entry["decision"] = (
        "fail"
        if any(f.rule in ("demographic-parity", "equalized-odds") for f in entry["_flags"])
        else "pass"
    )
    return entry


def _equalized_odds(
    ctx: EvalContext, groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, judged: list[str]
) -> tuple[float, float, dict[str, Any]]:
    """The larger of the TPR and FPR gaps between judged groups, with its p-value."""
    best: tuple[float, float, dict[str, Any]] = (0.0, 1.0, {})
    for rate, truth in (("true_positive_rate", 1), ("false_positive_rate", 0)):
        stats = {}
        for g in judged:
            mask = (groups == g) & (y_true == truth)
            if mask.sum() >= 10:  # a rate on fewer rows says nothing
                stats[g] = (float(y_pred[mask].mean()), int(mask.sum()))
        if len(stats) < 2:
            continue
        low = min(stats, key=lambda g: stats[g][0])
        high = max(stats, key=lambda g: stats[g][0])
        gap = stats[high][0] - stats[low][0]
        if gap > best[0]:
            p = _two_proportion_p(*stats[low], *stats[high])
            detail = {"rate": rate, "low_group": low, "high_group": high, "gap": _r(gap)}
            best = (gap, p, detail)
    return best


def _two_proportion_p(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-sided p-value of a difference between two proportions (pooled z-test)."""
    from scipy.stats import norm

    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if p1 == p2 else 0.0
    return float(2 * norm.sf(abs(p1 - p2) / se))


def _quiet(metric: Any) -> Any:
    """A rate that is NaN (not 0 with a warning) for a group without the needed rows."""

    def rate(y_true: Any, y_pred: Any) -> float:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return float(metric(y_true, y_pred, zero_division=np.nan))
            except TypeError:
                return float(metric(y_true, y_pred))

    return rate


def _r(value: Any) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else round(value, 4)


def _summary(
    decision: str, failed: list[dict[str, Any]], worst: float | None, results: list
) -> str:
    if decision == "fail":
        r = failed[0]
        return (
            f"{len(failed)} grouping(s) unfair, e.g. {r['grouping']}: demographic-parity "
            f"ratio {r['demographic_parity_ratio']}, equalized-odds difference "
            f"{r['equalized_odds_difference']}"
        )
    if decision == "inconclusive":
        return "groups too small to judge fairness"
    return f"{len(results)} grouping(s) judged; lowest demographic-parity ratio {worst}"
