"""The model-eval gate's finding types: one class each, with a stable id and severity."""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule

_FAIR_WHY = (
    "A model that selects or errs more for one group than another discriminates, whatever "
    "its overall accuracy; the four-fifths rule is the usual floor in hiring and lending."
)
_EXPLAIN_WHY = (
    "A decision that rests on a protected attribute, or on a feature that stands for one, is "
    "discrimination by proxy; one dominant feature makes the model fragile and easy to game."
)
_ROBUST_WHY = (
    "Predictions that flip under small changes of the inputs are unreliable in production "
    "and let an attacker choose the outcome with a barely altered request."
)


class DemographicParity(Rule):
    """Selection rates differ between sensitive groups past the policy's floor."""

    id: ClassVar[str] = "model_eval.fairness.demographic-parity"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Compare the groups' selection rates in the report. Check the training data for "
        "under-represented groups or labels that encode past decisions; retrain with "
        "reweighting or a fairness constraint (fairlearn's ExponentiatedGradient or "
        "ThresholdOptimizer), or accept with a waiver that records why the gap is justified."
    )
    why: ClassVar[str] = _FAIR_WHY


class EqualizedOdds(Rule):
    """True- or false-positive rates differ between sensitive groups past the policy's cap."""

    id: ClassVar[str] = "model_eval.fairness.equalized-odds"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "The model errs more often for one group. Look at that group's rows and labels; add "
        "data for it, or post-process with fairlearn's ThresholdOptimizer(constraints="
        "'equalized_odds')."
    )
    why: ClassVar[str] = _FAIR_WHY


class GroupTooSmall(Rule):
    """A sensitive group has too few evaluation rows to be judged (not a pass)."""

    id: ClassVar[str] = "model_eval.fairness.group-too-small"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Evaluate on more rows of these groups, or lower gates.model_eval.fairness."
        "min_group_size knowingly; until then their treatment is unknown."
    )
    why: ClassVar[str] = "A rate measured on a handful of rows says nothing either way."


class FairnessInconclusive(Rule):
    """No two groups of a sensitive column are large enough to compare."""

    id: ClassVar[str] = "model_eval.fairness.inconclusive"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Give an evaluation set with at least min_group_size rows in two or more groups of "
        "each sensitive column, or switch the check off (fairness.enabled: false) knowingly."
    )
    why: ClassVar[str] = "Fairness that could not be measured is not fairness shown."


class SensitiveFeature(Rule):
    """A sensitive column is among the model's most important features."""

    id: ClassVar[str] = "model_eval.explainability.sensitive-feature"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Drop the sensitive column from the model's inputs (keep it for fairness checks), "
        "retrain, and run the fairness check again."
    )
    why: ClassVar[str] = _EXPLAIN_WHY


class ProxyFeature(Rule):
    """A top feature carries most of the information of a sensitive column."""

    id: ClassVar[str] = "model_eval.explainability.proxy-feature"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Removing the sensitive column is not enough when a feature stands for it. Drop or "
        "coarsen the proxy, or de-correlate it (fairlearn's CorrelationRemover), retrain, "
        "and compare the fairness metrics."
    )
    why: ClassVar[str] = _EXPLAIN_WHY


class DominantFeature(Rule):
    """One feature carries most of the model's importance."""

    id: ClassVar[str] = "model_eval.explainability.dominant-feature"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Check the feature for target leakage (a column computed from the label or after the "
        "outcome). If it is legitimate, raise or unset explainability.dominance_share."
    )
    why: ClassVar[str] = _EXPLAIN_WHY


class NoiseBrittle(Rule):
    """Accuracy falls under small random noise more than the policy allows."""

    id: ClassVar[str] = "model_eval.robustness.noise"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "The model overfits exact values. Regularize (shallower trees, fewer leaves, stronger "
        "L2), train with noise augmentation, or round features to their real precision."
    )
    why: ClassVar[str] = _ROBUST_WHY


class EvasionBrittle(Rule):
    """An evasion attack flips many predictions within the perturbation budget."""

    id: ClassVar[str] = "model_eval.robustness.evasion"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Small, targeted input changes flip the model. Regularize, use monotonic constraints "
        "where the domain has them, train adversarially (ART's AdversarialTrainer), and "
        "validate inputs at serving time. The report gives the minimal perturbation found."
    )
    why: ClassVar[str] = _ROBUST_WHY


class BackdoorTrigger(Rule):
    """A feature value or combination flips most predictions to one class."""

    id: ClassVar[str] = "model_eval.backdoor.trigger"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = (
        "Do not publish the model. Find the training rows with the trigger pattern (the drift "
        "gate's value x label spike detector lists them), trace where they came from, remove "
        "them and retrain; then check that the trigger no longer flips predictions."
    )
    why: ClassVar[str] = (
        "A backdoored model behaves normally until an input carries the trigger, then gives "
        "the attacker's answer: poisoned training data plants it, accuracy does not show it."
    )


class ScanNotPassed(Rule):
    """The scan gate did not pass the model file, so it was not loaded."""

    id: ClassVar[str] = "model_eval.scan-not-passed"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = (
        "The model file is only loaded after the scan gate passes it. Run 'mlsec-gates scan' "
        "on it and follow that report; never load a blocked or quarantined file."
    )
    why: ClassVar[str] = (
        "Evaluating a model means loading it, and loading a pickle runs the code it holds."
    )


class ModelNotEvaluated(Rule):
    """The model could not be loaded or run on the evaluation data, or the worker died."""

    id: ClassVar[str] = "model_eval.not-evaluated"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Read the message: an unsupported format, a missing library in the evaluation "
        "environment (install the model-eval extra and the model's own package, e.g. "
        "xgboost), columns the model needs, or a memory/time limit "
        "(gates.model_eval.memory_mb, --budget)."
    )
    why: ClassVar[str] = "A model that was not evaluated has not shown it is safe to publish."


class CheckIncomplete(Rule):
    """A check broke or ran out of budget before it could decide."""

    id: ClassVar[str] = "model_eval.check-incomplete"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Raise --budget (gates.model_eval.budget_seconds) or the check's own limits, or fix "
        "the error named in the message."
    )
    why: ClassVar[str] = "A check that did not finish proves nothing; the gate does not pass."


class CheckSkipped(Rule):
    """A check did not apply (no sensitive column, no numeric input, switched off)."""

    id: ClassVar[str] = "model_eval.check-skipped"
    severity: ClassVar[Severity] = Severity.INFO
    remediation: ClassVar[str] = (
        "Give --sensitive-columns to check fairness and proxies; robustness needs numeric inputs."
    )
    why: ClassVar[str] = "What was not checked is listed so nobody reads it as a pass."


RULES: tuple[type[Rule], ...] = (
    DemographicParity,
    EqualizedOdds,
    GroupTooSmall,
    FairnessInconclusive,
    SensitiveFeature,
    ProxyFeature,
    DominantFeature,
    NoiseBrittle,
    EvasionBrittle,
    BackdoorTrigger,
    ScanNotPassed,
    ModelNotEvaluated,
    CheckIncomplete,
    CheckSkipped,
)

#: The rule of each flag key the checks raise (see :class:`.checks.base.Flag`).
BY_KEY: dict[str, type[Rule]] = {
    "demographic-parity": DemographicParity,
    "equalized-odds": EqualizedOdds,
    "group-too-small": GroupTooSmall,
    "fairness-inconclusive": FairnessInconclusive,
    "sensitive-feature": SensitiveFeature,
    "proxy-feature": ProxyFeature,
    "dominant-feature": DominantFeature,
    "noise": NoiseBrittle,
    "evasion": EvasionBrittle,
    "trigger": BackdoorTrigger,
    "check-incomplete": CheckIncomplete,
    "check-skipped": CheckSkipped,
}
