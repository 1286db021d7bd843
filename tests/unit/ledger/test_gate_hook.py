"""Gate entry points append to the ledger when the policy sets ``ledger.uri``."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest

from mlsec_gates.errors import StorageError
from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.ledger import lineage, verify_ledger
from mlsec_gates.ledger.entries import decode_entry
from mlsec_gates.storage import Storage
from tests.unit.ledger.helpers import KeyPair

CLEAN = pickle.dumps({"w": [1.0, 2.0]})
CONTEXT = {"dag_id": "train", "run_id": "manual__1", "task_id": "scan_model", "try_number": "1"}


def _policy(ledger: str, keys: KeyPair) -> str:
    return f"ledger:\n  uri: {ledger}\n  checkpoint_key: {keys.private}\n"


def test_scan_gate_appends_an_entry(tmp_path: Path, ledger_path: str, keys: KeyPair) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(CLEAN)
    result = scan_gate(
        [str(model)],
        policy=_policy(ledger_path, keys),
        report_dir=str(tmp_path / "reports"),
        run_context=CONTEXT,
    )
    assert result.passed
    assert result.reports["ledger"] == str(Path(ledger_path).resolve())
    assert result.metrics["ledger_entry"] == 1

    [entry] = lineage(ledger_path, hashlib.sha256(CLEAN).hexdigest(), storage=Storage())
    assert (entry["gate"], entry["status"], entry["run"]) == ("scan", "pass", CONTEXT)
    evidence = {e["type"]: e for e in entry["evidence"]}
    assert set(evidence) == {"json", "markdown", "html", "sarif"}
    report = Path(result.reports["json"]).read_bytes()
    assert evidence["json"]["sha256"] == hashlib.sha256(report).hexdigest()
    # The report can be found by its own digest too.
    assert [
        e["seq"] for e in lineage(ledger_path, evidence["json"]["sha256"], storage=Storage())
    ] == [1]
    assert verify_ledger(ledger_path, storage=Storage(), public_key=keys.public).ok


def test_a_retried_task_does_not_fork_the_chain(
    tmp_path: Path, ledger_path: str, keys: KeyPair
) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(CLEAN)
    for try_number in ("1", "2"):  # each try writes its reports to a new folder
        result = scan_gate(
            [str(model)],
            policy=_policy(ledger_path, keys),
            report_dir=str(tmp_path / f"reports-{try_number}"),
            run_context={**CONTEXT, "try_number": try_number},
        )
        assert result.metrics["ledger_entry"] == 1
    assert len(Path(ledger_path).read_bytes().splitlines()) == 1
    model.write_bytes(pickle.dumps({"w": [3.0]}))  # a retry that sees other bytes
    result = scan_gate(
        [str(model)],
        policy=_policy(ledger_path, keys),
        report_dir=str(tmp_path / "reports-3"),
        run_context={**CONTEXT, "try_number": "3"},
    )
    assert result.metrics["ledger_entry"] == 2
    body = decode_entry(Path(ledger_path).read_bytes().splitlines()[1]).body
    assert body["supersedes"] == 1


def test_a_ledger_that_cannot_be_written_fails_the_gate(tmp_path: Path, keys: KeyPair) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(CLEAN)
    blocked = tmp_path / "ledger-is-a-dir"
    blocked.mkdir()
    with pytest.raises(StorageError, match="cannot open the ledger") as info:
        scan_gate([str(model)], policy=_policy(str(blocked), keys), report_dir=str(tmp_path / "r"))
    assert "\n" not in info.value.diagnostics()
    assert (tmp_path / "r" / "scan-report.json").is_file()  # the evidence is still written


def test_no_ledger_without_uri(tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(CLEAN)
    result = scan_gate([str(model)], report_dir=str(tmp_path / "r"), run_context=CONTEXT)
    assert "ledger" not in result.reports
    assert "ledger_entry" not in result.metrics
