"""The ``mlsec-gates`` command line: exit codes, messages, reports and side effects.

Samples are written as bytes and never loaded (no pickle.load/loads on them).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.cli import main

CLEAN = pickle.dumps({"w": [1.0, 2.0]})
# Protocol-2 pickle calling os.system("echo"). Built by hand; never loaded.
MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
REPORTS = {"scan-report.json", "scan-report.md", "scan-report.html", "scan-report.sarif"}
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, as a pipeline step would run it (stdout/stderr are pipes)."""
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "mlsec_gates.cli", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestHelp:
    def test_scan_help_has_examples_and_exit_codes(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as info:
            main(["scan", "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out
        assert "mlsec-gates scan model.pkl" in out
        assert "--policy gates.yaml --report-dir reports/" in out
        assert "exit status: 0" in out
        for option in ("--policy", "--json-out", "--report-dir", "--s3-endpoint-url", "--quiet"):
            assert option in out

    def test_top_level_help_lists_the_gate(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            main(["--help"])
        assert info.value.code == 0
        assert "scan" in capsys.readouterr().out

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        from mlsec_gates import __version__

        with pytest.raises(SystemExit):
            main(["--version"])
        assert capsys.readouterr().out.strip() == f"mlsec-gates {__version__}"

    def test_no_target_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            main(["scan"])
        assert info.value.code == 2
        assert "PATH_OR_URI" in capsys.readouterr().err


class TestVerdicts:
    def test_clean_pickle_passes(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        model = _write(tmp_path / "in" / "clean.pkl", CLEAN)
        out_json = tmp_path / "out.json"
        code = main(
            ["scan", str(model), "--report-dir", str(tmp_path / "r"), "--json-out", str(out_json)]
        )
        assert code == 0
        captured = capsys.readouterr()
        assert captured.out.startswith("# mlsec-gates scan: PASSED")
        assert captured.err == ""
        data = json.loads(out_json.read_text())
        assert data["status"] == "pass"
        assert data["passed"] is True
        assert [(s["path"], s["verdict"]) for s in data["subjects"]] == [(str(model), "pass")]

    def test_malicious_pickle_fails(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        model = _write(tmp_path / "in" / "evil.pkl", MALICIOUS)
        out_json = tmp_path / "out.json"
        code = main(
            ["scan", str(model), "--report-dir", str(tmp_path / "r"), "--json-out", str(out_json)]
        )
        assert code == 1
        captured = capsys.readouterr()
        assert captured.out.startswith("# mlsec-gates scan: FAILED")
        assert "os.system" in captured.out
        data = json.loads(out_json.read_text())
        jsonschema.Draft202012Validator(SCHEMA).validate(data)
        assert data["status"] == "fail"
        assert data["passed"] is False
        [subject] = data["subjects"]
        assert subject["path"] == str(model)
        assert subject["verdict"] == "block"
        assert subject["sha256"] == hashlib.sha256(MALICIOUS).hexdigest()
        assert subject["size"] == len(MALICIOUS)
        naming = [
            f
            for f in data["findings"]
            if "os.system" in f["message"] or "os.system" in json.dumps(f["evidence"])
        ]
        assert naming, data["findings"]
        assert naming[0]["location"]["uri"] == str(model)
        assert naming[0]["severity"] == "critical"

    def test_mixed_directory_lists_every_file(self, tmp_path: Path) -> None:
        _write(tmp_path / "in" / "a" / "clean.pkl", CLEAN)
        _write(tmp_path / "in" / "b" / "evil.pkl", MALICIOUS)
        out_json = tmp_path / "out.json"
        args = ["scan", str(tmp_path / "in"), "-q", "--report-dir", str(tmp_path / "r")]
        code = main([*args, "--json-out", str(out_json)])
        assert code == 1
        data = json.loads(out_json.read_text())
        assert {Path(s["path"]).name: s["verdict"] for s in data["subjects"]} == {
            "clean.pkl": "pass",
            "evil.pkl": "block",
        }
        assert data["metrics"]["files_scanned"] == 2
        assert data["metrics"]["files_blocked"] == 1

    def test_warn_policy_exits_0(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        model = _write(tmp_path / "evil.pkl", MALICIOUS)
        policy = tmp_path / "gates.yaml"
        policy.write_text("gates:\n  scan:\n    on_fail: warn\n")
        code = main(
            ["scan", str(model), "--policy", str(policy), "--report-dir", str(tmp_path / "r")]
        )
        assert code == 0
        assert capsys.readouterr().out.startswith("# mlsec-gates scan: PASSED WITH WARNINGS")

    def test_quiet_prints_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        model = _write(tmp_path / "evil.pkl", MALICIOUS)
        code = main(["scan", str(model), "-q", "--report-dir", str(tmp_path / "r")])
        assert code == 1
        out = capsys.readouterr().out
        assert len(out.splitlines()) == 1
        assert out.startswith("scan: fail: ")


class TestErrors:
    def test_missing_path(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        missing = tmp_path / "no" / "model.pkl"
        code = main(["scan", str(missing), "--report-dir", str(tmp_path / "r")])
        assert code == 2
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [
            f"mlsec-gates scan: error: {missing}: no such file or directory"
        ]
        assert captured.out == ""

    def test_missing_path_in_a_child_process(self, tmp_path: Path) -> None:
        proc = _run("scan", "does-not-exist.pkl", cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [
            "mlsec-gates scan: error: does-not-exist.pkl: no such file or directory"
        ]
        assert "Traceback" not in proc.stderr

    def test_bad_policy_key(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        model = _write(tmp_path / "clean.pkl", CLEAN)
        policy = tmp_path / "gates.yaml"
        policy.write_text("version: 1\ngates:\n  scan:\n    max_depht: 2\n")
        code = main(
            ["scan", str(model), "--policy", str(policy), "--report-dir", str(tmp_path / "r")]
        )
        assert code == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [
            f"mlsec-gates scan: error: {policy}:4: gates.scan.max_depht: unknown key; "
            "did you mean 'max_depth'?"
        ]
        assert not (tmp_path / "r").exists()  # nothing was checked, nothing to report

    def test_missing_policy_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        model = _write(tmp_path / "clean.pkl", CLEAN)
        code = main(["scan", str(model), "--policy", str(tmp_path / "nope.yaml")])
        assert code == 2
        assert capsys.readouterr().err.splitlines() == [
            f"mlsec-gates scan: error: {tmp_path / 'nope.yaml'}: no such file"
        ]

    def test_empty_directory_is_an_error_with_reports(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        empty = tmp_path / "models"
        empty.mkdir()
        reports = tmp_path / "r"
        out_json = tmp_path / "out.json"
        code = main(["scan", str(empty), "--report-dir", str(reports), "--json-out", str(out_json)])
        assert code == 2
        assert {p.name for p in reports.iterdir()} == REPORTS
        data = json.loads((reports / "scan-report.json").read_text())
        assert data["status"] == "error"
        assert data["passed"] is False
        assert data["subjects"] == []
        assert [f["rule_id"] for f in data["findings"]] == ["scan.input.nothing-scanned"]
        assert json.loads(out_json.read_text()) == data
        assert capsys.readouterr().out.startswith("# mlsec-gates scan: ERROR")

    def test_empty_directory_errs_even_under_warn(self, tmp_path: Path) -> None:
        (tmp_path / "models").mkdir()
        policy = tmp_path / "gates.yaml"
        policy.write_text("on_fail: warn\n")
        args = ["scan", str(tmp_path / "models"), "--policy", str(policy), "-q"]
        code = main([*args, "--report-dir", str(tmp_path / "r")])
        assert code == 2

    def test_unwritable_report_dir(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        model = _write(tmp_path / "clean.pkl", CLEAN)
        blocker = tmp_path / "reports"
        blocker.write_text("a file, not a directory")
        code = main(["scan", str(model), "--report-dir", str(blocker / "run1")])
        assert code == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"mlsec-gates scan: error: {blocker / 'run1'}")
        assert "cannot write" in line


class TestOutputs:
    def test_report_dir_gets_three_files(self, tmp_path: Path) -> None:
        model = _write(tmp_path / "evil.pkl", MALICIOUS)
        reports = tmp_path / "r" / "run1"
        assert main(["scan", str(model), "-q", "--report-dir", str(reports)]) == 1
        assert {p.name for p in reports.iterdir()} == REPORTS
        data = json.loads((reports / "scan-report.json").read_text())
        jsonschema.Draft202012Validator(SCHEMA).validate(data)
        assert data["reports"] == {
            "json": str((reports / "scan-report.json").resolve()),
            "markdown": str((reports / "scan-report.md").resolve()),
            "html": str((reports / "scan-report.html").resolve()),
            "sarif": str((reports / "scan-report.sarif").resolve()),
        }
        assert "<!DOCTYPE html>" in (reports / "scan-report.html").read_text()
        assert (reports / "scan-report.md").read_text().startswith("# mlsec-gates scan: FAILED")

    def test_default_report_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        model = _write(tmp_path / "clean.pkl", CLEAN)
        assert main(["scan", str(model), "-q"]) == 0
        [run_dir] = (tmp_path / "mlsec-gate-reports").iterdir()
        assert run_dir.name.startswith("scan-")
        assert {p.name for p in run_dir.iterdir()} == REPORTS

    def test_inputs_are_unchanged(self, tmp_path: Path) -> None:
        files = [
            _write(tmp_path / "in" / "clean.pkl", CLEAN),
            _write(tmp_path / "in" / "evil.pkl", MALICIOUS),
        ]
        before = {p: (_sha(p), p.stat().st_mtime_ns, p.stat().st_mode) for p in files}
        listing = sorted(p.name for p in (tmp_path / "in").iterdir())
        main(["scan", str(tmp_path / "in"), "-q", "--report-dir", str(tmp_path / "r")])
        assert {p: (_sha(p), p.stat().st_mtime_ns, p.stat().st_mode) for p in files} == before
        assert sorted(p.name for p in (tmp_path / "in").iterdir()) == listing

    def test_malicious_sample_is_not_executed(self, tmp_path: Path) -> None:
        # A payload that would create a file if anything unpickled it.
        canary = tmp_path / "canary"
        command = f"touch {canary}".encode()
        payload = (
            b"\x80\x02cos\nsystem\nq\x00X"
            + len(command).to_bytes(4, "little")
            + command
            + b"q\x01\x85q\x02Rq\x03."
        )
        model = _write(tmp_path / "evil.pkl", payload)
        proc = _run("scan", str(model), "-q", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert not canary.exists()


class TestProgress:
    def test_absent_when_not_a_tty(self, tmp_path: Path) -> None:
        for i in range(3):
            _write(tmp_path / "in" / f"m{i}.pkl", CLEAN)
        proc = _run("scan", str(tmp_path / "in"), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        assert "[1/3]" not in proc.stdout
        assert "\r" not in proc.stdout
        assert "\x1b[" not in proc.stdout

    def test_shown_on_a_terminal(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        for i in range(2):
            _write(tmp_path / "in" / f"m{i}.pkl", CLEAN)
        assert main(["scan", str(tmp_path / "in"), "--report-dir", str(tmp_path / "r")]) == 0
        err = capsys.readouterr().err
        assert "[1/2]" in err
        assert "[2/2]" in err

    @pytest.mark.parametrize("flag", ["-q", None])
    def test_absent_under_quiet_or_ci(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        flag: str | None,
    ) -> None:
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        if flag is None:
            monkeypatch.setenv("CI", "true")
        model = _write(tmp_path / "m.pkl", CLEAN)
        args = ["scan", str(model), "--report-dir", str(tmp_path / "r")]
        assert main(args + ([flag] if flag else [])) == 0
        assert capsys.readouterr().err == ""
