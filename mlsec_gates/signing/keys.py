"""Signing keys: a local EC private key (PEM) or an AWS KMS key, behind one small interface.

Example:
    >>> from mlsec_gates.signing.keys import load_signer, load_verifier
    >>> from mlsec_gates.storage import Storage
    >>> signer = load_signer(key="signing-key.pem", storage=Storage())  # doctest: +SKIP
    >>> sig = signer.sign(b"payload")  # doctest: +SKIP
    >>> verifier = load_verifier(public_key="signing-key.pub", storage=Storage())  # doctest: +SKIP
    >>> verifier.verify(b"payload", sig)  # doctest: +SKIP
    True

Signatures are DER-encoded ECDSA, hashed with SHA-256 on P-256, SHA-384 on P-384 and SHA-512
on P-521 (what model-signing and Sigstore bundles expect). An AWS KMS key signs the *digest*
(``MessageType="DIGEST"``): the payload is hashed locally, so a large model's manifest never
hits the 4 096-byte limit of ``MessageType="RAW"``. Verification is always local, with the
PEM public key or the public key fetched once from KMS (``GetPublicKey``), so it needs no
KMS ``Verify`` permission and works offline from an exported key.

The KMS client uses the credentials, profile and region of the gate's S3 settings (the region
of an ARN wins) and boto3's own endpoint settings: ``AWS_ENDPOINT_URL_KMS`` (or
``AWS_ENDPOINT_URL``) points it at a KMS-compatible endpoint. An encrypted PEM key is
decrypted with the password in the ``MLSEC_GATES_KEY_PASSWORD`` environment variable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlsec_gates.errors import ConfigError, StorageError
from mlsec_gates.storage import S3Options, Storage

__all__ = [
    "KEY_PASSWORD_ENV",
    "EcKeySigner",
    "EcVerifier",
    "KmsSigner",
    "Signer",
    "Verifier",
    "key_hint",
    "load_signer",
    "load_verifier",
]

KEY_PASSWORD_ENV = "MLSEC_GATES_KEY_PASSWORD"
"""Environment variable holding the password of an encrypted PEM private key."""

_CURVE_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
"""The curves model-signing accepts, each with the hash ECDSA uses on it."""

_KMS_SPECS: dict[str, str] = {
    "ECC_NIST_P256": "ECDSA_SHA_256",
    "ECC_NIST_P384": "ECDSA_SHA_384",
    "ECC_NIST_P521": "ECDSA_SHA_512",
}
"""KMS key specs we sign with, and the signing algorithm that matches model-signing."""


class Signer(Protocol):
    """Anything that makes an ECDSA signature over bytes."""

    def sign(self, payload: bytes) -> bytes:
        """DER-encoded ECDSA signature of ``payload``."""
        ...

    def public_key_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo (what the bundle's key hint hashes)."""
        ...

    @property
    def description(self) -> str:
        """Where the key lives, for reports (``ec-key:<path>``, ``aws-kms:<arn>``)."""
        ...


class Verifier(Protocol):
    """Anything that checks an ECDSA signature over bytes."""

    def verify(self, payload: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a valid signature of ``payload`` by this key."""
        ...

    def public_key_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo."""
        ...


def key_hint(public_key_pem: bytes) -> str:
    """Model-signing's key hint: hex SHA-256 of the PEM SubjectPublicKeyInfo bytes."""
    return hashlib.sha256(public_key_pem).hexdigest()


def _hash_for(public_key: ec.EllipticCurvePublicKey, where: str) -> hashes.HashAlgorithm:
    curve = public_key.curve.name
    if curve not in _CURVE_HASH:
        raise ConfigError(
            f"{where}: unsupported curve {curve}; use an EC key on P-256, P-384 or P-521"
        )
    return _CURVE_HASH[curve]()


def _pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class EcKeySigner:
    """Signs with a local EC private key (P-256, P-384 or P-521)."""

    private_key: ec.EllipticCurvePrivateKey
    source: str = "<memory>"

    def sign(self, payload: bytes) -> bytes:
        """DER ECDSA over ``payload`` with the curve's hash."""
        algorithm = _hash_for(self.private_key.public_key(), self.source)
        return self.private_key.sign(payload, ec.ECDSA(algorithm))

    def public_key_pem(self) -> bytes:
        """PEM SubjectPublicKeyInfo of the key pair."""
        return _pem(self.private_key.public_key())

    @property
    def description(self) -> str:
        """``ec-key:<path>``."""
        return f"ec-key:{self.source}"


@dataclass(frozen=True)
class EcVerifier:
    """Checks signatures with an EC public key."""

    public_key: ec.EllipticCurvePublicKey
    source: str = "<memory>"

    def verify(self, payload: bytes, signature: bytes) -> bool:
        """True when the signature is valid; False for any other signature or garbage."""
        algorithm = _hash_for(self.public_key, self.source)
        try:
            self.public_key.verify(signature, payload, ec.ECDSA(algorithm))
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_key_pem(self) -> bytes:
        """PEM SubjectPublicKeyInfo."""
        return _pem(self.public_key)


class KmsSigner:
    """Signs with an asymmetric ECC key held in AWS KMS (key usage ``SIGN_VERIFY``).

    ``message_type="DIGEST"`` (the default) hashes the payload locally and sends only the
    digest; ``"RAW"`` sends the payload itself, which KMS limits to 4 096 bytes. Both give the
    same ECDSA signature.
    """

    def __init__(
        self,
        key_id: str,
        *,
        client: Any,
        message_type: Literal["DIGEST", "RAW"] = "DIGEST",
    ) -> None:
        self.key_id = key_id
        self.client = client
        self.message_type = message_type

    @cached_property
    def _public(self) -> tuple[ec.EllipticCurvePublicKey, str]:
        with _kms_errors(self.key_id):
            response = self.client.get_public_key(KeyId=self.key_id)
        spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec", "")
        if spec not in _KMS_SPECS:
            raise ConfigError(
                f"{self.key_id}: KMS key spec {spec or 'unknown'} cannot sign model "
                f"signatures; use one of {', '.join(_KMS_SPECS)}"
            )
        if response.get("KeyUsage", "SIGN_VERIFY") != "SIGN_VERIFY":
            raise ConfigError(f"{self.key_id}: KMS key usage must be SIGN_VERIFY")
        public_key = serialization.load_der_public_key(response["PublicKey"])
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ConfigError(f"{self.key_id}: KMS returned a non-EC public key")
        return public_key, _KMS_SPECS[spec]

    def sign(self, payload: bytes) -> bytes:
        """DER ECDSA over ``payload``, made by KMS."""
        public_key, algorithm = self._public
        if self.message_type == "DIGEST":
            hasher = hashes.Hash(_hash_for(public_key, self.key_id))
            hasher.update(payload)
            message = hasher.finalize()
        else:
            message = payload
        with _kms_errors(self.key_id):
            response = self.client.sign(
                KeyId=self.key_id,
                Message=message,
                MessageType=self.message_type,
                SigningAlgorithm=algorithm,
            )
        return bytes(response["Signature"])

    def public_key_pem(self) -> bytes:
        """PEM SubjectPublicKeyInfo of the KMS key (fetched once with ``GetPublicKey``)."""
        return _pem(self._public[0])

    def verifier(self) -> EcVerifier:
        """A local verifier for this key's signatures."""
        return EcVerifier(self._public[0], source=f"aws-kms:{self.key_id}")

    @property
    def description(self) -> str:
        """``aws-kms:<key id or ARN>``."""
        return f"aws-kms:{self.key_id}"


@contextlib.contextmanager
def _kms_errors(key_id: str) -> Iterator[None]:
    """Turn botocore's exceptions into one-line mlsec-gates errors."""
    try:
        yield
    except (ConfigError, StorageError):
        raise
    except Exception as exc:  # botocore raises a dozen unrelated types
        response = getattr(exc, "response", None)
        error = response.get("Error", {}) if isinstance(response, dict) else {}
        code = str(error.get("Code", ""))
        if not code and not type(exc).__module__.startswith("botocore"):
            raise
        message = _first_line(exc)
        if code in ("NotFoundException", "InvalidKeyUsageException", "KMSInvalidStateException"):
            raise ConfigError(f"{key_id}: {code}: {message}") from None
        raise StorageError(f"{key_id}: AWS KMS error: {message}") from None


def _kms_client(key_id: str, s3: S3Options | None) -> Any:
    try:
        import boto3
    except ImportError:
        raise ConfigError("--kms-key-id needs boto3: pip install 'mlsec-gates[s3]'") from None
    opts = s3 or S3Options()
    region = opts.region
    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) > 3 and parts[3]:
            region = parts[3]
    try:
        session = boto3.session.Session(
            profile_name=opts.profile,
            aws_access_key_id=opts.access_key_id,
            aws_secret_access_key=opts.secret_access_key,
            aws_session_token=opts.session_token,
            region_name=region,
        )
        return session.client("kms")
    except Exception as exc:  # botocore raises a dozen unrelated types here
        raise StorageError(f"cannot set up the KMS client: {exc}") from None


def _read(uri: str, storage: Storage) -> bytes:
    with storage.open_read(uri) as fh:
        return fh.read()


def _one_of(key: str | None, kms_key_id: str | None, what: str) -> None:
    given = [name for name, value in ((what, key), ("kms_key_id", kms_key_id)) if value]
    if len(given) != 1:
        raise ConfigError(f"give exactly one of {what} or kms_key_id")


def load_signer(
    *,
    key: str | None = None,
    kms_key_id: str | None = None,
    storage: Storage,
    s3: S3Options | None = None,
) -> Signer:
    """A signer for a PEM EC private key (path or ``s3://`` URI) or an AWS KMS key.

    Raises:
        ConfigError: neither or both given; not an EC private key on P-256/384/521; an
            encrypted key without the password in ``MLSEC_GATES_KEY_PASSWORD``.
        InputError: the key file does not exist.
        StorageError: S3 refused access.
    """
    _one_of(key, kms_key_id, "key")
    if kms_key_id:
        return KmsSigner(kms_key_id, client=_kms_client(kms_key_id, s3 or storage.s3_options))
    assert key is not None
    data = _read(key, storage)
    password = os.environ.get(KEY_PASSWORD_ENV)
    try:
        private_key = serialization.load_pem_private_key(
            data, password.encode() if password else None
        )
    except TypeError:
        raise ConfigError(
            f"{key}: the private key is encrypted; set {KEY_PASSWORD_ENV} to its password"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{key}: not a PEM private key ({_first_line(exc)})") from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{key}: not an EC private key; use P-256, P-384 or P-521")
    _hash_for(private_key.public_key(), key)
    return EcKeySigner(private_key, source=key)


def load_verifier(
    *,
    public_key: str | None = None,
    kms_key_id: str | None = None,
    storage: Storage,
    s3: S3Options | None = None,
) -> Verifier:
    """A verifier for a PEM EC public key (path or URI) or an AWS KMS key's public key.

    With ``kms_key_id`` the public key is fetched once with ``GetPublicKey``; the check itself
    is local.

    Raises:
        ConfigError: neither or both given; not an EC public key on P-256/384/521.
        InputError: the key file does not exist.
        StorageError: S3 or KMS refused access.
    """
    _one_of(public_key, kms_key_id, "public_key")
    if kms_key_id:
        signer = KmsSigner(kms_key_id, client=_kms_client(kms_key_id, s3 or storage.s3_options))
        return signer.verifier()
    assert public_key is not None
    data = _read(public_key, storage)
    try:
        loaded = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{public_key}: not a PEM public key ({_first_line(exc)})") from None
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise ConfigError(f"{public_key}: not an EC public key; use P-256, P-384 or P-521")
    _hash_for(loaded, public_key)
    return EcVerifier(loaded, source=public_key)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
