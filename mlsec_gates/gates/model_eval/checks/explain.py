"""Explainability: which features the model leans on, and whether one stands for a sensitive one.

Global importance is permutation importance (scikit-learn's, on any model: the accuracy lost
when one feature's values are shuffled). The check flags

- a sensitive column among the ``top_features`` most important features;
- a *proxy* there: a feature that explains at least ``proxy_threshold`` of a sensitive
  column's entropy (mutual information over entropy, on quantile bins, less the chance level
  of that many bins), e.g. a postcode standing for ethnicity;
- with ``dominance_share`` set, one feature carrying that share of the total importance.

It also explains a sample of the rows the model gets wrong, one by one: how much the
probability of the (wrong) predicted class falls when each feature is set to its typical
value (median or most frequent), the largest first. SHAP is not used: permutation
importance works on every model format here, and SHAP's numba stack would double the
extra's size for a view these two already give.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from mlsec_gates.gates.model_eval.checks.base import (
    Check,
    EvalContext,
    Flag,
    Outcome,
    budget_clock,
    time_left,
)

#: Numeric features with more distinct values than this are cut into quantile bins.
_BINS = 10


class ExplainabilityCheck(Check):
    """Permutation importance, sensitive columns and proxies among the top features."""

    name: ClassVar[str] = "explainability"
    share: ClassVar[float] = 0.2

    def run(self, ctx: EvalContext, deadline: float) -> Outcome:
        """Rank the features, look for sensitive columns and proxies at the top."""
        started = time.monotonic()
        s = self.settings
        rng = ctx.rng(2)
        importance, effort = _importance(ctx, s, rng, deadline)
        ranked = sorted(importance, key=lambda r: -r["importance"])
        top = [r for r in ranked[: s["top_features"]] if r["importance"] >= s["min_importance"]]
        proxies = _proxies(ctx, [r["feature"] for r in ranked])
        flags: list[Flag] = []
        reliance = 0.0
        for rank, row in enumerate(ranked, start=1):
            row["rank"] = rank
            row["proxy_of"] = proxies.get(row["feature"], {})
        for row in top:
            feature = row["feature"]
            if feature in ctx.sensitive:
                reliance = 1.0
                flags.append(
                    Flag(
                        "sensitive-feature",
                        f"sensitive column {feature!r} is the model's #{row['rank']} feature "
                        f"(permutation importance {row['importance']:.3f})",
                        {"feature": feature, "rank": row["rank"], "importance": row["importance"]},
                        identity=feature,
                    )
                )
                continue
            for column, strength in row["proxy_of"].items():
                reliance = max(reliance, strength)
                if strength >= s["proxy_threshold"]:
                    flags.append(
                        Flag(
                            "proxy-feature",
                            f"feature {feature!r} (#{row['rank']}, importance "
                            f"{row['importance']:.3f}) is a proxy of sensitive column "
                            f"{column!r}: it explains {strength:.0%} of its entropy",
                            {
                                "feature": feature,
                                "sensitive_column": column,
                                "proxy_strength": strength,
                                "rank": row["rank"],
                                "importance": row["importance"],
                            },
                            identity=f"{feature}:{column}",
                        )
                    )
        total = sum(max(r["importance"], 0.0) for r in ranked)
        share = ranked[0]["importance"] / total if ranked and total > 0 else 0.0
        if s["dominance_share"] is not None and share >= s["dominance_share"]:
            flags.append(
                Flag(
                    "dominant-feature",
                    f"feature {ranked[0]['feature']!r} carries {share:.0%} of the total "
                    f"importance (threshold {s['dominance_share']:.0%})",
                    {"feature": ranked[0]["feature"], "share": round(share, 4)},
                    identity=ranked[0]["feature"],
                )
            )
        decision = "fail" if flags else "pass"
        local = _local_explanations(ctx, s["local_explanations"], rng)
        head = ", ".join(f"{r['feature']} {r['importance']:.3f}" for r in ranked[:3])
        return Outcome(
            self.name,
            decision,
            reliance,
            "sensitive_reliance",
            s["proxy_threshold"],
            f"top features: {head}" + (f"; {len(flags)} flag(s)" if flags else ""),
            flags,
            {
                "method": "permutation importance (accuracy drop)",
                **effort,
                "importance": ranked,
                "top_share": round(share, 4),
                "wrong_rows_explained": local,
            },
            time.monotonic() - started,
        )


class _Scored:
    """The loaded model as the estimator scikit-learn's permutation importance expects."""

    def __init__(self, ctx: EvalContext) -> None:
        self.ctx = ctx

    def fit(self, *_: Any) -> _Scored:  # pragma: no cover - never fitted
        return self

    def predict(self, frame: Any) -> np.ndarray:
        return self.ctx.model.predict(frame)


def _importance(
    ctx: EvalContext, s: dict[str, Any], rng: np.random.Generator, deadline: float
) -> tuple[list[dict], dict[str, int]]:
    """Permutation importance, with fewer shuffles (then rows) when the budget is short."""
    from sklearn.inspection import permutation_importance

    rows = _sample(len(ctx.frame), s["max_rows"], rng)
    clock = budget_clock()
    ctx.model.predict(ctx.frame.iloc[rows][ctx.features])
    per_pass = (budget_clock() - clock) * len(ctx.features)  # one shuffle of every feature
    affordable = time_left(deadline) * 0.8
    repeats = int(min(s["repeats"], max(1, affordable // max(per_pass, 1e-9))))
    if per_pass > affordable:  # even one shuffle is too slow: fewer rows (at least 200)
        keep = max(200, int(len(rows) * affordable / per_pass))
        rows = np.sort(rng.choice(rows, size=min(keep, len(rows)), replace=False))
    frame = ctx.frame.iloc[rows][ctx.features].reset_index(drop=True)
    truth = ctx.y[rows]
    result = permutation_importance(
        _Scored(ctx),
        frame,
        truth,
        scoring=lambda est, x, y: float(np.mean(est.predict(x) == y)),
        n_repeats=repeats,
        random_state=int(rng.integers(2**31)),
        n_jobs=1,
    )
    ranked = [
        {
            "feature": feature,
            "importance": round(float(mean), 5),
            "std": round(float(std), 5),
        }
        for feature, mean, std in zip(
            ctx.features, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return ranked, {"rows": len(rows), "repeats": repeats}


def _proxies(ctx: EvalContext, features: list[str]) -> dict[str, dict[str, float]]:
    """For each feature, the share of each sensitive column's entropy it explains (>= 0.05)."""
    from scipy.stats import entropy
    from sklearn.metrics import mutual_info_score

    out: dict[str, dict[str, float]] = {}
    n = len(ctx.frame)
    for column in ctx.sensitive:
        s_codes = _codes(ctx.frame[column])
        h = entropy(np.bincount(s_codes))
        if h <= 0:
            continue
        for feature in features:
            if feature == column:
                continue
            f_codes = _codes(ctx.frame[feature])
            chance = (len(np.unique(s_codes)) - 1) * (len(np.unique(f_codes)) - 1) / (2 * n)
            strength = (mutual_info_score(s_codes, f_codes) - chance) / h
            if strength >= 0.05:
                out.setdefault(feature, {})[column] = round(float(min(strength, 1.0)), 4)
    return out


def _codes(values: Any) -> np.ndarray:
    """Integer codes of a column: quantile bins for many-valued numbers, else the values."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) and values.nunique() > _BINS:
        values = pd.qcut(values.rank(method="first"), _BINS, labels=False)
    return pd.factorize(values.astype(str))[0]


def _local_explanations(ctx: EvalContext, count: int, rng: np.random.Generator) -> list[dict]:
    """For sampled wrong rows: the features whose typical value most lowers the wrong class."""
    import pandas as pd

    wrong = np.flatnonzero(ctx.y != ctx.y_pred)
    if count == 0 or not len(wrong):
        return []
    chosen = rng.choice(wrong, size=min(count, len(wrong)), replace=False)
    frame = ctx.frame[ctx.features]
    typical = {
        f: frame[f].median() if f in ctx.numeric else frame[f].mode(dropna=True).iloc[0]
        for f in ctx.features
    }
    variants = []
    for row in chosen:
        base = frame.iloc[[row]]
        variants.append(base)
        for feature in ctx.features:
            changed = base.copy()
            changed[feature] = typical[feature]
            variants.append(changed)
    batch = pd.concat(variants, ignore_index=True)
    proba = ctx.model.predict_proba(batch)
    labels = ctx.model.predict(batch)
    width = len(ctx.features) + 1
    out = []
    for i, row in enumerate(chosen):
        block = slice(i * width, (i + 1) * width)
        predicted = ctx.y_pred[row]
        if proba is not None and predicted in ctx.model.classes:
            column = ctx.model.classes.index(predicted)
            scores = proba[block, column]
            effects = scores[0] - scores[1:]
        else:  # no probabilities: does the label change at all
            effects = (labels[block][1:] != predicted).astype(float)
        order = np.argsort(-effects)[:3]
        out.append(
            {
                "row": int(row),
                "label": str(ctx.y[row]),
                "predicted": str(predicted),
                "because": [
                    {
                        "feature": ctx.features[j],
                        "value": _plain(frame.iloc[row][ctx.features[j]]),
                        "typical": _plain(typical[ctx.features[j]]),
                        "effect": round(float(effects[j]), 4),
                    }
                    for j in order
                    if effects[j] > 0
                ],
            }
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _sample(n: int, most: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=most, replace=False)) if n > most else np.arange(n)
