"""Tests for mlsec_gates.result: fingerprints, counts, status and the JSON layout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.result import (
    SCHEMA_VERSION,
    Finding,
    GateResult,
    Location,
    Severity,
    Status,
    Subject,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
)
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _finding(
    *,
    rule_id: str = "scan.pickle.dangerous-global",
    message: str = "imports os.system",
    uri: str = "model.pkl",
    offset: int | None = 2,
    severity: Severity = Severity.CRITICAL,
    evidence: dict[str, object] | None = None,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        severity=severity,
        message=message,
        location=Location(uri=uri, offset=offset),
        evidence={"global": "os.system"} if evidence is None else evidence,
    )


def _result(
    *,
    status: Status = Status.FAIL,
    findings: tuple[Finding, ...] = (),
    subjects: tuple[Subject, ...] = (),
) -> GateResult:
    return GateResult(
        gate="scan",
        status=status,
        summary="one line",
        findings=findings,
        subjects=subjects,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1.2345),
    )


def _validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


class TestFingerprint:
    def test_same_finding_gives_same_fingerprint(self) -> None:
        assert _finding().fingerprint == _finding().fingerprint

    def test_stable_across_runs(self) -> None:
        # Not derived from hash() (salted per process) or the time: a new interpreter with
        # a different hash seed computes the same value.
        code = (
            "from mlsec_gates.result import Finding, Location, Severity;"
            "print(Finding(rule_id='scan.pickle.dangerous-global', severity=Severity.CRITICAL,"
            " message='other words', location=Location(uri='model.pkl', offset=2),"
            " evidence={'global': 'os.system'}).fingerprint)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "12345"},
        )
        assert out.stdout.strip() == _finding().fingerprint
        assert re.fullmatch(r"[0-9a-f]{16}", _finding().fingerprint)

    def test_ignores_message_wording(self) -> None:
        assert _finding(message="a").fingerprint == _finding(message="b, reworded").fingerprint

    def test_ignores_severity_remediation_and_why(self) -> None:
        base = _finding()
        other = Finding(
            rule_id=base.rule_id,
            severity=Severity.LOW,
            message=base.message,
            location=base.location,
            evidence=dict(base.evidence),
            remediation="do this",
            why="because",
        )
        assert other.fingerprint == base.fingerprint

    @pytest.mark.parametrize(
        "changed",
        [
            {"uri": "other.pkl"},
            {"offset": 3},
            {"offset": None},
            {"rule_id": "scan.pickle.unknown-global"},
            {"evidence": {"global": "os.popen"}},
        ],
    )
    def test_differs_by_location_rule_and_evidence(self, changed: dict[str, object]) -> None:
        assert _finding(**changed).fingerprint != _finding().fingerprint  # type: ignore[arg-type]

    def test_same_file_name_in_another_run_folder_keeps_the_fingerprint(self) -> None:
        a = Finding("r", Severity.HIGH, "m", Location(uri="/runs/1/model.pkl", offset=5))
        b = Finding("r", Severity.HIGH, "m", Location(uri="s3://bucket/runs/2/model.pkl", offset=5))
        assert a.fingerprint == b.fingerprint

    def test_member_and_detail_are_part_of_the_location(self) -> None:
        a = Finding("r", Severity.HIGH, "m", Location(uri="a.pt", member="data.pkl"))
        b = Finding("r", Severity.HIGH, "m", Location(uri="a.pt", member="other.pkl"))
        c = Finding("r", Severity.HIGH, "m", Location(uri="a.pt", member="data.pkl", detail="x"))
        assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3

    def test_evidence_key_order_does_not_matter(self) -> None:
        a = _finding(evidence={"x": 1, "y": 2})
        b = _finding(evidence={"y": 2, "x": 1})
        assert a.fingerprint == b.fingerprint


class TestCountsAndStatus:
    def test_counts_per_severity_worst_first_and_per_verdict(self) -> None:
        findings = (
            _finding(severity=Severity.LOW),
            _finding(severity=Severity.CRITICAL),
            _finding(severity=Severity.LOW),
            _finding(severity=Severity.HIGH),
        )
        subjects = (
            Subject(path="a", sha256=None, verdict="block"),
            Subject(path="b", sha256=None, verdict="pass"),
            Subject(path="c", sha256=None, verdict="block"),
        )
        counts = _result(findings=findings, subjects=subjects).counts()
        assert counts == {
            "critical": 1,
            "high": 1,
            "low": 2,
            "verdict_block": 2,
            "verdict_pass": 1,
        }
        severity_keys = [k for k in counts if not k.startswith("verdict_")]
        assert severity_keys == ["critical", "high", "low"]

    def test_counts_empty(self) -> None:
        assert _result().counts() == {}

    @pytest.mark.parametrize(
        ("status", "passed"),
        [(Status.PASS, True), (Status.WARN, True), (Status.FAIL, False), (Status.ERROR, False)],
    )
    def test_passed(self, status: Status, passed: bool) -> None:
        result = _result(status=status)
        assert result.passed is passed
        assert result.to_dict()["passed"] is passed

    def test_severity_is_the_worst(self) -> None:
        findings = (_finding(severity=Severity.LOW), _finding(severity=Severity.HIGH))
        assert _result(findings=findings).severity is Severity.HIGH
        assert _result().severity is None

    def test_no_truthiness_shortcut(self) -> None:
        # Callers must write result.passed; a failed result must not look "falsy-safe".
        assert "__bool__" not in vars(GateResult)

    def test_is_frozen(self) -> None:
        result = _result()
        with pytest.raises(AttributeError):
            result.status = Status.PASS  # type: ignore[misc]

    def test_with_reports_copies(self) -> None:
        result = _result()
        copy = result.with_reports({"json": "/r/scan-report.json"})
        assert copy.reports == {"json": "/r/scan-report.json"}
        assert result.reports == {}


class TestToDict:
    def _full(self) -> GateResult:
        return GateResult(
            gate="scan",
            status=Status.FAIL,
            summary="1 file(s) scanned: 1 blocked",
            findings=(
                Finding(
                    rule_id="scan.pickle.dangerous-global",
                    severity=Severity.CRITICAL,
                    message="imports os.system",
                    location=Location(uri="s3://b/m.pt", member="archive/data.pkl", offset=2),
                    evidence={"global": "os.system", "opcodes": [1, 2]},
                    remediation="Do not load it.",
                    why="Runs a shell command when loaded.",
                ),
                _finding(severity=Severity.INFO, offset=None, evidence={}),
            ),
            subjects=(
                Subject(
                    path="s3://b/m.pt",
                    sha256="a" * 64,
                    size=10,
                    kind="pytorch-zip",
                    verdict="block",
                ),
                Subject(path="gone.pkl", sha256=None, verdict="quarantine"),
            ),
            started_at=T0,
            finished_at=T0 + timedelta(seconds=1.2345),
            metrics={"files_scanned": 2, "ratio": 0.5},
            tool_versions={"mlsec-gates": "0.1.0", "fickling": "not installed"},
            policy={"source": "<defaults>", "gate": "scan", "on_fail": "fail"},
            reports={"json": "/r/scan-report.json", "html": "/r/scan-report.html"},
        )

    def test_layout(self) -> None:
        data = self._full().to_dict()
        assert data["schema_version"] == SCHEMA_VERSION
        assert data["status"] == "fail"
        assert data["duration_seconds"] == pytest.approx(1.234, abs=0.001)
        assert datetime.fromisoformat(data["started_at"]) == T0
        assert data["findings"][0]["severity"] == "critical"
        assert data["findings"][0]["location"] == {
            "uri": "s3://b/m.pt",
            "member": "archive/data.pkl",
            "offset": 2,
            "detail": None,
        }
        assert data["findings"][0]["fingerprint"] == self._full().findings[0].fingerprint
        assert data["subjects"][1] == {
            "path": "gone.pkl",
            "sha256": None,
            "size": None,
            "kind": None,
            "verdict": "quarantine",
        }
        json.dumps(data)  # JSON-ready as is

    def test_validates_against_the_schema(self) -> None:
        _validator().validate(self._full().to_dict())

    @pytest.mark.parametrize("status", list(Status))
    def test_minimal_result_validates_for_every_status(self, status: Status) -> None:
        _validator().validate(_result(status=status).to_dict())

    def test_schema_covers_exactly_the_top_level_keys(self) -> None:
        # additionalProperties=false plus required: a field added to to_dict() without the
        # schema (and docs/report-schema.md) being updated fails here.
        assert set(SCHEMA["required"]) == set(_result().to_dict())
        assert set(SCHEMA["properties"]) == set(_result().to_dict())

    def test_schema_rejects_bad_values(self) -> None:
        validator = _validator()
        data = self._full().to_dict()
        bad_status = {**data, "status": "ok"}
        assert not validator.is_valid(bad_status)
        bad_severity = json.loads(json.dumps(data))
        bad_severity["findings"][0]["severity"] = "urgent"
        assert not validator.is_valid(bad_severity)
        extra = {**data, "surprise": 1}
        assert not validator.is_valid(extra)

    def test_schema_severity_enum_matches_the_code(self) -> None:
        assert set(SCHEMA["$defs"]["severity"]["enum"]) == {s.label for s in Severity}
        assert set(SCHEMA["properties"]["status"]["enum"]) == {s.value for s in Status}

    def test_schema_version_major_matches_the_schema(self) -> None:
        assert re.fullmatch(SCHEMA["properties"]["schema_version"]["pattern"], SCHEMA_VERSION)
