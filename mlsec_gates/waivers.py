"""Waivers: accepted risks, named by finding fingerprint, with an approver and an expiry date.

A waiver lets one known finding pass while someone fixes it, without switching a gate to
``on_fail: warn``. It names the finding by its fingerprint (shown in every report), says why
and who approved, and stops applying after its ``expires`` day (UTC, inclusive). A waived
finding stays in every report, marked *waived*; every use is recorded in the provenance
ledger with the result.

Example:
    >>> from datetime import date
    >>> from mlsec_gates.policy import WaiverEntry
    >>> waiver = WaiverEntry(id="w-0123456789", fingerprint="19ada725d52d4bbd",
    ...                      reason="vendor fix due", approver="sec-oncall",
    ...                      expires=date(2026, 12, 31))
    >>> is_active(waiver, today=date(2026, 12, 31)), is_active(waiver, today=date(2027, 1, 1))
    (True, False)

Rules (docs/waivers.md):

* Waivers come from the policy's inline ``waivers`` list and its ``waivers_file``.
* ``error`` (the gate could not check everything) is never waived.
* When every finding that made the gate fail is waived (:func:`is_blocking`), the status
  becomes ``pass``; the summary says how many findings were waived.
* A finding that makes the scanner *block* a file (CRITICAL: known code execution) is only
  waived when the policy sets ``waivers_allow_scanner_blocks: true``.
* The sign gate decides to sign before waivers could apply, so its findings are not waived.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.policy import Policy, WaiverEntry, _describe, load_yaml_with_lines
from mlsec_gates.result import Finding, GateResult, Severity, Status, WaiverMark
from mlsec_gates.shared_file import update_file
from mlsec_gates.storage import Storage

__all__ = [
    "add_waiver",
    "apply_waivers",
    "is_active",
    "is_blocking",
    "load_waivers",
    "parse_waiver_file",
]

#: Below this severity, scan and drift findings are notices that never make the gate fail:
#: the scanner passes a file whose findings are all below MEDIUM
#: (``mlsec_gates.gates.scan.engine.verdict_for``); the drift gate's INFO/LOW findings are
#: schema, sample-size and report notices.
_NOTICE_BELOW = Severity.MEDIUM

#: From this severity on the scanner *blocks* a file (``verdict_for``): known code execution.
_SCANNER_BLOCK = Severity.CRITICAL

#: Gates whose findings a waiver cannot cover, and why.
_NOT_WAIVABLE: dict[str, str] = {
    "sign": "the sign gate refuses to sign before waivers apply; fix the model folder or "
    "gates.sign.refuse_paths",
}


class WaiverFile(BaseModel):
    """The waiver file ``mlsec-gates waive`` writes: a version and a list of waivers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    waivers: tuple[WaiverEntry, ...] = ()


def is_active(waiver: WaiverEntry, *, today: date) -> bool:
    """True while the waiver applies: up to and including its ``expires`` day (UTC)."""
    return today <= waiver.expires


def is_blocking(gate: str, finding: Finding, policy: Mapping[str, Any] | None = None) -> bool:
    """True when ``finding`` is one of those that make ``gate`` fail.

    Mirrors each gate's decision: the scanner fails on MEDIUM and above (quarantine or
    block); the drift gate on dataset drift, a poisoning alarm, and column drift only under
    ``fail_on: column`` (``policy`` is the result's effective policy); every other gate on
    any finding.
    """
    if gate == "scan":
        return finding.severity >= _NOTICE_BELOW
    if gate == "drift":
        from mlsec_gates.gates.drift import rules as drift_rules

        if finding.severity < _NOTICE_BELOW:
            return False
        if finding.rule_id in (drift_rules.ColumnDrift.id, drift_rules.EmptyColumn.id):
            return (policy or {}).get("fail_on") == "column"
    return True


def load_waivers(policy: Policy, storage: Storage) -> tuple[WaiverEntry, ...]:
    """The policy's inline waivers plus those of its ``waivers_file``.

    A waiver file that does not exist yet holds no waivers (the gates are then as strict as
    without one); ``mlsec-gates waive`` creates it.

    Raises:
        ConfigError: the waiver file is not valid (the message names its file and line).
        StorageError: it cannot be read.
    """
    from_file: tuple[WaiverEntry, ...] = ()
    if policy.waivers_file:
        text = _read_if_present(storage, policy.waivers_file)
        if text is not None:
            from_file = parse_waiver_file(text, source=policy.waivers_file)
    return (*policy.waivers, *from_file)


def parse_waiver_file(text: str, *, source: str) -> tuple[WaiverEntry, ...]:
    """The waivers of a waiver file.

    Raises:
        ConfigError: invalid YAML, unknown key, bad fingerprint or date; names file and line.
    """
    data, lines = load_yaml_with_lines(text, source=source)
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: a waiver file must be a mapping with a 'waivers' list")
    try:
        return WaiverFile.model_validate(data).waivers
    except ValidationError as exc:
        origins = {path: (source, line) for path, line in lines.items()}
        raise ConfigError(_describe(exc, origins, WaiverFile)) from None


def add_waiver(
    uri: str,
    *,
    fingerprint: str,
    reason: str,
    approver: str,
    expires: date | str,
    gate: str | None = None,
    storage: Storage | None = None,
    now: datetime | None = None,
) -> WaiverEntry:
    """Append a waiver to the waiver file at ``uri`` (created when missing), atomically.

    Concurrent calls never lose a waiver: the file is re-read and rewritten under a lock
    (local) or with a conditional put on its ETag, retried on a lost race (S3); see
    :func:`mlsec_gates.shared_file.update_file`.

    Returns:
        The new waiver, with its ``id``.

    Raises:
        ConfigError: a bad fingerprint, an empty reason or approver, an invalid date or one
            already past, or an invalid existing file.
        StorageError: the file cannot be read or written, or other writers kept changing it.
    """
    storage = storage or Storage()
    now = now or datetime.now(timezone.utc)
    fingerprint = fingerprint.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{16}", fingerprint):
        raise ConfigError(
            f"{fingerprint!r} is not a finding fingerprint (the 16 hex characters every "
            "report shows for each finding)"
        )
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires.strip())
        except ValueError:
            raise ConfigError(f"--expires: {expires!r} is not a date (YYYY-MM-DD)") from None
    if expires < now.date():
        raise ConfigError(f"--expires: {expires} is already past (today is {now.date()}, UTC)")
    created = now.isoformat(timespec="seconds")
    material = f"{fingerprint}|{approver}|{gate}|{created}".encode()
    try:
        waiver = WaiverEntry(
            id="w-" + hashlib.sha256(material).hexdigest()[:10],
            fingerprint=fingerprint,
            reason=reason.strip(),
            approver=approver.strip(),
            expires=expires,
            gate=gate,
            created_at=created,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{err['loc'][0]}: {err['msg']}") from None

    def with_waiver(text: str | None) -> bytes:
        existing = parse_waiver_file(text, source=uri) if text is not None else ()
        body = {
            "version": 1,
            "waivers": [w.model_dump(mode="json", exclude_none=True) for w in (*existing, waiver)],
        }
        header = "# mlsec-gates waivers (docs/waivers.md). Written by 'mlsec-gates waive'.\n"
        return (header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)).encode()

    update_file(uri, with_waiver, storage=storage)
    return waiver


def apply_waivers(
    result: GateResult,
    waivers: Sequence[WaiverEntry],
    *,
    allow_scanner_blocks: bool = False,
    today: date | None = None,
) -> GateResult:
    """Mark the findings that an active waiver covers, and decide the status again.

    The status becomes ``pass`` when the gate failed (or warned) and every finding that made
    it fail is now waived; ``error`` stays ``error``. Expired and refused waivers change
    nothing and are listed, with the applied ones, under ``details["waivers"]``.
    """
    today = today or datetime.now(timezone.utc).date()
    applied: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for finding in result.findings:
        matching = [
            w
            for w in waivers
            if w.fingerprint == finding.fingerprint and w.gate in (None, result.gate)
        ]
        active = sorted((w for w in matching if is_active(w, today=today)), key=_expiry)
        expired += [_use(w, finding) for w in matching if not is_active(w, today=today)]
        refusal = _refusal(result.gate, finding, allow_scanner_blocks)
        if active and refusal:
            refused.append({**_use(active[-1], finding), "why": refusal})
        elif active:
            chosen = active[-1]  # the one that lasts longest
            applied.append(_use(chosen, finding))
            mark = WaiverMark(
                id=chosen.id,
                approver=chosen.approver,
                reason=chosen.reason,
                expires=chosen.expires.isoformat(),
            )
            finding = replace(finding, waiver=mark)
        findings.append(finding)
    if not (applied or expired or refused):
        return result
    status, summary = result.status, result.summary
    still_failing = [
        f for f in findings if f.waiver is None and is_blocking(result.gate, f, result.policy)
    ]
    if applied and status in (Status.FAIL, Status.WARN) and not still_failing:
        status = Status.PASS
        summary += (
            f" Passed: every failing finding is waived ({len(applied)}; was {result.status.value})."
        )
    elif applied:
        summary += f" {len(applied)} finding(s) waived."
    if refused:
        summary += f" {len(refused)} waiver(s) refused ({refused[0]['why']})."
    record = {"applied": applied, "expired": expired, "refused": refused}
    return replace(
        result,
        status=status,
        summary=summary,
        findings=tuple(findings),
        details={**result.details, "waivers": record},
    )


def _refusal(gate: str, finding: Finding, allow_scanner_blocks: bool) -> str | None:
    """Why no waiver may cover this finding, or None."""
    if gate in _NOT_WAIVABLE:
        return _NOT_WAIVABLE[gate]
    if gate == "scan" and finding.severity >= _SCANNER_BLOCK and not allow_scanner_blocks:
        return "the scanner blocks this file; set waivers_allow_scanner_blocks: true to allow"
    return None


def _expiry(waiver: WaiverEntry) -> date:
    return waiver.expires


def _use(waiver: WaiverEntry, finding: Finding) -> dict[str, Any]:
    """One waiver use, as recorded in the result details and the ledger."""
    return {
        "waiver_id": waiver.id,
        "fingerprint": finding.fingerprint,
        "rule_id": finding.rule_id,
        "approver": waiver.approver,
        "expires": waiver.expires.isoformat(),
    }


def _read_if_present(storage: Storage, uri: str) -> str | None:
    """The text of a file, or None when it does not exist (other errors propagate)."""
    try:
        return storage.read_text(uri)
    except InputError as exc:
        if str(exc).endswith(("no such file", "no such S3 object")):
            return None
        raise
