"""ArtifactScanGateOperator against the real scan gate, with a fake task instance."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.errors import InputError
from mlsec_gates.operators import ArtifactScanGateOperator

pytestmark = pytest.mark.airflow


def _path_of(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


def test_clean_file_passes_and_pushes_report(
    clean_model: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = ArtifactScanGateOperator(
        task_id="scan", targets=str(clean_model), report_dir=str(tmp_path / "reports")
    )
    summary = op.execute(fake_context)

    assert summary["gate"] == "scan"
    assert summary["status"] == "pass"
    assert summary["passed"] is True
    assert summary["counts"] == {"verdict_pass": 1}
    json.dumps(summary)  # an XCom must be plain JSON
    xcoms = fake_context["ti"].xcoms
    assert _path_of(xcoms["report_url"]).is_file()
    assert _path_of(xcoms["report_json_url"]).is_file()
    assert summary["report_url"] == xcoms["report_url"]
    assert summary["report_json_url"] == xcoms["report_json_url"]
    report = json.loads(_path_of(xcoms["report_json_url"]).read_text())
    assert report["status"] == "pass"
    assert report["subjects"][0]["path"] == str(clean_model)


def test_malicious_file_fails_with_summary(
    malicious_model: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = ArtifactScanGateOperator(
        task_id="scan", targets=[str(malicious_model)], report_dir=str(tmp_path / "reports")
    )
    with pytest.raises(AirflowFailException) as excinfo:
        op.execute(fake_context)

    message = str(excinfo.value)
    report = json.loads(_path_of(fake_context["ti"].xcoms["report_json_url"]).read_text())
    assert report["status"] == "fail"
    assert report["summary"] in message
    assert "os.system" in message
    assert "BLOCK" in message
    # The report was written before the task failed, and the link points at it.
    html = _path_of(fake_context["ti"].xcoms["report_url"]).read_text()
    assert "os.system" in html


def test_sarif_url_is_pushed_before_the_task_fails(
    malicious_model: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = ArtifactScanGateOperator(
        task_id="scan", targets=[str(malicious_model)], report_dir=str(tmp_path / "reports")
    )
    with pytest.raises(AirflowFailException):
        op.execute(fake_context)
    sarif = json.loads(_path_of(fake_context["ti"].xcoms["sarif_url"]).read_text())
    assert sarif["version"] == "2.1.0"
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "scan.pickle.dangerous-global"


def test_allowlist_file_and_cache_options(tmp_path: Path, fake_context: dict[str, Any]) -> None:
    model = tmp_path / "head.pkl"
    model.write_bytes(b"\x80\x02cacme.models\nHead\nq\x00)\x81q\x01.")  # never loaded
    allow = tmp_path / "allow.yaml"
    allow.write_text("- global: acme.models.Head\n  reason: our own class, SEC-1\n")
    op = ArtifactScanGateOperator(
        task_id="scan",
        targets=str(model),
        allowlist=str(allow),
        use_cache=False,
        report_dir=str(tmp_path / "reports"),
    )
    summary = op.execute(fake_context)
    assert summary["status"] == "pass"
    assert summary["sarif_url"] == fake_context["ti"].xcoms["sarif_url"]


def test_warn_lets_the_task_succeed_and_logs_a_warning(
    malicious_model: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    from structlog.testing import capture_logs

    op = ArtifactScanGateOperator(
        task_id="scan",
        targets=[str(malicious_model)],
        report_dir=str(tmp_path / "reports"),
        on_fail="warn",
    )
    with capture_logs() as logs:
        summary = op.execute(fake_context)

    assert summary["status"] == "warn"
    assert summary["passed"] is True
    assert summary["counts"]["verdict_block"] == 1
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "on_fail=warn" in warnings[0]["event"]
    assert "report_url" in fake_context["ti"].xcoms


def test_missing_path_fails_with_one_line_error(
    tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    missing = tmp_path / "no" / "model.pkl"
    op = ArtifactScanGateOperator(
        task_id="scan", targets=[str(missing)], report_dir=str(tmp_path / "reports")
    )
    with pytest.raises(InputError) as excinfo:
        op.execute(fake_context)

    message = str(excinfo.value)
    assert message == f"{missing}: no such file or directory"
    assert "\n" not in message
    assert not (tmp_path / "reports").exists()


def test_default_report_dir_is_per_run_under_airflow_home(
    clean_model: Path, fake_context: dict[str, Any]
) -> None:
    op = ArtifactScanGateOperator(task_id="scan", targets=[str(clean_model)])
    summary = op.execute(fake_context)

    expected = (
        Path(os.environ["AIRFLOW_HOME"])
        / "mlsec-gate-reports"
        / "unit_dag"
        / "manual__2026-01-01T00_00_00+00_00"
        / "scan"
    )
    assert _path_of(summary["report_url"]).parent == expected.resolve()


def test_template_fields() -> None:
    fields = set(ArtifactScanGateOperator.template_fields)
    assert {"targets", "allowlist", "policy", "report_dir", "on_fail"} <= fields
    assert "aws_conn_id" not in fields


def test_templates_render_targets_and_options(clean_model: Path, tmp_path: Path) -> None:
    from airflow.sdk import DAG

    with DAG(dag_id="render_check", schedule=None) as dag:
        op = ArtifactScanGateOperator(
            task_id="scan",
            targets=["{{ params.model }}"],
            report_dir="{{ params.out }}/{{ run_id }}",
            on_fail="{{ params.mode }}",
            params={"model": str(clean_model), "out": str(tmp_path), "mode": "warn"},
        )
    context = {"params": op.params, "run_id": "r1", "dag": dag, "task": op}
    op.render_template_fields(context)
    assert op.targets == [str(clean_model)]
    assert op.report_dir == f"{tmp_path}/r1"
    assert op.on_fail == "warn"
