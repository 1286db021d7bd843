"""Tests for mlsec_gates.reports: the three writers and the atomic write_reports."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.errors import StorageError
from mlsec_gates.reports import render_html, render_json, render_markdown, write_reports
from mlsec_gates.result import Finding, GateResult, Location, Severity, Status, Subject
from mlsec_gates.storage import Storage

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
)
T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
NAMES = {"scan-report.json", "scan-report.md", "scan-report.html", "scan-report.sarif"}
XSS = '<script>alert("pwned")</script>'


def _result(
    *,
    findings: tuple[Finding, ...] | None = None,
    subjects: tuple[Subject, ...] | None = None,
    status: Status = Status.FAIL,
) -> GateResult:
    if findings is None:
        findings = (
            Finding(
                rule_id="scan.pickle.dangerous-global",
                severity=Severity.CRITICAL,
                message="imports os.system",
                location=Location(uri="model.pkl", offset=2),
                evidence={"global": "os.system"},
                remediation="Do not load this file.",
                why="It runs a shell command when loaded.",
            ),
        )
    if subjects is None:
        subjects = (
            Subject(path="model.pkl", sha256="0" * 64, size=40, kind="pickle", verdict="block"),
        )
    return GateResult(
        gate="scan",
        status=status,
        summary="1 file(s) scanned: 1 blocked, 0 quarantined, 0 passed.",
        findings=findings,
        subjects=subjects,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        metrics={"files_scanned": len(subjects)},
        tool_versions={"mlsec-gates": "0.1.0"},
        policy={"source": "<defaults>", "gate": "scan", "on_fail": "fail"},
    )


def _validate(data: object) -> None:
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)


class TestWriteReports:
    def test_writes_three_files_and_records_them(self, tmp_path: Path) -> None:
        out = tmp_path / "reports" / "run1"
        written = write_reports(_result(), str(out), storage=Storage())
        assert {p.name for p in out.iterdir()} == NAMES  # no temporary files left behind
        assert written.reports == {
            "json": str((out / "scan-report.json").resolve()),
            "markdown": str((out / "scan-report.md").resolve()),
            "html": str((out / "scan-report.html").resolve()),
            "sarif": str((out / "scan-report.sarif").resolve()),
        }
        data = json.loads((out / "scan-report.json").read_text())
        _validate(data)
        assert data["reports"] == written.reports
        assert data["subjects"][0]["verdict"] == "block"
        assert "Full report: " + written.reports["html"] in (out / "scan-report.md").read_text()

    def test_relative_dir_gives_absolute_paths(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        written = write_reports(_result(), "rel/dir", storage=Storage())
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in written.reports.values())

    def test_overwrites_previous_reports(self, tmp_path: Path) -> None:
        write_reports(_result(), str(tmp_path), storage=Storage())
        write_reports(_result(status=Status.PASS, findings=()), str(tmp_path), storage=Storage())
        assert {p.name for p in tmp_path.iterdir()} == NAMES
        assert json.loads((tmp_path / "scan-report.json").read_text())["status"] == "pass"

    def test_a_file_where_the_directory_should_be(self, tmp_path: Path) -> None:
        blocker = tmp_path / "reports"
        blocker.write_text("not a directory")
        with pytest.raises(StorageError) as info:
            write_reports(_result(), str(blocker / "run1"), storage=Storage())
        message = info.value.diagnostics()
        assert "\n" not in message
        assert "cannot write" in message
        assert blocker.read_text() == "not a directory"
        assert [p.name for p in tmp_path.iterdir()] == ["reports"]

    def test_failed_rename_leaves_no_partial_or_temp_file(self, tmp_path: Path) -> None:
        # A directory sits where the HTML report goes: every temp file is written, the JSON
        # (published first) goes in place, the HTML rename fails, and no temp file is left.
        (tmp_path / "scan-report.html").mkdir()
        with pytest.raises(StorageError) as info:
            write_reports(_result(), str(tmp_path), storage=Storage())
        assert "scan-report.html: cannot write" in info.value.diagnostics()
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "scan-report.html",
            "scan-report.json",
        ]
        assert list((tmp_path / "scan-report.html").iterdir()) == []

    def test_a_file_that_cannot_be_staged_publishes_nothing(self, tmp_path: Path) -> None:
        # Issue 13 item 15: every report is written to a temporary name before any is
        # published, so a failure (or a kill) while writing leaves no human report without
        # the JSON verdict: here the JSON copy's folder is a file, and nothing appears.
        (tmp_path / "blocker").write_text("a file")
        with pytest.raises(StorageError):
            write_reports(
                _result(),
                str(tmp_path / "reports"),
                storage=Storage(),
                json_copy=str(tmp_path / "blocker" / "copy.json"),
            )
        assert list((tmp_path / "reports").iterdir()) == []

    def test_failure_mid_write_keeps_the_old_report_whole(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write_reports(_result(status=Status.PASS, findings=()), str(tmp_path), storage=Storage())
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

        def disk_full(fd: int) -> None:
            raise OSError(28, "No space left on device")

        # The bytes are in the temp file but the flush to disk fails: nothing is renamed.
        monkeypatch.setattr("mlsec_gates.storage.os.fsync", disk_full)
        with pytest.raises(StorageError) as info:
            write_reports(_result(), str(tmp_path), storage=Storage())
        assert info.value.diagnostics().endswith("cannot write: No space left on device")
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    def test_storage_write_bytes_is_atomic(self, tmp_path: Path) -> None:
        target = tmp_path / "a.txt"
        target.write_text("old")
        Storage().write_bytes(str(target), b"new")
        assert target.read_text() == "new"
        assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


class TestJson:
    def test_validates_against_the_schema(self) -> None:
        data = json.loads(render_json(_result()))
        _validate(data)

    @pytest.mark.parametrize("status", list(Status))
    def test_validates_for_every_status(self, status: Status) -> None:
        _validate(json.loads(render_json(_result(status=status, findings=(), subjects=()))))

    def test_non_json_evidence_is_written_as_text(self) -> None:
        finding = Finding(
            rule_id="r",
            severity=Severity.LOW,
            message="m",
            location=Location(uri="x"),
            evidence={"raw": b"\x80\x02", "path": Path("/tmp/x")},
        )
        data = json.loads(render_json(_result(findings=(finding,))))
        _validate(data)
        assert data["findings"][0]["evidence"] == {"raw": "b'\\x80\\x02'", "path": "/tmp/x"}

    def test_keys_are_sorted_for_small_diffs(self) -> None:
        data = json.loads(render_json(_result()))
        assert list(data) == sorted(data)


class TestHtml:
    def _hostile(self) -> GateResult:
        finding = Finding(
            rule_id="scan.pickle.dangerous-global",
            severity=Severity.CRITICAL,
            message=f"imports {XSS}",
            location=Location(uri=f"model{XSS}.pkl", member=XSS, detail=XSS),
            evidence={XSS: XSS, "global": f"os.{XSS}"},
            remediation=XSS,
            why=XSS,
        )
        subject = Subject(path=f"model{XSS}.pkl", sha256=None, kind=XSS, verdict="block")
        return GateResult(
            gate="scan",
            status=Status.FAIL,
            summary=f"blocked: {XSS}",
            findings=(finding,),
            subjects=(subject,),
            started_at=T0,
            finished_at=T0,
            tool_versions={XSS: XSS},
            policy={"source": XSS, "on_fail": "fail"},
            reports={"html": f"/r/{XSS}.html"},
        )

    def test_escapes_attacker_controlled_strings(self) -> None:
        page = render_html(self._hostile())
        assert "<script" not in page.lower()
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page

    def test_is_self_contained(self) -> None:
        page = render_html(_result())
        assert page.startswith("<!DOCTYPE html>")
        for external in ("<link ", "src=", "http://", "https://"):
            assert external not in page

    def test_shows_verdicts_findings_and_fix(self) -> None:
        page = render_html(_result())
        assert "BLOCK" in page
        assert "model.pkl" in page
        assert "imports os.system" in page
        assert "Do not load this file." in page
        assert _result().findings[0].fingerprint in page

    def test_nothing_checked_says_so(self) -> None:
        page = render_html(_result(status=Status.ERROR, findings=(), subjects=()))
        assert "Nothing was checked" in page
        assert "ERROR" in page


class TestMarkdown:
    def _many(self, n: int) -> GateResult:
        findings = tuple(
            Finding(
                rule_id=f"scan.rule-{i}",
                severity=list(Severity)[i % 5],
                message=f"problem {i}",
                location=Location(uri=f"models/file{i % 9}.pkl", offset=i),
                remediation=f"fix number {i % 6}",
            )
            for i in range(n)
        )
        subjects = tuple(
            Subject(path=f"models/file{i}.pkl", sha256="0" * 64, verdict="block") for i in range(9)
        )
        return _result(findings=findings, subjects=subjects).with_reports(
            {"html": "/r/scan-report.html"}
        )

    def test_one_screen_for_100_findings(self) -> None:
        text = render_markdown(self._many(100))
        assert len(text.splitlines()) <= 30
        assert "... and 90 more in the full report." in text
        assert "Full report: /r/scan-report.html" in text
        # The worst come first.
        table = [line for line in text.splitlines() if line.startswith("| critical")]
        assert len(table) == 10

    def test_pass_without_findings(self) -> None:
        result = _result(status=Status.PASS, findings=(), subjects=(Subject("a", "0" * 64),))
        text = render_markdown(result)
        assert text.startswith("# mlsec-gates scan: PASSED\n")
        assert "|" not in text

    @pytest.mark.parametrize(
        ("status", "head"),
        [
            (Status.WARN, "PASSED WITH WARNINGS"),
            (Status.FAIL, "FAILED"),
            (Status.ERROR, "ERROR"),
        ],
    )
    def test_headline(self, status: Status, head: str) -> None:
        assert (
            render_markdown(_result(status=status)).splitlines()[0] == f"# mlsec-gates scan: {head}"
        )

    def test_table_cells_cannot_break_the_table(self) -> None:
        finding = Finding(
            rule_id="r",
            severity=Severity.HIGH,
            message="a | b\nc",
            location=Location(uri="x|y.pkl"),
        )
        text = render_markdown(_result(findings=(finding,)))
        row = next(line for line in text.splitlines() if line.startswith("| high"))
        assert row == "| high | `r` | `x\\|y.pkl` | a \\| b c |"

    def _rendered(self, text: str) -> str:
        from markdown_it import MarkdownIt  # CommonMark with raw HTML on, as in the KFP UI

        return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)

    def test_attacker_strings_do_not_become_html(self) -> None:
        finding = Finding(
            rule_id="scan.pickle.dangerous-global",
            severity=Severity.CRITICAL,
            message="pickle imports os.<img src=x onerror=alert(1)>",
            location=Location(uri="models/evil`<img src=y onerror=alert(2)>`.pkl", offset=2),
        )
        result = GateResult(
            gate="scan",
            status=Status.FAIL,
            summary=f"blocked: {XSS}",
            findings=(finding,),
            subjects=(),
            started_at=T0,
            finished_at=T0,
        )
        text = render_markdown(result)
        html = self._rendered(text)
        assert "<img" not in html
        assert "<script" not in html
        assert "os.&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<code>models/evil`&lt;img src=y onerror=alert(2)&gt;`.pkl@2</code>" in html

    def test_angle_brackets_are_shown_not_dropped(self) -> None:
        finding = Finding(
            rule_id="r", severity=Severity.HIGH, message="calls <opaque>", location=Location("x")
        )
        html = self._rendered(render_markdown(_result(findings=(finding,))))
        assert "calls &lt;opaque&gt;" in html
