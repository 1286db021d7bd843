"""What a model-eval report contributes to the ML-BOM's ``modelCard`` (CycloneDX 1.6).

The SBOM gate reads earlier gates' JSON reports (:mod:`mlsec_gates.gates.sbom.evidence`);
for a model-eval report it calls :func:`model_card_parts` and splices the result into the
model card: per-group and robustness numbers as ``quantitativeAnalysis.performanceMetrics``
(with the group as ``slice``), one ``considerations.fairnessAssessments`` entry per judged
grouping, and what the checks found or could not decide as ``technicalLimitations``. Every
value is a string, as the schema wants. Imports only the standard library.
"""

from __future__ import annotations

from typing import Any

#: Most metrics taken from one report (a BOM is not the place for every group of every
#: intersection; the report has them all).
MAX_METRICS = 200


def model_card_parts(report: dict[str, Any]) -> dict[str, list[Any]]:
    """``performanceMetrics``, ``fairnessAssessments`` and ``technicalLimitations`` entries."""
    details = report.get("details") or {}
    checks = {c.get("check"): c for c in details.get("checks") or [] if isinstance(c, dict)}
    model = details.get("model") or {}
    metrics: list[dict[str, str]] = []
    if isinstance(model.get("accuracy"), (int, float)):
        metrics.append(_metric("accuracy", model["accuracy"], "evaluation set"))
    assessments: list[dict[str, str]] = []
    fairness = checks.get("fairness") or {}
    for grouping in (fairness.get("details") or {}).get("groupings") or []:
        metrics += _group_metrics(grouping)
        assessment = _assessment(grouping)
        if assessment:
            assessments.append(assessment)
    metrics += _robustness_metrics(checks.get("robustness") or {})
    backdoor = checks.get("backdoor") or {}
    if isinstance(backdoor.get("statistic"), (int, float)):
        metrics.append(_metric("backdoor_trigger_flip_rate", backdoor["statistic"], "trigger"))
    limitations = [
        f"model-eval {name}: {c.get('decision')}: {c.get('summary', '')}".strip()
        for name, c in checks.items()
        if c.get("decision") in ("fail", "inconclusive", "error", "skipped")
    ]
    return {
        "performanceMetrics": metrics[:MAX_METRICS],
        "fairnessAssessments": assessments,
        "technicalLimitations": limitations,
    }


def _metric(kind: str, value: Any, slice_: str) -> dict[str, str]:
    return {"type": kind, "value": _text(value), "slice": slice_}


def _group_metrics(grouping: dict[str, Any]) -> list[dict[str, str]]:
    name, positive = grouping.get("grouping", "?"), grouping.get("positive_label")
    out = []
    for group in grouping.get("groups") or []:
        where = f"{name} = {group.get('group')} (favourable: {positive})"
        for key in ("accuracy", "selection_rate", "true_positive_rate", "false_positive_rate"):
            if isinstance(group.get(key), (int, float)):
                out.append(_metric(key, group[key], where))
    for key in (
        "demographic_parity_ratio",
        "demographic_parity_difference",
        "equalized_odds_difference",
    ):
        if isinstance(grouping.get(key), (int, float)):
            out.append(_metric(key, grouping[key], f"{name} (favourable: {positive})"))
    return out


def _assessment(grouping: dict[str, Any]) -> dict[str, str] | None:
    low, high = grouping.get("lowest_selection"), grouping.get("highest_selection")
    ratio = grouping.get("demographic_parity_ratio")
    if low is None or ratio is None:
        return None
    name = grouping.get("grouping", "?")
    rates = {g.get("group"): g.get("selection_rate") for g in grouping.get("groups") or []}
    failed = grouping.get("decision") == "fail"
    return {
        "groupAtRisk": f"{name} = {low}",
        "benefits": f"selection rate {_text(rates.get(low))} vs {_text(rates.get(high))} for "
        f"{name} = {high} (demographic-parity ratio {_text(ratio)})",
        "harms": (
            f"fewer favourable outcomes or more errors for {name} = {low} "
            f"(equalized-odds difference {_text(grouping.get('equalized_odds_difference'))})"
        ),
        "mitigationStrategy": (
            "the model-eval gate failed this grouping: retrain with a fairness constraint or "
            "document an approved waiver"
            if failed
            else "within the policy's fairness thresholds at evaluation time"
        ),
    }


def _robustness_metrics(check: dict[str, Any]) -> list[dict[str, str]]:
    details = check.get("details") or {}
    noise, attack = details.get("noise") or {}, details.get("attack") or {}
    out = []
    if isinstance(noise.get("noisy_accuracy"), (int, float)):
        where = f"gaussian noise {noise.get('noise_scale')} SD"
        out.append(_metric("accuracy_under_noise", noise["noisy_accuracy"], where))
    if isinstance(attack.get("attacked_accuracy"), (int, float)):
        where = f"{attack.get('attack')} L-inf {attack.get('epsilon')} SD"
        out.append(_metric("accuracy_under_attack", attack["attacked_accuracy"], where))
    if isinstance(attack.get("median_perturbation"), (int, float)):
        where = f"{attack.get('attack')} (upper bound, SD units)"
        out.append(_metric("median_minimal_perturbation", attack["median_perturbation"], where))
    return out


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)
