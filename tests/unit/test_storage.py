"""Tests for mlsec_gates.storage on local paths (S3 is in tests/s3/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlsec_gates.errors import InputError, StorageError
from mlsec_gates.storage import S3Options, Storage, join, sha256_of, split_s3_uri


class TestListFiles:
    def test_a_file_is_itself(self, tmp_path: Path) -> None:
        path = tmp_path / "model.pkl"
        path.write_bytes(b"x")
        assert Storage().list_files(str(path)) == [str(path)]

    def test_a_directory_is_listed_recursively_and_sorted(self, tmp_path: Path) -> None:
        for rel in ("b.pkl", "a/z.pt", "a/deep/er/c.npy", ".hidden"):
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        (tmp_path / "empty-sub").mkdir()
        listed = Storage().list_files(str(tmp_path))
        assert listed == sorted(
            str(tmp_path / rel) for rel in ("b.pkl", "a/z.pt", "a/deep/er/c.npy", ".hidden")
        )

    def test_an_empty_directory_is_an_empty_list(self, tmp_path: Path) -> None:
        (tmp_path / "only-dirs" / "inside").mkdir(parents=True)
        assert Storage().list_files(str(tmp_path)) == []

    def test_a_missing_path_is_an_input_error(self, tmp_path: Path) -> None:
        missing = tmp_path / "nope"
        with pytest.raises(InputError) as info:
            Storage().list_files(str(missing))
        assert info.value.diagnostics() == f"{missing}: no such file or directory"

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a POSIX FIFO")
    def test_a_special_file_is_an_input_error(self, tmp_path: Path) -> None:
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        with pytest.raises(InputError, match="not a regular file or directory"):
            Storage().list_files(str(fifo))


class TestRead:
    def test_open_read_missing_is_an_input_error(self, tmp_path: Path) -> None:
        missing = tmp_path / "gone.pkl"
        with pytest.raises(InputError) as info, Storage().open_read(str(missing)):
            pass
        assert info.value.diagnostics() == f"{missing}: no such file"

    def test_open_read_a_directory_is_an_input_error(self, tmp_path: Path) -> None:
        with pytest.raises(InputError) as info, Storage().open_read(str(tmp_path)):
            pass
        message = info.value.diagnostics()
        assert message.startswith(f"{tmp_path}: cannot read: ")
        assert "\n" not in message

    def test_open_read_gives_the_bytes(self, tmp_path: Path) -> None:
        path = tmp_path / "f.bin"
        path.write_bytes(b"\x00\x01abc")
        with Storage().open_read(str(path)) as fh:
            assert fh.read() == b"\x00\x01abc"
            assert fh.seekable()

    def test_read_text_rejects_non_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.yaml"
        path.write_bytes(b"\xff\xfe\x00")
        with pytest.raises(InputError, match=r"policy\.yaml: not UTF-8 text"):
            Storage().read_text(str(path))

    def test_sha256_of_rewinds(self, tmp_path: Path) -> None:
        path = tmp_path / "f.bin"
        path.write_bytes(b"abc")
        with Storage().open_read(str(path)) as fh:
            fh.read(1)
            digest, size = sha256_of(fh)
            assert fh.tell() == 0
        assert size == 3
        assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


class TestWrite:
    def test_creates_parents_and_returns_the_absolute_path(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        where = Storage().write_bytes("a/b/c.json", b"{}")
        assert where == str((tmp_path / "a/b/c.json").resolve())
        assert Path(where).read_bytes() == b"{}"
        assert os.listdir(tmp_path / "a/b") == ["c.json"]


class TestUris:
    def test_is_remote(self) -> None:
        assert Storage.is_remote("s3://b/k")
        assert not Storage.is_remote("/tmp/s3://x")
        assert not Storage.is_remote("model.pkl")

    @pytest.mark.parametrize(
        ("uri", "expected"),
        [
            ("s3://bucket/key.pkl", ("bucket", "key.pkl")),
            ("s3://bucket/a/b/", ("bucket", "a/b/")),
            ("s3://bucket", ("bucket", "")),
            ("s3://bucket/", ("bucket", "")),
        ],
    )
    def test_split(self, uri: str, expected: tuple[str, str]) -> None:
        assert split_s3_uri(uri) == expected

    @pytest.mark.parametrize("uri", ["s3://", "s3:///key"])
    def test_split_without_bucket(self, uri: str) -> None:
        with pytest.raises(InputError, match="not a valid S3 URI"):
            split_s3_uri(uri)

    def test_join(self, tmp_path: Path) -> None:
        assert join("s3://b/reports/", "x.json") == "s3://b/reports/x.json"
        assert join("s3://b/reports", "x.json") == "s3://b/reports/x.json"
        assert join(str(tmp_path), "x.json") == str(tmp_path / "x.json")

    def test_s3_options_from_policy_with_overrides(self) -> None:
        from mlsec_gates.policy import S3Policy

        policy = S3Policy(endpoint_url="http://policy:9000", region="eu-west-1", profile="p")
        opts = S3Options.from_policy(policy, endpoint_url="http://cli:9000", region=None)
        assert opts == S3Options(endpoint_url="http://cli:9000", region="eu-west-1", profile="p")


class TestS3ErrorMessages:
    """How botocore's errors become one-line InputError/StorageError messages.

    The moto server of tests/s3 accepts any access key, so credential rejections cannot be
    produced there; these feed the translator the errors S3 returns instead.
    """

    URI = "s3://bucket/model.pkl"

    @pytest.mark.parametrize(
        ("code", "kind", "expected"),
        [
            ("NoSuchKey", InputError, "s3://bucket/model.pkl: no such S3 object"),
            ("NoSuchBucket", InputError, "s3://bucket/model.pkl: no such S3 bucket"),
            (
                "InvalidAccessKeyId",
                StorageError,
                "s3://bucket/model.pkl: S3 rejected the credentials (InvalidAccessKeyId); check "
                "the AWS access key, secret, profile or Airflow connection",
            ),
            (
                "SignatureDoesNotMatch",
                StorageError,
                "s3://bucket/model.pkl: S3 rejected the credentials (SignatureDoesNotMatch); "
                "check the AWS access key, secret, profile or Airflow connection",
            ),
            ("AccessDenied", StorageError, "s3://bucket/model.pkl: access denied by S3"),
            ("403", StorageError, "s3://bucket/model.pkl: access denied by S3"),
        ],
    )
    def test_client_errors(self, code: str, kind: type[Exception], expected: str) -> None:
        from botocore.exceptions import ClientError

        error = ClientError({"Error": {"Code": code, "Message": "x\ny"}}, "GetObject")
        with pytest.raises(kind) as info, Storage()._s3_errors(self.URI):
            raise error
        assert str(info.value) == expected

    def test_other_errors_are_one_line(self) -> None:
        from botocore.exceptions import ClientError

        error = ClientError({"Error": {"Code": "SlowDown", "Message": "a\nb"}}, "GetObject")
        with pytest.raises(StorageError) as info, Storage()._s3_errors(self.URI):
            raise error
        message = str(info.value)
        assert message.startswith("s3://bucket/model.pkl: S3 error: ")
        assert "\n" not in message
