"""Turn the evaluation child's JSON answer into the gate's result (findings, details, plots)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlsec_gates.gates._common import decide, now, tool_versions
from mlsec_gates.gates.model_eval import rules
from mlsec_gates.policy import Policy
from mlsec_gates.result import Finding, GateResult, Location, Subject

_CHECKS = ("fairness", "explainability", "robustness", "backdoor")
#: Decisions that keep the gate from passing without being a finding against the model.
_INCOMPLETE = ("inconclusive", "error")


def build_result(
    answer: dict[str, Any],
    *,
    started: datetime,
    policy: Policy,
    gate: str,
    model_uri: str,
    model_subject: Subject,
    data_subject: Subject,
    label: str,
    sensitive: list[str],
    budget: float,
    scan_summary: str,
) -> GateResult:
    """The gate result for the child's answer (an ``error`` result when it has none)."""
    where = Location(uri=model_uri)
    if "error" in answer:
        return _not_evaluated(answer, started, policy, gate, where, model_subject, data_subject)
    by_name = {c["check"]: c for c in answer.get("checks", [])}
    checks, findings = [], []
    for name in _CHECKS:
        entry = by_name.get(name) or {
            "check": name,
            "statistic": None,
            "threshold": None,
            "decision": "skipped",
            "summary": f"switched off (gates.model_eval.{name}.enabled: false)",
            "flags": [],
            "details": {},
        }
        if entry["decision"] == "error":
            entry["flags"] = [
                {
                    "rule": "check-incomplete",
                    "message": f"{name} check failed: {entry.get('error')}",
                    "evidence": {"error": entry.get("error"), "trace": entry.get("trace")},
                    "identity": name,
                }
            ]
        for flag in entry.pop("flags", []):
            rule = rules.BY_KEY[flag["rule"]]
            findings.append(
                rule.finding(
                    flag["message"],
                    Location(uri=model_uri, detail=f"{name} check"),
                    flag.get("evidence") or {},
                    identity=flag.get("identity"),
                )
            )
        checks.append(entry)
    decisions = [c["decision"] for c in checks]
    violations = "fail" in decisions
    incomplete = any(d in _INCOMPLETE for d in decisions) or all(d == "skipped" for d in decisions)
    status = decide(violations=violations, incomplete=incomplete, on_fail=policy.on_fail_for(gate))
    model = answer.get("model", {})
    details = {
        "checks": checks,
        "model": model,
        "label_column": label,
        "sensitive_columns": sensitive,
        "budget_seconds": budget,
        "scan": {"status": "pass", "summary": scan_summary},
        "plots": _plots(checks, findings),
    }
    verdict = "error" if incomplete else ("fail" if violations else "pass")
    return GateResult(
        gate=gate,
        status=status,
        summary=_summary(model_uri, model, checks, verdict),
        findings=tuple(findings),
        subjects=(Subject(**{**model_subject.to_dict(), "verdict": verdict}), data_subject),
        started_at=started,
        finished_at=now(),
        metrics=_metrics(model, checks),
        tool_versions=tool_versions(
            "scikit-learn", "fairlearn", "adversarial-robustness-toolbox", "onnxruntime", "pandas"
        ),
        policy=policy.effective(gate),
        details=details,
    )


def _not_evaluated(
    answer: dict[str, Any],
    started: datetime,
    policy: Policy,
    gate: str,
    where: Location,
    model_subject: Subject,
    data_subject: Subject,
) -> GateResult:
    stage = answer.get("stage", "worker")
    message = f"model not evaluated ({stage}): {answer['error']}"
    finding = rules.ModelNotEvaluated.finding(
        message, where, {"stage": stage, "error": answer["error"]}, identity=stage
    )
    return GateResult(
        gate=gate,
        status=decide(violations=False, incomplete=True, on_fail=policy.on_fail_for(gate)),
        summary=f"{where.uri}: {message}",
        findings=(finding,),
        subjects=(Subject(**{**model_subject.to_dict(), "verdict": "error"}), data_subject),
        started_at=started,
        finished_at=now(),
        metrics={"checks_run": 0},
        tool_versions=tool_versions("scikit-learn", "onnxruntime"),
        policy=policy.effective(gate),
        details={
            "checks": [
                {"check": name, "statistic": None, "threshold": None, "decision": "not run"}
                for name in _CHECKS
            ],
            "error": {"stage": stage, "message": answer["error"], "trace": answer.get("trace")},
        },
    )


def _plots(checks: list[dict[str, Any]], findings: list[Finding]) -> dict[str, str]:
    from mlsec_gates.gates.model_eval.plots import importance_svg

    explain = next((c for c in checks if c["check"] == "explainability"), {})
    rows = (explain.get("details") or {}).get("importance") or []
    flagged = {
        str(f.evidence.get("feature"))
        for f in findings
        if f.rule_id.startswith("model_eval.explainability.")
    }
    svg = importance_svg(rows, flagged=flagged)
    return {"feature_importance": svg} if svg else {}


def _metrics(model: dict[str, Any], checks: list[dict[str, Any]]) -> dict[str, float | int]:
    out: dict[str, float | int] = {
        "rows": int(model.get("rows", 0)),
        "accuracy": float(model.get("accuracy", 0.0)),
        "checks_failed": sum(c["decision"] == "fail" for c in checks),
        "checks_run": sum(c["decision"] not in ("skipped", "not run") for c in checks),
        "model_queries": int(model.get("queries", 0)),
    }
    for c in checks:
        if isinstance(c.get("statistic"), (int, float)):
            out[f"{c['check']}_{c.get('statistic_name', 'statistic')}"] = c["statistic"]
    return out


def _summary(uri: str, model: dict[str, Any], checks: list[dict[str, Any]], verdict: str) -> str:
    head = (
        f"{uri}: {model.get('type', 'model')} on {model.get('rows', 0)} row(s), accuracy "
        f"{model.get('accuracy', 0):.3f}."
    )
    failed = [c for c in checks if c["decision"] == "fail"]
    if failed:
        return head + " " + "; ".join(f"{c['check']}: {c.get('summary', '')}" for c in failed) + "."
    if verdict == "error":
        undecided = [c["check"] for c in checks if c["decision"] in _INCOMPLETE]
        return head + f" Could not decide: {', '.join(undecided) or 'no check ran'}."
    ran = [c["check"] for c in checks if c["decision"] == "pass"]
    return head + f" Passed: {', '.join(ran)}."
