"""The scan operator on S3, with credentials and endpoint from an Airflow connection."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators import ArtifactScanGateOperator

pytestmark = [pytest.mark.airflow, pytest.mark.s3]

CONN_ID = "mlsec_moto"


@pytest.fixture()
def aws_conn(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection (env var, JSON form) that is the only way to reach the server."""
    conn = {
        "conn_type": "aws",
        "login": "conn-access-key",
        "password": "conn-secret-key",
        "extra": {"endpoint_url": s3_env, "region_name": "us-east-1"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return CONN_ID


@pytest.fixture()
def s3(s3_env: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_env,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture()
def no_ambient_credentials(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the bucket exists, drop the env credentials: only the connection supplies them."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _keys(s3: Any, bucket: str, prefix: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {obj["Key"] for obj in listed.get("Contents", [])}


def test_scans_s3_object_and_writes_reports_to_s3(
    s3: Any,
    s3_bucket: str,
    aws_conn: str,
    no_ambient_credentials: None,
    clean_bytes: bytes,
    fake_context: dict[str, Any],
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="models/clean.pkl", Body=clean_bytes)
    op = ArtifactScanGateOperator(
        task_id="scan",
        targets=f"s3://{s3_bucket}/models/clean.pkl",
        report_dir=f"s3://{s3_bucket}/reports/",
        aws_conn_id=aws_conn,
    )
    summary = op.execute(fake_context)

    assert summary["status"] == "pass"
    assert _keys(s3, s3_bucket, "reports/") == {
        "reports/scan-report.html",
        "reports/scan-report.md",
        "reports/scan-report.json",
        "reports/scan-report.sarif",
    }
    assert fake_context["ti"].xcoms["report_url"] == f"s3://{s3_bucket}/reports/scan-report.html"
    assert fake_context["ti"].xcoms["sarif_url"] == f"s3://{s3_bucket}/reports/scan-report.sarif"
    body = s3.get_object(Bucket=s3_bucket, Key="reports/scan-report.json")["Body"].read()
    report = json.loads(body)
    assert report["subjects"][0]["path"] == f"s3://{s3_bucket}/models/clean.pkl"
    assert report["subjects"][0]["verdict"] == "pass"


def test_malicious_s3_prefix_fails_and_leaves_report_in_s3(
    s3: Any,
    s3_bucket: str,
    aws_conn: str,
    no_ambient_credentials: None,
    clean_bytes: bytes,
    malicious_bytes: bytes,
    fake_context: dict[str, Any],
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="models/v2/clean.pkl", Body=clean_bytes)
    s3.put_object(Bucket=s3_bucket, Key="models/v2/bad.pkl", Body=malicious_bytes)
    op = ArtifactScanGateOperator(
        task_id="scan",
        targets=[f"s3://{s3_bucket}/models/v2/"],
        report_dir=f"s3://{s3_bucket}/reports/v2",
        aws_conn_id=aws_conn,
    )
    with pytest.raises(AirflowFailException, match=r"os\.system"):
        op.execute(fake_context)

    assert "reports/v2/scan-report.html" in _keys(s3, s3_bucket, "reports/v2/")
    html = s3.get_object(Bucket=s3_bucket, Key="reports/v2/scan-report.html")["Body"].read()
    assert b"os.system" in html
