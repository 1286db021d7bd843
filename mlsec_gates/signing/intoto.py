"""The in-toto statements we sign: the model signature, attachments and SLSA v1 provenance.

Example:
    >>> from mlsec_gates.hashing import FileDigest
    >>> from mlsec_gates.signing.intoto import model_signing_statement, read_model_statement
    >>> files = [FileDigest(path="w.bin", sha256="00" * 32, size=1, mode=0o644)]
    >>> st = model_signing_statement("m", files, ignore_paths=[".git"])
    >>> st["predicateType"], list(read_model_statement(st).files)
    ('https://model_signing/signature/v1.0', ['w.bin'])

Every statement names the model by one subject, ``{name: <model name>, digest: {sha256:
<root digest>}}``, where the root digest is model-signing's (see
:func:`mlsec_gates.hashing.root_digest`). The model signature's predicate follows
model-signing v1.0 (``serialization`` and ``resources``); v1.0 verifiers ignore any other
predicate key, so the extra ``mlsec_gates`` key (permission bits, the list of signed
attachments) is covered by the signature without breaking the stock verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import VerificationError
from mlsec_gates.hashing import FileDigest, path_sort_key, root_digest
from mlsec_gates.signing.dsse import STATEMENT_TYPE

__all__ = [
    "CYCLONEDX_PREDICATE",
    "FILE_PREDICATE",
    "GATE_REPORT_PREDICATE",
    "MODEL_SIGNING_PREDICATE",
    "SLSA_PROVENANCE_PREDICATE",
    "STATEMENT_TYPE",
    "ModelStatement",
    "UnsupportedFormatError",
    "attachment_statement",
    "model_signing_statement",
    "read_model_statement",
    "resource_descriptor",
    "slsa_provenance",
]

MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"
"""Predicate type of an OpenSSF model-signing v1.0 signature."""
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
"""Predicate type of a CycloneDX BOM attestation (as ``cosign attest --type cyclonedx``)."""
GATE_REPORT_PREDICATE = "https://mlsec-gates.dev/attestation/gate-report/v1"
"""Predicate type of an mlsec-gates JSON gate report (the report is the predicate)."""
FILE_PREDICATE = "https://mlsec-gates.dev/attestation/file/v1"
"""Predicate type of any other attached JSON document (the document is the predicate)."""
SLSA_PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v1"
"""Predicate type of SLSA v1 provenance."""
EXTENSION_KEY = "mlsec_gates"
"""The predicate key holding what the model-signing format does not record."""


class UnsupportedFormatError(VerificationError):
    """A valid statement in a format this package does not verify (shards, BLAKE3, v0.2)."""


@dataclass(frozen=True)
class ModelStatement:
    """What a model-signing v1.0 statement says, once checked for consistency."""

    name: str
    root_digest: str
    files: dict[str, str]
    """Relative path -> hex SHA-256."""
    ignore_paths: tuple[str, ...]
    allow_symlinks: bool
    modes: dict[str, int] | None = None
    """Relative path -> permission bits, when the signer recorded them (mlsec-gates does)."""
    attachments: dict[str, str] = field(default_factory=dict)
    """Attachment file name -> hex SHA-256 of the envelope file, as recorded at signing."""


def model_signing_statement(
    name: str,
    files: Sequence[FileDigest],
    *,
    ignore_paths: Sequence[str],
    attachments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The model-signing v1.0 statement for a model ("files" serialisation, SHA-256).

    Args:
        name: the model's name (its directory or file name).
        files: the per-file digests (any order).
        ignore_paths: the paths left out when hashing, recorded so verifiers skip them too.
        attachments: attachment envelope file name -> its SHA-256, recorded in the extension
            so that a verifier notices a deleted or replaced attachment.

    Returns:
        The statement; ``predicate.mlsec_gates.file_modes`` holds the permission bits of
        the files that have them (octal strings).
    """
    ordered = sorted(files, key=lambda d: path_sort_key(d.path))
    extension: dict[str, Any] = {
        "file_modes": {d.path: f"{d.mode:04o}" for d in ordered if d.mode is not None},
    }
    if attachments:
        extension["attachments"] = dict(sorted(attachments.items()))
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": root_digest(ordered)}}],
        "predicateType": MODEL_SIGNING_PREDICATE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": sorted(set(ignore_paths)),
            },
            "resources": [
                {"name": d.path, "algorithm": "sha256", "digest": d.sha256} for d in ordered
            ],
            EXTENSION_KEY: extension,
        },
    }


def read_model_statement(statement: Mapping[str, Any]) -> ModelStatement:
    """Check a verified model-signing statement the way model-signing does, and read it.

    Raises:
        VerificationError: not a model-signing v1.0 statement, not exactly one subject, an
            unsupported serialisation (only ``files`` with ``sha256``), a duplicate resource,
            or a root digest that does not match the resources.
    """
    try:
        if statement.get("predicateType") != MODEL_SIGNING_PREDICATE:
            raise UnsupportedFormatError(
                f"predicate type {statement.get('predicateType')!r} is not "
                f"{MODEL_SIGNING_PREDICATE}"
            )
        subjects = statement["subject"]
        if len(subjects) != 1:
            raise VerificationError(f"expected one subject, got {len(subjects)}")
        name = str(subjects[0].get("name", ""))
        expected_root = subjects[0]["digest"]["sha256"]
        predicate = statement["predicate"]
        serialization = predicate["serialization"]
        method, hash_type = serialization.get("method"), serialization.get("hash_type")
        if method != "files" or hash_type != "sha256":
            raise UnsupportedFormatError(
                f"unsupported serialisation {method}/{hash_type}: only files/sha256 (the "
                "interoperable model-signing format) is supported"
            )
        files: dict[str, str] = {}
        digests: list[FileDigest] = []
        for resource in predicate["resources"]:
            path, digest = str(resource["name"]), str(resource["digest"]).lower()
            if resource.get("algorithm") != "sha256":
                raise UnsupportedFormatError(
                    f"{path}: unsupported algorithm {resource['algorithm']}"
                )
            if path in files:
                raise VerificationError(f"{path}: listed twice")
            bytes.fromhex(digest)
            files[path] = digest
            digests.append(FileDigest(path=path, sha256=digest, size=0))
        extension = predicate.get(EXTENSION_KEY) or {}
        raw_modes = extension.get("file_modes")
        modes = {k: int(v, 8) for k, v in raw_modes.items()} if raw_modes is not None else None
        attachments = {str(k): str(v) for k, v in (extension.get("attachments") or {}).items()}
    except VerificationError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise VerificationError(
            f"malformed model-signing statement ({type(exc).__name__}: {exc})"
        ) from None
    # model-signing recomputes the root over the digests in payload order, so do we.
    ordered_root = _root_in_order(list(files.values()))
    if ordered_root != expected_root:
        raise VerificationError(
            f"inconsistent statement: the root digest is {expected_root} but the resources "
            f"hash to {ordered_root}"
        )
    return ModelStatement(
        name=name,
        root_digest=expected_root,
        files=files,
        ignore_paths=tuple(str(p) for p in serialization.get("ignore_paths", ())),
        allow_symlinks=bool(serialization.get("allow_symlinks", False)),
        modes=modes,
        attachments=attachments,
    )


def _root_in_order(hex_digests: Sequence[str]) -> str:
    hasher = hashlib.sha256()
    for value in hex_digests:
        hasher.update(bytes.fromhex(value))
    return hasher.hexdigest()


def resource_descriptor(
    *,
    uri: str | None = None,
    sha256: str | None = None,
    name: str | None = None,
    annotations: Mapping[str, Any] | None = None,
    **digests: str,
) -> dict[str, Any]:
    """An in-toto ResourceDescriptor (``uri``, ``digest``, ``name``, ``annotations``).

    Extra keyword arguments are more digests (``gitCommit="..."``).

    Raises:
        ValueError: neither a URI, a name nor a digest was given.
    """
    digest = {k: v for k, v in {"sha256": sha256, **digests}.items() if v}
    out: dict[str, Any] = {}
    if uri:
        out["uri"] = uri
    if name:
        out["name"] = name
    if digest:
        out["digest"] = digest
    if annotations:
        out["annotations"] = dict(annotations)
    if not (uri or name or digest):
        raise ValueError("a resource descriptor needs a uri, a name or a digest")
    return out


def attachment_statement(
    model_name: str, root: str, *, predicate_type: str, predicate: Any
) -> dict[str, Any]:
    """A statement about the model (subject = its root digest) carrying a document.

    Used for the SBOM (predicate type :data:`CYCLONEDX_PREDICATE`, the BOM itself as the
    predicate) and the gate reports (:data:`GATE_REPORT_PREDICATE`).
    """
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def slsa_provenance(
    model_name: str,
    root: str,
    *,
    build_type: str,
    builder_id: str,
    external_parameters: Mapping[str, Any] | None = None,
    internal_parameters: Mapping[str, Any] | None = None,
    resolved_dependencies: Sequence[Mapping[str, Any]] = (),
    invocation_id: str | None = None,
    started_on: str | None = None,
    finished_on: str | None = None,
    byproducts: Sequence[Mapping[str, Any]] = (),
    builder_version: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A SLSA v1 provenance statement for a model (https://slsa.dev/spec/v1.0/provenance).

    Args:
        model_name: the subject's name.
        root: the model's root digest (the subject's ``sha256``).
        build_type: URI of the build type, e.g. ``https://mlsec-gates.dev/build/airflow/v1``.
        builder_id: URI of the builder (the Airflow deployment, the KFP cluster...).
        external_parameters: what the user controlled (DAG id, run conf, pipeline args).
        internal_parameters: what the platform set (Airflow version, executor).
        resolved_dependencies: resource descriptors of the inputs: datasets (``s3://`` +
            sha256 + VersionId), base model, the code commit (``git+https://...`` with
            ``gitCommit``), the environment BOM; see :func:`resource_descriptor`.
        invocation_id: the run id.
        started_on: RFC 3339 start time.
        finished_on: RFC 3339 end time.
        byproducts: resource descriptors of by-products (the ML-BOM, the gate reports).
        builder_version: versions of the builder's components.

    Raises:
        ValueError: a resolved dependency names neither a URI, a name nor a digest.
    """
    for dep in resolved_dependencies:
        if not (dep.get("uri") or dep.get("name") or dep.get("digest")):
            raise ValueError(f"resolved dependency without uri, name or digest: {dict(dep)}")
    metadata = {
        k: v
        for k, v in {
            "invocationId": invocation_id,
            "startedOn": started_on,
            "finishedOn": finished_on,
        }.items()
        if v
    }
    builder: dict[str, Any] = {"id": builder_id}
    if builder_version:
        builder["version"] = dict(builder_version)
    run_details: dict[str, Any] = {"builder": builder}
    if metadata:
        run_details["metadata"] = metadata
    if byproducts:
        run_details["byproducts"] = [dict(b) for b in byproducts]
    build_definition: dict[str, Any] = {
        "buildType": build_type,
        "externalParameters": dict(external_parameters or {}),
    }
    if internal_parameters:
        build_definition["internalParameters"] = dict(internal_parameters)
    if resolved_dependencies:
        build_definition["resolvedDependencies"] = [dict(d) for d in resolved_dependencies]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {
                "name": model_name,
                "digest": {"sha256": root},
                "annotations": {"model_signing_root": True},
            }
        ],
        "predicateType": SLSA_PROVENANCE_PREDICATE,
        "predicate": {"buildDefinition": build_definition, "runDetails": run_details},
    }
