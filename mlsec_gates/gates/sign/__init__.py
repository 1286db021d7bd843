"""Sign and verify gates: OpenSSF model-signing v1.0 signatures, plus what the format misses.

Example:
    >>> from mlsec_gates.gates.sign import sign_gate, verify_gate
    >>> signed = sign_gate("models/bert", key="signing-key.pem",
    ...                    attach=["sbom.json", "scan-report.json"])  # doctest: +SKIP
    >>> signed.reports["signature"]  # doctest: +SKIP
    '/.../models/bert.sig'
    >>> verify_gate("models/bert", signature="models/bert.sig",
    ...             public_key="signing-key.pub").status  # doctest: +SKIP
    <Status.PASS: 'pass'>

The signature (``--out``, default ``<model>.sig`` next to the model) is a Sigstore bundle
holding a DSSE envelope over an in-toto statement with the SHA-256 of every file ("files"
serialisation): ``model_signing verify key`` accepts it, and :func:`verify_gate` accepts
``model_signing sign key`` signatures. Keys are a local EC key (P-256/P-384/P-521) or an AWS
KMS key (digest signing, so any model size fits); verification is offline. Sigstore keyless
signing is not offered: it needs Fulcio and Rekor on the network.

Attachments (``attach=``: an SBOM, gate reports) and SLSA v1 provenance (``provenance=``) are
signed as DSSE envelopes whose subject is the model's root digest, written next to the
signature as ``<signature>.<label>.dsse.json`` (label = the file name without ``.json``;
``provenance`` for the provenance) and listed, with their SHA-256, inside the signed
statement, so the verify gate notices a missing, replaced or edited attachment.

The policy (``gates.sign`` / ``gates.verify``) closes the format's gaps: ``refuse_paths``
(``.git`` and friends, which model-signing leaves unsigned), ``refuse_empty_dirs``, and
``check_permissions`` (file modes, recorded in the statement under ``mlsec_gates``, a
predicate key that v1.0 verifiers ignore).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import decide, now, run_and_report, tool_versions
from mlsec_gates.gates.sign import rules
from mlsec_gates.gates.sign.tree import tree_findings
from mlsec_gates.hashing import (
    MODEL_SIGNING_IGNORE,
    TreeListing,
    digest_files,
    list_tree,
    model_name,
    root_digest,
)
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import Finding, GateResult, Location, Status, Subject
from mlsec_gates.signing.attach import (
    PROVENANCE_LABEL,
    attachment_label,
    attachment_uri,
    provenance_statement,
    sign_attachment,
)
from mlsec_gates.signing.bundle import sign_bundle
from mlsec_gates.signing.dsse import dsse_envelope
from mlsec_gates.signing.intoto import model_signing_statement
from mlsec_gates.signing.keys import key_hint, load_signer
from mlsec_gates.storage import S3Options, Storage, resolve_path

__all__ = ["default_signature_path", "run_sign", "run_verify", "sign_gate", "verify_gate"]

GATE = "sign"


def sign_gate(
    model: str,
    *,
    key: str | None = None,
    kms_key_id: str | None = None,
    out: str | None = None,
    attach: Sequence[str] = (),
    provenance: Mapping[str, Any] | str | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
) -> GateResult:
    """Sign a model, then write the JSON, Markdown and HTML reports; the call adapters make.

    Args:
        model: a model file, directory or ``s3://`` prefix.
        key: PEM EC private key (path or URI); exclusive with ``kms_key_id``.
        kms_key_id: AWS KMS key id or ARN (ECC_NIST_P256/P384/P521, SIGN_VERIFY).
        out: where to write the signature; default ``<model>.sig`` next to the model.
        attach: files to sign as attachments (CycloneDX SBOM, gate JSON reports, any file).
        provenance: SLSA v1 provenance: the keyword arguments of
            :func:`mlsec_gates.signing.intoto.slsa_provenance`, a full SLSA predicate, or a
            path/URI of a JSON file holding either.
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None.
        report_dir: directory or ``s3://`` prefix for the reports; default
            ``./mlsec-gate-reports/sign-<timestamp>``.
        s3: how to reach S3 and KMS credentials (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        run_context: where the task runs (Airflow/KFP ids), recorded in the provenance
            ledger when the policy sets ``ledger.uri`` (see :mod:`mlsec_gates.ledger`).

    Returns:
        The result; ``reports["signature"]`` is the signature and ``reports["attachment:
        <label>"]`` each attachment. ``fail`` (nothing written) when the model holds a refused
        path or an empty directory; under ``on_fail: warn`` the model is signed anyway and
        the status is ``warn``. ``error`` (nothing written) for a symbolic link, a special
        file or an empty model.

    Raises:
        ConfigError: invalid policy, key or arguments.
        InputError: the model, key, attachment or policy file does not exist.
        StorageError: S3, KMS or the output location refused access, or the ledger could
            not be appended to.
    """
    return run_and_report(
        GATE,
        lambda loaded, storage: run_sign(
            model,
            key=key,
            kms_key_id=kms_key_id,
            out=out,
            attach=attach,
            provenance=provenance,
            policy=loaded,
            storage=storage,
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def verify_gate(
    model: str,
    *,
    signature: str,
    public_key: str | None = None,
    kms_key_id: str | None = None,
    attachments: Sequence[str] = (),
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
) -> GateResult:
    """Verify a model against its signature, then write the reports; the call adapters make.

    Args:
        model: the model file, directory or ``s3://`` prefix.
        signature: the signature (Sigstore bundle) path or URI.
        public_key: PEM EC public key (path or URI); exclusive with ``kms_key_id``.
        kms_key_id: AWS KMS key id or ARN whose public key verifies (fetched once).
        attachments: extra ``.dsse.json`` attachments to check; those listed in the signature
            are always checked.
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None.
        report_dir: directory or ``s3://`` prefix for the reports; default
            ``./mlsec-gate-reports/verify-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        run_context: where the task runs (Airflow/KFP ids), recorded in the provenance
            ledger when the policy sets ``ledger.uri`` (see :mod:`mlsec_gates.ledger`).

    Returns:
        The result: ``pass`` when the signature is valid for this key and every file, path,
        directory, mode and attachment matches; ``fail`` with one finding per problem
        (``warn`` under ``on_fail: warn``); ``error`` when something could not be checked
        (unsupported signature format, unreadable file, permissions not recorded).

    Raises:
        ConfigError: invalid policy, key or arguments.
        InputError: the model, signature, key or policy file does not exist.
        StorageError: S3 or KMS refused access, or the ledger could not be appended to.
    """
    from mlsec_gates.gates.sign.verify import GATE as VERIFY_GATE

    return run_and_report(
        VERIFY_GATE,
        lambda loaded, storage: run_verify(
            model,
            signature=signature,
            public_key=public_key,
            kms_key_id=kms_key_id,
            attachments=attachments,
            policy=loaded,
            storage=storage,
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def run_verify(model: str, **kwargs: Any) -> GateResult:
    """Verify without writing reports (see :func:`verify_gate` and the ``verify`` module)."""
    from mlsec_gates.gates.sign.verify import run_verify as _run

    return _run(model, **kwargs)


def default_signature_path(model: str) -> str:
    """``<model>.sig`` next to the model: ``models/bert/`` -> ``models/bert.sig``.

    model-signing's own CLI default, ``model.sig`` in the working directory, would make two
    models overwrite each other's signature; a sibling file cannot.

    Raises:
        ConfigError: the model is a whole bucket (no place next to it).
    """
    if Storage.is_remote(model):
        stripped = model.rstrip("/")
        if stripped.count("/") < 3:  # s3://bucket
            raise ConfigError(f"{model}: a whole bucket has no sibling; give --out")
        return stripped + ".sig"
    return str(resolve_path(model)) + ".sig"


def inside_model(root: str, target: str) -> str | None:
    """``target``'s path relative to a model directory or prefix when inside it, else None.

    The signature and its attachments are left out of the model when written inside it,
    as model-signing's CLI leaves its signature out.
    """
    if Storage.is_remote(root) or Storage.is_remote(target):
        prefix = root.rstrip("/") + "/"
        return target[len(prefix) :] if target.startswith(prefix) else None
    if Path(root).is_file():
        return None
    try:
        rel = resolve_path(target).relative_to(resolve_path(root))
    except ValueError:
        return None
    return PurePosixPath(rel).as_posix()


def list_model(
    model: str, *, storage: Storage, ignore: Sequence[str], written: Sequence[str]
) -> tuple[TreeListing, list[str]]:
    """The model's tree without the ignored paths and the signature files written inside it.

    Returns the listing and the paths left out (what a statement records as ignored).
    """
    inside = (inside_model(model, path) for path in written)
    left_out = [*ignore, *(rel for rel in inside if rel)]
    return list_tree(model, storage=storage, ignore=left_out), left_out


def _load_provenance(provenance: Mapping[str, Any] | str, storage: Storage) -> Mapping[str, Any]:
    if isinstance(provenance, Mapping):
        return provenance
    try:
        loaded = loads_json(storage.read_text(provenance))
    except ValueError as exc:
        raise ConfigError(f"{provenance}: provenance is not JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{provenance}: provenance must be a JSON object")
    return loaded


def run_sign(
    model: str,
    *,
    key: str | None = None,
    kms_key_id: str | None = None,
    out: str | None = None,
    attach: Sequence[str] = (),
    provenance: Mapping[str, Any] | str | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
    workers: int | None = None,
) -> GateResult:
    """Sign a model and its attachments without writing reports (see :func:`sign_gate`).

    Raises:
        ConfigError: invalid key, arguments or provenance.
        InputError: the model, key or an attachment does not exist.
        StorageError: S3, KMS or the output location refused access.
    """
    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.gates.sign
    if isinstance(attach, str):
        attach = [attach]
    signer = load_signer(key=key, kms_key_id=kms_key_id, storage=storage)
    out = out or default_signature_path(model)

    labels: dict[str, str] = {}
    for path in attach:
        label = attachment_label(path)
        if label in labels or (provenance is not None and label == PROVENANCE_LABEL):
            raise ConfigError(f"two attachments share the label {label!r}: rename one")
        labels[label] = path
    if provenance is not None:
        labels[PROVENANCE_LABEL] = ""
    outputs = {label: attachment_uri(out, label) for label in labels}

    listing, ignore = list_model(
        model, storage=storage, ignore=MODEL_SIGNING_IGNORE, written=[out, *outputs.values()]
    )

    findings = tree_findings(
        listing,
        section,
        refused=rules.SignRefusedPath,
        empty_dir=rules.SignEmptyDir,
        unsupported=rules.SignUnsupportedFile,
    )
    if not listing.files:
        findings.append(
            rules.NothingToSign.finding(
                f"{model} holds no file to sign", Location(uri=model), {"model": model}
            )
        )
    incomplete = any(
        f.rule_id in (rules.SignUnsupportedFile.id, rules.NothingToSign.id) for f in findings
    )
    status = decide(
        violations=bool(findings), incomplete=incomplete, on_fail=policy.on_fail_for(GATE)
    )
    name = model_name(model)
    details: dict[str, Any] = {
        "model": model,
        "model_name": name,
        "key": signer.description,
        "key_hint": key_hint(signer.public_key_pem()),
        "ignore_paths": sorted(set(ignore)),
    }
    if status not in (Status.PASS, Status.WARN):
        return _result(started, status, findings, [], details, {}, policy, signed=False)

    t0 = time.perf_counter()
    files = digest_files(listing, storage=storage, workers=workers)
    hash_seconds = time.perf_counter() - t0
    root = root_digest(files)
    details["root_digest"] = root

    envelopes: dict[str, bytes] = {}
    for label, path in labels.items():
        if label == PROVENANCE_LABEL and provenance is not None:
            try:
                statement = provenance_statement(name, root, _load_provenance(provenance, storage))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"provenance: {exc}") from None
            envelope = dsse_envelope(statement, signer)
        else:
            with storage.open_read(path) as fh:
                data = fh.read()
            envelope = sign_attachment(data, path, model_name=name, root=root, signer=signer)
        envelopes[label] = (json.dumps(envelope, indent=2) + "\n").encode()

    recorded = {
        PurePosixPath(outputs[label]).name: _sha256(data) for label, data in envelopes.items()
    }
    statement = model_signing_statement(name, files, ignore_paths=ignore, attachments=recorded)
    bundle = sign_bundle(statement, signer)
    reports: dict[str, str] = {}
    for label, data in envelopes.items():
        reports[f"attachment:{label}"] = storage.write_bytes(
            outputs[label], data, content_type="application/json"
        )
    reports["signature"] = storage.write_bytes(
        out, (json.dumps(bundle, indent=2) + "\n").encode(), content_type="application/json"
    )
    details["attachments"] = {label: reports[f"attachment:{label}"] for label in envelopes}
    total = sum(f.size for f in files)
    metrics: dict[str, float | int] = {
        "files_signed": len(files),
        "bytes_signed": total,
        "attachments_signed": len(envelopes),
        "hash_seconds": round(hash_seconds, 3),
        "hash_mb_per_second": round(total / 1e6 / hash_seconds, 1) if hash_seconds else 0,
    }
    subjects = [
        Subject(
            path=listing.location(f.path),
            sha256=f.sha256,
            size=f.size,
            kind="model-file",
            verdict="signed",
        )
        for f in files
    ]
    return _result(
        started, status, findings, subjects, details, reports, policy, signed=True, metrics=metrics
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _result(
    started: datetime,
    status: Status,
    findings: list[Finding],
    subjects: list[Subject],
    details: dict[str, Any],
    reports: dict[str, str],
    policy: Policy,
    *,
    signed: bool,
    metrics: dict[str, float | int] | None = None,
) -> GateResult:
    if signed:
        summary = (
            f"Signed {len(subjects)} file(s) of {details['model_name']} (root sha256 "
            f"{details['root_digest'][:16]}…) with {details['key']}"
        )
        if details.get("attachments"):
            summary += f", plus {len(details['attachments'])} attachment(s)"
        summary += "."
        if findings:
            summary += f" {len(findings)} policy finding(s) reported under on_fail: warn."
    else:
        first = findings[0].message if findings else "nothing to sign"
        summary = f"Not signed: {len(findings)} finding(s). First: {first}."
    return GateResult(
        gate=GATE,
        status=status,
        summary=summary,
        findings=tuple(findings),
        subjects=tuple(subjects),
        started_at=started,
        finished_at=now(),
        metrics=metrics or {"files_signed": 0, "findings": len(findings)},
        tool_versions=tool_versions("cryptography", "boto3"),
        policy=policy.effective(GATE),
        reports=reports,
        details=details,
    )
