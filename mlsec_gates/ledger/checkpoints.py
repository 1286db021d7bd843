"""Signed checkpoints: ``{size, head}`` of the ledger at a point in time, in a DSSE envelope.

The hash chain alone shows an edited, deleted or reordered entry, but not a ledger cut short
at its tail, nor one rewritten from the first entry on: both are consistent chains. A
checkpoint signed with a key the writer of entries cannot forge pins the number of entries and
the head hash, so verification notices either (fewer entries than a checkpoint counts, or a
head that no longer matches, or a signature that does not verify with the pinned public key).

The envelope is DSSE (``payloadType``, base64 ``payload``, ``signatures[{keyid, sig}]``, the
signature taken over the DSSE pre-authentication encoding), as in-toto attestations use; the
payload is RFC 8785 JSON ``{"v": 1, "size": N, "head": "<hex>", "ts": "<ISO 8601>"}``. The
``keyid`` is the SHA-256 of the signer's public key PEM, the hint model-signing uses too.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.ledger.entries import MalformedEntry, canonical

if TYPE_CHECKING:
    from mlsec_gates.signing.keys import Signer, Verifier

PAYLOAD_TYPE = "application/vnd.mlsec-gates.ledger-checkpoint.v1+json"


@dataclass(frozen=True)
class Checkpoint:
    """One decoded checkpoint."""

    size: int
    """Number of entries it covers (entries 1..size)."""
    head: str
    """Hash of entry ``size``."""
    ts: str
    keyid: str
    payload: bytes
    signature: bytes

    def verify(self, verifier: Verifier) -> bool:
        """True when the signature verifies with ``verifier``'s key (never raises)."""
        from mlsec_gates.signing.dsse import pae

        try:
            return bool(verifier.verify(pae(PAYLOAD_TYPE, self.payload), self.signature))
        except Exception:  # a verifier backend error is a failed verification, not a crash
            return False


def make_checkpoint(size: int, head: str, *, ts: str, signer: Signer) -> bytes:
    """A signed checkpoint envelope, as canonical JSON bytes (no trailing newline).

    Raises:
        whatever ``signer.sign`` raises (StorageError for KMS, ConfigError for a bad key).
    """
    from mlsec_gates.signing.dsse import pae
    from mlsec_gates.signing.keys import key_hint

    payload = canonical({"v": 1, "size": size, "head": head, "ts": ts})
    signature = signer.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {
                "keyid": key_hint(signer.public_key_pem()),
                "sig": base64.b64encode(signature).decode(),
            }
        ],
    }
    return canonical(envelope)


def decode_checkpoint(data: bytes) -> Checkpoint:
    """Parse a checkpoint envelope.

    Raises:
        MalformedEntry: not a checkpoint envelope of this ledger format.
    """
    try:
        envelope: Any = loads_json(data)
        if envelope.get("payloadType") != PAYLOAD_TYPE:
            raise MalformedEntry(f"payloadType is not {PAYLOAD_TYPE}")
        payload = base64.b64decode(envelope["payload"], validate=True)
        [sig] = envelope["signatures"]
        signature = base64.b64decode(sig["sig"], validate=True)
        body = loads_json(payload)
        size, head = body["size"], body["head"]
    except MalformedEntry:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise MalformedEntry(f"not a checkpoint envelope: {type(exc).__name__}: {exc}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 1 or not isinstance(head, str):
        raise MalformedEntry("checkpoint payload has no valid size and head")
    return Checkpoint(
        size=size,
        head=head,
        ts=str(body.get("ts", "")),
        keyid=str(sig.get("keyid", "")),
        payload=payload,
        signature=signature,
    )
