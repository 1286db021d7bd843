"""mlsec_gates/hashing.py against model-signing's own serialisation (the reference)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from model_signing import hashing as ms_hashing

from mlsec_gates.errors import InputError
from mlsec_gates.hashing import (
    MODEL_SIGNING_IGNORE,
    FileDigest,
    digest_tree,
    list_tree,
    root_digest,
)
from mlsec_gates.storage import S3Options, Storage


def _reference(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """Root digest and (name, digest) resources as model-signing computes them."""
    manifest = ms_hashing.Config().hash(path)
    resources = [
        (str(rd.identifier), rd.digest.digest_hex) for rd in manifest.resource_descriptors()
    ]
    import hashlib

    root = hashlib.sha256(b"".join(bytes.fromhex(d) for _, d in resources)).hexdigest()
    return root, resources


def test_directory_matches_model_signing(model: Path) -> None:
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (model / ".gitattributes").write_text("* binary\n")
    files = digest_tree(str(model), storage=Storage(), ignore=MODEL_SIGNING_IGNORE)
    root, resources = _reference(model)
    assert [(f.path, f.sha256) for f in files] == resources
    assert root_digest(files) == root
    # component order, not string order: "a-b" < "a/b" as strings, but "a" < "a-b" by parts
    assert [f.path for f in files][:2] == ["a/b", "a-b"]
    assert {f.size for f in files if f.path == "model.safetensors"} == {300_000}
    assert all(f.mode is not None for f in files)


def test_single_file_is_named_dot(model: Path) -> None:
    weights = model / "model.safetensors"
    files = digest_tree(str(weights), storage=Storage())
    root, resources = _reference(weights)
    assert [(f.path, f.sha256) for f in files] == resources == [(".", files[0].sha256)]
    assert root_digest(files) == root


def test_root_digest_ignores_input_order_and_rejects_duplicates() -> None:
    a = FileDigest(path="b", sha256="11" * 32, size=1)
    b = FileDigest(path="a/z", sha256="22" * 32, size=1)
    assert root_digest([a, b]) == root_digest([b, a])
    with pytest.raises(ValueError):
        root_digest([a, a])


def test_listing_reports_what_the_format_cannot_hold(model: Path) -> None:
    (model / "empty").mkdir()
    (model / "link").symlink_to(model / "config.json")
    os.mkfifo(model / "pipe")
    (model / ".git").mkdir()
    (model / "sub" / ".git").mkdir()  # only the top-level .git is ignored (model-signing)
    (model / "sub" / ".git" / "config").write_text("x")
    listing = list_tree(str(model), storage=Storage(), ignore=MODEL_SIGNING_IGNORE)
    assert listing.empty_dirs == ("empty",)
    assert listing.symlinks == ("link",)
    assert listing.special == ("pipe",)
    assert listing.ignored == (".git",)
    assert "sub/.git/config" in listing.files
    with pytest.raises(InputError, match="link"):
        digest_tree(str(model), storage=Storage(), ignore=MODEL_SIGNING_IGNORE)


def test_missing_root_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        digest_tree(str(tmp_path / "nope"), storage=Storage())


def test_parallel_equals_serial(model: Path) -> None:
    one = digest_tree(str(model), storage=Storage(), workers=1)
    many = digest_tree(str(model), storage=Storage(), workers=8)
    assert one == many


@pytest.mark.s3
def test_s3_prefix_streams_to_the_same_digests(model: Path, s3_bucket: str, s3_env: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env)
    for path in model.rglob("*"):
        if path.is_file():
            key = "models/bert/" + path.relative_to(model).as_posix()
            client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
    client.put_object(Bucket=s3_bucket, Key="models/bert/.git/HEAD", Body=b"ref")
    client.put_object(Bucket=s3_bucket, Key="models/bert-other/x", Body=b"not in the prefix")
    storage = Storage(S3Options(endpoint_url=s3_env))
    remote = digest_tree(
        f"s3://{s3_bucket}/models/bert/", storage=storage, ignore=MODEL_SIGNING_IGNORE
    )
    local = digest_tree(str(model), storage=Storage(), ignore=MODEL_SIGNING_IGNORE)
    assert [(f.path, f.sha256, f.size) for f in remote] == [
        (f.path, f.sha256, f.size) for f in local
    ]
    assert all(f.mode is None for f in remote)
    assert root_digest(remote) == root_digest(local)
    single = digest_tree(f"s3://{s3_bucket}/models/bert/config.json", storage=storage)
    assert [(f.path, f.sha256) for f in single] == [
        (".", next(f.sha256 for f in local if f.path == "config.json"))
    ]
