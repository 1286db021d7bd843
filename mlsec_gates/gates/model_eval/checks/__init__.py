"""The four model-eval checks, in the order they run (cheap first), in one explicit table."""

from __future__ import annotations

from mlsec_gates.gates.model_eval.checks.backdoor import BackdoorCheck
from mlsec_gates.gates.model_eval.checks.base import Check, EvalContext, Flag, Outcome
from mlsec_gates.gates.model_eval.checks.explain import ExplainabilityCheck
from mlsec_gates.gates.model_eval.checks.fairness import FairnessCheck
from mlsec_gates.gates.model_eval.checks.robustness import RobustnessCheck

CHECKS: tuple[type[Check], ...] = (
    FairnessCheck,
    ExplainabilityCheck,
    BackdoorCheck,
    RobustnessCheck,
)

__all__ = ["CHECKS", "Check", "EvalContext", "Flag", "Outcome"]
