"""The scan gate against a real S3-protocol server (moto on loopback), through plain boto3.

Nothing here patches boto3: objects are uploaded with a boto3 client, the gate reaches the
same server through its own client, and the results are checked with boto3 again.
"""

from __future__ import annotations

import json
import pickle
import socket
from pathlib import Path

import boto3
import pytest

from mlsec_gates.cli import main
from mlsec_gates.errors import InputError, StorageError
from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.result import Status
from mlsec_gates.storage import S3Options, Storage

pytestmark = pytest.mark.s3

CLEAN = pickle.dumps({"w": [1.0, 2.0]}, protocol=2)
# Protocol-2 pickle calling os.system("echo"). Built by hand; never loaded.
MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
REPORTS = {"scan-report.json", "scan-report.md", "scan-report.html", "scan-report.sarif"}


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=endpoint)


def _put(endpoint: str, bucket: str, objects: dict[str, bytes]) -> None:
    client = _client(endpoint)
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def _etags(endpoint: str, bucket: str, keys: list[str]) -> dict[str, tuple[str, object]]:
    client = _client(endpoint)
    out = {}
    for key in keys:
        head = client.head_object(Bucket=bucket, Key=key)
        out[key] = (head["ETag"], head["LastModified"])
    return out


def _report(endpoint: str, bucket: str, prefix: str) -> dict[str, object]:
    client = _client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    names = {obj["Key"].rsplit("/", 1)[-1] for obj in listed.get("Contents", [])}
    assert names == REPORTS
    body = client.get_object(Bucket=bucket, Key=f"{prefix}scan-report.json")["Body"].read()
    return json.loads(body)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestScanOnS3:
    def test_one_object(self, s3_env: str, s3_bucket: str) -> None:
        _put(s3_env, s3_bucket, {"models/clean.pkl": CLEAN})
        result = scan_gate(
            [f"s3://{s3_bucket}/models/clean.pkl"],
            report_dir=f"s3://{s3_bucket}/reports/run1/",
            s3=S3Options(endpoint_url=s3_env),
        )
        assert result.status is Status.PASS
        assert [(s.path, s.verdict) for s in result.subjects] == [
            (f"s3://{s3_bucket}/models/clean.pkl", "pass")
        ]
        assert result.reports["json"] == f"s3://{s3_bucket}/reports/run1/scan-report.json"
        report = _report(s3_env, s3_bucket, "reports/run1/")
        assert report["status"] == "pass"
        assert report["reports"] == result.reports

    def test_a_prefix_with_several_objects(self, s3_env: str, s3_bucket: str) -> None:
        objects = {
            "models/v1/a.pkl": CLEAN,
            "models/v1/b.pkl": CLEAN,
            "models/v1/sub/evil.pkl": MALICIOUS,
            "models/v2/other.pkl": MALICIOUS,  # outside the prefix
        }
        _put(s3_env, s3_bucket, objects)
        result = scan_gate(
            [f"s3://{s3_bucket}/models/v1/"],
            report_dir=f"s3://{s3_bucket}/reports/run1/",
            s3=S3Options(endpoint_url=s3_env),
        )
        assert result.status is Status.FAIL
        assert not result.passed
        report = _report(s3_env, s3_bucket, "reports/run1/")
        listed = {s["path"]: s["verdict"] for s in report["subjects"]}  # type: ignore[index]
        assert listed == {
            f"s3://{s3_bucket}/models/v1/a.pkl": "pass",
            f"s3://{s3_bucket}/models/v1/b.pkl": "pass",
            f"s3://{s3_bucket}/models/v1/sub/evil.pkl": "block",
        }
        evil = next(s for s in report["subjects"] if s["path"].endswith("evil.pkl"))  # type: ignore[union-attr,index]
        assert evil["sha256"] and evil["size"] == len(MALICIOUS)
        assert any(
            "os.system" in json.dumps(f) and f["location"]["uri"].endswith("evil.pkl")  # type: ignore[index]
            for f in report["findings"]  # type: ignore[union-attr]
        )

    def test_prefix_without_trailing_slash(self, s3_env: str, s3_bucket: str) -> None:
        _put(s3_env, s3_bucket, {"models/v1/a.pkl": CLEAN, "models/v10/b.pkl": CLEAN})
        result = scan_gate(
            [f"s3://{s3_bucket}/models/v1"],
            report_dir=f"s3://{s3_bucket}/reports/run1/",
            s3=S3Options(endpoint_url=s3_env),
        )
        # "models/v1" is a folder, not the start of "models/v10".
        assert [s.path for s in result.subjects] == [f"s3://{s3_bucket}/models/v1/a.pkl"]

    def test_scanned_objects_are_left_unmodified(self, s3_env: str, s3_bucket: str) -> None:
        objects = {"m/clean.pkl": CLEAN, "m/evil.pkl": MALICIOUS}
        _put(s3_env, s3_bucket, objects)
        before = _etags(s3_env, s3_bucket, list(objects))
        scan_gate(
            [f"s3://{s3_bucket}/m/"],
            report_dir=f"s3://{s3_bucket}/reports/run1/",
            s3=S3Options(endpoint_url=s3_env),
        )
        assert _etags(s3_env, s3_bucket, list(objects)) == before
        client = _client(s3_env)
        for key, body in objects.items():
            assert client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == body
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
        assert keys == set(objects) | {f"reports/run1/{name}" for name in REPORTS}

    def test_empty_prefix_is_an_error_with_reports(self, s3_env: str, s3_bucket: str) -> None:
        _put(s3_env, s3_bucket, {"elsewhere/a.pkl": CLEAN})
        result = scan_gate(
            [f"s3://{s3_bucket}/models/"],
            report_dir=f"s3://{s3_bucket}/reports/run1/",
            s3=S3Options(endpoint_url=s3_env),
            on_fail="warn",
        )
        assert result.status is Status.ERROR
        assert not result.passed
        assert _report(s3_env, s3_bucket, "reports/run1/")["status"] == "error"

    def test_policy_read_from_s3(self, s3_env: str, s3_bucket: str, tmp_path: Path) -> None:
        _put(
            s3_env,
            s3_bucket,
            {"policy/gates.yaml": b"gates:\n  scan:\n    on_fail: warn\n", "m/evil.pkl": MALICIOUS},
        )
        result = scan_gate(
            [f"s3://{s3_bucket}/m/evil.pkl"],
            policy=f"s3://{s3_bucket}/policy/gates.yaml",
            report_dir=str(tmp_path),
            s3=S3Options(endpoint_url=s3_env),
        )
        assert result.status is Status.WARN
        assert result.policy["source"] == f"s3://{s3_bucket}/policy/gates.yaml"

    def test_endpoint_from_the_policy_file(
        self, s3_env: str, s3_bucket: str, tmp_path: Path
    ) -> None:
        _put(s3_env, s3_bucket, {"m/clean.pkl": CLEAN})
        policy = tmp_path / "gates.yaml"
        policy.write_text(f"storage:\n  s3:\n    endpoint_url: {s3_env}\n    region: us-east-1\n")
        result = scan_gate(
            [f"s3://{s3_bucket}/m/clean.pkl"], policy=str(policy), report_dir=str(tmp_path / "r")
        )
        assert result.status is Status.PASS

    def test_cli_with_endpoint_option(
        self, s3_env: str, s3_bucket: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _put(s3_env, s3_bucket, {"m/evil.pkl": MALICIOUS, "m/clean.pkl": CLEAN})
        code = main(
            [
                "scan",
                f"s3://{s3_bucket}/m/",
                "--report-dir",
                f"s3://{s3_bucket}/reports/cli/",
                "--json-out",
                f"s3://{s3_bucket}/reports/copy.json",
                "--s3-endpoint-url",
                s3_env,
            ]
        )
        assert code == 1
        report = _report(s3_env, s3_bucket, "reports/cli/")
        copy = _client(s3_env).get_object(Bucket=s3_bucket, Key="reports/copy.json")
        assert json.loads(copy["Body"].read()) == report
        assert "FAILED" in capsys.readouterr().out

    def test_cli_json_out_uses_the_policy_endpoint(
        self,
        s3_env: str,
        s3_bucket: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        # Regression: --json-out on s3:// used only the command-line S3 options and went to
        # AWS instead of the policy's storage.s3.endpoint_url.
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        model = tmp_path / "clean.pkl"
        model.write_bytes(CLEAN)
        policy = tmp_path / "gates.yaml"
        policy.write_text(f"storage:\n  s3:\n    endpoint_url: {s3_env}\n")
        code = main(
            [
                "scan",
                str(model),
                "-q",
                "--policy",
                str(policy),
                "--report-dir",
                f"s3://{s3_bucket}/reports/cli/",
                "--json-out",
                f"s3://{s3_bucket}/reports/copy.json",
            ]
        )
        assert code == 0, capsys.readouterr().err
        copy = _client(s3_env).get_object(Bucket=s3_bucket, Key="reports/copy.json")
        assert json.loads(copy["Body"].read()) == _report(s3_env, s3_bucket, "reports/cli/")


class TestS3Errors:
    def _one_line(self, exc: pytest.ExceptionInfo[Exception]) -> str:
        message = exc.value.diagnostics()  # type: ignore[attr-defined]
        assert message and "\n" not in message
        return message

    def test_missing_key(self, s3_env: str, s3_bucket: str, tmp_path: Path) -> None:
        uri = f"s3://{s3_bucket}/models/missing.pkl"
        with pytest.raises(InputError) as info:
            scan_gate([uri], report_dir=str(tmp_path), s3=S3Options(endpoint_url=s3_env))
        assert self._one_line(info) == f"{uri}: no such S3 object or prefix"
        assert list(tmp_path.iterdir()) == []

    def test_open_read_missing_key(self, s3_env: str, s3_bucket: str) -> None:
        uri = f"s3://{s3_bucket}/gone.pkl"
        storage = Storage(S3Options(endpoint_url=s3_env))
        with pytest.raises(InputError) as info, storage.open_read(uri):
            pass
        assert self._one_line(info) == f"{uri}: no such S3 object"

    @pytest.mark.parametrize("key", ["model.pkl", "models/"])
    def test_missing_bucket(self, s3_env: str, tmp_path: Path, key: str) -> None:
        uri = f"s3://no-such-bucket-mlsec/{key}"
        with pytest.raises(InputError) as info:
            scan_gate([uri], report_dir=str(tmp_path), s3=S3Options(endpoint_url=s3_env))
        assert self._one_line(info) == f"{uri}: no such S3 bucket"

    def test_missing_bucket_on_the_cli(
        self, s3_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        uri = "s3://no-such-bucket-mlsec/model.pkl"
        code = main(["scan", uri, "--report-dir", str(tmp_path), "--s3-endpoint-url", s3_env])
        err = capsys.readouterr().err
        assert code == 2
        assert err.splitlines() == [f"mlsec-gates scan: error: {uri}: no such S3 bucket"]

    def test_unreachable_endpoint(
        self, s3_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # moto accepts any access key, so "bad credentials" cannot be shown with it; a closed
        # loopback port stands for an endpoint the gate cannot reach.
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        endpoint = f"http://127.0.0.1:{_closed_port()}"
        with pytest.raises(StorageError) as info:
            scan_gate(
                ["s3://bucket/model.pkl"],
                report_dir=str(tmp_path),
                s3=S3Options(endpoint_url=endpoint),
            )
        message = self._one_line(info)
        assert message.startswith("s3://bucket/model.pkl: cannot reach the S3 endpoint: ")
        assert endpoint in message

    def test_no_credentials(
        self, s3_env: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for var in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
        ):
            monkeypatch.delenv(var, raising=False)
        empty = tmp_path / "empty"
        empty.write_text("")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        uri = f"s3://{s3_bucket}/model.pkl"
        with pytest.raises(StorageError) as info:
            scan_gate([uri], report_dir=str(tmp_path / "r"), s3=S3Options(endpoint_url=s3_env))
        message = self._one_line(info)
        # Issue 13 item 24: none were given, so none were "rejected".
        assert message.startswith(f"{uri}: no S3 credentials found (looked in")

    def test_report_dir_in_a_missing_bucket(
        self, s3_env: str, s3_bucket: str, tmp_path: Path
    ) -> None:
        model = tmp_path / "clean.pkl"
        model.write_bytes(CLEAN)
        with pytest.raises(StorageError) as info:
            scan_gate(
                [str(model)],
                report_dir="s3://no-such-bucket-mlsec/reports/",
                s3=S3Options(endpoint_url=s3_env),
            )
        assert self._one_line(info) == (
            # the JSON verdict is published first (issue 13 item 15)
            "s3://no-such-bucket-mlsec/reports/scan-report.json: no such S3 bucket"
        )
