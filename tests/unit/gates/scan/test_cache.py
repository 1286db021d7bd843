"""The verdict cache: unchanged files are not scanned again; any change or damage re-scans."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.gates.scan import engine, run_scan
from mlsec_gates.policy import Policy

MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
UNKNOWN = b"\x80\x02cacme.models\nHead\nq\x00)\x81q\x01."


@pytest.fixture()
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the engine really scanned (the real scan_file, wrapped to record its calls)."""
    seen: list[str] = []
    real = engine.scan_file

    def counting(fh: Any, *, uri: str, **kwargs: Any) -> engine.FileVerdict:
        seen.append(uri)
        return real(fh, uri=uri, **kwargs)

    monkeypatch.setattr(engine, "scan_file", counting)
    return seen


def _policy(tmp_path: Path, **scan: Any) -> Policy:
    return Policy.model_validate(
        {"gates": {"scan": {"cache_dir": str(tmp_path / "cache"), **scan}}}
    )


def _files(tmp_path: Path, n: int = 20) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(n):
        body = MALICIOUS if i == 0 else UNKNOWN if i == 1 else b"\x80\x04" + bytes(i) + b"N."
        (folder / f"f{i}.pkl").write_bytes(body)
    return folder


def test_rerun_reuses_verdicts_and_findings(tmp_path: Path, scans: list[str]) -> None:
    folder, policy = _files(tmp_path), _policy(tmp_path)
    first = run_scan([str(folder)], policy=policy)
    assert len(scans) == 20
    scans.clear()
    second = run_scan([str(folder)], policy=policy)
    assert scans == []
    assert second.metrics["files_from_cache"] == 20
    assert second.subjects == first.subjects
    assert [f.to_dict() for f in second.findings] == [f.to_dict() for f in first.findings]


def test_hdf5_reader_failures_are_not_cached(tmp_path: Path, scans: list[str]) -> None:
    folder = tmp_path / "h5"
    folder.mkdir()
    crash = (
        Path(__file__).resolve().parents[3] / "corpus/fuzz_regressions/hdf5__libhdf5-segfault.h5"
    )
    (folder / "crash.h5").write_bytes(crash.read_bytes())
    policy = _policy(tmp_path)
    for _ in range(2):
        result = run_scan([str(folder)], policy=policy)
        assert [f.rule_id for f in result.findings] == ["scan.hdf5.reader-failed"]
    assert len(scans) == 2 and result.metrics["files_from_cache"] == 0


def test_cache_hits_are_much_faster_than_scans(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    # An opcode-heavy pickle: slow to analyse, quick to hash.
    import pickle

    (big / "list.pkl").write_bytes(pickle.dumps(list(range(300_000)), protocol=2))
    policy = _policy(tmp_path)
    start = time.perf_counter()
    run_scan([str(big)], policy=policy)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    warm = run_scan([str(big)], policy=policy)
    hot = time.perf_counter() - start
    assert warm.metrics["files_from_cache"] == 1
    print(f"cold {cold:.3f}s, cached {hot:.4f}s, x{cold / hot:.0f}")
    assert hot * 10 < cold


def test_changed_file_policy_or_no_cache_rescans(tmp_path: Path, scans: list[str]) -> None:
    folder, policy = _files(tmp_path, 3), _policy(tmp_path)
    run_scan([str(folder)], policy=policy)
    (folder / "f2.pkl").write_bytes(b"\x80\x04N.")
    scans.clear()
    run_scan([str(folder)], policy=policy)
    assert [Path(p).name for p in scans] == ["f2.pkl"]
    scans.clear()
    allowing = _policy(
        tmp_path, allow_globals=[{"global": "acme.models.Head", "reason": "our own class"}]
    )
    result = run_scan([str(folder)], policy=allowing)
    assert len(scans) == 3  # another allowlist: every verdict is recomputed
    assert {s.path.rsplit("/", 1)[-1]: s.verdict for s in result.subjects}["f1.pkl"] == "pass"
    scans.clear()
    run_scan([str(folder)], policy=policy, cache=False)
    assert len(scans) == 3
    scans.clear()
    run_scan([str(folder)], policy=_policy(tmp_path, cache=False))
    assert len(scans) == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "not json",
        lambda text: text.replace('"block"', '"pass"'),
        lambda text: json.dumps({**json.loads(text), "verdict": "pass", "findings": []}),
    ],
    ids=["truncated", "garbage", "edited-verdict", "edited-without-integrity"],
)
def test_corrupt_entries_are_ignored_and_rescanned(
    tmp_path: Path, scans: list[str], damage: Any
) -> None:
    folder, policy = _files(tmp_path, 1), _policy(tmp_path)
    run_scan([str(folder)], policy=policy)
    [entry] = list((tmp_path / "cache").rglob("*.json"))
    entry.write_text(damage(entry.read_text()))
    scans.clear()
    result = run_scan([str(folder)], policy=policy)
    assert len(scans) == 1
    assert result.metrics["files_from_cache"] == 0
    assert result.subjects[0].verdict == "block"
