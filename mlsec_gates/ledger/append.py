"""What a ledger backend is asked to do: the entry to append, and what the append did.

Shared by the local store (:mod:`~mlsec_gates.ledger.store`) and the S3 store
(:mod:`~mlsec_gates.ledger.s3_store`), so that neither imports the other's module for them:
``store`` picks a backend and imports ``s3_store``; ``s3_store`` imports only this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mlsec_gates.ledger.entries import ENTRY_VERSION, StoredEntry

if TYPE_CHECKING:
    from mlsec_gates.signing.keys import Signer

__all__ = ["AppendRequest", "Appended", "LedgerStore", "SignerFactory"]

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

    def last_checkpoint_due(self, seq: int) -> int:
        """The newest entry number at or before ``seq`` whose checkpoint was due (0: none).

        A writer killed between its entry and its checkpoint leaves that checkpoint unmade;
        the next append compares this with the newest stored checkpoint and catches up.
        """
        if self.signer is None or seq < 1:
            return 0
        return max(1, seq - seq % self.checkpoint_every)


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
