"""A ledger in a local file: append, checkpoints, tamper detection, retries, index."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError, InputError, StorageError
from mlsec_gates.ledger import checkpoint_ledger, lineage, verify_ledger
from mlsec_gates.ledger.entries import decode_entry, encode_entry
from mlsec_gates.ledger.store import scan_for_digest
from mlsec_gates.result import Status
from mlsec_gates.storage import Storage
from tests.unit.ledger.helpers import KeyPair, Record, digest, make_result, write_key_pair


def _verify(path: str, keys: KeyPair | None) -> tuple[bool, set[tuple[str, int | None]]]:
    report = verify_ledger(path, storage=Storage(), public_key=keys.public if keys else None)
    return report.ok, {(p.kind, p.seq) for p in report.problems}


def _fill(record: Record, n: int) -> None:
    for i in range(n):
        record(make_result(subjects=((f"m{i}.pkl", digest(f"m{i}")),)))


def _lines(path: str) -> list[bytes]:
    return Path(path).read_bytes().splitlines()


def _write_lines(path: str, lines: list[bytes]) -> None:
    Path(path).write_bytes(b"".join(line + b"\n" for line in lines))


class TestAppend:
    def test_entries_chain_and_checkpoints_verify(
        self, record: Record, ledger_path: str, keys: KeyPair
    ) -> None:
        _fill(record, 7)
        report = verify_ledger(ledger_path, storage=Storage(), public_key=keys.public)
        assert report.ok, report.problems
        assert (report.entries, report.checkpoints, report.covered) == (7, 3, 6)  # 1, 3, 6
        entries = [decode_entry(line) for line in _lines(ledger_path)]
        assert [e.seq for e in entries] == list(range(1, 8))
        assert entries[0].prev is None
        assert all(e.prev == p.hash for p, e in itertools.pairwise(entries))
        assert report.head == entries[-1].hash

    def test_result_names_ledger_and_entry(self, record: Record, ledger_path: str) -> None:
        result = record()
        assert result.reports["ledger"] == str(Path(ledger_path).resolve())
        assert result.metrics["ledger_entry"] == 1
        assert record().metrics["ledger_entry"] == 2

    def test_entry_content(self, record: Record, ledger_path: str) -> None:
        context = {"dag_id": "d", "run_id": "r", "task_id": "t", "try_number": "1"}
        record(make_result(status=Status.FAIL), run_context=context)
        body = decode_entry(_lines(ledger_path)[0]).body
        assert body["gate"] == "scan" and body["status"] == "fail" and body["passed"] is False
        assert body["subjects"] == [
            {"path": "model.pkl", "sha256": digest("model"), "verdict": "pass"}
        ]
        assert body["run"] == context
        assert body["idempotency_key"] == "airflow:d/r/t/-1"
        assert (body["v"], body["seq"], body["prev"]) == (1, 1, None)

    def test_checkpoint_on_demand(self, record: Record, ledger_path: str, keys: KeyPair) -> None:
        _fill(record, 2)  # checkpoint after entry 1 only
        assert checkpoint_ledger(ledger_path, storage=Storage(), key=keys.private) == 2
        assert verify_ledger(ledger_path, storage=Storage(), public_key=keys.public).covered == 2


class TestTamperDetection:
    """The six cases of the notes (section 6.3) plus checkpoint attacks, each named."""

    @pytest.fixture(autouse=True)
    def _six_entries(self, record: Record) -> None:
        _fill(record, 6)  # checkpoints after entries 1, 3 and 6

    def test_untouched(self, ledger_path: str, keys: KeyPair) -> None:
        assert _verify(ledger_path, keys) == (True, set())

    def test_edited_entry(self, ledger_path: str, keys: KeyPair) -> None:
        lines = _lines(ledger_path)
        lines[1] = lines[1].replace(b'"status":"pass"', b'"status":"fail"')
        _write_lines(ledger_path, lines)
        assert _verify(ledger_path, keys) == (False, {("edited", 2)})

    def test_edited_and_rehashed_entry(self, ledger_path: str, keys: KeyPair) -> None:
        lines = _lines(ledger_path)
        body = decode_entry(lines[1]).body
        lines[1] = encode_entry({**body, "status": "fail"})
        _write_lines(ledger_path, lines)
        assert _verify(ledger_path, keys) == (False, {("chain", 3)})

    def test_deleted_entry(self, ledger_path: str, keys: KeyPair) -> None:
        lines = _lines(ledger_path)
        del lines[3]
        _write_lines(ledger_path, lines)
        assert _verify(ledger_path, keys) == (False, {("missing", 4), ("chain", 5)})

    def test_reordered_entries(self, ledger_path: str, keys: KeyPair) -> None:
        lines = _lines(ledger_path)
        lines[1], lines[2] = lines[2], lines[1]
        _write_lines(ledger_path, lines)
        ok, problems = _verify(ledger_path, keys)
        assert not ok
        assert ("order", 2) in problems
        assert {("chain", 3), ("chain", 2)} <= problems

    def test_truncated_tail(self, ledger_path: str, keys: KeyPair) -> None:
        _write_lines(ledger_path, _lines(ledger_path)[:4])
        # The chain alone is consistent; only the checkpoint of entry 6 shows the cut.
        assert _verify(ledger_path, keys) == (False, {("truncated", 6)})

    def test_whole_chain_rewritten_with_a_new_key(
        self, ledger_path: str, keys: KeyPair, tmp_path: Path
    ) -> None:
        forged_path = str(tmp_path / "forged.jsonl")
        forger = write_key_pair(tmp_path, "forger")
        from mlsec_gates.ledger import record_result
        from mlsec_gates.policy import LedgerPolicy

        policy = LedgerPolicy(uri=forged_path, checkpoint_every=3, checkpoint_key=forger.private)
        for i in range(6):
            status = Status.FAIL if i == 2 else Status.PASS  # the decision the forger hides
            record_result(
                make_result(subjects=((f"m{i}.pkl", digest(f"m{i}")),), status=status),
                policy=policy,
                storage=Storage(),
            )
        os.replace(forged_path, ledger_path)
        os.replace(forged_path + ".checkpoints", ledger_path + ".checkpoints")
        assert _verify(ledger_path, forger)[0]  # consistent in itself...
        ok, problems = _verify(ledger_path, keys)  # ...but not with the pinned key
        assert not ok
        assert problems == {
            ("checkpoint-signature", 1),
            ("checkpoint-signature", 3),
            ("checkpoint-signature", 6),
        }

    def test_rewritten_chain_under_the_old_checkpoints(
        self, ledger_path: str, keys: KeyPair
    ) -> None:
        lines = _lines(ledger_path)
        prev = None
        for i, line in enumerate(lines):
            body = {**decode_entry(line).body, "prev": prev}
            if i == 4:
                body["status"] = "fail"
            lines[i] = encode_entry(body)
            prev = decode_entry(lines[i]).hash
        _write_lines(ledger_path, lines)
        assert _verify(ledger_path, keys) == (False, {("checkpoint-head", 6)})

    def test_checkpoint_signature_flipped(self, ledger_path: str, keys: KeyPair) -> None:
        path = Path(ledger_path + ".checkpoints")
        envelopes = [json.loads(line) for line in path.read_text().splitlines()]
        sig = bytearray(__import__("base64").b64decode(envelopes[1]["signatures"][0]["sig"]))
        sig[-1] ^= 1
        envelopes[1]["signatures"][0]["sig"] = __import__("base64").b64encode(sig).decode()
        path.write_text("".join(json.dumps(e) + "\n" for e in envelopes))
        assert _verify(ledger_path, keys) == (False, {("checkpoint-signature", 3)})

    def test_checkpoints_deleted(self, ledger_path: str, keys: KeyPair) -> None:
        os.unlink(ledger_path + ".checkpoints")
        assert _verify(ledger_path, keys) == (False, {("no-checkpoint", None)})

    def test_without_a_public_key_the_ledger_is_not_ok(self, ledger_path: str) -> None:
        assert _verify(ledger_path, None) == (False, {("unsigned", None)})

    def test_partial_last_line(self, ledger_path: str, keys: KeyPair, record: Record) -> None:
        with open(ledger_path, "ab") as fh:
            fh.write(b'{"entry":{"seq":7')
        assert _verify(ledger_path, keys) == (False, {("torn", 7)})
        with pytest.raises(StorageError, match="the last line is incomplete"):
            record()


class TestRetries:
    CONTEXT = {"dag_id": "train", "run_id": "manual__1", "task_id": "scan", "try_number": "1"}

    def test_same_key_and_result_is_one_entry(self, record: Record, ledger_path: str) -> None:
        first = record(run_context=self.CONTEXT)
        retry = record(run_context={**self.CONTEXT, "try_number": "2"})
        assert first.metrics["ledger_entry"] == retry.metrics["ledger_entry"] == 1
        assert len(_lines(ledger_path)) == 1

    def test_a_different_result_supersedes_the_earlier_entry(
        self, record: Record, ledger_path: str, keys: KeyPair
    ) -> None:
        record(make_result(status=Status.ERROR), run_context=self.CONTEXT)
        record(run_context={"dag_id": "other", "run_id": "r", "task_id": "t"})
        retry = record(make_result(status=Status.PASS), run_context=self.CONTEXT)
        assert retry.metrics["ledger_entry"] == 3
        assert decode_entry(_lines(ledger_path)[2]).body["supersedes"] == 1
        # Retrying the new decision again adds nothing more.
        assert record(run_context=self.CONTEXT).metrics["ledger_entry"] == 3
        assert _verify(ledger_path, keys) == (True, set())

    def test_without_a_key_every_run_appends(self, record: Record, ledger_path: str) -> None:
        record()
        record()
        assert len(_lines(ledger_path)) == 2


class TestLineageAndIndex:
    def test_lineage_across_gates(self, record: Record, ledger_path: str) -> None:
        model, data = digest("model"), digest("data")
        record(make_result("validate", subjects=(("train.csv", data),)))
        record(make_result("scan", subjects=(("model.pkl", model),)))
        record(make_result("sbom", subjects=(("model", model), ("train.csv", data))))
        record(make_result("sign", subjects=(("model", model),)))
        record(make_result("scan", subjects=(("other.pkl", digest("other")),)))
        found = lineage(ledger_path, f"sha256:{model.upper()}", storage=Storage())
        assert [(e["seq"], e["gate"]) for e in found] == [(2, "scan"), (3, "sbom"), (4, "sign")]
        assert all(e["intact"] and len(e["entry_hash"]) == 64 for e in found)
        assert [e["gate"] for e in lineage(ledger_path, data, storage=Storage())] == [
            "validate",
            "sbom",
        ]
        assert lineage(ledger_path, digest("nothing"), storage=Storage()) == []

    def test_missing_ledger_has_no_lineage_and_bad_digest_is_refused(self, tmp_path: Path) -> None:
        assert lineage(str(tmp_path / "none.jsonl"), digest("x"), storage=Storage()) == []
        with pytest.raises(ValueError):
            lineage(str(tmp_path / "none.jsonl"), "md5:abc", storage=Storage())

    def test_index_is_rebuilt_when_lost_or_stale(self, record: Record, ledger_path: str) -> None:
        _fill(record, 4)
        os.unlink(ledger_path + ".index")
        assert [e["seq"] for e in lineage(ledger_path, digest("m2"), storage=Storage())] == [3]
        # Replace the ledger by another one: the index no longer matches and is rebuilt.
        lines = _lines(ledger_path)
        _write_lines(ledger_path, [lines[0], lines[2]])
        assert [e["seq"] for e in lineage(ledger_path, digest("m2"), storage=Storage())] == [3]
        assert lineage(ledger_path, digest("m1"), storage=Storage()) == []
        # Appending after a rebuild continues from the file's last line.
        _write_lines(ledger_path, lines)
        assert record().metrics["ledger_entry"] == 5

    def test_scan_fallback_finds_the_same_entries(self, record: Record, ledger_path: str) -> None:
        _fill(record, 4)
        found = scan_for_digest(Path(ledger_path).read_bytes(), digest("m1"))
        assert [e.seq for e in found] == [2]

    def test_a_far_behind_index_is_not_rebuilt_by_a_query(
        self, record: Record, ledger_path: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _fill(record, 3)
        os.unlink(ledger_path + ".index")
        monkeypatch.setattr("mlsec_gates.ledger.store._MAX_QUERY_CATCH_UP", 0)
        assert [e["seq"] for e in lineage(ledger_path, digest("m1"), storage=Storage())] == [2]
        assert (
            not Path(ledger_path + ".index").exists()
            or os.path.getsize(ledger_path + ".index") < 40_000
        )
        assert record().metrics["ledger_entry"] == 4  # the next append rebuilds it

    def test_edited_entries_are_returned_but_flagged(
        self, record: Record, ledger_path: str
    ) -> None:
        _fill(record, 2)
        lines = _lines(ledger_path)
        lines[1] = lines[1].replace(b'"summary":"scan: pass"', b'"summary":"scan: okay"')
        _write_lines(ledger_path, lines)
        [entry] = lineage(ledger_path, digest("m1"), storage=Storage())
        assert entry["intact"] is False


class TestFailClosed:
    def test_unwritable_ledger(self, record: Record, tmp_path: Path) -> None:
        (tmp_path / "dir.jsonl").mkdir()
        with pytest.raises(StorageError, match="cannot open the ledger"):
            record(uri=str(tmp_path / "dir.jsonl"))

    def test_missing_checkpoint_key(self, ledger_path: str, tmp_path: Path) -> None:
        from mlsec_gates.ledger import record_result
        from mlsec_gates.policy import LedgerPolicy

        policy = LedgerPolicy(uri=ledger_path, checkpoint_key=str(tmp_path / "nokey.pem"))
        with pytest.raises(InputError):
            record_result(make_result(), policy=policy, storage=Storage())
        assert not Path(ledger_path).exists()

    def test_verify_a_missing_ledger(self, tmp_path: Path, keys: KeyPair) -> None:
        with pytest.raises(InputError, match="no such ledger"):
            verify_ledger(str(tmp_path / "none"), storage=Storage(), public_key=keys.public)

    def test_both_keys_is_a_config_error(self, ledger_path: str, keys: KeyPair) -> None:
        with pytest.raises(ConfigError):
            verify_ledger(ledger_path, storage=Storage(), public_key=keys.public, kms_key_id="k")
