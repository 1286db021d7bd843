"""The sign and verify gates' rules: one class per finding type.

The model-signing format records the content of every regular file and nothing else; the
``refused-path``, ``empty-dir`` and ``permissions-*`` rules close the gaps it leaves (see
docs/signing.md).
"""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule

_RESIGN = (
    "Do not deploy this model. Fetch it again from the producer, or, if the change is "
    "legitimate, have the producer re-sign it."
)
_TAMPER_WHY = (
    "The model is not the one that was signed: its weights, code or configuration may have "
    "been replaced in storage or in transit (backdoored weights, a pickle payload)."
)


# -- sign ---------------------------------------------------------------------------------


class SignRefusedPath(Rule):
    """The model holds a path the policy refuses (``gates.sign.refuse_paths``, e.g. ``.git``).

    Model-signing leaves ``.git``, ``.github``, ``.gitattributes`` and ``.gitignore`` out of
    the signature, so anything placed there would ship unsigned.
    """

    id: ClassVar[str] = "sign.refused-path"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Remove the path from the model directory before signing (export the model, not the "
        "repository), or adjust gates.sign.refuse_paths."
    )
    why: ClassVar[str] = (
        "Paths the signature ignores can carry code (git hooks, workflows, loader scripts) "
        "that no verifier checks."
    )


class SignEmptyDir(Rule):
    """The model holds an empty directory, which the signature cannot record."""

    id: ClassVar[str] = "sign.empty-dir"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Remove the empty directory, or set gates.sign.refuse_empty_dirs: false."
    )
    why: ClassVar[str] = (
        "A verifier cannot tell a signed empty directory from one added later; loaders that "
        "probe for directories (plugins, adapters) may change behaviour."
    )


class SignUnsupportedFile(Rule):
    """A symbolic link or special file (FIFO, socket, device): the format refuses them."""

    id: ClassVar[str] = "sign.unsupported-file"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Replace the link by the file it points to, or remove it."
    why: ClassVar[str] = (
        "A link's target can change after signing (or point outside the model), so its "
        "content cannot be bound by a signature."
    )


class NothingToSign(Rule):
    """The model has no file to sign (an empty directory or prefix)."""

    id: ClassVar[str] = "sign.nothing-to-sign"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Check the model path; an empty model is never signed."
    why: ClassVar[str] = "A signature over nothing would vouch for whatever is added later."


# -- verify -------------------------------------------------------------------------------


class SignatureInvalid(Rule):
    """The signature file is not a valid signature of its statement by the given key."""

    id: ClassVar[str] = "verify.signature-invalid"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = (
        "Do not deploy this model. The signature file was edited, corrupted or forged; fetch "
        "the signature again from the producer."
    )
    why: ClassVar[str] = (
        "Without a valid signature nothing ties the model to its producer; an attacker who "
        "can edit the manifest can make any model match it."
    )


class WrongKey(Rule):
    """The signature was made with another key than the one the verifier trusts."""

    id: ClassVar[str] = "verify.wrong-key"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = (
        "Check that the public key (or KMS key) is the producer's. If the producer rotated "
        "keys, obtain the new public key through a trusted channel."
    )
    why: ClassVar[str] = "Anyone can sign a model with their own key; only the trusted key counts."


class UnsupportedFormat(Rule):
    """The signature uses a serialisation this gate does not verify (shards, BLAKE3, v0.2)."""

    id: ClassVar[str] = "verify.unsupported-format"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Re-sign with the interoperable format (files, SHA-256): mlsec-gates sign, or "
        "model_signing sign key without shard or BLAKE3 options."
    )
    why: ClassVar[str] = "A signature that cannot be checked proves nothing."


class FileModified(Rule):
    """A signed file's content differs from the signed digest."""

    id: ClassVar[str] = "verify.file-modified"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = _RESIGN
    why: ClassVar[str] = _TAMPER_WHY


class FileMissing(Rule):
    """A signed file is missing from the model."""

    id: ClassVar[str] = "verify.file-missing"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = _RESIGN
    why: ClassVar[str] = (
        "A missing file (a tokenizer, a config, a safety filter) changes how the model "
        "behaves; a rename also shows as one missing and one added file."
    )


class FileAdded(Rule):
    """A file that was not signed is present in the model."""

    id: ClassVar[str] = "verify.file-added"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = _RESIGN
    why: ClassVar[str] = (
        "Loaders pick up extra files (custom code, pickled adapters, shards) that the "
        "producer never vouched for."
    )


class VerifyRefusedPath(Rule):
    """The model holds a path the policy refuses (``gates.verify.refuse_paths``).

    The signature format ignores ``.git*`` paths, so content there verifies as unchanged;
    this rule refuses it.
    """

    id: ClassVar[str] = "verify.refused-path"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Remove the path before deployment, or adjust gates.verify.refuse_paths if it is expected."
    )
    why: ClassVar[str] = SignRefusedPath.why


class VerifyEmptyDir(Rule):
    """The model holds an empty directory, which the signature does not cover."""

    id: ClassVar[str] = "verify.empty-dir"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Remove the directory, or set gates.verify.refuse_empty_dirs: false."
    )
    why: ClassVar[str] = SignEmptyDir.why


class VerifyUnsupportedFile(Rule):
    """A symbolic link or special file in the model (a file swapped for a link, a FIFO)."""

    id: ClassVar[str] = "verify.unsupported-file"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = _RESIGN
    why: ClassVar[str] = (
        "A link can point at any file on the host, and its target can change after "
        "verification; signed models hold only regular files."
    )


class PermissionsChanged(Rule):
    """A file's permission bits differ from the ones recorded at signing (e.g. ``chmod +x``)."""

    id: ClassVar[str] = "verify.permissions-changed"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Restore the recorded mode (see the evidence), or re-sign if the change is intended."
    )
    why: ClassVar[str] = (
        "An executable or world-writable bit is not part of the content hash, yet it lets a "
        "file be run or replaced later."
    )


class PermissionsUnchecked(Rule):
    """``check_permissions`` is on but the bits cannot be compared.

    The signature records no modes (stock model-signing) or the model is on S3.
    """

    id: ClassVar[str] = "verify.permissions-unchecked"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Sign with mlsec-gates (it records file modes), verify a local copy, or set "
        "gates.verify.check_permissions: false."
    )
    why: ClassVar[str] = "A check the policy asks for and that did not run is never a pass."


class AttachmentInvalid(Rule):
    """A signed attachment (SBOM, gate report, provenance) does not verify for this model."""

    id: ClassVar[str] = "verify.attachment-invalid"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Do not trust this attachment: it was edited, signed by another key, or made for "
        "another model. Fetch it again or re-run the producing pipeline."
    )
    why: ClassVar[str] = (
        "An SBOM or a scan report that is not bound to these exact weights can hide a "
        "vulnerable dependency or a failed scan."
    )


class AttachmentMissing(Rule):
    """An attachment recorded in the signature is missing."""

    id: ClassVar[str] = "verify.attachment-missing"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Copy the attachment files (``<signature>.*.dsse.json``) along with the signature."
    )
    why: ClassVar[str] = AttachmentInvalid.why


class UnreadableFile(Rule):
    """A model file could not be read, so it was not checked."""

    id: ClassVar[str] = "verify.unreadable-file"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Check the file's permissions and the storage, then re-run."
    why: ClassVar[str] = "A file that was not checked may be anything."


RULES: tuple[type[Rule], ...] = (
    SignRefusedPath,
    SignEmptyDir,
    SignUnsupportedFile,
    NothingToSign,
    SignatureInvalid,
    WrongKey,
    UnsupportedFormat,
    FileModified,
    FileMissing,
    FileAdded,
    VerifyRefusedPath,
    VerifyEmptyDir,
    VerifyUnsupportedFile,
    PermissionsChanged,
    PermissionsUnchecked,
    AttachmentInvalid,
    AttachmentMissing,
    UnreadableFile,
)
"""Every sign/verify rule, in report order."""
