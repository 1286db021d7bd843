"""S3 checkpoints are scanned by ranged reads: the tensors are never downloaded.

The objects are real files on a real S3-protocol server (moto on loopback), uploaded by
multipart. The bytes the gate receives are counted on its own boto3 client with a botocore
event hook (``after-call.s3.GetObject``, the ``Content-Length`` of each response); nothing
is patched, the server serves the ranges itself.
"""

from __future__ import annotations

import json
import pickle
import struct
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from mlsec_gates.gates.scan import run_scan
from mlsec_gates.policy import Policy
from mlsec_gates.storage import S3Options, Storage

pytestmark = pytest.mark.s3

# 256 MiB keeps the multipart upload to moto fast; with 1 << 30 (1 GiB, ~100 s of upload)
# the same test read 0.0124 % of the bytes.
CHECKPOINT_BYTES = 256 << 20
TENSORS = 16
CLEAN_PKL = pickle.dumps(OrderedDict(layer=[1.0, 2.0], step=3), protocol=2)
# Protocol-2 pickle calling os.system("echo"). Built by hand; never loaded.
EVIL_PKL = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."


def _sparse_zip(path: Path, members: list[tuple[str, bytes | int]]) -> None:
    """A stored (uncompressed) zip; an int member is that many zero bytes, left as a hole."""
    central = b""
    zeros = bytes(16 << 20)
    with path.open("wb") as out:
        for name, data in members:
            size = data if isinstance(data, int) else len(data)
            if isinstance(data, int):
                crc = 0
                for pos in range(0, size, len(zeros)):
                    crc = zlib.crc32(zeros[: min(len(zeros), size - pos)], crc)
            else:
                crc = zlib.crc32(data)
            offset = out.tell()
            raw = name.encode()
            out.write(
                struct.pack(
                    "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(raw), 0
                )
            )
            out.write(raw)
            if isinstance(data, int):
                out.seek(size, 1)  # a hole: the file stays sparse on disk
            else:
                out.write(data)
            central += (
                struct.pack(
                    "<4s6H3L5H2L",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    0,
                    0,
                    0,
                    crc,
                    size,
                    size,
                    len(raw),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + raw
            )
        cd_offset = out.tell()
        out.write(central)
        out.write(
            struct.pack(
                "<4s4H2LH",
                b"PK\x05\x06",
                0,
                0,
                len(members),
                len(members),
                len(central),
                cd_offset,
                0,
            )
        )


def _checkpoint(path: Path, data_pkl: bytes, total: int = CHECKPOINT_BYTES) -> Path:
    per_tensor = total // TENSORS
    members: list[tuple[str, bytes | int]] = [("archive/data.pkl", data_pkl)]
    members += [(f"archive/data/{i}", per_tensor) for i in range(TENSORS)]
    members.append(("archive/version", b"3\n"))
    _sparse_zip(path, members)
    return path


def _safetensors(path: Path, total: int) -> Path:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [total // 4], "data_offsets": [0, total - total % 4]}}
    ).encode()
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(header)) + header)
        out.truncate(8 + len(header) + total - total % 4)
    return path


def _gguf(path: Path, total: int, template: str) -> Path:
    """A GGUF v3 file: metadata with a chat template, one F32 tensor left as a sparse hole."""

    def string(raw: bytes) -> bytes:
        return struct.pack("<Q", len(raw)) + raw

    meta = [("general.architecture", "llama"), ("tokenizer.chat_template", template)]
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(meta))
    head += b"".join(
        string(k.encode()) + struct.pack("<I", 8) + string(v.encode()) for k, v in meta
    )
    head += string(b"w") + struct.pack("<IQIQ", 1, total // 4, 0, 0)  # 1 dim, F32, offset 0
    data_start = -(-len(head) // 32) * 32  # general.alignment defaults to 32
    with path.open("wb") as out:
        out.write(head)
        out.truncate(data_start + total // 4 * 4)
    return path


def _upload(endpoint: str, bucket: str, key: str, path: Path) -> None:
    client = boto3.client("s3", endpoint_url=endpoint)
    config = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=128 << 20)
    client.upload_file(str(path), bucket, key, Config=config)


class _Counter:
    """Bytes received by one boto3 client's GetObject calls (response Content-Length)."""

    def __init__(self, storage: Storage) -> None:
        self.bytes = 0
        self.calls = 0
        storage._client.meta.events.register("after-call.s3.GetObject", self._count)

    def _count(self, http_response: Any, **_: Any) -> None:
        self.calls += 1
        self.bytes += int(http_response.headers.get("Content-Length", 0))


@pytest.fixture()
def storage(s3_env: str) -> Storage:
    return Storage(S3Options(endpoint_url=s3_env))


def test_a_checkpoint_is_scanned_from_under_1_percent_of_its_bytes(
    s3_bucket: str, s3_env: str, storage: Storage, tmp_path: Path
) -> None:
    _upload(s3_env, s3_bucket, "models/clean.pt", _checkpoint(tmp_path / "clean.pt", CLEAN_PKL))
    evil = _checkpoint(tmp_path / "evil.pt", EVIL_PKL, total=CHECKPOINT_BYTES // 8)
    _upload(s3_env, s3_bucket, "models/evil.pt", evil)
    counter = _Counter(storage)
    uri = f"s3://{s3_bucket}/models/"
    result = run_scan([uri], storage=storage, cache=False)

    verdicts = {s.path.rsplit("/", 1)[-1]: (s.kind, s.verdict) for s in result.subjects}
    assert verdicts == {"clean.pt": ("pytorch-zip", "pass"), "evil.pt": ("pytorch-zip", "block")}
    [blocked] = [f for f in result.findings if f.severity.label == "critical"]
    assert blocked.location.member == "archive/data.pkl"
    assert blocked.evidence["global"] == "os.system"
    size = sum(s.size or 0 for s in result.subjects)
    assert size > CHECKPOINT_BYTES
    ratio = counter.bytes / size
    print(f"ranged scan: {counter.bytes} bytes in {counter.calls} GETs for {size} ({ratio:.5%})")
    assert ratio < 0.01
    assert result.metrics["remote_bytes_read"] == counter.bytes
    # The digest of the whole object is unknown (no ChecksumSHA256): null, and said so.
    assert all(s.sha256 is None for s in result.subjects)
    assert (
        "SHA-256 of the whole object is unknown"
        in result.details["subject_notes"][f"{uri}clean.pt"]
    )


def test_safetensors_header_only_and_raw_pickles_streamed_whole(
    s3_bucket: str, s3_env: str, storage: Storage, tmp_path: Path
) -> None:
    big = 64 << 20
    _upload(s3_env, s3_bucket, "m/model.safetensors", _safetensors(tmp_path / "m.st", big))
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps([bytes(9 << 20)], protocol=4))  # 9 MiB raw pickle
    _upload(s3_env, s3_bucket, "m/raw.pkl", raw)
    counter = _Counter(storage)
    result = run_scan([f"s3://{s3_bucket}/m/"], storage=storage, cache=False)

    kinds = {s.path.rsplit("/", 1)[-1]: (s.kind, s.verdict) for s in result.subjects}
    assert kinds == {"model.safetensors": ("safetensors", "pass"), "raw.pkl": ("pickle", "pass")}
    raw_subject = next(s for s in result.subjects if s.path.endswith("raw.pkl"))
    assert raw_subject.sha256 is not None  # streamed whole: hashed in the same pass
    assert counter.bytes < raw.stat().st_size + (1 << 20)  # the safetensors cost < 1 MiB


def test_gguf_header_only(s3_bucket: str, s3_env: str, storage: Storage, tmp_path: Path) -> None:
    big = 64 << 20
    clean = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    evil = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    _upload(s3_env, s3_bucket, "g/clean.gguf", _gguf(tmp_path / "c.gguf", big, clean))
    _upload(s3_env, s3_bucket, "g/evil.gguf", _gguf(tmp_path / "e.gguf", big, evil))
    counter = _Counter(storage)
    result = run_scan([f"s3://{s3_bucket}/g/"], storage=storage, cache=False)

    kinds = {s.path.rsplit("/", 1)[-1]: (s.kind, s.verdict) for s in result.subjects}
    assert kinds == {"clean.gguf": ("gguf", "pass"), "evil.gguf": ("gguf", "block")}
    assert "scan.template.sandbox-escape" in {f.rule_id for f in result.findings}
    print(f"ranged GGUF scan: {counter.bytes} bytes in {counter.calls} GETs for 2 x {big}")
    assert counter.bytes < 3 << 20  # one 1 MiB header window (+ sniff page) per 64 MiB object
    assert all(s.sha256 is None for s in result.subjects)  # not downloaded: no digest


def test_ranged_verdicts_are_cached_by_version_and_etag(
    s3_bucket: str, s3_env: str, storage: Storage, tmp_path: Path
) -> None:
    path = _checkpoint(tmp_path / "c.pt", CLEAN_PKL, total=32 << 20)
    _upload(s3_env, s3_bucket, "c.pt", path)
    policy = Policy.model_validate({"gates": {"scan": {"cache_dir": str(tmp_path / "cache")}}})
    uri = f"s3://{s3_bucket}/c.pt"
    first = run_scan([uri], storage=storage, policy=policy)
    counter = _Counter(storage)
    second = run_scan([uri], storage=storage, policy=policy)
    assert (first.metrics["files_from_cache"], second.metrics["files_from_cache"]) == (0, 1)
    assert second.subjects == first.subjects
    assert counter.calls == 1  # only the first page, to recognise the format

    _upload(s3_env, s3_bucket, "c.pt", _checkpoint(tmp_path / "e.pt", EVIL_PKL, total=32 << 20))
    third = run_scan([uri], storage=storage, policy=policy)
    assert third.metrics["files_from_cache"] == 0
    assert third.subjects[0].verdict == "block"


def test_subject_digest_is_s3s_full_object_checksum(
    s3_bucket: str, s3_env: str, storage: Storage, tmp_path: Path
) -> None:
    import hashlib

    path = _checkpoint(tmp_path / "c.pt", CLEAN_PKL, total=9 << 20)
    body = path.read_bytes()
    client = boto3.client("s3", endpoint_url=s3_env)
    client.put_object(Bucket=s3_bucket, Key="c.pt", Body=body, ChecksumAlgorithm="SHA256")
    counter = _Counter(storage)
    result = run_scan([f"s3://{s3_bucket}/c.pt"], storage=storage, cache=False)
    assert counter.bytes < len(body) // 10  # scanned by ranges
    assert result.subjects[0].sha256 == hashlib.sha256(body).hexdigest()
    assert "ChecksumSHA256" in result.details["subject_notes"][f"s3://{s3_bucket}/c.pt"]


def _ranged_and_whole(path: Path) -> tuple[object, object]:
    from functools import partial

    from mlsec_gates.gates.scan.engine import scan_file
    from mlsec_gates.gates.scan.ranged import RangedBuffer

    with path.open("rb") as fh:
        whole = scan_file(fh, uri=str(path))
    buf = RangedBuffer(partial(Storage().read_range, str(path)), path.stat().st_size)
    ranged = scan_file(buf, uri=str(path))

    def key(v: Any) -> tuple[object, ...]:
        found = sorted((f.rule_id, f.location.member, f.location.offset) for f in v.findings)
        return v.kind, v.verdict, found

    return key(whole), key(ranged)


CORPUS = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "corpus").rglob("*")
    if p.suffix in (".pt", ".ckpt", ".safetensors", ".npz", ".keras")
)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_ranged_scan_decides_like_the_whole_file_scan(path: Path) -> None:
    whole, ranged = _ranged_and_whole(path)
    assert ranged == whole


def test_a_pickle_hidden_in_tensor_storage_is_read_whole(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "storage.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", CLEAN_PKL)
        zf.writestr("archive/data/0", b"\x80\x02" + bytes(100_000))
        zf.writestr("archive/data/1", EVIL_PKL)
    whole, ranged = _ranged_and_whole(path)
    assert ranged == whole
    assert ranged[1] == "block"


def test_ranged_reads_refuse_a_replaced_object(s3_bucket: str, storage: Storage) -> None:
    from mlsec_gates.errors import StorageError

    uri = f"s3://{s3_bucket}/obj"
    storage.write_bytes(uri, b"0123456789")
    etag = storage.head(uri)["ETag"]
    assert storage.read_range(uri, 2, 3, if_match=etag) == b"234"
    assert storage.read_range(uri, 8, 10) == b"89"
    assert storage.read_range(uri, 20, 5) == b""
    assert storage.size(uri) == 10
    storage.write_bytes(uri, b"replaced!!")
    with pytest.raises(StorageError):
        storage.read_range(uri, 2, 3, if_match=etag)


def test_local_ranges_and_size(tmp_path: Path) -> None:
    from mlsec_gates.errors import InputError

    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    local = Storage()
    assert local.read_range(str(path), 7, 10) == b"789"
    assert local.size(str(path)) == 10
    with pytest.raises(InputError):
        local.size(str(tmp_path / "missing"))
    with pytest.raises(InputError):
        local.read_range(str(path), -1, 2)
