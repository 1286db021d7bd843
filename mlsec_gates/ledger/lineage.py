"""Everything the ledger recorded about one model or dataset digest.

Example:
    >>> from mlsec_gates.ledger import lineage
    >>> from mlsec_gates.storage import Storage
    >>> for entry in lineage("ledger.jsonl", "sha256:9f86d0…", storage=Storage()):  # doctest: +SKIP
    ...     print(entry["seq"], entry["gate"], entry["status"])

An entry matches when one of its subjects or evidence files has that SHA-256: the scan and
validate gates record the files they checked, the SBOM and signing gates their model (by its
root digest), BOM and signature. Lookups go through an index (SQLite next to a local ledger,
marker objects in S3), so they take milliseconds whatever the ledger's size
(``benchmarks/ledger_lineage.py``); every entry returned is re-read from the ledger itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlsec_gates.ledger.entries import entry_digests, normalize_digest
from mlsec_gates.ledger.store import open_store

if TYPE_CHECKING:
    from mlsec_gates.storage import Storage


def lineage(uri: str, digest: str, *, storage: Storage) -> list[dict[str, Any]]:
    """The entries that record ``digest``, oldest first.

    Args:
        uri: the ledger file, or the ``s3://bucket/prefix`` of an S3 ledger.
        digest: hex SHA-256, with or without a ``sha256:`` prefix.
        storage: how to reach S3.

    Returns:
        Each entry body plus ``entry_hash`` (the hash of its stored bytes) and ``intact``
        (False when those bytes no longer match the hash written with them: run
        :func:`~mlsec_gates.ledger.verify_ledger`). An empty list when nothing matches or the
        ledger does not exist yet.

    Raises:
        ValueError: ``digest`` is not a SHA-256.
        StorageError: the ledger cannot be read.
    """
    wanted = normalize_digest(digest)
    store = open_store(uri, storage=storage)
    matches = [e for e in store.find(wanted) if wanted in entry_digests(e.body)]
    matches.sort(key=lambda e: e.seq or 0)
    return [{**e.to_dict(), "intact": e.intact} for e in matches]
