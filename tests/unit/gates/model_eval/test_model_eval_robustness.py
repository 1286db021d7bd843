"""The robustness check's decisions when it cannot apply and when its attack is cut short.

These run the check in this process on a model wrapped by hand (a plain rule over two
columns), so they need neither a model file nor the child process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlsec_gates.gates.model_eval.checks import EvalContext
from mlsec_gates.gates.model_eval.checks.base import budget_clock
from mlsec_gates.gates.model_eval.checks.robustness import RobustnessCheck
from mlsec_gates.gates.model_eval.model import LoadedModel, label_text
from mlsec_gates.policy import ModelEvalPolicy


def _context(frame: pd.DataFrame, truth: np.ndarray, rule) -> tuple[EvalContext, dict]:
    features = ["code", "amount"]
    model = LoadedModel(
        kind="sklearn",
        classes=["0", "1"],
        features=features,
        _predict=lambda f: rule(f).astype(int),
    )
    settings = ModelEvalPolicy().model_dump(mode="json")
    ctx = EvalContext(
        model=model,
        frame=frame,
        y=label_text(truth),
        y_pred=model.predict(frame),
        sensitive=[],
        numeric=features,
        settings=settings,
        budget_seconds=30,
    )
    return ctx, settings["robustness"]


def test_nothing_to_perturb_on_a_correct_row_is_skipped_and_says_why() -> None:
    """'amount' varies only on the rows the model gets wrong: noise cannot cost accuracy."""
    rng = np.random.default_rng(0)
    n = 400
    code = rng.integers(0, 4, n).astype(float)
    wrong = np.zeros(n, dtype=bool)
    wrong[:15] = True  # under 5 % each value, so only these rows hold perturbable amounts
    amount = np.where(wrong, rng.normal(100, 30, n), 0.0)
    frame = pd.DataFrame({"code": code, "amount": amount})
    truth = (code >= 2).astype(int)
    truth[wrong] = 1 - truth[wrong]
    ctx, settings = _context(frame, truth, lambda f: f["code"].to_numpy() >= 2)
    outcome = RobustnessCheck(settings).run(ctx, budget_clock() + 10)
    assert outcome.decision == "skipped"
    assert "no correctly classified row" in outcome.details["not_applicable"]
    assert [f.rule for f in outcome.flags] == ["check-skipped"]
    assert "not applicable" in outcome.flags[0].message


def test_an_attack_cut_short_before_it_could_fail_is_inconclusive_not_a_pass() -> None:
    from art.attacks.evasion import HopSkipJump  # noqa: F401  (imported before the clock runs)

    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame(
        {"code": rng.integers(0, 3, n).astype(float), "amount": rng.normal(size=n)}
    )
    truth = (frame["amount"] > 0).astype(int).to_numpy()
    ctx, settings = _context(frame, truth, lambda f: f["amount"].to_numpy() > 0)
    # one attacked row: had it flipped, the lower bound (0.025 x accuracy) is far below 0.25
    outcome = RobustnessCheck({**settings, "attack_rows": 1, "max_queries": 360}).run(
        ctx, budget_clock() + 120
    )
    attack = outcome.details["attack"]
    assert attack["rows_attacked"] == 1 and attack["decisive"] is False
    assert outcome.decision == "inconclusive"
    assert any(f.rule == "check-incomplete" and "too few" in f.message for f in outcome.flags)
    # the same model with enough rows attacked decides
    enough = RobustnessCheck({**settings, "attack_rows": 8, "max_queries": 360}).run(
        ctx, budget_clock() + 120
    )
    # the budget is CPU time, so a loaded machine slows this down but does not cut it short
    assert enough.details["attack"]["rows_attacked"] == 8
    assert enough.details["attack"]["decisive"] is True
    assert enough.decision in ("pass", "fail")
