"""Signed attachments: the SBOM, gate reports and SLSA provenance, bound to the model.

Example:
    >>> from mlsec_gates.signing.attach import attachment_uri
    >>> attachment_uri("models/bert.sig", "sbom")
    'models/bert.sig.sbom.dsse.json'

Each attachment is a DSSE envelope (``<signature>.<label>.dsse.json``, next to the model
signature) over an in-toto statement whose subject is the model's root digest, so an SBOM
or a scan report can only be presented with the exact weights it describes. The document is
embedded as the predicate (CycloneDX BOMs as ``https://cyclonedx.org/bom``, like ``cosign
attest --type cyclonedx``); the envelope's ``keyid`` is the signing key's hint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import VerificationError
from mlsec_gates.signing.dsse import dsse_envelope, verify_envelope
from mlsec_gates.signing.intoto import (
    CYCLONEDX_PREDICATE,
    FILE_PREDICATE,
    GATE_REPORT_PREDICATE,
    SLSA_PROVENANCE_PREDICATE,
    attachment_statement,
    slsa_provenance,
)
from mlsec_gates.signing.keys import Signer, Verifier

__all__ = [
    "ATTACHMENT_SUFFIX",
    "PROVENANCE_LABEL",
    "attachment_label",
    "attachment_predicate",
    "attachment_uri",
    "provenance_statement",
    "sign_attachment",
    "verify_attachment",
]

ATTACHMENT_SUFFIX = ".dsse.json"
"""Suffix of every attachment file."""
PROVENANCE_LABEL = "provenance"
"""Label of the SLSA provenance attachment (``<signature>.provenance.dsse.json``)."""

DEFAULT_BUILD_TYPE = "https://mlsec-gates.dev/build/model/v1"
"""SLSA ``buildType`` when the caller gives none."""
DEFAULT_BUILDER_ID = "https://mlsec-gates.dev/builder/local"
"""SLSA ``builder.id`` when the caller gives none."""

_PROVENANCE_KEYS = {
    "build_type",
    "builder_id",
    "builder_version",
    "external_parameters",
    "internal_parameters",
    "resolved_dependencies",
    "invocation_id",
    "started_on",
    "finished_on",
    "byproducts",
}


def attachment_label(name: str) -> str:
    """The label of an attached file: its name without ``.json``, in ``[a-z0-9._-]``.

    ``scan-report.json`` -> ``scan-report``; ``SBOM.cdx.json`` -> ``sbom.cdx``.
    """
    base = PurePosixPath(name.rstrip("/")).name
    if base.lower().endswith(".json"):
        base = base[: -len(".json")]
    label = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip(".-")
    return label or "attachment"


def attachment_uri(signature: str, label: str) -> str:
    """Where the attachment ``label`` of a signature lives (same directory or prefix)."""
    return f"{signature}.{label}{ATTACHMENT_SUFFIX}"


def attachment_predicate(data: bytes, name: str) -> tuple[str, Any]:
    """The predicate type and predicate that carry an attached file.

    A CycloneDX BOM and an mlsec-gates JSON report are the predicate themselves; any other
    JSON document is embedded under ``document``; other bytes are bound by digest only.
    """
    digest = hashlib.sha256(data).hexdigest()
    try:
        document = loads_json(data)
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
        return CYCLONEDX_PREDICATE, document
    if isinstance(document, dict) and {"gate", "schema_version", "status"} <= document.keys():
        return GATE_REPORT_PREDICATE, document
    predicate: dict[str, Any] = {
        "name": PurePosixPath(name).name,
        "digest": {"sha256": digest},
        "size": len(data),
    }
    if document is not None:
        predicate["document"] = document
    return FILE_PREDICATE, predicate


def sign_attachment(
    data: bytes, name: str, *, model_name: str, root: str, signer: Signer
) -> dict[str, Any]:
    """A DSSE envelope binding an attached file to the model's root digest."""
    predicate_type, predicate = attachment_predicate(data, name)
    statement = attachment_statement(
        model_name, root, predicate_type=predicate_type, predicate=predicate
    )
    return dsse_envelope(statement, signer)


def provenance_statement(
    model_name: str, root: str, provenance: Mapping[str, Any]
) -> dict[str, Any]:
    """A SLSA v1 provenance statement from the sign gate's ``provenance`` option.

    ``provenance`` holds the keyword arguments of
    :func:`mlsec_gates.signing.intoto.slsa_provenance` (``build_type``, ``builder_id``,
    ``resolved_dependencies``...), or a complete SLSA predicate (a mapping with
    ``buildDefinition`` and ``runDetails``), which is used as is.

    Raises:
        ValueError: an unknown key, or a dependency without uri, name or digest.
    """
    if "buildDefinition" in provenance:
        return attachment_statement(
            model_name, root, predicate_type=SLSA_PROVENANCE_PREDICATE, predicate=dict(provenance)
        )
    unknown = set(provenance) - _PROVENANCE_KEYS
    if unknown:
        raise ValueError(
            f"unknown provenance key(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(_PROVENANCE_KEYS))}"
        )
    args = dict(provenance)
    args.setdefault("build_type", DEFAULT_BUILD_TYPE)
    args.setdefault("builder_id", DEFAULT_BUILDER_ID)
    return slsa_provenance(model_name, root, **args)


def verify_attachment(
    envelope: Mapping[str, Any],
    verifier: Verifier,
    *,
    root: str,
    document: bytes | None = None,
    name: str = "",
) -> dict[str, Any]:
    """Check an attachment envelope against the model and, optionally, the original file.

    Args:
        envelope: the parsed ``.dsse.json`` file.
        verifier: the model signer's public key.
        root: the model's root digest (from its verified signature).
        document: the attached file's current bytes, to check that it was not edited since.
        name: the attached file's name (for a non-JSON document).

    Returns:
        The verified statement.

    Raises:
        VerificationError: bad signature, a subject other than this model, or a document
            that differs from the signed one.
    """
    statement = verify_envelope(dict(envelope), verifier)
    subjects = statement.get("subject") or []
    digests = [s.get("digest", {}).get("sha256") for s in subjects if isinstance(s, dict)]
    if root not in digests:
        raise VerificationError(
            f"the attachment is about another model (subject sha256 {digests or 'none'}, "
            f"model root {root})"
        )
    if document is not None:
        expected = attachment_predicate(document, name)
        if (statement.get("predicateType"), statement.get("predicate")) != expected:
            raise VerificationError("the document differs from the signed one")
    return statement
