"""The scan gate's entry points (mlsec_gates/gates/scan/__init__.py) on local files.

The engine has its own tests in tests/unit/gates/scan/; these check what the gate adds
around it: listing, status, metrics, progress, policy and reports. Samples are written as
bytes and never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.scan import run_scan, scan_gate
from mlsec_gates.policy import parse_policy
from mlsec_gates.result import Status
from mlsec_gates.storage import Storage

CLEAN = pickle.dumps({"w": [1.0, 2.0]})
# Protocol-2 pickle calling os.system("echo"). Built by hand; never loaded.
MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


class TestStatus:
    def test_clean_file_passes(self, tmp_path: Path) -> None:
        result = run_scan([_write(tmp_path / "clean.pkl", CLEAN)])
        assert result.status is Status.PASS
        assert result.passed
        [subject] = result.subjects
        assert subject.verdict == "pass"
        assert subject.sha256 == hashlib.sha256(CLEAN).hexdigest()
        assert subject.size == len(CLEAN)
        assert subject.kind == "pickle"
        assert result.findings == ()

    def test_malicious_file_fails(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "evil.pkl", MALICIOUS)
        result = run_scan([path])
        assert result.status is Status.FAIL
        assert not result.passed
        assert [(s.path, s.verdict) for s in result.subjects] == [(path, "block")]
        assert any(f.evidence.get("global") == "os.system" for f in result.findings)
        assert path in result.summary

    def test_warn_policy(self, tmp_path: Path) -> None:
        policy = parse_policy("gates:\n  scan:\n    on_fail: warn\n", source="p.yaml")
        result = run_scan([_write(tmp_path / "evil.pkl", MALICIOUS)], policy=policy)
        assert result.status is Status.WARN
        assert result.passed
        assert result.policy["on_fail"] == "warn"
        assert result.policy["source"] == "p.yaml"

    def test_empty_directory_is_an_error_even_under_warn(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        policy = parse_policy("on_fail: warn\n", source="p.yaml")
        result = run_scan([str(tmp_path / "empty")], policy=policy)
        assert result.status is Status.ERROR
        assert not result.passed
        assert [f.rule_id for f in result.findings] == ["scan.input.nothing-scanned"]

    def test_one_empty_target_among_others_is_an_error(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        clean = _write(tmp_path / "clean.pkl", CLEAN)
        result = run_scan([clean, str(tmp_path / "empty")])
        assert result.status is Status.ERROR
        assert [s.path for s in result.subjects] == [clean]

    def test_unreadable_file_is_quarantined(self, tmp_path: Path) -> None:
        clean = _write(tmp_path / "clean.pkl", CLEAN)

        class Vanishing(Storage):
            """Lists the file, then cannot read it (deleted between listing and reading)."""

            @contextlib.contextmanager
            def open_read(self, uri: str) -> Iterator[IO[bytes]]:
                raise InputError(f"{uri}: no such file")
                yield  # pragma: no cover

        result = run_scan([clean], storage=Vanishing())
        assert result.status is Status.FAIL
        [subject] = result.subjects
        assert (subject.verdict, subject.sha256) == ("quarantine", None)
        [finding] = result.findings
        assert finding.rule_id == "scan.input.unreadable"
        assert finding.evidence == {"error": f"{clean}: no such file"}


class TestTargets:
    def test_no_target(self) -> None:
        with pytest.raises(InputError, match="nothing to scan"):
            run_scan([])

    def test_missing_target(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="no such file or directory"):
            run_scan([str(tmp_path / "nope.pkl")])

    def test_one_string_is_one_target(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "clean.pkl", CLEAN)
        result = run_scan(path)
        assert [s.path for s in result.subjects] == [path]

    def test_a_file_named_twice_is_scanned_once(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "models" / "evil.pkl", MALICIOUS)
        result = run_scan([str(tmp_path / "models"), path])
        assert [s.path for s in result.subjects] == [path]
        assert result.metrics["files_scanned"] == 1
        fingerprints = [f.fingerprint for f in result.findings]
        assert len(fingerprints) == len(set(fingerprints))

    def test_directory_metrics_and_progress(self, tmp_path: Path) -> None:
        _write(tmp_path / "m" / "a.pkl", CLEAN)
        _write(tmp_path / "m" / "b" / "c.pkl", MALICIOUS)
        _write(tmp_path / "m" / "d.pkl", CLEAN)
        calls: list[tuple[int, int, str]] = []
        result = run_scan(
            [str(tmp_path / "m")], progress=lambda done, total, p: calls.append((done, total, p))
        )
        assert [(d, t) for d, t, _ in calls] == [(1, 3), (2, 3), (3, 3)]
        assert [p for _, _, p in calls] == [s.path for s in result.subjects]
        assert result.metrics == {
            "files_scanned": 3,
            "files_blocked": 1,
            "files_quarantined": 0,
            "files_passed": 2,
            "bytes_scanned": 2 * len(CLEAN) + len(MALICIOUS),
            "findings": len(result.findings),
            "files_from_cache": 1,  # d.pkl has the bytes of a.pkl: its verdict is reused
            "remote_bytes_read": 0,
        }
        assert result.counts()["verdict_pass"] == 2
        assert result.counts()["verdict_block"] == 1

    def test_tool_versions(self, tmp_path: Path) -> None:
        result = run_scan([_write(tmp_path / "clean.pkl", CLEAN)])
        assert {"mlsec-gates", "python", "fickling", "numpy"} <= set(result.tool_versions)


class TestScanGate:
    def test_writes_reports_before_deciding(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "evil.pkl", MALICIOUS)
        result = scan_gate([path], report_dir=str(tmp_path / "r"))
        assert result.status is Status.FAIL
        data = json.loads(Path(result.reports["json"]).read_text())
        assert data["status"] == "fail"
        assert data["reports"] == result.reports
        assert all(Path(p).is_file() for p in result.reports.values())

    def test_policy_file_and_override(self, tmp_path: Path) -> None:
        policy = tmp_path / "gates.yaml"
        policy.write_text("on_fail: warn\n")
        path = _write(tmp_path / "evil.pkl", MALICIOUS)
        warned = scan_gate([path], policy=str(policy), report_dir=str(tmp_path / "r1"))
        assert warned.status is Status.WARN
        failed = scan_gate(
            [path], policy=str(policy), report_dir=str(tmp_path / "r2"), on_fail="fail"
        )
        assert failed.status is Status.FAIL
        assert failed.policy["source"] == str(policy)

    def test_bad_policy_stops_before_scanning(self, tmp_path: Path) -> None:
        policy = tmp_path / "gates.yaml"
        policy.write_text("gates:\n  scan:\n    max_depth: 99\n")
        with pytest.raises(ConfigError, match=r"gates\.yaml:3: gates\.scan\.max_depth"):
            scan_gate(
                [_write(tmp_path / "a.pkl", CLEAN)],
                policy=str(policy),
                report_dir=str(tmp_path / "r"),
            )
        assert not (tmp_path / "r").exists()

    def test_input_file_is_left_as_is(self, tmp_path: Path) -> None:
        path = Path(_write(tmp_path / "evil.pkl", MALICIOUS))
        stat = path.stat()
        scan_gate([str(path)], report_dir=str(tmp_path / "r"))
        assert path.read_bytes() == MALICIOUS
        assert path.stat().st_mtime_ns == stat.st_mtime_ns


class TestAcceptedFormats:
    def test_a_format_outside_the_list_is_quarantined(self, tmp_path: Path) -> None:
        clean = _write(tmp_path / "m" / "clean.pkl", CLEAN)
        header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
        st = tmp_path / "m" / "w.safetensors"
        st.write_bytes(len(header).to_bytes(8, "little") + header.encode() + bytes(4))
        policy = parse_policy("gates:\n  scan:\n    formats: [safetensors, 'gguf*']\n")
        result = run_scan([str(tmp_path / "m")], policy=policy)
        assert {Path(s.path).name: s.verdict for s in result.subjects} == {
            "clean.pkl": "quarantine",
            "w.safetensors": "pass",
        }
        [finding] = result.findings
        assert finding.rule_id == "scan.input.format-not-allowed"
        assert finding.location.uri == clean
        assert finding.evidence == {"format": "pickle", "accepted": ["safetensors", "gguf*"]}
        # The cached verdict of the file does not hide the policy's format list.
        again = run_scan([str(tmp_path / "m")], policy=parse_policy("on_fail: fail"))
        assert again.metrics["files_from_cache"] == 2
        assert {s.verdict for s in again.subjects} == {"pass"}
