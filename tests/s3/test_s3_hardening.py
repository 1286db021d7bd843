"""S3 faults and ambiguities never make a scan pass or crash (issue 13: items 7, 18, 19, 24).

A proxy on loopback in front of the moto server ignores ``Range`` or cuts a body short, as
some gateways and networks do (``tests/s3/faulty_proxy.py``); botocore meets them over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from mlsec_gates.errors import InputError, StorageError
from mlsec_gates.gates.scan import run_scan, scan_gate
from mlsec_gates.result import Status
from mlsec_gates.storage import S3Options, Storage
from tests.fixtures import pickles as fx
from tests.s3.faulty_proxy import faulty_proxy
from tests.s3.test_scan_ranged import CLEAN_PKL, EVIL_PKL, _checkpoint

pytestmark = pytest.mark.s3

BIG = 16 << 20  # over the ranged-read threshold (8 MiB)


def _put(endpoint: str, bucket: str, key: str, body: bytes) -> None:
    boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=bucket, Key=key, Body=body)


def test_server_that_ignores_range_gets_the_right_verdicts(
    s3_env: str, s3_bucket: str, tmp_path: Path
) -> None:
    """Item 19: a 200 with the whole object was taken for the range asked for."""
    for name, pkl in (("clean", CLEAN_PKL), ("evil", EVIL_PKL)):
        path = _checkpoint(tmp_path / f"{name}.pt", pkl, total=BIG)
        _put(s3_env, s3_bucket, f"models/{name}.pt", path.read_bytes())
    with faulty_proxy(s3_env) as proxy:
        ignored = proxy.add("ignore-range", lambda m, p, h: "Range" in h, times=-1)
        storage = Storage(S3Options(endpoint_url=proxy.endpoint))
        result = run_scan([f"s3://{s3_bucket}/models/"], storage=storage, cache=False)
    assert ignored.hits >= 1
    verdicts = {s.path.rsplit("/", 1)[-1]: s.verdict for s in result.subjects}
    assert verdicts == {"clean.pt": "pass", "evil.pt": "block"}
    notes = result.details["subject_notes"]
    assert "ignored byte ranges" in notes[f"s3://{s3_bucket}/models/evil.pt"]


def test_storage_refuses_a_range_answered_with_other_bytes(s3_env: str, s3_bucket: str) -> None:
    _put(s3_env, s3_bucket, "blob", bytes(range(256)) * 16)
    with faulty_proxy(s3_env) as proxy:
        proxy.add("ignore-range", lambda m, p, h: "Range" in h, times=-1)
        storage = Storage(S3Options(endpoint_url=proxy.endpoint))
        with pytest.raises(StorageError, match="ignored the byte range"):
            storage.read_range(f"s3://{s3_bucket}/blob", 100, 10)
    direct = Storage(S3Options(endpoint_url=s3_env))
    assert direct.read_range(f"s3://{s3_bucket}/blob", 100, 10) == bytes(range(100, 110))


def test_one_truncated_body_is_resumed(s3_env: str, s3_bucket: str) -> None:
    """Item 18: a body cut short once failed the scan instead of being read again."""
    _put(s3_env, s3_bucket, "m/evil.pkl", fx.payload_after_benign())
    _put(s3_env, s3_bucket, "m/blob.bin", bytes(range(256)) * 4096)
    with faulty_proxy(s3_env) as proxy:
        cut = proxy.add("truncate", lambda m, p, h: m == "GET" and "Range" not in h, times=2)
        storage = Storage(S3Options(endpoint_url=proxy.endpoint))
        data = b"".join(storage.iter_chunks(f"s3://{s3_bucket}/m/blob.bin", 64 * 1024))
        assert data == bytes(range(256)) * 4096
        result = run_scan([f"s3://{s3_bucket}/m/evil.pkl"], storage=storage, cache=False)
    assert cut.hits == 2
    assert [s.verdict for s in result.subjects] == ["block"]


def test_name_that_is_both_an_object_and_a_prefix_scans_both(
    s3_env: str, s3_bucket: str, tmp_path: Path
) -> None:
    """Item 7: a benign object ``name`` hid a malicious prefix ``name/``."""
    _put(s3_env, s3_bucket, "models/resnet", fx.benign_dict_pickle())
    _put(s3_env, s3_bucket, "models/resnet/weights.pkl", fx.payload_after_benign())
    uri = f"s3://{s3_bucket}/models/resnet"
    result = scan_gate([uri], report_dir=str(tmp_path / "r"), s3=S3Options(endpoint_url=s3_env))
    assert result.status is Status.FAIL
    assert {s.path: s.verdict for s in result.subjects} == {
        uri: "pass",
        f"{uri}/weights.pkl": "block",
    }
    assert "ambiguous" in result.details["subject_notes"][uri]
    # sign and sbom cannot record both under one name: they refuse.
    from mlsec_gates.hashing import list_tree

    with pytest.raises(InputError, match="both an object and a prefix"):
        list_tree(uri, storage=Storage(S3Options(endpoint_url=s3_env)))


def test_missing_credentials_are_not_called_rejected(
    s3_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Item 24: 'S3 rejected the credentials' when none were given."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = Storage(S3Options(endpoint_url=s3_env))
    with pytest.raises(StorageError) as info:
        storage.list_files("s3://any-bucket/x")
    message = info.value.diagnostics()
    assert "no S3 credentials found" in message and "rejected" not in message
    assert "AWS_ACCESS_KEY_ID" in message and "\n" not in message
