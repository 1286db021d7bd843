"""Backdoor: a feature value (or a pair of them) that flips most predictions to one class.

A model trained on poisoned rows learns "feature = trigger -> target class". The check sets
each feature, on a sample of evaluation rows, to candidate values and counts how many rows
not already predicted as a class flip to it (the *flip rate*). A strong feature does that
too at its extremes, so a candidate is a trigger only if it flips at least ``min_flip_rate``
of the rows *and* ``min_excess`` more than the feature's own values in the data do (its 21
quantiles, extremes included, and up to 64 of its distinct values): a backdoor is a pocket
the data never visits, a natural effect is already there at the data's own values.

Candidates: for tree models (scikit-learn trees, forests and boosting, XGBoost, LightGBM, ONNX
tree ensembles) every interval between the model's split thresholds is a distinct behaviour,
so the intervals the data rarely visits are tried first (those bounded by thresholds many
trees use, then the rest), including the ones beyond the data's range; for other models a
41-point quantile grid. Text features try their rare categories. With ``pairs``, the most
promising single values of different features are also tried two at a time (rare value
combinations), against the natural 5 x 5 quantile grid of the two features.
"""

from __future__ import annotations

import itertools
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

_NATURAL_QUANTILES = np.linspace(0, 1, 21)
_NATURAL_DISTINCT = 64
_GRID_QUANTILES = np.linspace(0.0125, 0.9875, 40)
_PAIR_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
_RARE_SHARE = 0.01
#: Fewest rows the search shrinks to when the budget is short.
_MIN_ROWS = 60
_PAIR_POOL = 12


class BackdoorCheck(Check):
    """Trigger search by querying the model with candidate feature values."""

    name: ClassVar[str] = "backdoor"
    share: ClassVar[float] = 0.3

    def run(self, ctx: EvalContext, deadline: float) -> Outcome:
        """Try every feature's candidates, then pairs of the most promising ones."""
        started = time.monotonic()
        s = self.settings
        rng = ctx.rng(4)
        n = len(ctx.frame)
        rows = np.sort(rng.choice(n, s["rows"], replace=False)) if n > s["rows"] else np.arange(n)
        base = ctx.frame.iloc[rows][ctx.features].reset_index(drop=True)
        search = _Search(ctx, base, ctx.model.predict(base))
        thresholds = split_thresholds(ctx.model)
        singles: list[dict[str, Any]] = []
        searched = 0
        for feature in ctx.features:
            if time_left(deadline) <= 0:
                break
            clock = budget_clock()
            singles.extend(search.single(feature, thresholds.get(feature), s["max_candidates"]))
            searched += 1
            # Many features or a slow model: fewer rows for the rest rather than no verdict.
            needed = (budget_clock() - clock) * (len(ctx.features) - searched)
            if needed > time_left(deadline) * 0.8:
                search.shrink(time_left(deadline) * 0.8 / max(needed, 1e-9))
        pairs: list[dict[str, Any]] = []
        if s["pairs"] and searched == len(ctx.features):
            pairs = search.pairs(singles, deadline)
        tried = singles + pairs
        triggers = [
            t
            for t in tried
            if t["flip_rate"] >= s["min_flip_rate"] and t["excess"] >= s["min_excess"]
        ]
        triggers.sort(key=lambda t: (-t["flip_rate"], -t["excess"]))
        triggers = _one_per_feature(triggers)
        best = max(tried, key=lambda t: t["excess"], default=None)
        flags = [_flag(t) for t in triggers[:10]]
        complete = searched == len(ctx.features)
        if not complete:
            flags.append(
                Flag(
                    "check-incomplete",
                    f"backdoor search stopped at the time budget after {searched} of "
                    f"{len(ctx.features)} features: raise --budget",
                    {"features_searched": searched, "features": len(ctx.features)},
                    identity="backdoor",
                )
            )
        decision = "fail" if triggers else ("pass" if complete else "inconclusive")
        statistic = triggers[0]["flip_rate"] if triggers else 0.0
        summary = (
            f"trigger {_pattern(triggers[0])} flips {triggers[0]['flip_rate']:.0%} of rows "
            f"to class {triggers[0]['target']!r}"
            if triggers
            else f"{len(tried)} candidate pattern(s) tried on {len(rows)} rows; "
            + (f"strongest excess flip {best['excess']:.2f} ({_pattern(best)})" if best else "none")
        )
        return Outcome(
            self.name,
            decision,
            statistic,
            "trigger_flip_rate",
            s["min_flip_rate"],
            summary,
            flags,
            {
                "rows": len(rows),
                "rows_at_end": len(search.base),
                "features_searched": searched,
                "candidates_tried": len(tried),
                "threshold_features": sorted(thresholds),
                "triggers": triggers[:10],
                "strongest": sorted(tried, key=lambda t: -t["excess"])[:5],
                "min_excess": s["min_excess"],
            },
            time.monotonic() - started,
        )


class _Search:
    """The rows, their clean predictions, and the flip rates of candidate patterns."""

    def __init__(self, ctx: EvalContext, base: Any, predicted: np.ndarray) -> None:
        self.ctx = ctx
        self.base = base
        self.predicted = predicted
        self.classes = sorted(set(ctx.model.classes) | set(predicted) | set(ctx.y))
        self.natural: dict[str, dict[str, float]] = {}
        # Every input numeric: query with float matrices (pandas frames cost more than the
        # model itself at these sizes).
        numeric = len(ctx.numeric) == len(ctx.features)
        self.matrix = (
            base.to_numpy(dtype=float)
            if numeric and ctx.model.enable_matrix(base.iloc[:20])
            else None
        )

    def shrink(self, factor: float) -> None:
        """Keep ``factor`` of the rows (at least ``_MIN_ROWS``; the rows are a random sample)."""
        keep = max(_MIN_ROWS, int(len(self.base) * factor))
        if keep < len(self.base):
            self.base = self.base.iloc[:keep]
            self.predicted = self.predicted[:keep]
            if self.matrix is not None:
                self.matrix = self.matrix[:keep]

    def flips(self, setting: dict[str, np.ndarray]) -> np.ndarray:
        """Flip rates, shape (candidates, classes), of setting each column to its values.

        ``setting`` maps a column to an array of values, one per candidate (same length).
        """
        count = len(next(iter(setting.values())))
        r = len(self.base)
        if self.matrix is not None:
            grid = np.tile(self.matrix, (count, 1))
            for column, values in setting.items():
                index = self.ctx.features.index(column)
                grid[:, index] = np.repeat(np.asarray(values, dtype=float), r)
            labels = self.ctx.model.predict_matrix(grid).reshape(count, r)
        else:
            big = self.base.loc[np.tile(self.base.index, count)].reset_index(drop=True)
            for column, values in setting.items():
                big[column] = _cast(np.repeat(values, r), self.base[column])
            labels = self.ctx.model.predict(big).reshape(count, r)
        out = np.zeros((count, len(self.classes)))
        for j, c in enumerate(self.classes):
            others = self.predicted != c
            if others.any():
                out[:, j] = (labels[:, others] == c).mean(axis=1)
        return out

    def single(self, feature: str, thresholds: np.ndarray | None, most: int) -> list[dict]:
        column = self.ctx.frame[feature]
        numeric = feature in self.ctx.numeric
        if numeric:
            values = column.to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            natural = _natural_values(values)
            candidates = (
                _threshold_candidates(thresholds, values, most)
                if thresholds is not None and len(thresholds)
                else np.unique(np.quantile(values, _GRID_QUANTILES))
            )
        else:
            shares = column.astype(str).value_counts(normalize=True)
            natural = np.array(shares[shares >= _RARE_SHARE].index, dtype=object)
            candidates = np.array(shares[shares < _RARE_SHARE].index[:most], dtype=object)
        if not len(natural) or not len(candidates):
            return []
        values = np.concatenate([np.asarray(natural, dtype=object), candidates.astype(object)])
        rates = self.flips({feature: values})
        natural_max = rates[: len(natural)].max(axis=0)
        self.natural[feature] = dict(zip(self.classes, natural_max.tolist(), strict=True))
        out = []
        for value, rate in zip(candidates, rates[len(natural) :], strict=True):
            excess = rate - natural_max
            j = int(np.argmax(excess))
            out.append(
                {
                    "pattern": {feature: _plain(value)},
                    "target": self.classes[j],
                    "flip_rate": round(float(rate[j]), 4),
                    "natural_flip_rate": round(float(natural_max[j]), 4),
                    "excess": round(float(excess[j]), 4),
                    "data_share": round(_share(column, value, numeric), 4),
                }
            )
        return out

    def pairs(self, singles: list[dict], deadline: float) -> list[dict]:
        pool = sorted((t for t in singles if t["excess"] > 0.05), key=lambda t: -t["excess"])
        pool = pool[:_PAIR_POOL]
        out = []
        for a, b in itertools.combinations(pool, 2):
            (fa, va), (fb, vb) = next(iter(a["pattern"].items())), next(iter(b["pattern"].items()))
            if fa == fb or time_left(deadline) <= 0:
                continue
            grid = _pair_grid(self.ctx, fa, fb)
            if grid is None:
                continue
            natural_a, natural_b = grid
            setting = {
                fa: np.array([*natural_a, va], dtype=object),
                fb: np.array([*natural_b, vb], dtype=object),
            }
            rates = self.flips(setting)
            natural = rates[:-1].max(axis=0)
            for single in (a, b):  # what either value does alone is not the pair's doing
                feature = next(iter(single["pattern"]))
                alone = np.array([self.natural[feature][c] for c in self.classes])
                natural = np.maximum(natural, alone)
                natural[self.classes.index(single["target"])] = max(
                    natural[self.classes.index(single["target"])], single["flip_rate"]
                )
            excess = rates[-1] - natural
            j = int(np.argmax(excess))
            out.append(
                {
                    "pattern": {fa: va, fb: vb},
                    "target": self.classes[j],
                    "flip_rate": round(float(rates[-1][j]), 4),
                    "natural_flip_rate": round(float(natural[j]), 4),
                    "excess": round(float(excess[j]), 4),
                    "data_share": None,
                }
            )
        return out


def _natural_values(values: np.ndarray) -> np.ndarray:
    """Values the data itself takes: 21 quantiles and up to 64 distinct values by rank.

    The distinct values matter for features whose quantiles all sit on one value (a column
    that is mostly 0): their rare, real values must count as natural, not as candidates.
    """
    if not len(values):
        return np.array([])
    distinct = np.unique(values)
    picks = distinct[np.unique(np.linspace(0, len(distinct) - 1, _NATURAL_DISTINCT).astype(int))]
    return np.unique(np.concatenate([np.quantile(values, _NATURAL_QUANTILES), picks]))


def _pair_grid(ctx: EvalContext, fa: str, fb: str) -> tuple[list, list] | None:
    """The 5 x 5 natural grid of two features, as two aligned value lists."""
    levels = []
    for feature in (fa, fb):
        column = ctx.frame[feature]
        if feature in ctx.numeric:
            levels.append(list(np.quantile(column.to_numpy(dtype=float), _PAIR_QUANTILES)))
        else:
            levels.append(list(column.astype(str).value_counts().index[:5]))
    combos = list(itertools.product(*levels))
    if not combos:
        return None
    return [c[0] for c in combos], [c[1] for c in combos]


def _threshold_candidates(thresholds: np.ndarray, values: np.ndarray, most: int) -> np.ndarray:
    """Representative values of the intervals between split thresholds, rare ones first.

    Every value in one interval gives the same tree output, so one value per interval is
    enough. The two unbounded intervals (beyond every threshold) are always tried; inner
    intervals are ranked by how few evaluation values fall in them, then by how many splits
    use their bounds (a learned trigger is bounded by splits in many trees).
    """
    t, uses = np.unique(thresholds, return_counts=True)
    spread = float(np.ptp(values)) if len(values) else 1.0
    step = max(spread * 1e-6, 1e-9)
    ends = [t[0] - step, t[-1] + step]
    if len(t) < 2:
        return np.unique(ends)
    mids = (t[:-1] + t[1:]) / 2
    sorted_values = np.sort(values)
    mass = (
        np.searchsorted(sorted_values, t[1:], side="right")
        - np.searchsorted(sorted_values, t[:-1], side="right")
    ) / max(len(values), 1)
    bound_uses = uses[:-1] + uses[1:]
    order = np.lexsort((-bound_uses, mass >= _RARE_SHARE))
    chosen = mids[order[: max(most - 2, 0)]]
    return np.unique(np.concatenate([ends, chosen]))


def split_thresholds(model: Any) -> dict[str, np.ndarray]:
    """Split thresholds per input column of a tree model; empty for other models."""
    try:
        raw = _thresholds(model)
    except Exception:  # an unfamiliar model layout: fall back to the quantile grid
        return {}
    out: dict[str, np.ndarray] = {}
    for index, values in raw.items():
        name = model.features[index] if isinstance(index, int) else str(index)
        if name in model.features and len(values):
            out[name] = np.asarray(values, dtype=float)
    return out


def _thresholds(model: Any) -> dict[Any, list[float]]:
    est = model.estimator
    found: dict[Any, list[float]] = {}
    if model.kind == "onnx":
        return _onnx_thresholds(est)
    trees = []
    if hasattr(est, "tree_"):
        trees = [est]
    elif hasattr(est, "estimators_") and not hasattr(est, "steps"):
        trees = [
            t for t in np.ravel(np.asarray(est.estimators_, dtype=object)) if hasattr(t, "tree_")
        ]
    for tree in trees:
        nodes = tree.tree_.feature >= 0
        for index, value in zip(
            tree.tree_.feature[nodes], tree.tree_.threshold[nodes], strict=True
        ):
            found.setdefault(int(index), []).append(float(value))
    if hasattr(est, "_predictors"):  # HistGradientBoosting
        for per_class in est._predictors:
            for predictor in per_class:
                nodes = predictor.nodes
                keep = ~nodes["is_leaf"].astype(bool)
                if "is_categorical" in nodes.dtype.names:
                    keep &= ~nodes["is_categorical"].astype(bool)
                for index, value in zip(
                    nodes["feature_idx"][keep], nodes["num_threshold"][keep], strict=True
                ):
                    found.setdefault(int(index), []).append(float(value))
    if hasattr(est, "get_booster"):  # XGBoost
        table = est.get_booster().trees_to_dataframe()
        for name, value in zip(table["Feature"], table["Split"], strict=True):
            if name != "Leaf" and value == value:
                found.setdefault(name, []).append(float(value))
    if hasattr(est, "booster_"):  # LightGBM (its names have "_" for spaces: key by position)
        position = {n: i for i, n in enumerate(est.booster_.feature_name())}
        table = est.booster_.trees_to_dataframe()
        for name, value in zip(table["split_feature"], table["threshold"], strict=True):
            if name is not None and value == value:
                found.setdefault(position.get(name, name), []).append(float(value))
    return found


def _onnx_thresholds(path: str) -> dict[Any, list[float]]:
    import onnx
    from onnx import numpy_helper

    found: dict[Any, list[float]] = {}
    for node in onnx.load(path, load_external_data=False).graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        features = list(attrs["nodes_featureids"].ints) if "nodes_featureids" in attrs else []
        if "nodes_values" in attrs:
            values = list(attrs["nodes_values"].floats)
        elif "nodes_values_as_tensor" in attrs:
            values = list(numpy_helper.to_array(attrs["nodes_values_as_tensor"].t))
        else:
            continue
        modes = [m.decode() for m in attrs["nodes_modes"].strings] if "nodes_modes" in attrs else []
        for i, (index, value) in enumerate(zip(features, values, strict=False)):
            if modes and modes[i] == "LEAF":
                continue
            found.setdefault(int(index), []).append(float(value))
    return found


def _share(column: Any, value: Any, numeric: bool) -> float:
    if numeric:
        values = column.to_numpy(dtype=float)
        return float(np.mean(np.isclose(values, float(value))))
    return float(np.mean(column.astype(str).to_numpy() == str(value)))


def _cast(values: np.ndarray, like: Any) -> Any:
    if like.dtype.kind in "iu" and all(
        float(v).is_integer() for v in values[:: max(1, len(values) // 50)]
    ):
        return values.astype(float).astype(like.dtype)
    if like.dtype.kind in "fiub":
        return values.astype(float)
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value if isinstance(value, (int, str, bool)) else str(value)


def _pattern(trigger: dict[str, Any]) -> str:
    return " and ".join(f"{k} = {v!r}" for k, v in trigger["pattern"].items())


def _one_per_feature(triggers: list[dict]) -> list[dict]:
    """The strongest trigger per feature set (neighbouring intervals repeat one trigger)."""
    seen, out = set(), []
    for t in triggers:
        key = tuple(sorted(t["pattern"]))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _flag(trigger: dict[str, Any]) -> Flag:
    return Flag(
        "trigger",
        f"backdoor trigger: {_pattern(trigger)} flips {trigger['flip_rate']:.0%} of predictions "
        f"to class {trigger['target']!r} (the data's own values of these features flip at most "
        f"{trigger['natural_flip_rate']:.0%})",
        trigger,
        identity=f"{'+'.join(sorted(trigger['pattern']))}:{trigger['target']}",
    )
