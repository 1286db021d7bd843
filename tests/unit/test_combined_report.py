"""The combined per-run report: status board, evidence, pillars, waivers; from results or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlsec_gates.errors import InputError
from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.reports import write_reports
from mlsec_gates.reports.combined import gather_reports, write_combined_report
from mlsec_gates.result import Finding, GateResult, Location, Severity, Status, WaiverMark
from mlsec_gates.storage import Storage
from tests.fixtures.pickles import os_system_p0

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc)
SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    '<script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def validate_result() -> GateResult:
    """A validate result with failing rows, one finding waived, the other not."""
    rows = [{"id": 4, "age": None}, {"id": 9, "age": None}]
    return GateResult(
        gate="validate",
        status=Status.FAIL,
        summary="train.csv: 2 expectation(s) failed.",
        findings=(
            Finding(
                rule_id="validate.nulls",
                severity=Severity.MEDIUM,
                message="age has 2 null values",
                location=Location(uri="train.csv", detail="column age"),
                evidence={"unexpected_count": 2, "sample_rows": rows},
                remediation="Fix the producer.",
            ),
            Finding(
                rule_id="validate.out-of-range",
                severity=Severity.MEDIUM,
                message="<b>age</b> out of range",
                location=Location(uri="train.csv", detail="column age"),
                evidence={"max": 300},
                waiver=WaiverMark(
                    id="w-abc",
                    approver="alice@example.com",
                    reason="legacy rows",
                    expires="2026-12-31",
                ),
            ),
        ),
        subjects=(),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2.5),
        policy={"source": "pipe.yaml", "sources": ["platform.yaml", "pipe.yaml"]},
    )


def drift_result() -> GateResult:
    """A drift-like result keeping a plot in its details."""
    return GateResult(
        gate="drift",
        status=Status.PASS,
        summary="no drift",
        findings=(),
        subjects=(),
        started_at=T0 + timedelta(seconds=3),
        finished_at=T0 + timedelta(seconds=4),
        details={
            "columns": {"age": {"plot": SVG}},
            "checks": [
                {
                    "column": "age",
                    "kind": "numeric",
                    "method": "ks",
                    "statistic": 0.001,
                    "threshold": 0.05,
                    "statistic_kind": "p_value",
                    "drifted": True,
                    "decision": "drift",
                    "note": "",
                },
                {
                    "column": "<b>x</b>",
                    "kind": "numeric",
                    "method": "wasserstein",
                    "statistic": 0.02,
                    "threshold": 0.1,
                    "statistic_kind": "distance",
                    "drifted": False,
                    "decision": "no drift",
                    "note": "",
                },
            ],
            "histograms": {
                "age": {
                    "labels": ["0", "50", "100"],
                    "reference": [0.5, 0.5, 0.0],
                    "current": [0.1, 0.3, 0.6],
                },
            },
        },
    )


@pytest.fixture()
def scan_result(tmp_path: Path) -> GateResult:
    model = tmp_path / "model"
    model.mkdir()
    (model / "evil.pkl").write_bytes(os_system_p0("id"))
    return scan_gate([str(model)], report_dir=str(tmp_path / "run" / "scan"))


def test_from_results(tmp_path: Path, scan_result: GateResult) -> None:
    out = tmp_path / "run"
    written = write_combined_report(
        [scan_result, drift_result(), validate_result()],
        str(out),
        run_context={"dag_id": "train_iris", "run_id": "manual__1"},
        not_run=["sbom", "sign"],
    )
    assert set(written) == {"json", "markdown", "html"}
    data = json.loads(Path(written["json"]).read_text())
    assert data["status"] == "fail" and data["headline"] == "FAILED at validate"
    assert [(r["gate"], r["status"]) for r in data["board"]] == [
        ("validate", "fail"),
        ("drift", "pass"),
        ("scan", "fail"),
        ("sbom", "not run"),
        ("sign", "not run"),
    ]
    assert data["board"][0]["duration_seconds"] == 2.5
    assert data["board"][0]["waived"] == 1
    assert data["waived"] == [
        {
            "gate": "validate",
            "fingerprint": validate_result().findings[1].fingerprint,
            "rule_id": "validate.out-of-range",
            "message": "<b>age</b> out of range",
            "waiver": {
                "id": "w-abc",
                "approver": "alice@example.com",
                "reason": "legacy rows",
                "expires": "2026-12-31",
            },
        }
    ]
    assert data["policy_sources"] == ["platform.yaml", "pipe.yaml", "<defaults>"]
    assert [g["gate"] for g in data["gates"]] == ["validate", "drift", "scan"]
    assert data["run_context"]["dag_id"] == "train_iris"

    html = Path(written["html"]).read_text()
    assert 'id="status-board"' in html
    assert "os.system" in html and "Byte offset" in html  # the offending global and offset
    assert '<th class="mono">age</th>' in html  # the failing rows, as a table
    assert "Model-artifact code execution" in html and "Data validation" in html
    assert "WAIVED" in html and "alice@example.com" in html and "2026-12-31" in html
    assert "&lt;b&gt;age&lt;/b&gt;" in html and "<b>age</b>" not in html  # escaped
    assert "data:image/svg+xml;base64," in html and "<script>" not in html  # plot as image
    assert 'href="scan/scan-report.html"' in html  # relative link to the gate's own page
    assert 'alt="drift per column"' in html
    assert 'alt="age: reference (grey) vs current (orange)"' in html  # the gate's histogram
    assert "http" not in html.replace("http://www.w3.org", "")  # self-contained

    markdown = Path(written["markdown"]).read_text()
    assert markdown.startswith("# mlsec-gates run: FAILED at validate")
    assert "| sbom | NOT RUN |" in markdown
    assert "w-abc by alice@example.com, expires 2026-12-31" in markdown
    assert "why: Model-artifact code execution." in markdown


def test_drift_chart_draws_every_check_and_escapes_names() -> None:
    import base64

    from mlsec_gates.reports.combined_plots import drift_chart as _drift_chart

    [chart] = _drift_chart(drift_result().details)
    svg = base64.b64decode(chart["src"].split(",", 1)[1]).decode()
    assert svg.count("<rect ") == 3  # background + one bar per check
    assert 'fill="#b3261e"' in svg  # the drifted column in red
    assert "&lt;b&gt;x&lt;/b&gt;" in svg and "<b>" not in svg
    assert _drift_chart({"checks": [{"column": "a"}]}) == []


def test_from_report_folders_as_airflow_leaves_them(
    tmp_path: Path, scan_result: GateResult
) -> None:
    storage = Storage()
    write_reports(validate_result(), str(tmp_path / "run" / "validate"), storage=storage)
    written = write_combined_report([str(tmp_path / "run")], str(tmp_path / "run"))
    data = json.loads(Path(written["json"]).read_text())
    assert [g["gate"] for g in data["gates"]] == ["validate", "scan"]
    # Running it again ignores the combined report it wrote itself.
    again = gather_reports([str(tmp_path / "run")])
    assert [g["gate"] for g in again] == ["validate", "scan"]


def test_single_json_files(tmp_path: Path, scan_result: GateResult) -> None:
    [report] = gather_reports([scan_result.reports["json"]])
    assert report["gate"] == "scan" and report["findings"]


def test_nothing_to_combine_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no gate report"):
        write_combined_report([str(tmp_path / "empty")], str(tmp_path / "out"))


@pytest.mark.parametrize("text", ["not json", '{"gate": "scan"}', '{"schema_version": "2.0"}'])
def test_a_file_that_is_not_a_gate_report_is_an_error(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "x-report.json"
    bad.write_text(text)
    with pytest.raises(InputError, match=str(bad)):
        gather_reports([str(bad)])


@pytest.mark.s3
def test_gathers_from_and_writes_to_s3(s3_env: str, s3_bucket: str, tmp_path: Path) -> None:
    from mlsec_gates.storage import S3Options

    storage = Storage(S3Options(endpoint_url=s3_env))
    prefix = f"s3://{s3_bucket}/runs/42/"
    write_reports(validate_result(), prefix + "validate/", storage=storage)
    write_reports(drift_result(), prefix + "drift/", storage=storage)
    written = write_combined_report([prefix], prefix, storage=storage)
    assert written["html"] == prefix + "combined-report.html"
    data = json.loads(storage.read_text(written["json"]))
    assert [g["gate"] for g in data["gates"]] == ["validate", "drift"]


# --- steps without a report, titles, rounding, KFP run folders -------------------------


def test_planned_steps_without_a_report_are_listed(tmp_path: Path) -> None:
    written = write_combined_report(
        [validate_result().with_reports({})],
        str(tmp_path / "out"),
        run_context={"orchestrator": "airflow", "dag_id": "credit", "run_id": "manual__1"},
        not_run=["scan", "sign"],
        could_not_run={"drift": "s3://b/r.json: S3 rejected the credentials"},
    )
    data = json.loads(Path(written["json"]).read_text())
    assert [(r["gate"], r["status"]) for r in data["board"]] == [
        ("validate", "fail"),
        ("drift", "could not run"),
        ("scan", "not run"),
        ("sign", "not run"),
    ]
    assert (data["status"], data["headline"]) == ("error", "FAILED at validate")
    assert data["title"] == "credit · manual__1"
    assert data["could_not_run"] == {"drift": "s3://b/r.json: S3 rejected the credentials"}
    html = Path(written["html"]).read_text()
    assert "<title>credit · manual__1:" in html and "COULD NOT RUN" in html
    assert "credit · manual__1" in Path(written["markdown"]).read_text().splitlines()[0]


def test_a_run_where_no_gate_ran_still_gets_its_report(tmp_path: Path) -> None:
    written = write_combined_report([], str(tmp_path), not_run=["validate", "scan"])
    data = json.loads(Path(written["json"]).read_text())
    assert (data["status"], data["passed"]) == ("not run", False)
    assert data["headline"].startswith("NOT RUN")


def test_gates_that_passed_before_a_stage_never_started_are_incomplete(tmp_path: Path) -> None:
    passed = GateResult(
        gate="validate",
        status=Status.PASS,
        summary="ok",
        findings=(),
        subjects=(),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1.23456),
        metrics={"ratio": 0.123456789},
    )
    written = write_combined_report([passed], str(tmp_path), not_run=["scan"])
    data = json.loads(Path(written["json"]).read_text())
    assert (data["status"], data["passed"]) == ("incomplete", False)
    assert data["headline"] == "INCOMPLETE: scan not run"
    assert data["board"][0]["duration_text"] == "1.235 s"  # rounded for people


def test_kfp_report_json_outputs_are_read_once_each(tmp_path: Path) -> None:
    """A KFP run folder: report_json outputs (no extension) and their report_files copies."""
    result = write_reports(validate_result(), str(tmp_path / "r"), storage=Storage())
    body = Path(result.reports["json"]).read_text()
    task = tmp_path / "run" / "data-validation-uri"
    (task / "report_files").mkdir(parents=True)
    (task / "report_json").write_text(body)
    (task / "report_files" / "validate-report.json").write_text(body)
    publish = tmp_path / "run" / "publish-report"
    publish.mkdir()
    (publish / "report_json").write_text('{"kind": "mlsec-gates/combined-report"}')
    reports = gather_reports([str(tmp_path / "run")])
    assert [r["gate"] for r in reports] == ["validate"]


def test_evidence_numbers_are_rounded_in_html_only(tmp_path: Path) -> None:
    from mlsec_gates.reports.html import evidence_view

    assert evidence_view(0.000123456789)["text"] == "0.0001235"
    assert evidence_view({"p": 0.987654321, "n": 3})["text"] == '{"p": 0.9877, "n": 3}'
