"""The one result type every gate returns.

A gate never raises to say "the input is bad"; it returns a :class:`GateResult` whose
``status`` says so, with findings that carry the evidence. Exceptions are kept for the
cases where the gate could not run at all (see :mod:`mlsec_gates.errors`).

Example:
    >>> from mlsec_gates.result import Finding, Location, Severity
    >>> f = Finding(rule_id="scan.pickle.dangerous-global", severity=Severity.CRITICAL,
    ...             message="imports os.system", location=Location(uri="model.pkl", offset=2))
    >>> len(f.fingerprint)
    16
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

#: Version of the JSON report layout (docs/report-schema.md). Bump the major part on any
#: change that removes or renames a field.
SCHEMA_VERSION = "1.2"


class Severity(enum.IntEnum):
    """How bad a finding is. Ordered, so ``max()`` over findings gives the worst."""

    INFO = 10
    LOW = 20
    MEDIUM = 30
    HIGH = 40
    CRITICAL = 50

    @property
    def label(self) -> str:
        """Lower-case name used in reports."""
        return self.name.lower()


class Status(str, enum.Enum):
    """Outcome of a gate run.

    ``error`` means the gate could not check everything it was asked to check; it never
    passes, whatever the policy says.
    """

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True)
class Location:
    """Where a finding sits: the subject, and inside it a member, a byte offset, a row..."""

    uri: str
    """Path or URI of the subject (file, object, table)."""
    member: str | None = None
    """Member inside a container (zip entry, npz array, nested archive path)."""
    offset: int | None = None
    """Byte offset inside the member (or the file when there is no member)."""
    detail: str | None = None
    """Free-form extra position (opcode index, pickle stream number, column, row)."""

    def __str__(self) -> str:
        return self.uri + self.position

    @property
    def position(self) -> str:
        """Where inside the subject, e.g. ``!archive/data.pkl@827 (stream 1, opcode GLOBAL)``."""
        text = f"!{self.member}" if self.member else ""
        if self.offset is not None:
            text += f"@{self.offset}"
        if self.detail:
            text += f" ({self.detail})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "uri": self.uri,
            "member": self.member,
            "offset": self.offset,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class WaiverMark:
    """The waiver that covers a finding: who accepted the risk, why, and until when."""

    id: str
    """Id of the waiver in its waiver file (``w-…``)."""
    approver: str
    reason: str
    expires: str
    """Last day (UTC, inclusive) on which the waiver applies, ``YYYY-MM-DD``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "approver": self.approver,
            "reason": self.reason,
            "expires": self.expires,
        }


@dataclass(frozen=True)
class Finding:
    """One problem a rule found, with what an on-call person needs to act on it."""

    rule_id: str
    """Stable dotted id of the rule, e.g. ``scan.pickle.dangerous-global``."""
    severity: Severity
    message: str
    """One line: what was found."""
    location: Location
    evidence: dict[str, Any] = field(default_factory=dict)
    """Facts behind the finding (the offending global, the opcode, the observed value)."""
    remediation: str = ""
    """What to do about it."""
    why: str = ""
    """Why it matters (the threat), for the HTML report."""
    identity: str | None = None
    """What makes this the same finding in every run when the evidence holds values that vary
    between runs (counts, sample rows): e.g. the expectation and its arguments. When None, the
    evidence itself identifies the finding."""
    waiver: WaiverMark | None = None
    """Set when an unexpired waiver covers this finding (see :mod:`mlsec_gates.waivers`): the
    finding stays listed, but no longer counts against the gate."""

    @property
    def fingerprint(self) -> str:
        """Stable id of this finding, so that a waiver can name it.

        Built from the rule, the file *name* (not its directory: pipelines write each run to a
        new folder), the member, offset and detail of the location, and the identity (or the
        evidence when there is none); not from the message wording, the severity or the run
        time, so it survives re-runs and rewording.
        """
        material = json.dumps(
            [
                self.rule_id,
                PurePosixPath(self.location.uri.rstrip("/")).name,
                self.location.member,
                self.location.offset,
                self.location.detail,
                self.evidence if self.identity is None else self.identity,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "message": self.message,
            "location": self.location.to_dict(),
            "evidence": self.evidence,
            "remediation": self.remediation,
            "why": self.why,
            "fingerprint": self.fingerprint,
            "waiver": self.waiver.to_dict() if self.waiver else None,
        }


@dataclass(frozen=True)
class Subject:
    """One thing the gate checked (a file, an object, a table) and its verdict."""

    path: str
    """Local path or URI (``s3://bucket/key``) of what was checked."""
    sha256: str | None
    """Hex SHA-256 of the bytes checked; None when they could not be read."""
    size: int | None = None
    kind: str | None = None
    """What the gate recognised it as (``pickle``, ``pytorch-zip``, ``csv``...)."""
    verdict: str = "pass"
    """Gate-specific verdict, e.g. ``pass``, ``block``, ``quarantine`` for the scanner."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class GateResult:
    """What a gate run found and decided. Framework-neutral; adapters only read it."""

    gate: str
    status: Status
    summary: str
    """One line saying what was decided and why."""
    findings: tuple[Finding, ...]
    subjects: tuple[Subject, ...]
    started_at: datetime
    finished_at: datetime
    metrics: dict[str, float | int] = field(default_factory=dict)
    tool_versions: dict[str, str] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    """The effective policy of this gate, as applied."""
    reports: dict[str, str] = field(default_factory=dict)
    """Report kind (``json``, ``markdown``, ``html``) to its path or URI, once written."""
    details: dict[str, Any] = field(default_factory=dict)
    """Gate-specific raw material kept for machines (e.g. Great Expectations' own result)."""

    @property
    def passed(self) -> bool:
        """True when the pipeline may go on (``pass``, or ``warn`` under a warn-only policy)."""
        return self.status in (Status.PASS, Status.WARN)

    @property
    def severity(self) -> Severity | None:
        """The worst finding's severity, or None without findings."""
        return max((f.severity for f in self.findings), default=None)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity label, worst first, and subjects per verdict."""
        out: dict[str, int] = {}
        for sev in sorted(Severity, reverse=True):
            n = sum(1 for f in self.findings if f.severity == sev)
            if n:
                out[sev.label] = n
        waived = sum(1 for f in self.findings if f.waiver)
        if waived:
            out["waived"] = waived
        for subject in self.subjects:
            key = f"verdict_{subject.verdict}"
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON report body (schema in docs/report-schema.json)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "gate": self.gate,
            "status": self.status.value,
            "passed": self.passed,
            "summary": self.summary,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": round((self.finished_at - self.started_at).total_seconds(), 3),
            "counts": self.counts(),
            "metrics": self.metrics,
            "subjects": [s.to_dict() for s in self.subjects],
            "findings": [f.to_dict() for f in self.findings],
            "tool_versions": self.tool_versions,
            "policy": self.policy,
            "reports": self.reports,
            "details": self.details,
        }

    def with_reports(self, reports: dict[str, str]) -> GateResult:
        """A copy that records where the reports were written."""
        from dataclasses import replace

        return replace(self, reports=dict(reports))
