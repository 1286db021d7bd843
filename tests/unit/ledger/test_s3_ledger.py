"""A ledger in S3 (moto server on loopback): conditional appends, races, Object Lock."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import pytest

from mlsec_gates.errors import ConfigError
from mlsec_gates.ledger import lineage, record_result, verify_ledger
from mlsec_gates.ledger.entries import decode_entry, encode_entry
from mlsec_gates.ledger.s3_store import S3Store
from mlsec_gates.ledger.store import open_store
from mlsec_gates.policy import LedgerPolicy
from mlsec_gates.result import GateResult, Status
from mlsec_gates.storage import S3Options, Storage
from tests.unit.ledger.helpers import KeyPair, digest, make_result

pytestmark = pytest.mark.s3


@pytest.fixture()
def storage(s3_env: str) -> Storage:
    return Storage(S3Options(endpoint_url=s3_env))


@pytest.fixture()
def uri(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/ledgers/main"


def _record(
    uri: str,
    storage: Storage,
    keys: KeyPair,
    result: GateResult | None = None,
    *,
    run_context: dict[str, str] | None = None,
    **policy: Any,
) -> GateResult:
    ledger = LedgerPolicy(uri=uri, checkpoint_every=3, checkpoint_key=keys.private, **policy)
    return record_result(
        result or make_result(), policy=ledger, storage=storage, run_context=run_context
    )


def _keys(client: Any, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_append_verify_lineage(uri: str, storage: Storage, keys: KeyPair, s3_bucket: str) -> None:
    for i in range(4):
        result = _record(
            uri, storage, keys, make_result(subjects=((f"m{i}", digest(f"m{i % 2}")),))
        )
        assert result.metrics["ledger_entry"] == i + 1
        assert result.reports["ledger"] == uri
    client = storage._client
    assert _keys(client, s3_bucket, "ledgers/main/entries/") == [
        f"ledgers/main/entries/{n:012d}.json" for n in range(1, 5)
    ]
    assert _keys(client, s3_bucket, "ledgers/main/checkpoints/") == [
        "ledgers/main/checkpoints/000000000001.json",
        "ledgers/main/checkpoints/000000000003.json",
    ]
    report = verify_ledger(uri, storage=storage, public_key=keys.public)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.covered) == (4, 2, 3)
    assert [e["seq"] for e in lineage(uri, digest("m0"), storage=storage)] == [1, 3]


def test_idempotent_retry(uri: str, storage: Storage, keys: KeyPair) -> None:
    context = {"pipeline_run_id": "run-1", "task_id": "task-7"}
    assert _record(uri, storage, keys, run_context=context).metrics["ledger_entry"] == 1
    assert _record(uri, storage, keys, run_context=context).metrics["ledger_entry"] == 1
    changed = make_result(status=Status.FAIL)
    assert _record(uri, storage, keys, changed, run_context=context).metrics["ledger_entry"] == 2
    [entry] = [e for e in lineage(uri, digest("model"), storage=storage) if e["seq"] == 2]
    assert entry["supersedes"] == 1


def test_losing_writer_retries_on_the_new_head(
    uri: str, storage: Storage, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(uri, storage, keys)
    slow = S3Store(uri, storage=storage)
    original = slow._put_new
    raced: list[bool] = []

    def put_after_a_rival(key: str, body: bytes, *, locked: bool) -> bool:
        if "/entries/" in key and not raced:
            raced.append(True)  # another writer appends between our head read and our put
            _record(uri, Storage(storage.s3_options), keys, make_result("rival"))
        won = original(key, body, locked=locked)
        if "/entries/" in key:
            raced.append(won)
        return won

    monkeypatch.setattr(slow, "_put_new", put_after_a_rival)
    first = [slow]  # the slow writer's record_result gets `slow`, the rival a store of its own
    monkeypatch.setattr(
        "mlsec_gates.ledger.store.open_store",
        lambda *a, _real=open_store, **k: first.pop() if first else _real(*a, **k),
    )
    monkeypatch.setattr("mlsec_gates.ledger.s3_store.time.sleep", lambda s: None)
    result = record_result(make_result("slow"), policy=LedgerPolicy(uri=uri), storage=storage)
    assert raced == [True, False, True]  # lost the first conditional put, won the second
    assert result.metrics["ledger_entry"] == 3
    entries = [decode_entry(raw) for _, raw in S3Store(uri, storage=storage).entries()]
    assert [(e.seq, e.body["gate"]) for e in entries] == [(1, "scan"), (2, "rival"), (3, "slow")]
    assert entries[2].prev == entries[1].hash
    assert verify_ledger(uri, storage=storage, public_key=keys.public).ok


def test_concurrent_writers_never_fork(uri: str, storage: Storage, keys: KeyPair) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            own = Storage(storage.s3_options)
            for i in range(4):
                _record(uri, own, keys, make_result(subjects=((f"w{n}-{i}", digest(f"{n}-{i}")),)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = verify_ledger(uri, storage=storage, public_key=keys.public)
    assert report.ok, report.problems
    assert report.entries == 16
    assert all(
        len(lineage(uri, digest(f"{n}-{i}"), storage=storage)) == 1
        for n in range(4)
        for i in range(4)
    )


def test_tampered_objects_are_named(
    uri: str, storage: Storage, keys: KeyPair, s3_bucket: str
) -> None:
    for i in range(4):
        _record(uri, storage, keys, make_result(subjects=((f"m{i}", digest(f"m{i}")),)))
    client = storage._client
    key2 = "ledgers/main/entries/000000000002.json"
    raw = client.get_object(Bucket=s3_bucket, Key=key2)["Body"].read()
    client.put_object(Bucket=s3_bucket, Key=key2, Body=raw.replace(b'"pass"', b'"fail"', 1))
    client.delete_object(Bucket=s3_bucket, Key="ledgers/main/entries/000000000004.json")
    report = verify_ledger(uri, storage=storage, public_key=keys.public)
    assert {(p.kind, p.seq) for p in report.problems} == {("edited", 2)}
    # Entry 4 was after the last checkpoint (3): its deletion is the documented blind spot.
    client.delete_object(Bucket=s3_bucket, Key="ledgers/main/entries/000000000003.json")
    report = verify_ledger(uri, storage=storage, public_key=keys.public)
    assert {(p.kind, p.seq) for p in report.problems} == {("edited", 2), ("truncated", 3)}


def test_entries_past_the_hint_are_indexed_by_the_next_writer(
    uri: str, storage: Storage, keys: KeyPair, s3_bucket: str
) -> None:
    _record(uri, storage, keys)
    # A writer that crashed after its entry: no index markers, no hint update.
    store = S3Store(uri, storage=storage)
    body = {**decode_entry(next(iter(store.entries()))[1]).body}
    body.update(seq=2, prev=decode_entry(next(iter(store.entries()))[1]).hash)
    body["subjects"] = [{"path": "crashed", "sha256": digest("crashed")}]
    storage._client.put_object(
        Bucket=s3_bucket, Key="ledgers/main/entries/000000000002.json", Body=encode_entry(body)
    )
    assert [e["seq"] for e in lineage(uri, digest("crashed"), storage=storage)] == [2]
    assert _record(uri, storage, keys).metrics["ledger_entry"] == 3
    assert _keys(storage._client, s3_bucket, f"ledgers/main/index/sha256/{digest('crashed')}/")


def test_object_lock_retention(s3_env: str, storage: Storage, keys: KeyPair) -> None:
    bucket = f"locked-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_env)
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    uri = f"s3://{bucket}/ledger"
    _record(uri, storage, keys, retention_days=1)
    head = client.head_object(Bucket=bucket, Key="ledger/entries/000000000001.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    version = head["VersionId"]
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(
            Bucket=bucket, Key="ledger/entries/000000000001.json", VersionId=version
        )
    cp = client.head_object(Bucket=bucket, Key="ledger/checkpoints/000000000001.json")
    assert cp["ObjectLockMode"] == "COMPLIANCE"


def test_retention_without_object_lock_is_a_config_error(
    uri: str, storage: Storage, keys: KeyPair
) -> None:
    with pytest.raises(ConfigError, match="no Object Lock"):
        _record(uri, storage, keys, retention_days=1)
    assert not open_store(uri, storage=storage).exists()
