"""Check a ledger: every entry's hash, the chain, the numbering, and the signed checkpoints.

What each kind of tampering looks like here (each becomes a :class:`LedgerProblem` naming the
entry):

=====================================  ==============================================
Tampering                              Problem kind
=====================================  ==============================================
an entry edited in place               ``edited`` (its bytes no longer hash to its hash)
an entry edited and re-hashed          ``chain`` at the next entry (``checkpoint-head``
                                       when it is the last one a checkpoint covers)
an entry deleted                       ``missing`` and ``chain`` at the one after it
two entries swapped                    ``order`` and ``chain``
entries cut off the tail               ``truncated`` (a checkpoint counts more entries)
whole chain rewritten, new checkpoint  ``checkpoint-signature`` (the pinned key does not
key                                    verify it) or ``checkpoint-head``
checkpoints deleted                    ``no-checkpoint`` when none is left
=====================================  ==============================================

Limits: entries after the newest checkpoint can be cut off without trace (checkpoint often,
or at the end of each DAG run); and a person who can delete *both* entries and checkpoints can
roll the ledger back to an older consistent state, which only a copy of a newer checkpoint
kept elsewhere reveals. S3 Object Lock in COMPLIANCE mode makes that deletion impossible.

Without a public key, signatures cannot be checked: the report then says so as a problem,
because a chain without verified checkpoints can be rewritten whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlsec_gates.ledger.checkpoints import Checkpoint, decode_checkpoint
from mlsec_gates.ledger.entries import MalformedEntry, decode_entry
from mlsec_gates.ledger.store import LedgerStore, open_store

if TYPE_CHECKING:
    from mlsec_gates.signing.keys import Verifier
    from mlsec_gates.storage import Storage

MAX_PROBLEMS = 1000
"""Problems listed in a report; beyond that they are only counted."""


@dataclass(frozen=True)
class LedgerProblem:
    """One thing wrong with a ledger."""

    kind: str
    """``edited``, ``chain``, ``missing``, ``order``, ``duplicate``, ``malformed``, ``torn``,
    ``truncated``, ``checkpoint-head``, ``checkpoint-signature``, ``checkpoint-malformed``,
    ``no-checkpoint``, ``unsigned``."""
    message: str
    """One line naming the entry."""
    seq: int | None = None
    """The entry number concerned (for checkpoints: the number of entries it covers)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"kind": self.kind, "seq": self.seq, "message": self.message}


@dataclass(frozen=True)
class LedgerReport:
    """The outcome of :func:`verify_ledger`; ``ok`` only when there is no problem at all."""

    uri: str
    entries: int
    """Entries read."""
    checkpoints: int
    """Checkpoints read."""
    head: str | None
    """Hash of the last entry (None: empty ledger)."""
    covered: int
    """Entries covered by the newest checkpoint that matched and verified (0: none)."""
    signatures_checked: bool
    """False when no public key was given."""
    problems: tuple[LedgerProblem, ...] = ()
    more_problems: int = 0
    """Problems found beyond :data:`MAX_PROBLEMS`, not listed."""

    @property
    def ok(self) -> bool:
        """True when the chain, the numbering and every checkpoint check out."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "uri": self.uri,
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "head": self.head,
            "covered": self.covered,
            "signatures_checked": self.signatures_checked,
            "problems": [p.to_dict() for p in self.problems],
            "more_problems": self.more_problems,
        }


@dataclass
class _Findings:
    problems: list[LedgerProblem] = field(default_factory=list)
    more: int = 0

    def add(self, kind: str, message: str, seq: int | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(LedgerProblem(kind=kind, message=message, seq=seq))
        else:
            self.more += 1


def verify_ledger(
    uri: str,
    *,
    storage: Storage,
    public_key: str | None = None,
    kms_key_id: str | None = None,
) -> LedgerReport:
    """Check the ledger at a path or ``s3://`` prefix (see the module docstring).

    Args:
        uri: the ledger file, or the ``s3://bucket/prefix`` of an S3 ledger.
        storage: how to reach S3 (and read the public key).
        public_key: PEM path/URI of the key checkpoints must verify with (pinned, never
            taken from the ledger itself).
        kms_key_id: or the AWS KMS key whose public key that is.

    Returns:
        The report; ``ok`` is False on any problem, including when no key was given.

    Raises:
        InputError: the ledger does not exist (or an S3 prefix holds no entry).
        ConfigError: both keys given, or the key is not an EC public key.
        StorageError: the ledger or key cannot be read.
    """
    from mlsec_gates.errors import InputError

    verifier: Verifier | None = None
    if public_key or kms_key_id:
        from mlsec_gates.signing.keys import load_verifier

        verifier = load_verifier(
            public_key=public_key, kms_key_id=kms_key_id, storage=storage, s3=storage.s3_options
        )
    store = open_store(uri, storage=storage)
    if not store.exists():
        raise InputError(f"{uri}: no such ledger")
    return check_store(store, verifier=verifier)


def check_store(store: LedgerStore, *, verifier: Verifier | None) -> LedgerReport:
    """:func:`verify_ledger` on an open store, with the verifier already loaded."""
    found = _Findings()
    hashes, count, head = _check_entries(store.entries(), found, named=store.named_slots)
    torn = store.torn_tail()
    if torn is not None:
        found.add("torn", f"line {torn} is a partial entry (a writer crashed mid-write)", torn)
    checkpoints = _read_checkpoints(store.checkpoints(), found)
    covered = _check_checkpoints(checkpoints, hashes, verifier, found)
    if verifier is None and (count or checkpoints):
        found.add(
            "unsigned",
            "checkpoint signatures were not checked: give the public key (or KMS key) that "
            "signs checkpoints; without it a rewritten ledger cannot be told apart",
        )
    elif verifier is not None and count and not checkpoints:
        found.add(
            "no-checkpoint",
            f"{count} entries but no checkpoint: truncation or a rewrite could not be detected",
        )
    return LedgerReport(
        uri=store.uri,
        entries=count,
        checkpoints=len(checkpoints),
        head=head,
        covered=covered,
        signatures_checked=verifier is not None,
        problems=tuple(found.problems),
        more_problems=found.more,
    )


def _check_entries(
    items: Iterable[tuple[int, bytes]], found: _Findings, *, named: bool
) -> tuple[dict[int, str], int, str | None]:
    """Hashes, numbering and links; returns ``{seq: hash}``, the count and the head hash."""
    hashes: dict[int, str] = {}
    head: str | None = None
    count = 0
    prev_seq = 0
    prev_hash: str | None = None
    for slot, raw in items:
        count += 1
        try:
            entry = decode_entry(raw)
        except MalformedEntry as exc:
            found.add("malformed", f"entry at position {slot} is not a ledger entry: {exc}", slot)
            prev_hash = None
            continue
        seq = entry.seq
        if seq is None:
            found.add("malformed", f"entry at position {slot} has no entry number", slot)
            continue
        if not entry.intact:
            found.add(
                "edited",
                f"entry {seq}: its content does not match its hash (edited after it was written)",
                seq,
            )
        if seq in hashes:
            found.add("duplicate", f"entry {seq} appears more than once", seq)
        elif seq <= prev_seq:
            found.add("order", f"entry {seq} comes after entry {prev_seq} (entries reordered)", seq)
        if named and seq != slot:
            found.add("order", f"entry {seq} is stored under number {slot} (moved or swapped)", seq)
        if count == 1 and entry.prev is not None:
            found.add("chain", f"entry {seq} is first but links to an earlier entry", seq)
        elif count > 1 and entry.prev != prev_hash:
            found.add(
                "chain",
                f"entry {seq}: the link to the entry before it is broken (an entry before it "
                "was removed, reordered or rewritten)",
                seq,
            )
        hashes.setdefault(seq, entry.hash)
        # The next entry links to the hash written with this one: an edit in place is then
        # reported once, as "edited", not again as a broken link.
        prev_seq, prev_hash = max(prev_seq, seq), entry.claimed_hash
        head = entry.hash
    for start, end in _ranges(set(range(1, prev_seq + 1)) - hashes.keys()):
        span = f"entry {start} is" if start == end else f"entries {start}..{end} are"
        found.add("missing", f"{span} missing (deleted)", start)
    return hashes, count, head


def _read_checkpoints(items: Iterable[tuple[str, bytes]], found: _Findings) -> list[Checkpoint]:
    out: list[Checkpoint] = []
    for where, raw in items:
        try:
            out.append(decode_checkpoint(raw))
        except MalformedEntry as exc:
            found.add("checkpoint-malformed", f"{where}: {exc}")
    return sorted(out, key=lambda c: c.size)


def _check_checkpoints(
    checkpoints: list[Checkpoint],
    hashes: dict[int, str],
    verifier: Verifier | None,
    found: _Findings,
) -> int:
    """Check each checkpoint; returns the entries covered by the newest good one."""
    last = max(hashes, default=0)
    covered = 0
    for cp in checkpoints:
        good = True
        if verifier is not None and not cp.verify(verifier):
            good = False
            found.add(
                "checkpoint-signature",
                f"checkpoint of entry {cp.size}: the signature does not verify with the pinned "
                f"public key (key id {cp.keyid[:16]}): checkpoints rewritten or key changed",
                cp.size,
            )
        if cp.size > last:
            good = False
            found.add(
                "truncated",
                f"checkpoint of entry {cp.size}, but the ledger ends at entry {last}: "
                f"entries {last + 1}..{cp.size} were removed",
                cp.size,
            )
        elif hashes.get(cp.size) != cp.head:
            good = False
            found.add(
                "checkpoint-head",
                f"entry {cp.size} does not match its checkpoint (the ledger was rewritten up "
                "to there)",
                cp.size,
            )
        if good and verifier is not None:
            covered = max(covered, cp.size)
    return covered


def _ranges(numbers: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out
