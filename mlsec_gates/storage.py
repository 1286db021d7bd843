"""Local paths and ``s3://`` URIs behind one small interface.

Every gate reads its inputs and writes its reports through :class:`Storage`, so each of them
works on a laptop, in Airflow and in KFP alike. S3 goes through boto3 (imported on first use),
so ``endpoint_url`` makes MinIO or any S3-compatible store work the same as AWS.

Example:
    >>> from mlsec_gates.storage import Storage
    >>> Storage().is_remote("s3://bucket/model.pt")
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlsec_gates.errors import InputError, StorageError

if TYPE_CHECKING:
    from mlsec_gates.policy import S3Policy

_SPOOL_BYTES = 64 * 1024 * 1024
"""S3 objects up to this size stay in memory while scanned; larger ones spill to a temp file."""


@dataclass(frozen=True)
class S3Options:
    """How to reach S3. Unset fields fall back to boto3's own chain (env, profile, role)."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_policy(cls, policy: S3Policy, **overrides: str | None) -> S3Options:
        """Options from the policy's ``storage.s3`` section, with explicit overrides on top."""
        values: dict[str, str | None] = {
            "endpoint_url": policy.endpoint_url,
            "region": policy.region,
            "profile": policy.profile,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``.

    Raises:
        InputError: when the URI has no bucket.
    """
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InputError(f"{uri}: not a valid S3 URI (expected s3://bucket/key)")
    return bucket, key


def join(base: str, name: str) -> str:
    """Join a file name onto a local directory or an S3 prefix."""
    if base.startswith("s3://"):
        return base.rstrip("/") + "/" + name
    return str(Path(base) / name)


class Storage:
    """Reads, lists and atomically writes local files and S3 objects."""

    def __init__(self, s3: S3Options | None = None) -> None:
        self.s3_options = s3 or S3Options()

    @staticmethod
    def is_remote(uri: str) -> bool:
        """True for ``s3://`` URIs."""
        return uri.startswith("s3://")

    @cached_property
    def _client(self) -> Any:
        try:
            import boto3
        except ImportError:
            raise StorageError("s3:// URIs need boto3: pip install 'mlsec-gates[s3]'") from None
        opts = self.s3_options
        try:
            session = boto3.session.Session(
                profile_name=opts.profile,
                aws_access_key_id=opts.access_key_id,
                aws_secret_access_key=opts.secret_access_key,
                aws_session_token=opts.session_token,
                region_name=opts.region,
            )
            return session.client("s3", endpoint_url=opts.endpoint_url)
        except Exception as exc:  # botocore raises a dozen unrelated types here
            raise StorageError(f"cannot set up the S3 client: {_one_line(exc)}") from None

    # -- listing -----------------------------------------------------------------

    def list_files(self, uri: str) -> list[str]:
        """Every file under a path or URI: the file itself, or a directory's files recursively.

        Returns an empty list for an empty directory or prefix (the caller decides that
        "nothing to check" fails the gate).

        Raises:
            InputError: the path or URI does not exist.
            StorageError: S3 refused access or could not be reached.
        """
        if self.is_remote(uri):
            return self._list_s3(uri)
        path = Path(uri)
        if path.is_file():
            return [str(path)]
        if path.is_dir():
            return sorted(str(p) for p in path.rglob("*") if p.is_file())
        if path.exists():
            raise InputError(f"{uri}: not a regular file or directory")
        raise InputError(f"{uri}: no such file or directory")

    def _list_s3(self, uri: str) -> list[str]:
        bucket, key = split_s3_uri(uri)
        with self._s3_errors(uri):
            if key and not key.endswith("/"):
                try:
                    self._client.head_object(Bucket=bucket, Key=key)
                    return [uri]
                except Exception as exc:
                    if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                        raise
            prefix = key if not key or key.endswith("/") else key + "/"
            found: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                found.extend(
                    f"s3://{bucket}/{obj['Key']}"
                    for obj in page.get("Contents", [])
                    if not obj["Key"].endswith("/")
                )
        if not found and key and not key.endswith("/"):
            raise InputError(f"{uri}: no such S3 object or prefix")
        return sorted(found)

    # -- reading -----------------------------------------------------------------

    @contextlib.contextmanager
    def open_read(self, uri: str) -> Iterator[IO[bytes]]:
        """A seekable binary file with the content of a path or S3 object.

        S3 objects are streamed into a spooled temporary file (memory up to 64 MiB, then disk).

        Raises:
            InputError: missing or unreadable.
            StorageError: S3 refused access or could not be reached.
        """
        if not self.is_remote(uri):
            try:
                fh = open(uri, "rb")  # noqa: SIM115 - closed below, after the caller's block
            except FileNotFoundError:
                raise InputError(f"{uri}: no such file") from None
            except OSError as exc:
                raise InputError(f"{uri}: cannot read: {exc.strerror or exc}") from None
            with fh:
                yield fh
            return
        bucket, key = split_s3_uri(uri)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            with self._s3_errors(uri):
                self._client.download_fileobj(bucket, key, spool)
            spool.seek(0)
            yield spool  # type: ignore[misc]

    def iter_chunks(self, uri: str, chunk_size: int = 8 * 1024 * 1024) -> Iterator[bytes]:
        """The bytes of a path or S3 object, streamed in blocks (never spooled to disk).

        For hashing large objects: S3 objects are read straight from the GET response body.

        Raises:
            InputError: missing or unreadable.
            StorageError: S3 refused access or could not be reached.
        """
        if not self.is_remote(uri):
            with self.open_read(uri) as fh:
                while block := fh.read(chunk_size):
                    yield block
            return
        bucket, key = split_s3_uri(uri)
        with self._s3_errors(uri):
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            while True:
                with self._s3_errors(uri):
                    block = body.read(chunk_size)
                if not block:
                    return
                yield block
        finally:
            body.close()

    def read_range(
        self, uri: str, start: int, length: int, *, if_match: str | None = None
    ) -> bytes:
        """``length`` bytes of a path or S3 object from offset ``start`` (fewer at the end).

        S3 objects are read with one ranged GET (``Range: bytes=start-end``), so a caller that
        needs a header or a directory never downloads the rest of the object. ``if_match``
        (an ETag) makes S3 refuse the read if the object was replaced since (``StorageError``),
        so that reads made at different times see the same object.

        Raises:
            InputError: missing or unreadable, or a negative offset or length.
            StorageError: S3 refused access or could not be reached.
        """
        if start < 0 or length < 0:
            raise InputError(f"{uri}: invalid byte range {start}+{length}")
        if length == 0:
            return b""
        if not self.is_remote(uri):
            with self.open_read(uri) as fh:
                fh.seek(start)
                return fh.read(length)
        bucket, key = split_s3_uri(uri)
        with self._s3_errors(uri):
            try:
                extra = {"IfMatch": if_match} if if_match else {}
                response = self._client.get_object(
                    Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}", **extra
                )
            except Exception as exc:
                if _error_code(exc) == "InvalidRange":  # start at or past the end
                    return b""
                raise
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        return data[:length]

    def size(self, uri: str) -> int:
        """Size in bytes of a path or S3 object (S3: one ``HeadObject``).

        Raises:
            InputError: missing or unreadable.
            StorageError: S3 refused access or could not be reached.
        """
        if self.is_remote(uri):
            return int(self.head(uri)["ContentLength"])
        try:
            return os.stat(uri).st_size
        except FileNotFoundError:
            raise InputError(f"{uri}: no such file") from None
        except OSError as exc:
            raise InputError(f"{uri}: cannot read: {exc.strerror or exc}") from None

    def read_text(self, uri: str) -> str:
        """The whole content of a small text file (policies, suites)."""
        with self.open_read(uri) as fh:
            data = fh.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{uri}: not UTF-8 text") from None

    def head(self, uri: str, *, checksums: bool = False) -> dict[str, Any]:
        """S3 ``HeadObject`` of an object (``VersionId``, ``ContentLength``, ``ETag``...).

        With ``checksums``, the object's stored checksums (``ChecksumSHA256``...) are asked
        for too (``ChecksumMode=ENABLED``); S3 returns them only when the uploader sent one.

        Raises:
            InputError: not an ``s3://`` URI, or no such object.
            StorageError: S3 refused access or could not be reached.
        """
        if not self.is_remote(uri):
            raise InputError(f"{uri}: head() needs an s3:// URI")
        bucket, key = split_s3_uri(uri)
        with self._s3_errors(uri):
            extra = {"ChecksumMode": "ENABLED"} if checksums else {}
            response: dict[str, Any] = self._client.head_object(Bucket=bucket, Key=key, **extra)
        return response

    # -- writing -----------------------------------------------------------------

    def write_bytes(self, uri: str, data: bytes, *, content_type: str | None = None) -> str:
        """Write a whole file atomically and return where it went.

        Local files are written to a temporary file in the same directory and renamed into
        place, so a reader never sees half a report; S3 objects are one PUT, which S3 makes
        visible only once complete.

        Raises:
            StorageError: the directory cannot be created or written, or S3 refused the PUT.
        """
        if self.is_remote(uri):
            bucket, key = split_s3_uri(uri)
            extra = {"ContentType": content_type} if content_type else {}
            try:
                with self._s3_errors(uri):
                    self._client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
            except InputError as exc:  # a missing bucket: where to write is the problem
                raise StorageError(exc.diagnostics()) from None
            return uri
        path = Path(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StorageError(f"{uri}: cannot write: {exc.strerror or exc}") from None
        return str(path.resolve())

    # -- errors ------------------------------------------------------------------

    def presigned_url(self, uri: str, seconds: int) -> str:
        """A pre-signed HTTPS GET URL of an ``s3://`` object, valid ``seconds``.

        Raises:
            StorageError: no credentials to sign with, or the client cannot be set up.
        """
        bucket, key = split_s3_uri(uri)
        with self._s3_errors(uri):
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
            )
        return url

    @contextlib.contextmanager
    def _s3_errors(self, uri: str) -> Iterator[None]:
        """Turn botocore's exceptions into one-line errors that say what to fix."""
        try:
            yield
        except (InputError, StorageError):
            raise
        except Exception as exc:
            code = _error_code(exc)
            name = type(exc).__name__
            if code in ("404", "NoSuchKey", "NotFound"):
                raise InputError(f"{uri}: no such S3 object") from None
            if code == "NoSuchBucket":
                raise InputError(f"{uri}: no such S3 bucket") from None
            if name in ("NoCredentialsError", "PartialCredentialsError") or code in (
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "InvalidToken",
            ):
                raise StorageError(
                    f"{uri}: S3 rejected the credentials ({code or name}); check the AWS "
                    "access key, secret, profile or Airflow connection"
                ) from None
            if code in ("403", "AccessDenied", "Forbidden"):
                raise StorageError(f"{uri}: access denied by S3") from None
            if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
                raise StorageError(
                    f"{uri}: cannot reach the S3 endpoint: {_one_line(exc)}"
                ) from None
            raise StorageError(f"{uri}: S3 error: {_one_line(exc)}") from None


def sha256_of(fh: IO[bytes], chunk: int = 1024 * 1024) -> tuple[str, int]:
    """SHA-256 hex digest and size of a seekable file, read from the start; rewinds it.

    A real file is hashed through a memory map (no copies through Python buffers, and a gate
    that maps the file afterwards reads the same cached pages); other streams chunk by chunk.
    """
    fh.seek(0)
    try:
        if os.fstat(fh.fileno()).st_size == 0:
            return hashlib.sha256().hexdigest(), 0
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return hashlib.sha256(mapped).hexdigest(), len(mapped)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass
    digest = hashlib.sha256()
    size = 0
    while block := fh.read(chunk):
        digest.update(block)
        size += len(block)
    fh.seek(0)
    return digest.hexdigest(), size


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
