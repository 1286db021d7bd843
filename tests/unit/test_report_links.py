"""Clickable report links: file:// for local reports, the policy's URL or a pre-signed one."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from mlsec_gates.policy import parse_policy
from mlsec_gates.reports.links import clickable, policy_link
from mlsec_gates.storage import S3Options, Storage


def test_local_paths_become_file_urls(tmp_path: Path) -> None:
    report = tmp_path / "scan report.html"
    assert clickable(str(report)) == report.resolve().as_uri()
    assert clickable("https://example.com/r.html") == "https://example.com/r.html"


def test_s3_uri_with_a_url_template_and_without() -> None:
    policy = parse_policy(
        "storage:\n  report_links:\n    url_template: https://minio.example/browser/{bucket}/{key}\n"
    )
    uri = "s3://ml-reports/runs/run 1/scan-report.html"
    assert policy_link(uri, policy) == (
        "https://minio.example/browser/ml-reports/runs/run%201/scan-report.html"
    )
    assert policy_link(uri, parse_policy("version: 1\n")) == uri  # nothing clickable: as is


@pytest.mark.s3
def test_presigned_link_opens_the_report(s3_env: str, s3_bucket: str) -> None:
    storage = Storage(S3Options(endpoint_url=s3_env))
    uri = f"s3://{s3_bucket}/runs/1/scan-report.html"
    storage.write_bytes(uri, b"<html>report</html>", content_type="text/html")
    policy = parse_policy("storage:\n  report_links:\n    presign_seconds: 600\n")

    link = policy_link(uri, policy, storage)

    assert link.startswith(s3_env) and "Signature=" in link
    with urllib.request.urlopen(link, timeout=10) as response:  # loopback moto server
        assert response.read() == b"<html>report</html>"


def test_presigning_without_credentials_falls_back_to_the_uri(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    uri = "s3://ml-reports/r.html"
    storage = Storage(S3Options(endpoint_url="http://127.0.0.1:9"))
    assert clickable(uri, presign_seconds=60, storage=storage) == uri
