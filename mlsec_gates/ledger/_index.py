"""The local ledger's index: a SQLite file next to the ledger, derived from it.

It maps digests and idempotency keys to entry numbers and entry numbers to byte ranges, so
lineage and the retry check never scan the ledger. It holds nothing the ledger does not: when
it is missing, behind, or does not match the file (a different ledger, a rewritten file), it
is caught up or rebuilt from the ledger on the next use. Lineage re-checks every entry it
returns against the ledger bytes, so a stale or edited index can hide an entry but never
invent or alter one. Digests are stored as their first 60 bits (an integer key keeps the
index small and fast); the re-check also removes the rare false match.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlsec_gates.ledger.entries import MalformedEntry, decode_entry, entry_digests

_SCHEMA_VERSION = 1
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    offset INTEGER PRIMARY KEY, length INTEGER NOT NULL, seq INTEGER NOT NULL,
    hash TEXT NOT NULL, key TEXT, result TEXT);
CREATE INDEX IF NOT EXISTS entries_key ON entries (key) WHERE key IS NOT NULL;
CREATE TABLE IF NOT EXISTS digests (
    digest INTEGER NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (digest, offset))
    WITHOUT ROWID;
PRAGMA user_version = {_SCHEMA_VERSION};
"""
_BLOCK = 8 * 1024 * 1024


def digest_key(digest: str) -> int:
    """The index key of a hex digest: its first 60 bits."""
    return int(digest[:15], 16)


@dataclass(frozen=True)
class Head:
    """The last line of the ledger as the index saw it."""

    end: int
    """Byte offset up to which the ledger is indexed (complete lines only)."""
    seq: int
    """Entry number of the last readable entry (0: empty ledger)."""
    hash: str | None
    """Hash of the last line's body bytes (None: empty ledger, or the line is unreadable)."""
    torn: bool = False
    """The file ends with a partial line (a writer crashed mid-write)."""
    readable: bool = True
    """False when the last line is not a valid entry."""


class LocalIndex:
    """A connection to ``<ledger>.index``; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=OFF")  # derived data: rebuilt when lost
        self.conn.execute("PRAGMA cache_size=-65536")
        if self.conn.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
            self.conn.execute("PRAGMA journal_mode=WAL")  # readers never wait on the writer
            self.conn.executescript(_SCHEMA)

    def __enter__(self) -> LocalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    # -- keeping up with the ledger ------------------------------------------------------

    def sync(self, fd: int) -> Head:
        """Index every complete line of the ledger (open file ``fd``) not yet indexed.

        Rebuilds from scratch when the recorded last line no longer matches the file. When
        the index is current, nothing is written.
        """
        size = os.fstat(fd).st_size
        head = self._head_if_valid(fd, size)
        if head is not None and head.end == size:
            return head
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            head = self._head_if_valid(fd, size)  # another process may have caught up
            if head is None:
                self.conn.execute("DELETE FROM entries")
                self.conn.execute("DELETE FROM digests")
                head = Head(end=0, seq=0, hash=None)
            head, last_range = self._catch_up(fd, head, size)
            self._set_meta(head, last_range)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return head

    def lag(self, fd: int) -> int:
        """Bytes of the ledger not indexed yet (the whole file when the index is unusable)."""
        size = os.fstat(fd).st_size
        head = self._head_if_valid(fd, size)
        return size - (head.end if head else 0)

    def _head_if_valid(self, fd: int, size: int) -> Head | None:
        meta = dict(self.conn.execute("SELECT k, v FROM meta").fetchall())
        if "end" not in meta:
            return None
        end = int(meta["end"])
        last_hash = meta.get("hash") or None
        if end > size:
            return None
        if end:
            last_offset, last_len = int(meta["last_offset"]), int(meta["last_length"])
            line = os.pread(fd, last_len, last_offset)
            if _line_hash(line) != last_hash or last_offset + last_len != end:
                return None
        return Head(
            end=end, seq=int(meta["seq"]), hash=last_hash, readable=meta.get("readable") != "0"
        )

    def _catch_up(self, fd: int, head: Head, size: int) -> tuple[Head, tuple[int, int] | None]:
        """Index the lines after ``head``; returns the new head and the last line's range."""
        offset, pending = head.end, b""
        seq, last_hash, readable = head.seq, head.hash, head.readable
        last_range: tuple[int, int] | None = None
        entries: list[tuple[Any, ...]] = []
        digests: list[tuple[int, int]] = []
        while offset + len(pending) < size:
            block = os.pread(fd, min(_BLOCK, size - offset - len(pending)), offset + len(pending))
            if not block:
                break
            pending += block
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                length = len(line) + 1
                last_range = (offset, length)
                try:
                    entry = decode_entry(line)
                except MalformedEntry:
                    last_hash, readable = None, False
                else:
                    body = entry.body
                    key = body.get("idempotency_key")
                    entries.append(
                        (
                            offset,
                            length,
                            entry.seq or 0,
                            entry.hash,
                            key if isinstance(key, str) else None,
                            str(body.get("result_sha256", "")),
                        )
                    )
                    digests.extend((digest_key(d), offset) for d in entry_digests(body))
                    seq, last_hash, readable = entry.seq or 0, entry.hash, True
                offset += length
            self._insert(entries, digests)
        new = Head(end=offset, seq=seq, hash=last_hash, torn=bool(pending), readable=readable)
        return new, last_range

    def _insert(self, entries: list[tuple[Any, ...]], digests: list[tuple[int, int]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", entries)
        self.conn.executemany("INSERT OR IGNORE INTO digests VALUES (?, ?)", digests)
        entries.clear()
        digests.clear()

    def _set_meta(self, head: Head, last_range: tuple[int, int] | None) -> None:
        values: dict[str, object] = {
            "end": head.end,
            "seq": head.seq,
            "hash": head.hash or "",
            "readable": "1" if head.readable else "0",
        }
        if last_range is not None or head.end == 0:
            values["last_offset"], values["last_length"] = last_range or (0, 0)
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )

    # -- queries -------------------------------------------------------------------------

    def latest_for_key(self, key: str) -> tuple[int, str, str] | None:
        """``(seq, hash, result_sha256)`` of the newest entry under an idempotency key."""
        row = self.conn.execute(
            "SELECT seq, hash, result FROM entries WHERE key = ? ORDER BY offset DESC LIMIT 1",
            (key,),
        ).fetchone()
        return (int(row[0]), str(row[1]), str(row[2])) if row else None

    def ranges_for_digest(self, digest: str) -> list[tuple[int, int]]:
        """``(offset, length)`` of every line that may record ``digest``, in ledger order."""
        return list(
            self.conn.execute(
                "SELECT e.offset, e.length FROM digests d JOIN entries e ON e.offset = d.offset "
                "WHERE d.digest = ? ORDER BY e.offset",
                (digest_key(digest),),
            )
        )

    def iter_ranges(self) -> Iterator[tuple[int, int]]:
        """Every indexed line as ``(offset, length)``."""
        yield from self.conn.execute("SELECT offset, length FROM entries ORDER BY offset")


def _line_hash(line: bytes) -> str | None:
    try:
        return decode_entry(line.rstrip(b"\n")).hash
    except MalformedEntry:
        return None
