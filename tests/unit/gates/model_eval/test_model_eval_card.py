"""Model-eval results in the ML-BOM's model card, strictly valid CycloneDX 1.6."""

from __future__ import annotations

import json
from pathlib import Path

from mlsec_gates.gates.model_eval import model_eval_gate
from mlsec_gates.gates.sbom import sbom_gate
from mlsec_gates.result import Status
from tests.fixtures.eval_models import only


def test_fairness_results_go_into_the_model_card(cases, tmp_path: Path) -> None:
    case = cases["unfair"]
    evaluated = model_eval_gate(
        str(case.model),
        data=str(case.data),
        label_column="label",
        sensitive_columns=["sex"],
        policy=only("fairness", "robustness"),
        report_dir=str(tmp_path / "eval"),
    )
    # FAIL, also on a busy machine: the budget is CPU time, so the attack is not cut short
    assert evaluated.status is Status.FAIL, evaluated.summary
    decided = {c["check"]: c["decision"] for c in evaluated.details["checks"]}
    assert decided["fairness"] == "fail"
    bom_path = tmp_path / "model.cdx.json"
    result = sbom_gate(
        str(case.model),
        datasets=[str(case.data)],
        gate_reports=[evaluated.reports["json"]],
        out=str(bom_path),
        report_dir=str(tmp_path / "sbom"),
    )
    assert result.status is Status.PASS, result.summary  # strictly validated inside
    card = json.loads(bom_path.read_text())["metadata"]["component"]["modelCard"]
    metrics = card["quantitativeAnalysis"]["performanceMetrics"]
    slices = {(m["type"], m.get("slice")) for m in metrics}
    assert ("selection_rate", "sex = 1 (favourable: 1)") in slices
    assert any(m["type"] == "accuracy_under_attack" for m in metrics)
    assessment = card["considerations"]["fairnessAssessments"][0]
    assert assessment["groupAtRisk"] == "sex = 1"
    assert "failed" in assessment["mitigationStrategy"]
    assert any("fairness: fail" in t for t in card["considerations"]["technicalLimitations"])
