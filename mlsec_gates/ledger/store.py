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
whose last line is partial (a writer was killed mid-write) is refused until a person repairs
it; a writer whose own write fails (disk full, file-size limit) cuts its partial line off
before it reports the error. A partial last *checkpoint* line is cut off by the next
checkpoint write, and a checkpoint that was due but never made (a writer killed between its
entry and its checkpoint) is made by the next append.
Local disks only: ``flock`` is not reliable on network file systems.

**S3** (``s3://bucket/prefix``): see :mod:`mlsec_gates.ledger.s3_store`.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlsec_gates.errors import StorageError
from mlsec_gates.ledger.append import Appended, AppendRequest, LedgerStore, SignerFactory
from mlsec_gates.ledger.entries import MalformedEntry, StoredEntry, decode_entry
from mlsec_gates.storage import resolve_path

if TYPE_CHECKING:
    from mlsec_gates.policy import LedgerPolicy
    from mlsec_gates.signing.keys import Signer
    from mlsec_gates.storage import Storage

__all__ = ["AppendRequest", "Appended", "LedgerStore", "LocalStore", "SignerFactory", "open_store"]

_CHECKPOINT_TAIL = 64 * 1024
"""Bytes read from the end of the checkpoint file to find its newest complete line."""
_MAX_QUERY_CATCH_UP = 16 * 1024 * 1024
"""A lineage query indexes at most this many new bytes itself; beyond, it scans the file."""


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
        self.path = resolve_path(path)
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
            # Due now, or due earlier and never made (a writer killed between its entry and
            # its checkpoint): the checkpoint of the current head covers that one too.
            checkpoint = request.checkpoint_due(seq) or (
                self._newest_checkpoint() < request.last_checkpoint_due(seq)
            )
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
        """Append a checkpoint line (under the ledger's lock).

        A partial last line (a writer killed mid-write) is cut off first: it never held a
        complete signature, and appending after it would tear the new checkpoint too.
        """
        try:
            fd = os.open(self.checkpoints_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"{self.checkpoints_path}: cannot write: {exc.strerror}") from None
        try:
            _cut_partial_line(fd, str(self.checkpoints_path))
            _write_all(fd, envelope + b"\n", str(self.checkpoints_path))
        finally:
            os.close(fd)

    def _newest_checkpoint(self) -> int:
        """Entries covered by the newest complete checkpoint line (0: none or unreadable)."""
        from mlsec_gates.ledger.checkpoints import decode_checkpoint

        try:
            with open(self.checkpoints_path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                fh.seek(max(0, size - _CHECKPOINT_TAIL))
                tail = fh.read()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise StorageError(f"{self.checkpoints_path}: cannot read: {exc.strerror}") from None
        newest = 0
        for line in tail.split(b"\n")[:-1]:  # complete lines only
            with contextlib.suppress(MalformedEntry):
                newest = max(newest, decode_checkpoint(line).size)
        return newest

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
    """Write all of ``data`` to an ``O_APPEND`` descriptor (held under a lock) and fsync it.

    A failed write (disk full, file-size limit, I/O error) is rolled back: the file is cut
    back to its size before the write, so this writer never leaves a partial line that
    would stop every later append.
    """
    before = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, before)
            os.fsync(fd)
        except OSError as undo:
            raise StorageError(
                f"{where}: cannot write ({exc.strerror or exc}) and cannot remove the partial "
                f"write ({undo.strerror or undo}); run 'mlsec-gates ledger verify'"
            ) from None
        raise StorageError(f"{where}: cannot write: {exc.strerror or exc}") from None


def _cut_partial_line(fd: int, where: str) -> None:
    """Cut a partial last line (no newline at the end) off a file open for writing."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - _CHECKPOINT_TAIL)
    while True:
        chunk = os.pread(fd, size - start, start)
        cut = chunk.rfind(b"\n")
        if cut != -1 or start == 0:
            keep = start + cut + 1 if cut != -1 else 0
            break
        start = max(0, start - _CHECKPOINT_TAIL)
    try:
        os.ftruncate(fd, keep)
    except OSError as exc:
        raise StorageError(f"{where}: cannot repair a partial line: {exc.strerror}") from None
