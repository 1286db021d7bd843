"""HDF5 is read in a child process: hostile files that crash or hang libhdf5 are quarantined.

The two reproducers in ``tests/corpus/fuzz_regressions/hdf5__*.h5`` came out of mutation
fuzzing: one makes h5py segfault, the other makes it loop. Before the isolation either one
killed or stalled the whole scan run; now each is one ``scan.hdf5.reader-failed`` finding
and the run goes on with the next file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlsec_gates.gates.scan.engine import ScanSettings, scan_file
from mlsec_gates.gates.scan.hdf5_isolated import ReaderFailed, _answer
from mlsec_gates.gates.scan.observations import FormatError

REGRESSIONS = Path(__file__).resolve().parents[3] / "corpus" / "fuzz_regressions"
SEGFAULT = REGRESSIONS / "hdf5__libhdf5-segfault.h5"
HANG = REGRESSIONS / "hdf5__libhdf5-hang.h5"
FAST = ScanSettings(hdf5_timeout_seconds=3)


def _rules(path: Path, settings: ScanSettings = FAST) -> tuple[str, list[tuple[str, str]]]:
    with open(path, "rb") as fh:
        verdict = scan_file(fh, uri=str(path), settings=settings)
    return verdict.verdict, [(f.rule_id, f.message) for f in verdict.findings]


def test_segfaulting_file_is_quarantined_naming_the_signal() -> None:
    verdict, findings = _rules(SEGFAULT)
    assert verdict == "quarantine"
    assert [r for r, _ in findings] == ["scan.hdf5.reader-failed"]
    assert "SIGSEGV" in findings[0][1]


def test_hanging_file_is_quarantined_after_the_timeout() -> None:
    verdict, findings = _rules(HANG)
    assert verdict == "quarantine"
    assert [r for r, _ in findings] == ["scan.hdf5.reader-failed"]
    # the wall-clock timeout or the child's own CPU limit (same number of seconds) ends it
    assert "timed out after 3 s" in findings[0][1] or "SIGXCPU" in findings[0][1]


def test_benign_and_malicious_hdf5_still_read(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    benign, hostile = tmp_path / "ok.h5", tmp_path / "lambda.h5"
    with h5py.File(benign, "w") as h5:
        h5.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": []})
        h5.create_dataset("w", data=[1.0, 2.0])
    layer = {"class_name": "Lambda", "config": {"function": ["YWJj", None, None]}}
    with h5py.File(hostile, "w") as h5:
        h5.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": [layer]})
        h5["ext"] = h5py.ExternalLink("/etc/passwd", "/x")
    assert _rules(benign) == ("pass", [])
    verdict, findings = _rules(hostile)
    assert verdict == "block"  # Lambda bytecode runs at load time
    assert {r for r, _ in findings} == {"scan.keras.lambda", "scan.hdf5.external-reference"}


def test_scan_run_survives_crashing_and_hanging_files(tmp_path: Path) -> None:
    """Through the CLI (one process for the run): both are quarantined, the next file passes."""
    h5py = pytest.importorskip("h5py")
    targets = tmp_path / "models"
    targets.mkdir()
    for src in (SEGFAULT, HANG):
        (targets / src.name).write_bytes(src.read_bytes())
    with h5py.File(targets / "z_ok.h5", "w") as h5:
        h5.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": []})
    policy = tmp_path / "policy.yaml"
    policy.write_text("gates:\n  scan:\n    hdf5_timeout_seconds: 3\n")
    report = tmp_path / "scan.json"
    cmd = [sys.executable, "-c", "from mlsec_gates.cli import run; run()", "scan", str(targets)]
    cmd += ["--policy", str(policy), "--json-out", str(report), "--no-cache", "-q"]
    cmd += ["--report-dir", str(tmp_path / "reports")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 quarantined, 1 passed" in proc.stdout, proc.stdout
    rule_ids = {f["rule_id"] for f in json.loads(report.read_text())["findings"]}
    assert rule_ids == {"scan.hdf5.reader-failed"}


def _done(rc: int, out: bytes = b"", err: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.CompletedProcess(["worker"], rc, out, err)


@pytest.mark.parametrize(
    ("proc", "message"),
    [
        (_done(-9), "killed by signal SIGKILL"),
        (_done(1, err=b"Traceback...\nMemoryError"), "exited with status 1: MemoryError"),
        (_done(0, b"Segmentation fault"), "answered garbage"),
        (_done(0, b'{"attributes": []}'), "answered garbage"),
    ],
)
def test_worker_failures_map_to_reader_failed(
    proc: subprocess.CompletedProcess[bytes], message: str
) -> None:
    with pytest.raises(ReaderFailed, match=message):
        _answer(proc)


def test_h5py_refusal_stays_unreadable() -> None:
    with pytest.raises(FormatError, match="HDF5 file cannot be read: OSError: bad"):
        _answer(_done(0, b'{"error": "OSError: bad"}'))
