"""The verify gate's checks (entry point: :func:`mlsec_gates.gates.sign.verify_gate`).

Order: the signature first (wrong key, bad signature: nothing else is trustworthy, so the
gate stops there), then the tree (refused paths, empty directories, links), then each file's
content, then modes and attachments. Every difference is its own finding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import InputError, VerificationError
from mlsec_gates.gates._common import decide, now, tool_versions
from mlsec_gates.gates.sign import list_model, rules
from mlsec_gates.gates.sign.tree import tree_findings
from mlsec_gates.hashing import FileDigest, TreeListing, digest_files
from mlsec_gates.policy import Policy, SignPolicy
from mlsec_gates.result import Finding, GateResult, Location, Status, Subject
from mlsec_gates.signing.attach import verify_attachment
from mlsec_gates.signing.bundle import WrongKeyError, parse_bundle, verify_bundle
from mlsec_gates.signing.intoto import ModelStatement, UnsupportedFormatError, read_model_statement
from mlsec_gates.signing.keys import Verifier, load_verifier
from mlsec_gates.storage import Storage

GATE = "verify"

_INCOMPLETE = {
    rules.UnsupportedFormat.id,
    rules.UnreadableFile.id,
    rules.PermissionsUnchecked.id,
}
"""Findings that mean something was not checked: the gate errs, whatever ``on_fail`` says."""


def run_verify(
    model: str,
    *,
    signature: str,
    public_key: str | None = None,
    kms_key_id: str | None = None,
    attachments: Sequence[str] = (),
    policy: Policy | None = None,
    storage: Storage | None = None,
    workers: int | None = None,
) -> GateResult:
    """Verify a model against its signature without writing reports (see ``verify_gate``).

    Raises:
        ConfigError: invalid key or arguments.
        InputError: the model, signature or key does not exist.
        StorageError: S3 or KMS refused access.
    """
    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.gates.verify
    if isinstance(attachments, str):
        attachments = [attachments]
    verifier = load_verifier(public_key=public_key, kms_key_id=kms_key_id, storage=storage)
    with storage.open_read(signature) as fh:
        raw = fh.read()
    details: dict[str, Any] = {"model": model, "signature": signature}
    sig_location = Location(uri=signature)

    try:
        statement = read_model_statement(verify_bundle(parse_bundle(raw), verifier))
    except WrongKeyError as exc:
        finding = rules.WrongKey.finding(str(exc), sig_location, {"error": str(exc)})
        return _result(started, [finding], [], details, policy)
    except UnsupportedFormatError as exc:
        finding = rules.UnsupportedFormat.finding(str(exc), sig_location, {"error": str(exc)})
        return _result(started, [finding], [], details, policy)
    except VerificationError as exc:
        finding = rules.SignatureInvalid.finding(
            f"invalid signature: {exc}", sig_location, {"error": str(exc)}
        )
        return _result(started, [finding], [], details, policy)
    details.update(model_name=statement.name, root_digest=statement.root_digest)

    recorded = {name: _sibling(signature, name) for name in statement.attachments}
    listing, _ = list_model(
        model,
        storage=storage,
        ignore=statement.ignore_paths,
        written=[signature, *recorded.values()],
    )
    findings = tree_findings(
        listing,
        section,
        refused=rules.VerifyRefusedPath,
        empty_dir=rules.VerifyEmptyDir,
        unsupported=rules.VerifyUnsupportedFile,
    )
    try:
        actual = {d.path: d for d in digest_files(listing, storage=storage, workers=workers)}
    except InputError as exc:
        reason = exc.diagnostics()
        findings.append(
            rules.UnreadableFile.finding(
                f"a model file could not be read, so the model was not checked: {reason}",
                Location(uri=model),
                {"error": reason},
            )
        )
        return _result(started, findings, [], details, policy)

    content, subjects = _compare(statement, actual, listing)
    findings.extend(content)
    findings.extend(_modes(statement, actual, listing, section))
    findings.extend(
        _attachments(statement, recorded, attachments, verifier=verifier, storage=storage)
    )
    details["attachments"] = sorted(recorded.values()) + list(attachments)
    return _result(started, findings, subjects, details, policy, files=actual)


def _shown(path: str, where: Location) -> str:
    """The file as a message names it: ``.`` (a single-file model) is the model's own path."""
    return where.uri if path in (".", "") else path


def _sibling(signature: str, name: str) -> str:
    if Storage.is_remote(signature):
        return signature.rsplit("/", 1)[0] + "/" + name
    return str(Path(signature).parent / name)


def _compare(
    statement: ModelStatement, actual: dict[str, FileDigest], listing: TreeListing
) -> tuple[list[Finding], list[Subject]]:
    """Modified, missing and added files (a rename shows as missing + added, and says so)."""
    findings: list[Finding] = []
    subjects: list[Subject] = []
    odd = set(listing.symlinks) | set(listing.special)  # already reported by the tree check
    missing = [p for p in statement.files if p not in actual and p not in odd]
    missing_by_digest = {statement.files[p]: p for p in missing}
    for path, expected in statement.files.items():
        where = Location(uri=listing.location(path))
        if path in actual:
            got = actual[path]
            verdict = "pass" if got.sha256 == expected else "modified"
            if verdict == "modified":
                findings.append(
                    rules.FileModified.finding(
                        f"{_shown(path, where)} was modified since signing",
                        where,
                        {"path": path, "expected_sha256": expected, "actual_sha256": got.sha256},
                        identity=path,
                    )
                )
            subjects.append(Subject(where.uri, got.sha256, got.size, "model-file", verdict))
        elif path in odd:
            subjects.append(Subject(where.uri, None, None, "model-file", "replaced"))
        else:
            findings.append(
                rules.FileMissing.finding(
                    f"{_shown(path, where)} was signed but is missing",
                    where,
                    {"path": path, "expected_sha256": expected},
                    identity=path,
                )
            )
            subjects.append(Subject(where.uri, None, None, "model-file", "missing"))
    for path, got in actual.items():
        if path in statement.files:
            continue
        where = Location(uri=listing.location(path))
        renamed = missing_by_digest.get(got.sha256)
        hint = f" (same content as the missing {renamed}: renamed?)" if renamed else ""
        findings.append(
            rules.FileAdded.finding(
                f"{path} is not covered by the signature{hint}",
                where,
                {"path": path, "actual_sha256": got.sha256, "same_as_missing": renamed},
                identity=path,
            )
        )
        subjects.append(Subject(where.uri, got.sha256, got.size, "model-file", "added"))
    return findings, subjects


def _modes(
    statement: ModelStatement,
    actual: dict[str, FileDigest],
    listing: TreeListing,
    section: SignPolicy,
) -> list[Finding]:
    if not section.check_permissions:
        return []
    if statement.modes is None:
        return [
            rules.PermissionsUnchecked.finding(
                "check_permissions is on but the signature records no file modes (signed by "
                "stock model-signing?)",
                Location(uri=listing.root),
                {"reason": "not recorded"},
            )
        ]
    findings: list[Finding] = []
    for path, got in actual.items():
        if path not in statement.files or path not in statement.modes:
            continue
        if got.mode is None:
            return [
                rules.PermissionsUnchecked.finding(
                    "check_permissions is on but the storage has no permission bits (S3)",
                    Location(uri=listing.root),
                    {"reason": "no modes in storage"},
                )
            ]
        expected = statement.modes[path]
        if got.mode != expected:
            findings.append(
                rules.PermissionsChanged.finding(
                    f"{path} mode changed from {expected:04o} to {got.mode:04o}",
                    Location(uri=listing.location(path)),
                    {"path": path, "expected_mode": f"{expected:04o}", "mode": f"{got.mode:04o}"},
                    identity=path,
                )
            )
    return findings


def _attachments(
    statement: ModelStatement,
    recorded: dict[str, str],
    extra: Sequence[str],
    *,
    verifier: Verifier,
    storage: Storage,
) -> list[Finding]:
    findings: list[Finding] = []
    for uri in [*recorded.values(), *(u for u in extra if u not in recorded.values())]:
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        where = Location(uri=uri)
        try:
            with storage.open_read(uri) as fh:
                data = fh.read()
        except InputError as exc:
            findings.append(
                rules.AttachmentMissing.finding(
                    f"attachment {name} is missing: {exc.diagnostics()}",
                    where,
                    {"attachment": name},
                    identity=name,
                )
            )
            continue
        try:
            expected = statement.attachments.get(name)
            if expected is not None and hashlib.sha256(data).hexdigest() != expected:
                raise VerificationError("the file differs from the one recorded at signing")
            try:
                envelope = loads_json(data)
            except ValueError as exc:
                raise VerificationError(f"not JSON ({exc})") from None
            verify_attachment(envelope, verifier, root=statement.root_digest)
        except VerificationError as exc:
            findings.append(
                rules.AttachmentInvalid.finding(
                    f"attachment {name} does not verify: {exc}",
                    where,
                    {"attachment": name, "error": str(exc)},
                    identity=name,
                )
            )
    return findings


def _result(
    started: datetime,
    findings: list[Finding],
    subjects: list[Subject],
    details: dict[str, Any],
    policy: Policy,
    *,
    files: dict[str, FileDigest] | None = None,
) -> GateResult:
    incomplete = any(f.rule_id in _INCOMPLETE for f in findings)
    status = decide(
        violations=bool(findings), incomplete=incomplete, on_fail=policy.on_fail_for(GATE)
    )
    checked = files or {}
    if status == Status.PASS:
        summary = (
            f"Valid: {len(checked)} file(s) of {details.get('model_name')} match the signature "
            f"(root sha256 {str(details.get('root_digest'))[:16]}…)."
        )
    else:
        summary = f"{len(findings)} finding(s). First: {findings[0].message}."
    return GateResult(
        gate=GATE,
        status=status,
        summary=summary,
        findings=tuple(findings),
        subjects=tuple(subjects),
        started_at=started,
        finished_at=now(),
        metrics={
            "files_checked": len(checked),
            "bytes_checked": sum(d.size for d in checked.values()),
            "findings": len(findings),
        },
        tool_versions=tool_versions("cryptography", "boto3"),
        policy=policy.effective(GATE),
        details=details,
    )
