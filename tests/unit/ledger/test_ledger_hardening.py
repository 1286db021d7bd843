"""Crashes and lost answers never cost the ledger an entry or a checkpoint (issue 13).

Items: 6 (a torn checkpoint line is cut off, the next checkpoint stays whole), 14 (a failed
write of the writer's own entry is rolled back), 25 (a checkpoint that was due but never made
is made by the next append), 13 (an S3 PUT committed but answered 500: one entry, not two).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlsec_gates.ledger import verify_ledger
from mlsec_gates.ledger.checkpoints import decode_checkpoint
from mlsec_gates.policy import LedgerPolicy
from mlsec_gates.storage import S3Options, Storage
from tests.s3.faulty_proxy import faulty_proxy
from tests.unit.ledger.helpers import KeyPair, Record, digest, make_result


def _check(path: str, keys: KeyPair) -> None:
    report = verify_ledger(path, storage=Storage(), public_key=keys.public)
    assert report.ok, [p.message for p in report.problems]


def test_torn_checkpoint_line_is_cut_and_the_next_checkpoint_is_whole(
    record: Record, ledger_path: str, keys: KeyPair
) -> None:
    record()  # entry 1 + checkpoint 1
    checkpoints = Path(f"{ledger_path}.checkpoints")
    whole = checkpoints.read_bytes()
    # A writer killed mid-checkpoint: half a line, no newline.
    checkpoints.write_bytes(whole + whole[: len(whole) // 2].rstrip(b"\n"))
    record()
    record()  # entry 3: checkpoint due (every 3)
    lines = checkpoints.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [decode_checkpoint(line).size for line in lines[:-1]] == [1, 3]
    _check(ledger_path, keys)


def test_failed_write_of_own_entry_is_rolled_back(
    record: Record, ledger_path: str, keys: KeyPair, tmp_path: Path
) -> None:
    for i in range(60):  # a ledger bigger than its index's shared-memory file (32 KiB)
        record(make_result(subjects=((f"m{i}", digest(f"m{i}")),)), every=1000)
    before = Path(ledger_path).read_bytes()
    assert len(before) > 40_000
    # A child process appends under a file-size limit just above the ledger's size: the
    # kernel accepts part of the line, then refuses (EFBIG). That writer must cut it off.
    script = textwrap.dedent(
        f"""
        import resource, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        from mlsec_gates.errors import StorageError
        from mlsec_gates.ledger import record_result
        from mlsec_gates.policy import LedgerPolicy
        from mlsec_gates.storage import Storage
        from tests.unit.ledger.helpers import make_result
        limit = {len(before) + 40}
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        policy = LedgerPolicy(uri={ledger_path!r})
        try:
            record_result(make_result(), policy=policy, storage=Storage())
        except StorageError as exc:
            print("refused:", exc.diagnostics())
            sys.exit(3)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 3, child.stderr
    assert "cannot write" in child.stdout
    assert Path(ledger_path).read_bytes() == before  # no partial line left behind
    result = record()  # the next writer is not stopped by "a writer crashed"
    assert result.metrics["ledger_entry"] == 61
    _check(ledger_path, keys)


def test_checkpoint_missed_by_a_killed_writer_is_made_by_the_next_append(
    ledger_path: str, keys: KeyPair
) -> None:
    from mlsec_gates.ledger import record_result

    def append(signed: bool) -> None:
        policy = LedgerPolicy(
            uri=ledger_path, checkpoint_every=2, checkpoint_key=keys.private if signed else None
        )
        record_result(make_result(), policy=policy, storage=Storage())

    append(True)  # entry 1, checkpoint 1
    append(False)  # entry 2: its checkpoint was due, the writer "died" before making it
    append(True)  # entry 3: not due by itself, but catches up
    sizes = [
        decode_checkpoint(line).size
        for line in Path(f"{ledger_path}.checkpoints").read_bytes().splitlines()
    ]
    assert sizes == [1, 3]
    report = verify_ledger(ledger_path, storage=Storage(), public_key=keys.public)
    assert report.ok and report.covered == 3


@pytest.mark.s3
def test_s3_put_committed_but_answered_500_appends_one_entry(
    s3_env: str, s3_bucket: str, keys: KeyPair
) -> None:
    from mlsec_gates.ledger import record_result

    uri = f"s3://{s3_bucket}/ledger"
    with faulty_proxy(s3_env) as proxy:
        storage = Storage(S3Options(endpoint_url=proxy.endpoint))
        lost = proxy.add(
            "lose-answer",
            lambda method, path, headers: (
                method == "PUT" and "/entries/" in path and headers.get("If-None-Match") == "*"
            ),
        )
        policy = LedgerPolicy(uri=uri, checkpoint_every=2, checkpoint_key=keys.private)
        first = record_result(
            make_result(subjects=(("m", digest("m")),)), policy=policy, storage=storage
        )
        assert lost.hits == 1  # the fault really happened; botocore retried the PUT
        assert first.metrics["ledger_entry"] == 1
        second = record_result(
            make_result(subjects=(("n", digest("n")),)), policy=policy, storage=storage
        )
        assert second.metrics["ledger_entry"] == 2
    direct = Storage(S3Options(endpoint_url=s3_env))
    keys_listed = [
        o["Key"]
        for o in direct._client.list_objects_v2(Bucket=s3_bucket, Prefix="ledger/")["Contents"]
    ]
    assert sorted(k for k in keys_listed if "/entries/" in k) == [
        "ledger/entries/000000000001.json",
        "ledger/entries/000000000002.json",
    ]
    assert "ledger/checkpoints/000000000002.json" in keys_listed
    report = verify_ledger(uri, storage=direct, public_key=keys.public)
    assert report.ok, [p.message for p in report.problems]
