"""Sigstore bundles (v0.3) as model-signing writes and reads them for key-based signatures.

Example:
    >>> from mlsec_gates.signing.bundle import BUNDLE_MEDIA_TYPE
    >>> BUNDLE_MEDIA_TYPE
    'application/vnd.dev.sigstore.bundle.v0.3+json'

A key-signed bundle is ``{"mediaType", "verificationMaterial": {"publicKey": {"hint":
<hex SHA-256 of the PEM public key>}, "tlogEntries": []}, "dsseEnvelope": <DSSE>}``: no
certificate and no transparency-log entry, so it verifies fully offline with the public key.
"""

from __future__ import annotations

from typing import Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import VerificationError
from mlsec_gates.signing.dsse import dsse_envelope, verify_envelope
from mlsec_gates.signing.keys import Signer, Verifier, key_hint

__all__ = ["BUNDLE_MEDIA_TYPE", "parse_bundle", "sign_bundle", "verify_bundle"]

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
"""The media type model-signing 1.x writes and requires."""


def sign_bundle(statement: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """Sign a statement into a key-based Sigstore bundle (model-signing's layout).

    The envelope's ``keyid`` is empty, as model-signing leaves it; the key is identified by
    the bundle's ``publicKey.hint``.
    """
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": key_hint(signer.public_key_pem())},
            "tlogEntries": [],
        },
        "dsseEnvelope": dsse_envelope(statement, signer, keyid=""),
    }


def parse_bundle(data: bytes) -> dict[str, Any]:
    """Parse a bundle file, without checking any signature.

    Raises:
        VerificationError: not JSON, not a v0.3 bundle, or not a DSSE bundle.
    """
    try:
        bundle = loads_json(data)
    except ValueError as exc:
        raise VerificationError(f"the signature is not JSON ({exc})") from None
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        got = bundle.get("mediaType") if isinstance(bundle, dict) else type(bundle).__name__
        raise VerificationError(f"not a Sigstore bundle v0.3 (media type {got!r})")
    if not isinstance(bundle.get("dsseEnvelope"), dict):
        raise VerificationError("the bundle holds no DSSE envelope")
    return bundle


def bundle_key_hint(bundle: dict[str, Any]) -> str | None:
    """The ``publicKey.hint`` of a key-signed bundle; None when there is none."""
    material = bundle.get("verificationMaterial") or {}
    public_key = material.get("publicKey") if isinstance(material, dict) else None
    hint = public_key.get("hint") if isinstance(public_key, dict) else None
    return str(hint) if hint else None


def verify_bundle(bundle: dict[str, Any], verifier: Verifier) -> dict[str, Any]:
    """Check a key-signed bundle and return its statement.

    Like model-signing's key verifier: the key hint, when present, must name the given key;
    then the DSSE signature must verify.

    Raises:
        VerificationError: wrong key (hint mismatch), certificate or Sigstore material
            (not supported offline with a bare key), or a bad signature.
    """
    material = bundle.get("verificationMaterial") or {}
    if isinstance(material, dict) and (
        "x509CertificateChain" in material or "certificate" in material
    ):
        raise VerificationError(
            "the bundle is certificate- or Sigstore-signed; only key-signed bundles are supported"
        )
    hint = bundle_key_hint(bundle)
    expected = key_hint(verifier.public_key_pem())
    if hint is not None and hint != expected:
        raise WrongKeyError(
            f"signed by another key (key hint {hint[:16]}…, this public key {expected[:16]}…)"
        )
    return verify_envelope(bundle["dsseEnvelope"], verifier)


class WrongKeyError(VerificationError):
    """The bundle names a different public key than the one given."""
