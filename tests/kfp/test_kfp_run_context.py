"""Gate components hand the pipeline's run and task ids to their gate (ledger, BOM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp import dsl
from kfp_helpers import PIPELINES, clean_pickle, gate_outputs, load_pipeline_module

from mlsec_gates.components import artifact_scan_uri
from mlsec_gates.components._runtime import kfp_run_context

pytestmark = pytest.mark.kfp


def _entries(ledger: Path) -> list[dict]:
    return [json.loads(line)["entry"] for line in ledger.read_text().splitlines() if line]


def test_retried_component_task_appends_one_ledger_entry(tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(clean_pickle())
    ledger = tmp_path / "ledger.jsonl"
    policy = f"ledger: {{uri: '{ledger}'}}"
    for attempt in ("first", "retry"):
        (tmp_path / attempt).mkdir()
        outs = gate_outputs(tmp_path / attempt)
        sarif = dsl.Artifact(uri=str(tmp_path / attempt / "outputs" / "report_sarif"))
        passed, _, _ = artifact_scan_uri.python_func(
            report_sarif=sarif,
            model_uri=str(model),
            policy=policy,
            run_id="run-7",
            task_name="artifact-scan",
            **outs,
        )
        assert passed
    [entry] = _entries(ledger)
    assert entry["idempotency_key"] == "kfp:run-7/artifact-scan"
    assert entry["run"] == {"orchestrator": "kfp", "run_id": "run-7", "task_id": "artifact-scan"}


def test_without_run_id_there_is_no_run_context() -> None:
    assert kfp_run_context("", "task") is None
    assert kfp_run_context("{{$.pipeline_job_uuid}}", "task") is None  # unresolved placeholder
    assert kfp_run_context("r", "{{$.pipeline_task_name}}") == {
        "orchestrator": "kfp",
        "run_id": "r",
    }


def test_example_pipelines_pass_the_run_placeholders() -> None:
    for name in ("scan_model_pipeline.yaml", "deploy_model_pipeline.yaml"):
        text = (PIPELINES / name).read_text()
        assert "{{$.pipeline_job_uuid}}" in text, name
        assert "{{$.pipeline_task_name}}" in text, name
    assert load_pipeline_module(PIPELINES / "scan_model_pipeline.py").RUN["run_id"]
