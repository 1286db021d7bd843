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
from typing import IO, Any, Protocol

from mlsec_gates.errors import InputError, StorageError

_SPOOL_BYTES = 64 * 1024 * 1024
"""S3 objects up to this size stay in memory while scanned; larger ones spill to a temp file."""


_BODY_ATTEMPTS = 4
"""Reads of an S3 body cut short (a reset, a truncated response) resumed before giving up."""


class S3Settings(Protocol):
    """What :meth:`S3Options.from_policy` reads: the policy's ``storage.s3`` section.

    A protocol, so this module never imports the policy module (the policy reads its files
    through :class:`Storage`; the dependency goes one way).
    """

    endpoint_url: str | None
    region: str | None
    profile: str | None


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
    def from_policy(cls, policy: S3Settings, **overrides: str | None) -> S3Options:
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


def display_path(path: str) -> str:
    r"""A path as printable text: bytes of a name that is not UTF-8 shown as ``\xNN``.

    Python maps such bytes to lone surrogates (``surrogateescape``), which cannot be written
    as UTF-8: reports, JSON and the ledger use this form instead. Open files by the original.
    """
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def resolve_path(path: str | Path) -> Path:
    """``Path(path).resolve()``, with a symbolic link loop as a one-line :class:`InputError`.

    (``Path.resolve`` raises ``RuntimeError`` on a loop, which no caller expects.)
    """
    try:
        return Path(path).resolve()
    except RuntimeError:
        raise InputError(f"{display_path(str(path))}: symbolic link loop") from None


def join(base: str, name: str) -> str:
    """Join a file name onto a local directory or an S3 prefix."""
    if base.startswith("s3://"):
        return base.rstrip("/") + "/" + name
    return str(Path(base) / name)


class Storage:
    """Reads, lists and atomically writes local files and S3 objects."""

    def __init__(self, s3: S3Options | None = None) -> None:
        self.s3_options = s3 or S3Options()
        self._listed: dict[str, tuple[int, str | None]] = {}
        """Size and ETag of every S3 object a listing (or HEAD) of :meth:`list_files` saw."""

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
        name = display_path(uri)
        if path.is_symlink():
            raise InputError(f"{name}: dangling symbolic link or symbolic link loop")
        if path.exists():
            raise InputError(f"{name}: not a regular file or directory")
        raise InputError(f"{name}: no such file or directory")

    def _list_s3(self, uri: str) -> list[str]:
        bucket, key = split_s3_uri(uri)
        found: list[str] = []
        with self._s3_errors(uri):
            if key and not key.endswith("/"):
                try:
                    head = self._client.head_object(Bucket=bucket, Key=key)
                    found.append(uri)
                    self._listed[uri] = (int(head.get("ContentLength", 0)), head.get("ETag"))
                except Exception as exc:
                    if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                        raise
            # ``name`` may also be a prefix (``name/...``): both are listed, never one hiding
            # the other (a benign object must not hide a malicious prefix).
            prefix = key if not key or key.endswith("/") else key + "/"
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if not obj["Key"].endswith("/"):
                        found.append(f"s3://{bucket}/{obj['Key']}")
                        self._listed[found[-1]] = (int(obj.get("Size", 0)), obj.get("ETag"))
        if not found and key and not key.endswith("/"):
            raise InputError(f"{uri}: no such S3 object or prefix")
        return sorted(found)

    def listed_size(self, uri: str) -> int | None:
        """The size an earlier :meth:`list_files` reported for an S3 object, if it listed it.

        Lets a reader of many small objects skip a ``HeadObject`` per object; the object may
        have changed since, so use it to choose how to read, never as the size read.
        """
        listed = self._listed.get(uri)
        return listed[0] if listed else None

    def listed_etag(self, uri: str) -> str | None:
        """The ETag an earlier :meth:`list_files` reported for an S3 object, if it listed it.

        With ``if_match`` of :meth:`iter_chunks`, a reader pins its read to the listed object.
        """
        listed = self._listed.get(uri)
        return listed[1] if listed else None

    def is_ambiguous(self, uri: str, listed: list[str]) -> bool:
        """True when ``s3://b/name`` was listed as both an object and a prefix ``name/``."""
        return self.is_remote(uri) and not uri.endswith("/") and uri in listed and len(listed) > 1

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
            with open_regular(uri) as fh:
                yield fh
            return
        bucket, key = split_s3_uri(uri)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            with self._s3_errors(uri):
                self._client.download_fileobj(bucket, key, spool)
            spool.seek(0)
            yield spool  # type: ignore[misc]

    def iter_chunks(
        self, uri: str, chunk_size: int = 8 * 1024 * 1024, *, if_match: str | None = None
    ) -> Iterator[bytes]:
        """The bytes of a path or S3 object, streamed in blocks (never spooled to disk).

        For hashing large objects: S3 objects are read straight from the GET response body.
        ``if_match`` (the ETag a listing gave) makes S3 refuse the GET when the object was
        replaced since: an :class:`ObjectChanged` error, never the bytes of another object.

        Raises:
            InputError: missing or unreadable; :class:`ObjectChanged` when ``if_match`` no
                longer matches.
            StorageError: S3 refused access or could not be reached.
        """
        if not self.is_remote(uri):
            with self.open_read(uri) as fh:
                while block := fh.read(chunk_size):
                    yield block
            return
        bucket, key = split_s3_uri(uri)
        pinned = {"IfMatch": if_match} if if_match else {}
        with self._s3_errors(uri):
            try:
                response = self._client.get_object(Bucket=bucket, Key=key, **pinned)
            except Exception as exc:
                if _error_code(exc) == "PreconditionFailed":
                    raise ObjectChanged.since_listed(uri, if_match) from None
                raise
        etag, total = response.get("ETag"), response.get("ContentLength")
        body, done, attempt = response["Body"], 0, 1
        try:
            while True:
                try:
                    block = body.read(chunk_size)
                    short = not block and isinstance(total, int) and done != total
                except Exception as exc:
                    if _error_code(exc):
                        with self._s3_errors(uri):
                            raise
                    block, short = b"", True
                if short:
                    # A body cut short (reset, truncated response): resume where it broke,
                    # pinned to the same object version by its ETag.
                    if attempt >= _BODY_ATTEMPTS:
                        raise StorageError(
                            f"{uri}: S3 sent {done} of {total} bytes, {attempt} times cut short"
                        )
                    attempt += 1
                    body.close()
                    body = self._resume(uri, bucket, key, done, etag)
                    continue
                if not block:
                    return
                done += len(block)
                yield block
        finally:
            body.close()

    def _resume(self, uri: str, bucket: str, key: str, offset: int, etag: str | None) -> Any:
        """The body of the object from ``offset`` on (one ranged GET, same ETag)."""
        extra = {"IfMatch": etag} if etag else {}
        with self._s3_errors(uri):
            response = self._client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes={offset}-", **extra
            )
        if offset and not _range_matches(response, offset):
            raise RangeNotHonoured(f"{uri}: the S3 server ignored the byte range of a resumed read")
        return response["Body"]

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
        extra = {"IfMatch": if_match} if if_match else {}
        for attempt in range(1, _BODY_ATTEMPTS + 1):
            with self._s3_errors(uri):
                try:
                    response = self._client.get_object(
                        Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}", **extra
                    )
                except Exception as exc:
                    if _error_code(exc) == "InvalidRange":  # start at or past the end
                        return b""
                    raise
            # A server that ignores Range answers 200 with the whole object: those are not
            # the bytes asked for, whatever their length.
            if not _range_matches(response, start):
                response["Body"].close()
                raise RangeNotHonoured(
                    f"{uri}: the S3 server ignored the byte range (status "
                    f"{_status(response)}, Content-Range {response.get('ContentRange')!r})"
                )
            expected = _range_length(response, start, length)
            body = response["Body"]
            try:
                data: bytes = body.read()
            except Exception as exc:
                if _error_code(exc) or attempt == _BODY_ATTEMPTS:
                    with self._s3_errors(uri):
                        raise
                continue
            finally:
                body.close()
            if len(data) == expected:
                return data
            if attempt == _BODY_ATTEMPTS:
                raise StorageError(
                    f"{uri}: S3 sent {len(data)} of {expected} bytes of a range, "
                    f"{_BODY_ATTEMPTS} times"
                )
        raise StorageError(f"{uri}: ranged read failed")  # pragma: no cover - loop returns

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
        staged = self._stage(uri, data)
        try:
            os.replace(staged, uri)
        except OSError as exc:
            _discard([staged])
            raise StorageError(
                f"{display_path(uri)}: cannot write: {exc.strerror or exc}"
            ) from None
        return _resolved(uri)

    def read_with_etag(self, uri: str) -> tuple[bytes | None, str | None]:
        """The bytes and ETag of an S3 object; ``(None, None)`` when it does not exist.

        With :meth:`put_if_unchanged`, a read-modify-write that never loses a concurrent one.

        Raises:
            StorageError: S3 refused access or could not be reached.
        """
        bucket, key = split_s3_uri(uri)
        try:
            with self._s3_errors(uri):
                response = self._client.get_object(Bucket=bucket, Key=key)
                data = bytes(response["Body"].read())
        except InputError as exc:
            if str(exc).endswith("no such S3 object"):
                return None, None
            raise StorageError(exc.diagnostics()) from None
        return data, response.get("ETag")

    def put_if_unchanged(
        self, uri: str, data: bytes, *, etag: str | None, content_type: str | None = None
    ) -> bool:
        """Put an S3 object only if it still has ``etag`` (None: only if it does not exist).

        Returns:
            True when written; False when another writer changed it first (412/409).

        Raises:
            StorageError: S3 refused access or could not be reached.
        """
        bucket, key = split_s3_uri(uri)
        extra: dict[str, str] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        if content_type:
            extra["ContentType"] = content_type
        try:
            with self._s3_errors(uri):
                try:
                    self._client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
                except Exception as exc:
                    if _error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                        return False
                    raise
        except InputError as exc:
            raise StorageError(exc.diagnostics()) from None
        return True

    def write_all(self, items: list[tuple[str, bytes, str | None]]) -> list[str]:
        """Write several files, all or none as far as a crash allows, in the order given.

        Local files are all written to temporary names first (a full disk or a kill leaves
        none of them half-written), then renamed into place in ``items`` order; S3 objects are
        put in that order. Callers put the file that must never be missing when the others
        exist first (the JSON report, the machine-readable verdict).

        Returns:
            Where each went, in order.

        Raises:
            StorageError: a file could not be written (nothing local was published then).
        """
        if any(self.is_remote(uri) for uri, _, _ in items):
            return [self.write_bytes(uri, data, content_type=kind) for uri, data, kind in items]
        staged: list[str] = []
        try:
            for uri, data, _ in items:
                staged.append(self._stage(uri, data))
        except BaseException:
            _discard(staged)
            raise
        done: list[str] = []
        for (uri, _, _), tmp in zip(items, staged, strict=True):
            try:
                os.replace(tmp, uri)
            except OSError as exc:
                _discard(staged[len(done) :])
                raise StorageError(
                    f"{display_path(uri)}: cannot write: {exc.strerror or exc}"
                ) from None
            done.append(_resolved(uri))
        return done

    @staticmethod
    def _stage(uri: str, data: bytes) -> str:
        """``data`` in a synced temporary file beside ``uri``, with the umask's permissions."""
        path = Path(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        except OSError as exc:
            raise StorageError(
                f"{display_path(uri)}: cannot write: {exc.strerror or exc}"
            ) from None
        try:
            # mkstemp makes the file 0600; a report, BOM or waiver file is shared (a deploy
            # job, the Airflow API server): give it what open() would, 0666 minus the umask.
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException as exc:
            _discard([tmp])
            if isinstance(exc, OSError):
                raise StorageError(
                    f"{display_path(uri)}: cannot write: {exc.strerror or exc}"
                ) from None
            raise
        return tmp

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
            if name == "NoCredentialsError":
                raise StorageError(
                    f"{uri}: no S3 credentials found (looked in the Airflow connection or "
                    "options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and "
                    "~/.aws/credentials, and the instance or container role)"
                ) from None
            if name == "PartialCredentialsError" or code in (
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


@contextlib.contextmanager
def open_regular(path: str) -> Iterator[IO[bytes]]:
    """A local regular file open for reading; anything else is refused before it is read.

    The file is opened non-blocking and checked with ``fstat`` before the first read: a FIFO
    would otherwise block forever (no writer) and a device could stream without end.

    Raises:
        InputError: missing, not a regular file (FIFO, socket, device, folder), a dangling
            link or a link loop, or unreadable; one line naming the path.
    """
    import errno
    import stat

    name = display_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{name}: dangling symbolic link") from None
        raise InputError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
            raise InputError(f"{name}: symbolic link loop") from None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"{name}: cannot read: {reason}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a special file"
            if stat.S_ISDIR(mode):
                kind = "a directory"
            raise InputError(f"{name}: cannot read: {kind}, not a regular file")
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


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


def _umask() -> int:
    """The process umask, read without changing it (Linux), else by setting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _discard(paths: list[str]) -> None:
    for tmp in paths:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _resolved(uri: str) -> str:
    try:
        return str(Path(uri).resolve())
    except (OSError, RuntimeError):  # a link loop on the way: the path as given
        return os.path.abspath(uri)


class ObjectChanged(InputError):
    """An S3 object no longer has the ETag it was listed with (replaced since)."""

    @classmethod
    def since_listed(cls, uri: str, etag: str | None) -> ObjectChanged:
        """The one-line error for ``uri``, listed with ``etag``, found replaced."""
        return cls(
            f"{uri}: the S3 object changed since it was listed (its ETag is no longer "
            f"{etag}), so the listed object was not read"
        )


class RangeNotHonoured(StorageError):
    """The S3 server answered a ranged GET with other bytes (it ignored ``Range``)."""


def _status(response: dict[str, Any]) -> int:
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _range_matches(response: dict[str, Any], start: int) -> bool:
    """True for a ``206`` whose ``Content-Range`` starts at ``start``."""
    content_range = str(response.get("ContentRange") or "")
    if _status(response) != 206 or not content_range.startswith("bytes "):
        return False
    first, _, _ = content_range[len("bytes ") :].partition("-")
    return first.strip() == str(start)


def _range_length(response: dict[str, Any], start: int, length: int) -> int:
    """Bytes the ``Content-Range`` of a ranged answer promises (fewer at the object's end)."""
    span = str(response.get("ContentRange"))[len("bytes ") :].partition("/")[0]
    try:
        last = int(span.partition("-")[2])
    except ValueError:
        return length
    return min(length, last - start + 1)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
