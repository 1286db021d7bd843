"""Robustness: accuracy under random noise, and under an evasion attack (ART).

Perturbations are measured in each numeric feature's standard deviation on the evaluation
data, so one ``epsilon`` means the same on every feature. They stay on the data's support
(:func:`perturbable`): text features, discrete numeric columns (at most 10 distinct values:
codes, flags, small counts) and values that many rows share exactly (``0`` = "none", a
reporting convention such as 40 hours) are not changed, since noise on a code is not a
measurement error but an input the data never has; noisy values are clipped to the
column's observed range.

- **Noise**: Gaussian noise of ``noise_scale`` SDs on every perturbable value, three draws.
  The check fails when accuracy falls by more than ``max_noise_accuracy_drop`` *and* the
  excess is significant at ``alpha``: a one-sided paired test on the per-row accuracy
  changes, so a few rows flipping on a 100-row evaluation set (sampling noise) do not fail
  a clean model, while the same share on 10,000 rows does.
- **Evasion**: for up to ``attack_rows`` correctly classified rows, an attack looks for the
  smallest L-infinity change that flips the prediction: projected gradient descent for
  differentiable models (ART's scikit-learn logistic regression and SVM wrappers), the
  decision-based HopSkipJump attack (Chen et al. 2020, ART) for everything else (trees,
  ensembles, ONNX), each bounded by ``max_queries`` per row and the check's time budget. A
  row whose prediction flips within ``epsilon`` counts as lost; the accuracy drop is the
  share of evaluation rows that are correctly classified and have a perturbable value,
  times the share of attacked rows lost (a row with nothing to perturb cannot be lost).
  It fails when the drop exceeds
  ``max_attack_accuracy_drop`` and so does its one-sided lower confidence bound
  (Clopper-Pearson, on the rows attacked): 6 lost rows of 20 is no evidence, 12 is. When
  the time ran out after so few rows that even losing all of them could not fail the check,
  the check is ``inconclusive`` (raise the budget), not a pass on no evidence.

The two tests share ``alpha`` (Bonferroni: ``alpha / 2`` each, ``alpha`` for the noise test
when the attack is off), so a clean model fails the check with probability at most
``alpha``. The minimum perturbation found is reported (median and smallest, in SDs).

When no correctly classified row has a perturbable value, the check does not apply: it is
``skipped`` with a ``check-skipped`` finding that says why (see :func:`_not_applicable`),
not ``inconclusive``. Errors and exhausted budgets stay ``inconclusive``/``error``.
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
    time_left,
)
from mlsec_gates.gates.model_eval.model import DIFFERENTIABLE

_NOISE_DRAWS = 3
#: Rows of the evaluation set the noise test uses at most.
_NOISE_ROWS = 20_000
#: A numeric column with at most this many distinct values is discrete (not perturbed).
_DISCRETE = 10
#: A value this share of the rows hold exactly is a code or convention (not perturbed).
_POINT_MASS = 0.05


class RobustnessCheck(Check):
    """Accuracy under noise and under a bounded evasion attack."""

    name: ClassVar[str] = "robustness"
    share: ClassVar[float] = 0.4

    def run(self, ctx: EvalContext, deadline: float) -> Outcome:
        """Noise first (cheap), then the attack until the rows or the time run out."""
        started = time.monotonic()
        s = self.settings
        values = (
            ctx.frame[ctx.numeric].to_numpy(dtype=float)
            if ctx.numeric
            else np.empty((len(ctx.frame), 0))
        )
        free = perturbable(values)
        reachable = (ctx.y == ctx.y_pred) & free.any(axis=1)
        if not reachable.any():
            return _not_applicable(self.name, s, ctx, free)
        rng = ctx.rng(3)
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1) if len(values) > 1 else np.ones(len(mean))
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        # Two tests decide the check: each at half of alpha (Bonferroni), so a clean model
        # fails the check with probability at most alpha, as the fairness check's does.
        level = s["alpha"] / (1 if s["attack"] == "none" else 2)
        noise = _noise(ctx, values, free, sd, s, rng, level)
        attack = _attack(ctx, values, free, reachable, mean, sd, s, rng, deadline, level)
        flags = []
        if noise["significant"]:
            flags.append(
                Flag(
                    "noise",
                    f"accuracy falls from {noise['accuracy']:.3f} to "
                    f"{noise['noisy_accuracy']:.3f} under Gaussian noise of "
                    f"{s['noise_scale']} SD (drop {noise['accuracy_drop']:.3f} > "
                    f"{s['max_noise_accuracy_drop']}, p = {noise['p_value']:.2g} on "
                    f"{noise['rows']} rows)",
                    noise,
                    identity="noise",
                )
            )
        drop = attack.get("accuracy_drop")
        if drop is not None and attack["drop_lower_bound"] > s["max_attack_accuracy_drop"]:
            flags.append(
                Flag(
                    "evasion",
                    f"{attack['attack']}: {attack['lost']} of {attack['rows_attacked']} "
                    f"attacked rows flip within {s['epsilon']} SD per feature (accuracy drop "
                    f"{drop:.3f}, at least {attack['drop_lower_bound']:.3f} at level "
                    f"{level:g}, > {s['max_attack_accuracy_drop']}; median minimal "
                    f"perturbation {attack['median_perturbation']} SD)",
                    attack,
                    identity="evasion",
                )
            )
        incomplete = s["attack"] != "none" and not attack.get("decisive", False)
        decision = "fail" if flags else ("inconclusive" if incomplete else "pass")
        if incomplete and not flags:
            why = (
                f"the evasion attack did not run: {attack.get('note')}"
                if not attack.get("rows_attacked")
                else f"the evasion attack reached only {attack['rows_attacked']} row(s) in its "
                "time, too few to fail even had every one flipped (raise --budget or "
                "robustness.attack_rows)"
            )
            flags.append(
                Flag("check-incomplete", f"robustness: {why}", {"attack": attack}, "robustness")
            )
        summary = f"noise drop {noise['accuracy_drop']:.3f}; " + (
            f"{attack['attack']} drop {drop:.3f} at {s['epsilon']} SD "
            f"(median minimal perturbation {attack['median_perturbation']} SD)"
            if drop is not None
            else f"attack: {attack.get('note')}"
        )
        return Outcome(
            self.name,
            decision,
            drop,
            "attack_accuracy_drop",
            s["max_attack_accuracy_drop"],
            summary,
            flags,
            {
                "noise": noise,
                "attack": attack,
                "units": "standard deviations per feature",
                "perturbed_features": [ctx.numeric[j] for j in np.flatnonzero(free.any(axis=0))],
                "alpha": s["alpha"],
                "level_per_test": level,
            },
            time.monotonic() - started,
        )


def _not_applicable(name: str, s: dict[str, Any], ctx: EvalContext, free: np.ndarray) -> Outcome:
    """``skipped``: nothing the model gets right can be perturbed on the data's support.

    Noise and the attack change only perturbable values, and accuracy can only be lost on
    rows the model classifies correctly; with no such row holding a perturbable value the
    check cannot apply (all inputs are codes, flags, small counts or shared values). That
    is not a check that failed to run (``inconclusive``, which keeps the gate from
    passing): the report says what was not checked and why, as for a missing sensitive
    column. Errors and timeouts still fail closed.
    """
    if not free.any():
        reason = (
            "the model has no continuous numeric input (every numeric feature has at most "
            f"{_DISCRETE} distinct values or is text)"
        )
    else:
        reason = (
            "no correctly classified row has a continuous value to perturb (the values that "
            f"vary are held by rows the model already gets wrong, or shared by >= "
            f"{_POINT_MASS:.0%} of the rows)"
        )
    return Outcome(
        name,
        "skipped",
        None,
        "attack_accuracy_drop",
        s["max_attack_accuracy_drop"],
        f"not applicable: {reason}",
        [Flag("check-skipped", f"robustness not checked, not applicable: {reason}")],
        {
            "not_applicable": reason,
            "perturbed_features": [],
            "discrete_features": [c for j, c in enumerate(ctx.numeric) if not free[:, j].any()],
        },
    )


def perturbable(values: np.ndarray) -> np.ndarray:
    """Which numeric values a perturbation may change (rows x columns, True = may).

    Not: missing values, columns with at most ``_DISCRETE`` distinct values, and values held
    by at least ``_POINT_MASS`` of the rows (see the module docstring).
    """
    free = np.isfinite(values)
    for j in range(values.shape[1]):
        column = values[:, j][free[:, j]]
        distinct, counts = np.unique(column, return_counts=True)
        if len(distinct) <= _DISCRETE:
            free[:, j] = False
            continue
        massive = distinct[counts >= _POINT_MASS * len(values)]
        if len(massive):
            free[:, j] &= ~np.isin(values[:, j], massive)
    return free


def _noise(
    ctx: EvalContext,
    values: np.ndarray,
    free: np.ndarray,
    sd: np.ndarray,
    s: dict[str, Any],
    rng: np.random.Generator,
    level: float,
) -> dict:
    """Accuracy under noise, and whether its drop is significantly past the threshold."""
    from scipy import stats

    n = len(ctx.frame)
    rows = np.sort(rng.choice(n, _NOISE_ROWS, replace=False)) if n > _NOISE_ROWS else np.arange(n)
    frame = ctx.frame.iloc[rows][ctx.features].reset_index(drop=True)
    truth, clean = ctx.y[rows], ctx.y_pred[rows]
    values, free = values[rows], free[rows]
    low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    right = np.zeros(len(rows))
    flips = []
    for _ in range(_NOISE_DRAWS):
        noisy = frame.copy()
        moved = values + rng.normal(0.0, 1.0, values.shape) * sd * s["noise_scale"] * free
        noisy[ctx.numeric] = np.clip(moved, low, high)
        _keep_integers(noisy, frame, ctx.numeric)
        predicted = ctx.model.predict(noisy)
        right += predicted == truth
        flips.append(float(np.mean(predicted != clean)))
    # Per row: 1 if the clean prediction is right, minus the share of noisy draws that are.
    change = (truth == clean).astype(float) - right / _NOISE_DRAWS
    drop = float(np.mean(change))
    threshold = s["max_noise_accuracy_drop"]
    spread = float(np.std(change, ddof=1)) if len(change) > 1 else 0.0
    if spread > 0:
        p_value = float(stats.norm.sf((drop - threshold) / (spread / np.sqrt(len(change)))))
    else:  # every row changed alike: the drop is exact
        p_value = 0.0 if drop > threshold else 1.0
    accuracy = float(np.mean(truth == clean))
    return {
        "noise_scale": s["noise_scale"],
        "rows": len(rows),
        "accuracy": round(accuracy, 4),
        "noisy_accuracy": round(accuracy - drop, 4),
        "accuracy_drop": round(drop, 4),
        "p_value": round(p_value, 6),
        "significant": bool(drop > threshold and p_value < level),
        "prediction_flip_rate": round(float(np.mean(flips)), 4),
    }


def _keep_integers(noisy: Any, frame: Any, columns: list[str]) -> None:
    """Integer columns stay integers (a model may index or compare them exactly)."""
    for column in columns:
        if frame[column].dtype.kind in "iu":
            noisy[column] = np.round(noisy[column]).astype(frame[column].dtype)


def _attack(
    ctx: EvalContext,
    values: np.ndarray,
    free: np.ndarray,
    reachable: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    s: dict[str, Any],
    rng: np.random.Generator,
    deadline: float,
    level: float,
) -> dict[str, Any]:
    """Attack correctly classified rows one at a time until rows or time run out.

    Only rows with a perturbable value (``reachable``) can be attacked; the others keep
    their prediction, so the accuracy drop is the share of *all* rows that are reachable,
    correct and lost: ``reachable share x lost / attacked``.

    ``decisive`` says whether the answer can be trusted either way: a pass needs enough
    attacked rows that losing every one would have failed (or a reachable share at most the
    threshold, when no attack result could fail); a pass on one or two rows is no evidence.
    """
    if s["attack"] == "none":
        return {"attack": "none", "note": "switched off (gates.model_eval.robustness.attack)"}
    correct = np.flatnonzero(reachable)
    if len(ctx.model.classes) < 2:
        return {"attack": "none", "note": "the model reports fewer than two classes"}
    kind = s["attack"]
    if kind == "auto":
        kind = "pgd" if ctx.model.kind in DIFFERENTIABLE and not _mixed(ctx) else "hopskipjump"
    order = rng.permutation(correct)[: s["attack_rows"]]
    if not _mixed(ctx):  # every input numeric: query with plain matrices (much faster)
        ctx._matrix_ok = ctx.model.enable_matrix(ctx.frame.iloc[order[:20]])  # type: ignore[attr-defined]
    perturbations: list[float] = []
    queries_before = ctx.model.queries
    for row in order:
        if time_left(deadline) <= 0:
            break
        found = (
            _pgd_row(ctx, int(row), free[row], sd, s)
            if kind == "pgd"
            else _hsj_row(ctx, int(row), values, free[row], mean, sd, s, rng)
        )
        perturbations.append(found)
    attacked = len(perturbations)
    if not attacked:
        return {"attack": kind, "note": "no time left in the budget for any row"}
    from scipy import stats

    pert = np.asarray(perturbations)
    lost = int(np.sum(pert <= s["epsilon"] * (1 + 1e-6)))
    accuracy = ctx.accuracy
    exposed = len(correct) / len(ctx.y)  # rows correct and reachable, of all rows
    found = pert[np.isfinite(pert)]
    # One-sided Clopper-Pearson lower bound of the share of rows lost, at the level.
    lower = float(stats.beta.ppf(level, lost, attacked - lost + 1)) if lost else 0.0
    # The bound had every attacked row been lost: can this many rows fail the check at all?
    threshold = s["max_attack_accuracy_drop"]
    could_fail = exposed * float(stats.beta.ppf(level, attacked, 1)) > threshold
    return {
        "attack": kind,
        "epsilon": s["epsilon"],
        "norm": "linf",
        "rows_attacked": attacked,
        "lost": lost,
        "accuracy": round(accuracy, 4),
        "reachable_share": round(exposed, 4),
        "attacked_accuracy": round(accuracy - exposed * lost / attacked, 4),
        "accuracy_drop": round(exposed * lost / attacked, 4),
        "drop_lower_bound": round(exposed * lower, 4),
        "adversarial_found": len(found),
        "median_perturbation": round(float(np.median(found)), 4) if len(found) else None,
        "min_perturbation": round(float(np.min(found)), 4) if len(found) else None,
        "queries": int(ctx.model.queries - queries_before),
        "decisive": bool(could_fail or exposed <= threshold),
    }


def _mixed(ctx: EvalContext) -> bool:
    """Whether some model input is not numeric (gradient attacks need all-numeric input)."""
    return len(ctx.numeric) != len(ctx.features)


def _row_model(
    ctx: EvalContext,
    row: int,
    values: np.ndarray,
    free: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
) -> Any:
    """``z -> one-hot labels`` for one row; z are its perturbable values in SD units.

    The row's other values (text, discrete columns, point masses) stay as they are.
    """
    import pandas as pd

    base = ctx.frame.iloc[[row]][ctx.features]
    classes = ctx.model.classes
    position = {c: i for i, c in enumerate(classes)}
    fast = getattr(ctx, "_matrix_ok", False)
    columns = {c: base[c].to_numpy() for c in ctx.features}
    fixed = values[row].copy()
    index_in_features = [ctx.features.index(c) for c in ctx.numeric]
    row_matrix = base.to_numpy(dtype=float)[0] if fast else None

    def predict(z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(z)
        numeric = np.tile(fixed, (len(z), 1))
        numeric[:, free] = z * sd[free] + mean[free]
        if fast:
            matrix = np.tile(row_matrix, (len(z), 1))
            matrix[:, index_in_features] = numeric
            labels = ctx.model.predict_matrix(matrix)
        else:
            data = {c: np.repeat(columns[c], len(z)) for c in ctx.features}
            data.update({c: numeric[:, i] for i, c in enumerate(ctx.numeric)})
            labels = ctx.model.predict(pd.DataFrame(data, columns=ctx.features))
        index = np.array([position.get(v, 0) for v in labels])
        return np.eye(len(classes), dtype=np.float32)[index]

    start = (fixed[free] - mean[free]) / sd[free]
    return predict, start


def _hsj_row(
    ctx: EvalContext,
    row: int,
    values: np.ndarray,
    free: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    s: dict[str, Any],
    rng: np.random.Generator,
) -> float:
    """Smallest L-infinity change (SDs) HopSkipJump finds for one row; inf if none.

    HopSkipJump's answer is an upper bound of the true minimal perturbation.
    """
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import BlackBoxClassifier

    predict, z = _row_model(ctx, row, values, free, mean, sd)
    span = 20.0  # the search box: +-20 SD around the data's mean
    classifier = BlackBoxClassifier(
        predict,
        input_shape=z.shape,
        nb_classes=len(ctx.model.classes),
        clip_values=(-span, span),
    )
    # About 120 queries per iteration (100 for the gradient estimate, the rest for the
    # boundary and step searches): more iterations with fewer queries each converge closer
    # to the minimal perturbation than the reverse (measured: 20 x 100 gets within 10 % of
    # 50 x 1000 on a linear model, 5 x 200 is 35 % above).
    attack = HopSkipJump(
        classifier,
        targeted=False,
        norm=np.inf,
        max_iter=max(3, s["max_queries"] // 120),
        max_eval=100,
        init_eval=25,
        init_size=50,
        verbose=False,
    )
    np.random.seed(int(rng.integers(2**31)))  # ART draws from numpy's global generator
    x = np.clip(z, -span, span).astype(np.float32)[None, :]
    adv = attack.generate(x=x)
    if np.argmax(predict(adv)[0]) == np.argmax(predict(x)[0]):
        return float("inf")
    return float(np.max(np.abs(adv[0] - x[0])))


def _pgd_row(
    ctx: EvalContext, row: int, free: np.ndarray, sd: np.ndarray, s: dict[str, Any]
) -> float:
    """PGD on a differentiable model at a ladder of epsilons: the smallest that flips.

    PGD runs only on all-numeric inputs (``ctx.numeric == ctx.features``); values that are
    not perturbable get an epsilon of zero.
    """
    from art.attacks.evasion import ProjectedGradientDescent

    classifier = _art_classifier(ctx)
    x = ctx.frame.iloc[[row]][ctx.features].to_numpy(dtype=np.float32)
    label = ctx.model.predict(ctx.frame.iloc[[row]])[0]
    for factor in (0.25, 0.5, 1.0, 2.0, 4.0):
        eps = (s["epsilon"] * factor * sd * free).astype(np.float32)
        attack = ProjectedGradientDescent(
            classifier,
            norm=np.inf,
            eps=eps,
            eps_step=np.maximum(eps / 4, 1e-12),
            max_iter=20,
            num_random_init=0,
            verbose=False,
        )
        adv = attack.generate(x=x)
        frame = ctx.frame.iloc[[row]][ctx.features].copy()
        frame[ctx.features] = adv
        if ctx.model.predict(frame)[0] != label:
            return float(np.max(np.abs(adv[0] - x[0]) / sd))
    return float("inf")


def _art_classifier(ctx: EvalContext) -> Any:
    """ART's gradient-aware wrapper of the loaded differentiable model."""
    cached = getattr(ctx, "_art_classifier", None)
    if cached is not None:
        return cached
    model = ctx.model
    if model.kind == "torchscript":
        import torch
        from art.estimators.classification import PyTorchClassifier

        wrapped = PyTorchClassifier(
            model=model.estimator,
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=(len(ctx.features),),
            nb_classes=len(model.classes),
        )
    elif model.kind == "logistic-regression":
        from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression

        wrapped = ScikitlearnLogisticRegression(model=model.estimator)
    else:
        from art.estimators.classification.scikitlearn import ScikitlearnSVC

        wrapped = ScikitlearnSVC(model=model.estimator)
    ctx._art_classifier = wrapped  # type: ignore[attr-defined]
    return wrapped
