"""An S3 prefix of many objects: worker threads inside one gate, and the shard merge.

Against the moto S3 server on loopback, through the gate's own boto3 client.
"""

from __future__ import annotations

import json
import pickle
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.gates.scan.fanout import merge_scan_reports, plan_shards
from mlsec_gates.result import Status
from mlsec_gates.storage import S3Options, Storage
from tests.s3.request_log import RequestLog, logged_moto_server

pytestmark = pytest.mark.s3

CLEAN = pickle.dumps({"w": [1.0, 2.0]}, protocol=2)
MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
N = 120


@pytest.fixture()
def zoo(s3_env: str, s3_bucket: str) -> str:
    client = boto3.client("s3", endpoint_url=s3_env)
    keys = [f"zoo/m{i:04d}.pkl" for i in range(N)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=s3_bucket, Key=k, Body=CLEAN), keys))
    client.put_object(Bucket=s3_bucket, Key="zoo/m0077.pkl", Body=MALICIOUS)
    return f"s3://{s3_bucket}/zoo/"


def _policy(workers: int) -> str:
    return f"gates: {{scan: {{cache: false, workers: {workers}}}}}"


def test_threads_give_the_same_result_as_one_worker(s3_env: str, zoo: str, tmp_path: Path) -> None:
    s3 = S3Options(endpoint_url=s3_env)
    one = scan_gate([zoo], policy=_policy(1), s3=s3, report_dir=str(tmp_path / "one"))
    many = scan_gate([zoo], policy=_policy(8), s3=s3, report_dir=str(tmp_path / "many"))
    assert one.status == many.status == Status.FAIL
    assert [s.to_dict() for s in one.subjects] == [s.to_dict() for s in many.subjects]
    assert [f.fingerprint for f in one.findings] == [f.fingerprint for f in many.findings]
    assert one.metrics == many.metrics
    assert many.metrics["files_scanned"] == N
    assert many.metrics["remote_bytes_read"] == one.metrics["remote_bytes_read"] > 0


def test_shards_merge_into_one_verdict(s3_env: str, zoo: str, tmp_path: Path) -> None:
    s3 = S3Options(endpoint_url=s3_env)
    shards = plan_shards([zoo], shards=4, storage=Storage(s3))
    assert [len(s) for s in shards] == [30, 30, 30, 30]
    reports = []
    for i, shard in enumerate(shards):
        result = scan_gate(
            shard, policy=_policy(4), s3=s3, on_fail="warn", report_dir=str(tmp_path / f"s{i}")
        )
        reports.append(result.reports["json"])
    merged = merge_scan_reports(reports, planned=shards, s3=s3, report_dir=str(tmp_path / "m"))
    assert merged.status == Status.FAIL
    assert merged.metrics["files_scanned"] == N and merged.metrics["shards"] == 4
    assert [s.path for s in merged.subjects if s.verdict == "block"] == [f"{zoo}m0077.pkl"]
    data = json.loads(Path(merged.reports["json"]).read_text())
    assert data["details"]["shard_reports"] == reports


def test_merge_fails_closed_on_a_missing_shard_or_file(tmp_path: Path) -> None:
    files = []
    for i in range(4):
        path = tmp_path / "zoo" / f"m{i}.pkl"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(CLEAN)
        files.append(str(path))
    shards = [files[:2], files[2:]]
    first = scan_gate(shards[0], policy=_policy(1), report_dir=str(tmp_path / "a"))
    assert first.status == Status.PASS
    lost = merge_scan_reports(
        [first.reports["json"], ""], planned=shards, report_dir=str(tmp_path / "m1")
    )
    assert lost.status == Status.ERROR
    assert "shard 1 wrote no report" in lost.summary
    # a shard report that does not cover its planned files
    short = merge_scan_reports(
        [first.reports["json"], first.reports["json"]],
        planned=shards,
        report_dir=str(tmp_path / "m2"),
    )
    assert short.status == Status.ERROR
    assert "2 planned file(s) were not scanned" in short.summary
    # not a scan report at all
    (tmp_path / "x.json").write_text(json.dumps({"gate": "validate"}))
    wrong = merge_scan_reports(
        [str(tmp_path / "x.json")], planned=None, report_dir=str(tmp_path / "m3")
    )
    assert wrong.status == Status.ERROR


@pytest.fixture()
def logged_zoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RequestLog, str]]:
    """A moto server that logs its requests, with N objects under ``s3://<bucket>/zoo/``
    (the planted one is m0077) and as many beside the prefix."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with logged_moto_server() as log:
        bucket = f"logged-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=log.endpoint)
        client.create_bucket(Bucket=bucket)
        keys = [f"{d}/m{i:04d}.pkl" for d in ("zoo", "other") for i in range(N)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=CLEAN), keys))
        client.put_object(Bucket=bucket, Key="zoo/m0077.pkl", Body=MALICIOUS)
        log.clear()
        yield log, bucket


def test_a_shard_reads_each_planned_object_with_one_get(
    logged_zoo: tuple[RequestLog, str], tmp_path: Path
) -> None:
    """No LIST and no HEAD per object in a shard: the plan carries size and ETag."""
    log, bucket = logged_zoo
    s3 = S3Options(endpoint_url=log.endpoint)
    shards = plan_shards([f"s3://{bucket}/zoo/"], shards=3, storage=Storage(s3))
    planning = log.taken()
    assert [r.method for r in planning] == ["GET"] and planning[0].is_listing
    shards = json.loads(json.dumps(shards))  # as an XCom or a KFP parameter carries it
    reports = []
    for i, shard in enumerate(shards):
        result = scan_gate(
            shard, policy=_policy(4), s3=s3, on_fail="warn", report_dir=str(tmp_path / f"s{i}")
        )
        reports.append(result.reports["json"])
        seen = log.taken()
        assert [r for r in seen if r.is_listing or r.method != "GET"] == []
        assert sorted(r.path for r in seen) == sorted("/" + e["uri"][len("s3://") :] for e in shard)
        assert all("range" not in {k.lower() for k in r.query} for r in seen)
    merged = merge_scan_reports(reports, planned=shards, s3=s3, report_dir=str(tmp_path / "m"))
    assert merged.status == Status.FAIL
    assert merged.metrics["files_scanned"] == N
    assert [s.path for s in merged.subjects if s.verdict == "block"] == [
        f"s3://{bucket}/zoo/m0077.pkl"
    ]


@pytest.mark.parametrize("large", [False, True], ids=["small-get", "large-head"])
def test_a_shard_quarantines_objects_changed_or_gone_since_the_plan(
    logged_zoo: tuple[RequestLog, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    large: bool,
) -> None:
    """Fail closed: never the new version of a planned object, never a silent skip."""
    import mlsec_gates.gates.scan as scan_module

    if large:  # every object takes the large-object path (HEAD, then ranged or whole)
        monkeypatch.setattr(scan_module, "_RANGED_MIN_BYTES", 0)
    log, bucket = logged_zoo
    s3 = S3Options(endpoint_url=log.endpoint)
    (shard,) = plan_shards([f"s3://{bucket}/zoo/"], shards=1, storage=Storage(s3))
    client = boto3.client("s3", endpoint_url=log.endpoint)
    # m0003 replaced by a malicious object after the plan, m0004 deleted
    client.put_object(Bucket=bucket, Key="zoo/m0003.pkl", Body=MALICIOUS)
    client.delete_object(Bucket=bucket, Key="zoo/m0004.pkl")
    log.clear()
    result = scan_gate(shard, policy=_policy(4), s3=s3, on_fail="warn", report_dir=str(tmp_path))
    merged = merge_scan_reports(
        [result.reports["json"]], planned=[shard], s3=s3, report_dir=str(tmp_path / "m")
    )
    verdicts = {s.path.rsplit("/", 1)[-1]: s.verdict for s in merged.subjects}
    assert len(verdicts) == N
    assert verdicts["m0003.pkl"] == verdicts["m0004.pkl"] == "quarantine"
    assert verdicts["m0077.pkl"] == "block"
    assert merged.status == Status.FAIL
    messages = {f.location.uri.rsplit("/", 1)[-1]: f.message for f in merged.findings}
    assert "changed since it was listed" in messages["m0003.pkl"]
    assert "no such S3 object" in messages["m0004.pkl"]
    assert not any(r.is_listing for r in log.taken())


def test_a_malformed_plan_entry_is_one_line_error(s3_env: str, tmp_path: Path) -> None:
    from mlsec_gates.errors import InputError

    with pytest.raises(InputError, match="not a planned file"):
        scan_gate([{"uri": "s3://b/k", "size": "12"}], report_dir=str(tmp_path))


def test_fan_out_quarantines_what_one_scan_quarantines(tmp_path: Path) -> None:
    """A FIFO or a link to a folder is planned as a problem entry, never dropped."""
    import os

    from mlsec_gates.errors import InputError

    zoo, elsewhere = tmp_path / "zoo", tmp_path / "elsewhere"
    zoo.mkdir()
    elsewhere.mkdir()
    (zoo / "a.pkl").write_bytes(CLEAN)
    (elsewhere / "evil.pkl").write_bytes(MALICIOUS)
    os.mkfifo(zoo / "pipe")
    (zoo / "linked").symlink_to(elsewhere)
    one = scan_gate([str(zoo)], policy=_policy(1), report_dir=str(tmp_path / "one"))
    shards = json.loads(json.dumps(plan_shards([str(zoo)], shards=2)))
    reports = [
        scan_gate(s, policy=_policy(1), on_fail="warn", report_dir=str(tmp_path / f"s{i}"))
        for i, s in enumerate(shards)
    ]
    merged = merge_scan_reports(
        [r.reports["json"] for r in reports], planned=shards, report_dir=str(tmp_path / "m")
    )
    assert merged.status == one.status == Status.FAIL
    verdicts = sorted((Path(s.path).name, s.verdict) for s in merged.subjects)
    assert verdicts == sorted((Path(s.path).name, s.verdict) for s in one.subjects)
    assert verdicts == [("a.pkl", "pass"), ("linked", "quarantine"), ("pipe", "quarantine")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty contains no file to scan"):
        plan_shards([str(zoo), str(tmp_path / "empty")], shards=2)
