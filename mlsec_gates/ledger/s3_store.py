"""A ledger in S3: one object per entry, created only if absent, so writers cannot fork it.

Layout under ``s3://bucket/prefix/``::

    entries/000000000001.json        one entry each (the stored form of entries.py)
    checkpoints/000000000100.json    signed checkpoint of entries 1..100
    index/sha256/<digest>/<seq>      empty marker: entry <seq> records <digest>
    index/key/<sha256(key)>/<seq>    empty marker: entry <seq> has that idempotency key
    head.json                        {"indexed": N}: a hint, entries 1..N are indexed

Appending writes ``entries/<n+1>`` with ``PutObject(IfNoneMatch="*")``. When another writer
got there first, S3 answers ``412 PreconditionFailed``; the writer then reads the new head and
tries again on top of it (up to :data:`MAX_ATTEMPTS` times), so two writers never produce two
entries with the same number. A 412 whose object holds exactly the bytes this writer sent is
its own put, committed while the answer was lost (a 500 or a reset, then the client's retry):
the append is done, never written twice. A checkpoint that was due but never made (a writer
killed after its entry) is made by the next append. Entries and checkpoints get Object Lock
retention when the bucket has Object Lock enabled: the bucket's default rule, or
``ledger.retention_days`` in ``ledger.retention_mode`` when set.

The index and ``head.json`` are derived: a writer that crashes after its entry but before its
markers leaves entries beyond the hint, and the next writer (or lineage) indexes them first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlsec_gates.errors import ConfigError, InputError, StorageError
from mlsec_gates.ledger.append import Appended, AppendRequest
from mlsec_gates.ledger.entries import MalformedEntry, StoredEntry, decode_entry, entry_digests
from mlsec_gates.storage import split_s3_uri

if TYPE_CHECKING:
    from mlsec_gates.policy import LedgerPolicy
    from mlsec_gates.signing.keys import Signer
    from mlsec_gates.storage import Storage

MAX_ATTEMPTS = 20
"""Conditional puts tried before an append gives up (each loss means another writer won)."""
_WORKERS = 16
_log = logging.getLogger(__name__)
_NAME = re.compile(r"(\d{12})\.json\Z")


class S3Store:
    """A ledger under an S3 prefix (see the module docstring)."""

    named_slots = True

    def __init__(self, uri: str, *, storage: Storage, policy: LedgerPolicy | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.bucket, prefix = split_s3_uri(self.uri)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.storage = storage
        self.retention_days = policy.retention_days if policy else None
        self.retention_mode = policy.retention_mode if policy else "COMPLIANCE"

    @property
    def _client(self) -> Any:
        return self.storage._client

    def _errors(self, key: str) -> Any:
        return self.storage._s3_errors(f"s3://{self.bucket}/{key}")

    def _entry_key(self, seq: int) -> str:
        return f"{self.prefix}entries/{seq:012d}.json"

    # -- appending -----------------------------------------------------------------------

    def append(self, request: AppendRequest) -> Appended:
        """Append with a conditional put, retrying on the new head when another writer won.

        Raises:
            StorageError: S3 refused access, or the race was lost :data:`MAX_ATTEMPTS` times.
        """
        from mlsec_gates.ledger.entries import encode_entry

        for attempt in range(MAX_ATTEMPTS):
            head_seq, head_hash = self._head()
            supersedes = None
            if request.key is not None:
                previous = self._latest_for_key(request.key)
                if previous is not None:
                    if previous.body.get("result_sha256") == request.fingerprint:
                        seq = previous.seq or 0
                        return Appended(seq=seq, hash=previous.hash, appended=False)
                    supersedes = previous.seq
            seq = head_seq + 1
            line = encode_entry(request.body(seq, head_hash, supersedes))
            key = self._entry_key(seq)
            # A 412 may answer our own put: S3 committed it, the answer was lost (500, reset)
            # and the client's retry found the object. Same bytes: it is ours, not a lost race.
            if self._put_new(key, line, locked=True) or self._get(key) == line:
                entry = decode_entry(line)
                self._index(seq, entry)
                self._put_hint(seq)
                checkpoint = request.checkpoint_due(seq) or (
                    self._newest_checkpoint(request.last_checkpoint_due(seq)) is None
                )
                if checkpoint:
                    assert request.signer is not None
                    self._put_checkpoint(seq, entry.hash, request.ts, request.signer())
                return Appended(seq=seq, hash=entry.hash, appended=True, checkpoint=checkpoint)
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # jitter, not crypto
        raise StorageError(
            f"{self.uri}: could not append after {MAX_ATTEMPTS} attempts: other writers kept "
            "adding entries first"
        )

    def write_checkpoint(self, signer: Signer, *, ts: str) -> int:
        """Sign a checkpoint of the ledger as it is now; returns its size (0: empty)."""
        seq, head = self._head()
        if seq and head:
            self._put_checkpoint(seq, head, ts, signer)
        return seq

    def _put_checkpoint(self, seq: int, head: str, ts: str, signer: Signer) -> None:
        from mlsec_gates.ledger.checkpoints import make_checkpoint

        envelope = make_checkpoint(seq, head, ts=ts, signer=signer)
        self._put_new(f"{self.prefix}checkpoints/{seq:012d}.json", envelope, locked=True)

    def _newest_checkpoint(self, at_least: int) -> int | None:
        """The number of a stored checkpoint covering ``at_least`` entries, else None."""
        if at_least < 1:
            return 0
        prefix = f"{self.prefix}checkpoints/"
        start = f"{prefix}{at_least - 1:012d}.json" if at_least > 1 else ""
        for key in self._list_keys(prefix, start_after=start):
            match = _NAME.fullmatch(key[len(prefix) :])
            if match:
                return int(match.group(1))
        return None

    def _head(self) -> tuple[int, str | None]:
        """Number and hash of the last entry, indexing any entries past the hint first."""
        hint = self._hint()
        later = self._list_seqs(after=hint)
        if hint and not later:
            raw = self._get(self._entry_key(hint))
            if raw is not None:
                return hint, self._decode_for_append(hint, raw).hash
            hint, later = 0, self._list_seqs(after=0)  # a hint past the end: start over
        last_seq, last_hash = hint, None
        for seq in later:
            raw = self._get(self._entry_key(seq))
            entry = self._decode_for_append(seq, raw)
            self._index(seq, entry)
            last_seq, last_hash = seq, entry.hash
        if later:
            self._put_hint(last_seq)
        return last_seq, last_hash

    def _decode_for_append(self, seq: int, raw: bytes | None) -> StoredEntry:
        try:
            if raw is None:
                raise MalformedEntry("listed but gone")
            entry = decode_entry(raw)
            if entry.seq != seq:
                raise MalformedEntry(f"holds entry {entry.seq}")
        except MalformedEntry as exc:
            raise StorageError(
                f"{self.uri}: entry {seq} is unreadable ({exc}), so the chain cannot be "
                "continued; run 'mlsec-gates ledger verify'"
            ) from None
        return entry

    def _hint(self) -> int:
        try:
            with self._errors(f"{self.prefix}head.json"):
                body = self._client.get_object(Bucket=self.bucket, Key=f"{self.prefix}head.json")
                data = json.loads(body["Body"].read())
            indexed = data.get("indexed", 0)
            return indexed if isinstance(indexed, int) and indexed >= 0 else 0
        except InputError:
            return 0
        except (ValueError, AttributeError):
            return 0

    def _put_hint(self, seq: int) -> None:
        key = f"{self.prefix}head.json"
        with self._errors(key):
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps({"indexed": seq}).encode(),
                ContentType="application/json",
            )

    def _index(self, seq: int, entry: StoredEntry) -> None:
        names = [f"index/sha256/{d}/{seq:012d}" for d in sorted(entry_digests(entry.body))]
        key = entry.body.get("idempotency_key")
        if isinstance(key, str):
            names.append(f"index/key/{_key_hash(key)}/{seq:012d}")
        for name in names:
            self._put_new(self.prefix + name, b"", locked=False)

    def _latest_for_key(self, key: str) -> StoredEntry | None:
        seqs = self._list_seqs_under(f"{self.prefix}index/key/{_key_hash(key)}/")
        for seq in sorted(seqs, reverse=True):
            [(_, entry)] = self._get_many([seq])
            if entry is not None and entry.body.get("idempotency_key") == key:
                return entry
        return None

    # -- S3 primitives -------------------------------------------------------------------

    def _put_new(self, key: str, body: bytes, *, locked: bool) -> bool:
        """Create an object only if absent; False when it already exists (412)."""
        extra: dict[str, Any] = {"ContentType": "application/json"} if body else {}
        if locked:
            extra.update(self._lock_args)
        try:
            with self._errors(key):
                try:
                    self._client.put_object(
                        Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*", **extra
                    )
                except Exception as exc:
                    # 409 ConditionalRequestConflict: a concurrent conditional write is in
                    # flight for the key; it is a lost race all the same.
                    if _error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                        return False
                    raise
        except InputError as exc:  # a missing bucket: where to write is the problem
            raise StorageError(exc.diagnostics()) from None
        return True

    @cached_property
    def _lock_args(self) -> dict[str, Any]:
        """Explicit Object Lock arguments for entries and checkpoints.

        Without ``retention_days`` S3 applies the bucket's default retention rule by itself,
        so nothing is passed (a locked bucket without a default rule gets a warning).
        """
        try:
            with self._errors(self.uri):
                try:
                    config = self._client.get_object_lock_configuration(Bucket=self.bucket)
                except Exception as exc:
                    if _error_code(exc) != "ObjectLockConfigurationNotFoundError":
                        raise
                    config = {}
        except StorageError:
            if self.retention_days is not None:
                raise
            return {}  # cannot tell (no permission): rely on the bucket's own settings
        lock = config.get("ObjectLockConfiguration", {})
        enabled = lock.get("ObjectLockEnabled") == "Enabled"
        if self.retention_days is None:
            if enabled and not lock.get("Rule", {}).get("DefaultRetention"):
                _log.warning(
                    "%s: the bucket has Object Lock but no default retention rule, so ledger "
                    "entries are not retained; set ledger.retention_days",
                    self.uri,
                )
            return {}
        if not enabled:
            raise ConfigError(
                f"{self.uri}: ledger.retention_days is set but the bucket has no Object Lock"
            )
        until = datetime.now(timezone.utc) + timedelta(days=self.retention_days)
        return {"ObjectLockMode": self.retention_mode, "ObjectLockRetainUntilDate": until}

    def _list_seqs(self, *, after: int) -> list[int]:
        start = self._entry_key(after) if after else ""
        return self._list_seqs_under(f"{self.prefix}entries/", start_after=start)

    def _list_seqs_under(self, prefix: str, *, start_after: str = "") -> list[int]:
        seqs: list[int] = []
        for key in self._list_keys(prefix, start_after=start_after):
            name = key[len(prefix) :]
            match = _NAME.fullmatch(name) or re.fullmatch(r"(\d{12})", name)
            if match:
                seqs.append(int(match.group(1)))
        return sorted(seqs)

    def _list_keys(self, prefix: str, *, start_after: str = "") -> Iterator[str]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            args["StartAfter"] = start_after
        with self._errors(prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(**args):
                for obj in page.get("Contents", []):
                    yield obj["Key"]

    def _get(self, key: str) -> bytes | None:
        try:
            with self._errors(key):
                return bytes(self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except InputError:
            return None

    def _get_many(self, seqs: list[int]) -> list[tuple[int, StoredEntry | None]]:
        """Entries by number, fetched in parallel; None for a missing or malformed one."""

        def fetch(seq: int) -> tuple[int, StoredEntry | None]:
            raw = self._get(self._entry_key(seq))
            if raw is None:
                return seq, None
            try:
                return seq, decode_entry(raw)
            except MalformedEntry:
                return seq, None

        if len(seqs) <= 1:
            return [fetch(seq) for seq in seqs]
        with ThreadPoolExecutor(max_workers=min(_WORKERS, len(seqs))) as pool:
            return list(pool.map(fetch, seqs))

    # -- reading -------------------------------------------------------------------------

    def entries(self) -> Iterator[tuple[int, bytes]]:
        """Every entry object in name order as ``(number in the name, bytes)``."""
        keys = [
            key
            for key in self._list_keys(f"{self.prefix}entries/")
            if _NAME.fullmatch(key.rsplit("/", 1)[-1])
        ]
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for key, raw in zip(keys, pool.map(self._get, keys), strict=True):
                if raw is not None:
                    yield int(key[-17:-5]), raw

    def checkpoints(self) -> Iterator[tuple[str, bytes]]:
        """Every checkpoint object as ``(s3 URI, bytes)``."""
        for key in self._list_keys(f"{self.prefix}checkpoints/"):
            raw = self._get(key)
            if raw is not None:
                yield f"s3://{self.bucket}/{key}", raw

    def torn_tail(self) -> int | None:
        """Always None: an S3 object is written whole or not at all."""
        return None

    def exists(self) -> bool:
        """True when the prefix holds at least one entry."""
        return next(iter(self._list_keys(f"{self.prefix}entries/")), None) is not None

    def find(self, digest: str) -> list[StoredEntry]:
        """Entries recording ``digest``: the index markers, plus entries past the hint."""
        seqs = set(self._list_seqs_under(f"{self.prefix}index/sha256/{digest}/"))
        tail = [seq for seq in self._list_seqs(after=self._hint()) if seq not in seqs]
        found = [entry for _, entry in self._get_many(sorted(seqs | set(tail))) if entry]
        return [e for e in found if e.seq in seqs or digest in entry_digests(e.body)]


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
