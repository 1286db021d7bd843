"""An S3 prefix of many objects: worker threads inside one gate, and the shard merge.

Against the moto S3 server on loopback, through the gate's own boto3 client.
"""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.gates.scan.fanout import merge_scan_reports, plan_shards
from mlsec_gates.result import Status
from mlsec_gates.storage import S3Options, Storage

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
