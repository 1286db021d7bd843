"""Where ledger entries live: a local JSON-lines file, or one S3 object per entry.

Both stores append under the same rules:

* the new entry's ``prev`` is the hash of the bytes of the entry before it;
* an entry carrying an idempotency key whose newest entry has the same result fingerprint
  is not appended again (an Airflow or KFP retry of the same decision); with a different
  fingerprint the new entry is appended with ``supersedes`` naming the earlier one (the
  ledger never rewrites a decision; the newest entry of a key is the one that counts);
* after entry 1 and every ``checkpoint_every`` entries, a signed checkpoint is written when a
  signer is configured.

**Local file** (``ledger.jsonl``): one entry per line, appended with a single ``write`` under
an exclusive ``flock`` on the ledger and ``fsync``-ed before the call returns. Checkpoints are
lines of ``ledger.jsonl.checkpoints``; ``ledger.jsonl.index`` (SQLite) indexes digests and
idempotency keys and is rebuilt from the ledger whenever it is missing or stale. A ledger
whose last line is partial (a writer crashed mid-write) is refused until a person repairs it.
Local disks only: ``flock`` is not reliable on network file systems.

**S3** (``s3://bucket/prefix``): see :mod:`mlsec_gates.ledger.s3_store`.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlsec_gates.errors import StorageError
from mlsec_gates.ledger.entries import ENTRY_VERSION, MalformedEntry, StoredEntry, decode_entry

if TYPE_CHECKING:
    from mlsec_gates.policy import LedgerPolicy
    from mlsec_gates.signing.keys import Signer
    from mlsec_gates.storage import Storage

_MAX_QUERY_CATCH_UP = 16 * 1024 * 1024
"""A lineage query indexes at most this many new bytes itself; beyond, it scans the file."""

SignerFactory = Callable[[], "Signer"]
"""Builds the checkpoint signer; called only when a checkpoint is due."""


@dataclass(frozen=True)
class Appended:
    """What an append did."""

    seq: int
    """Number of the entry that records the result (the earlier one when nothing was added)."""
    hash: str
    appended: bool
    """False when a retry with the same idempotency key and result found its entry there."""
    checkpoint: bool = False
    """True when a signed checkpoint was written after this entry."""


@dataclass(frozen=True)
class AppendRequest:
    """One entry to add: its fields (without ``v``/``seq``/``prev``/``ts``) and retry rules."""

    fields: dict[str, Any]
    ts: str
    key: str | None = None
    """Idempotency key (None: always append)."""
    fingerprint: str = ""
    """Result fingerprint compared with the key's newest entry."""
    checkpoint_every: int = 100
    signer: SignerFactory | None = None

    def body(self, seq: int, prev: str | None, supersedes: int | None) -> dict[str, Any]:
        """The full entry body for position ``seq`` after an entry hashed ``prev``."""
        body: dict[str, Any] = {"v": ENTRY_VERSION, "seq": seq, "prev": prev, "ts": self.ts}
        body.update(self.fields)
        if supersedes is not None:
            body["supersedes"] = supersedes
        return body

    def checkpoint_due(self, seq: int) -> bool:
        """True after entry 1 and every ``checkpoint_every`` entries, when a signer is set."""
        return self.signer is not None and (seq == 1 or seq % self.checkpoint_every == 0)


class LedgerStore(Protocol):
    """What the ledger needs from a storage backend."""

    uri: str
    named_slots: bool
    """True when an entry's slot is its name (S3 objects), False for line numbers."""

    def append(self, request: AppendRequest) -> Appended:
        """Add one entry (or find the retry's entry); see the module docstring."""

    def entries(self) -> Iterator[tuple[int, bytes]]:
        """Every stored entry in storage order as ``(slot, bytes)``.

        The slot is the line number (local) or the number in the object name (S3).
        """

    def checkpoints(self) -> Iterator[tuple[str, bytes]]:
        """Every stored checkpoint as ``(where, bytes)``."""

    def find(self, digest: str) -> list[StoredEntry]:
        """Entries that may record ``digest``, in ledger order (callers re-check)."""

    def exists(self) -> bool:
        """True when the ledger has been created."""

    def write_checkpoint(self, signer: Signer, *, ts: str) -> int:
        """Sign a checkpoint of the current head; returns its size (0: empty ledger)."""

    def torn_tail(self) -> int | None:
        """The slot of a partial last entry, if any (local files only)."""


def open_store(uri: str, *, storage: Storage, policy: LedgerPolicy | None = None) -> LedgerStore:
    """The store for a ledger path or ``s3://bucket/prefix`` URI."""
    if storage.is_remote(uri):
        from mlsec_gates.ledger.s3_store import S3Store

        return S3Store(uri, storage=storage, policy=policy)
    return LocalStore(uri)


class LocalStore:
    """A ledger in a local JSON-lines file (see the module docstring)."""

    named_slots = False

    def __init__(self, path: str) -> None:
        self.path = Path(path).resolve()
        self.uri = str(self.path)
        self.checkpoints_path = Path(f"{self.path}.checkpoints")
        self.index_path = Path(f"{self.path}.index")

    # -- writing -------------------------------------------------------------------------

    def append(self, request: AppendRequest) -> Appended:
        """Append under an exclusive lock; see the module docstring.

        Raises:
            StorageError: the ledger cannot be written, or its last line is partial or
                unreadable (the chain cannot be continued safely).
        """
        from mlsec_gates.ledger._index import LocalIndex
        from mlsec_gates.ledger.checkpoints import make_checkpoint
        from mlsec_gates.ledger.entries import encode_entry

        with self._locked(fcntl.LOCK_EX, create=True) as fd, LocalIndex(self.index_path) as index:
            head = index.sync(fd)
            if head.torn:
                raise StorageError(
                    f"{self.uri}: the last line is incomplete (a writer crashed mid-write); "
                    "check it with 'mlsec-gates ledger verify' and remove the partial line"
                )
            if head.end and not head.readable:
                raise StorageError(
                    f"{self.uri}: the last entry is unreadable, so the chain cannot be "
                    "continued; run 'mlsec-gates ledger verify'"
                )
            supersedes = None
            if request.key is not None:
                previous = index.latest_for_key(request.key)
                if previous is not None:
                    seq, found, fingerprint = previous
                    if fingerprint == request.fingerprint:
                        return Appended(seq=seq, hash=found, appended=False)
                    supersedes = seq
            seq = head.seq + 1
            line = encode_entry(request.body(seq, head.hash, supersedes))
            _write_all(fd, line + b"\n", self.uri)
            index.sync(fd)
            entry_hash = decode_entry(line).hash
            checkpoint = request.checkpoint_due(seq)
            if checkpoint:
                assert request.signer is not None
                envelope = make_checkpoint(seq, entry_hash, ts=request.ts, signer=request.signer())
                self._append_checkpoint(envelope)
        return Appended(seq=seq, hash=entry_hash, appended=True, checkpoint=checkpoint)

    def write_checkpoint(self, signer: Signer, *, ts: str) -> int:
        """Sign a checkpoint of the ledger as it is now; returns its size (0: empty ledger).

        Raises:
            StorageError: the ledger cannot be read or the checkpoint cannot be written.
        """
        from mlsec_gates.ledger._index import LocalIndex
        from mlsec_gates.ledger.checkpoints import make_checkpoint

        with self._locked(fcntl.LOCK_EX, create=True) as fd, LocalIndex(self.index_path) as index:
            head = index.sync(fd)
            if not head.seq or head.hash is None:
                return 0
            self._append_checkpoint(make_checkpoint(head.seq, head.hash, ts=ts, signer=signer))
            return head.seq

    def _append_checkpoint(self, envelope: bytes) -> None:
        try:
            fd = os.open(self.checkpoints_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"{self.checkpoints_path}: cannot write: {exc.strerror}") from None
        try:
            _write_all(fd, envelope + b"\n", str(self.checkpoints_path))
        finally:
            os.close(fd)

    # -- reading -------------------------------------------------------------------------

    def entries(self) -> Iterator[tuple[int, bytes]]:
        """Every complete line, numbered from 1 (a partial last line is left out)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"{self.uri}: cannot read: {exc.strerror or exc}") from None
        lines = data.split(b"\n")
        lines.pop()  # the part after the last newline: empty, or a partial line
        yield from enumerate(lines, start=1)

    def torn_tail(self) -> int | None:
        """The line number of a partial last line, if the file ends without a newline."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if data and not data.endswith(b"\n"):
            return data.count(b"\n") + 1
        return None

    def checkpoints(self) -> Iterator[tuple[str, bytes]]:
        """Every line of the checkpoint file, named ``<file>:<line>``."""
        try:
            data = self.checkpoints_path.read_bytes()
        except FileNotFoundError:
            return
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                yield f"{self.checkpoints_path}:{number}", line

    def exists(self) -> bool:
        """True when the ledger file exists."""
        return self.path.is_file()

    def find(self, digest: str) -> list[StoredEntry]:
        """Entries recording ``digest``, through the index.

        Scans the ledger's bytes instead when the index cannot be used (a read-only
        directory) or is far behind (lost or deleted: rebuilding it is left to the next
        append, so a query never pays for it).
        """
        import sqlite3

        from mlsec_gates.ledger._index import LocalIndex

        if not self.path.is_file():
            return []
        with self._locked(fcntl.LOCK_SH) as fd:
            try:
                with LocalIndex(self.index_path) as index:
                    if index.lag(fd) <= _MAX_QUERY_CATCH_UP:
                        index.sync(fd)
                        found = []
                        for offset, length in index.ranges_for_digest(digest):
                            line = os.pread(fd, length, offset).rstrip(b"\n")
                            with contextlib.suppress(MalformedEntry):
                                found.append(decode_entry(line))
                        return found
            except (sqlite3.Error, OSError):
                pass
            if os.fstat(fd).st_size == 0:
                return []
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
                return scan_for_digest(data, digest)

    @contextlib.contextmanager
    def _locked(self, mode: int, *, create: bool = False) -> Iterator[int]:
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
        if mode == fcntl.LOCK_SH:
            flags = os.O_RDONLY
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise StorageError(f"{self.uri}: cannot open the ledger: {exc.strerror}") from None
        try:
            fcntl.flock(fd, mode)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock


def scan_for_digest(data: bytes | mmap.mmap, digest: str) -> list[StoredEntry]:
    """Entries of a JSON-lines ledger whose line contains ``digest``, without an index.

    A substring search over the raw bytes, then a parse of the matching lines only; lineage's
    fallback and the baseline of ``benchmarks/ledger_lineage.py``.
    """
    needle = digest.encode()
    found: list[StoredEntry] = []
    pos = data.find(needle)
    while pos != -1:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end == -1 else end
        with contextlib.suppress(MalformedEntry):
            found.append(decode_entry(data[start:end]))
        pos = data.find(needle, end)
    return found


def _write_all(fd: int, data: bytes, where: str) -> None:
    """Write all of ``data`` to an ``O_APPEND`` descriptor and fsync it."""
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        raise StorageError(f"{where}: cannot write: {exc.strerror or exc}") from None
