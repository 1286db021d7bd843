"""DSSE envelopes (Dead Simple Signing Envelope v1) over in-toto statements.

Example:
    >>> from mlsec_gates.signing.dsse import pae
    >>> pae("application/vnd.in-toto+json", b"{}")
    b'DSSEv1 28 application/vnd.in-toto+json 2 {}'

An envelope is ``{"payload": base64, "payloadType": ..., "signatures": [{"sig", "keyid"}]}``
and the signature covers the pre-authentication encoding (PAE) of the type and payload, not
the JSON around it (https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md). The
statement is serialised as RFC 8785 canonical JSON, so the same statement always gives the
same payload bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import rfc8785

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import VerificationError
from mlsec_gates.signing.keys import Signer, Verifier, key_hint

__all__ = ["PAYLOAD_TYPE", "canonical_json", "dsse_envelope", "pae", "verify_envelope"]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The payload type of an in-toto statement."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature is made over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def canonical_json(document: Any) -> bytes:
    """RFC 8785 (JCS) serialisation: sorted keys, no spaces, canonical numbers."""
    return bytes(rfc8785.dumps(document))


def dsse_envelope(statement: dict[str, Any], signer: Signer, *, keyid: str | None = None) -> dict:
    """Sign a statement and wrap it in a DSSE envelope.

    Args:
        statement: the in-toto statement (a JSON-ready dict).
        signer: see :func:`mlsec_gates.signing.keys.load_signer`.
        keyid: the envelope's ``keyid``; default: the model-signing key hint (hex SHA-256 of
            the PEM public key). Pass ``""`` to leave it empty, as model-signing does.

    Returns:
        The envelope as a JSON-ready dict.
    """
    payload = canonical_json(statement)
    signature = signer.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {
                "sig": base64.b64encode(signature).decode("ascii"),
                "keyid": key_hint(signer.public_key_pem()) if keyid is None else keyid,
            }
        ],
    }


def verify_envelope(envelope: dict[str, Any], verifier: Verifier) -> dict[str, Any]:
    """Check a DSSE envelope's signature and return the statement it carries.

    One valid signature by ``verifier``'s key is enough (DSSE allows several).

    Returns:
        The statement, parsed from the verified payload bytes.

    Raises:
        VerificationError: the envelope is malformed, its payload type is not in-toto, no
            signature verifies, or the payload is not an in-toto v1 statement.
    """
    if not isinstance(envelope, dict):
        raise VerificationError("not a DSSE envelope (expected a JSON object)")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type = envelope["payloadType"]
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (KeyError, TypeError, binascii.Error, ValueError) as exc:
        raise VerificationError(f"malformed DSSE envelope ({type(exc).__name__}: {exc})") from None
    if payload_type != PAYLOAD_TYPE:
        raise VerificationError(f"payload type is {payload_type!r}, expected {PAYLOAD_TYPE!r}")
    if not signatures:
        raise VerificationError("the DSSE envelope holds no signature")
    message = pae(payload_type, payload)
    if not any(verifier.verify(message, sig) for sig in signatures):
        raise VerificationError("the signature does not verify with the given public key")
    try:
        statement = loads_json(payload)
    except ValueError as exc:
        raise VerificationError(f"the signed payload is not JSON ({exc})") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise VerificationError(f"the signed payload is not an in-toto {STATEMENT_TYPE} statement")
    return statement


STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
"""The in-toto statement type (v1)."""
