"""The SARIF 2.1.0 report, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

One ``run``: the tool (``mlsec-gates``) with the gate's rule catalogue as ``rules`` (id, short
description, remediation as ``help``, default level from the severity, and GitHub's
``security-severity``), one ``result`` per finding (level, message, the file as
``artifactLocation``, a byte offset as ``region.byteOffset`` when the finding is at an offset
of the file itself, an archive member as a ``logicalLocation``), the finding fingerprint as
``partialFingerprints`` so dashboards track a finding across runs, the files checked as
``artifacts`` with their SHA-256, and whether the gate could check everything as
``invocations[0].executionSuccessful``. A waived finding stays listed with a ``suppressions``
entry (``external``, ``accepted``, the waiver's reason), as dashboards expect.

Example:
    >>> from mlsec_gates.gates.scan import run_scan
    >>> sarif = render_sarif(run_scan(["model.pkl"]))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from mlsec_gates import __version__
from mlsec_gates.result import Finding, GateResult, Severity, Status
from mlsec_gates.rules import Rule

__all__ = ["SARIF_GATES", "render_sarif", "sarif_level"]

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://pypi.org/project/mlsec-gates/"

#: Gates that write a SARIF report, and the module holding each one's ``RULES`` catalogue.
SARIF_GATES = {"scan": "mlsec_gates.gates.scan.rules"}

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning maps this to critical (>= 9), high (>= 7), medium (>= 4), low.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def sarif_level(severity: Severity) -> str:
    """SARIF ``level`` of a severity: ``error`` (critical, high), ``warning`` or ``note``."""
    return _LEVEL[severity]


def render_sarif(result: GateResult, rules: Sequence[type[Rule]] | None = None) -> str:
    """The SARIF 2.1.0 log of a gate run (JSON text).

    Args:
        result: the gate run.
        rules: the rule catalogue; default: the gate's ``RULES`` (see :data:`SARIF_GATES`).
    """
    catalogue = list(rules if rules is not None else _catalogue(result.gate))
    index = {rule.id: i for i, rule in enumerate(catalogue)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mlsec-gates",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(rule) for rule in catalogue],
            }
        },
        "invocations": [
            {
                "executionSuccessful": result.status is not Status.ERROR,
                "startTimeUtc": _utc(result.started_at.isoformat()),
                "endTimeUtc": _utc(result.finished_at.isoformat()),
                "properties": {"gate": result.gate, "status": result.status.value},
            }
        ],
        "artifacts": [_artifact(s.to_dict()) for s in result.subjects],
        "results": [_result(f, index) for f in result.findings],
        "properties": {"summary": result.summary, "metrics": result.metrics},
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, default=str, ensure_ascii=False) + "\n"


def _catalogue(gate: str) -> Sequence[type[Rule]]:
    module = SARIF_GATES.get(gate)
    if module is None:
        return ()
    found: Sequence[type[Rule]] = importlib.import_module(module).RULES
    return found


def _rule(rule: type[Rule]) -> dict[str, Any]:
    doc = (rule.__doc__ or rule.id).strip()
    short, _, rest = doc.partition("\n")
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": rule.__name__,
        "shortDescription": {"text": short.strip()},
        "defaultConfiguration": {"level": sarif_level(rule.severity)},
        "properties": {
            "severity": rule.severity.label,
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "tags": ["security"],
        },
    }
    description = " ".join(rest.split())
    if description:
        entry["fullDescription"] = {"text": description}
    if rule.remediation:
        entry["help"] = {"text": rule.remediation}
    if rule.why:
        entry["properties"]["why"] = rule.why
    return entry


def _uri(path: str) -> str:
    """A SARIF URI (RFC 3986): absolute paths as ``file://``, the rest percent-encoded.

    Spaces, ``<``, ``>``, ``%`` and non-ASCII characters in a file name or key are encoded.
    """
    from urllib.parse import quote

    if "://" in path:
        scheme, _, rest = path.partition("://")
        authority, slash, key = rest.partition("/")
        return f"{scheme}://{quote(authority, safe='')}{slash}{quote(key, safe='/')}"
    pure = PurePath(path)
    return pure.as_uri() if pure.is_absolute() else quote(pure.as_posix(), safe="/")


def _location(finding: Finding) -> dict[str, Any]:
    where = finding.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(where.uri)}}
    if where.offset is not None and where.member is None and where.offset >= 0:
        physical["region"] = {"byteOffset": where.offset}
    location: dict[str, Any] = {"physicalLocation": physical}
    if where.member:
        location["logicalLocations"] = [
            {
                "name": where.member,
                "fullyQualifiedName": f"{where.uri}!{where.member}",
                "kind": "resource",
            }
        ]
    extra = {
        key: value
        for key, value in (
            ("memberOffset", where.offset if where.member else None),
            ("detail", where.detail),
        )
        if value is not None
    }
    if extra:
        location["properties"] = extra
    return location


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "level": sarif_level(finding.severity),
        "message": {"text": finding.message},
        "locations": [_location(finding)],
        "partialFingerprints": {"mlsecFindingFingerprint/v1": finding.fingerprint},
        "properties": {
            "severity": finding.severity.label,
            "security-severity": _SECURITY_SEVERITY[finding.severity],
            "evidence": finding.evidence,
        },
    }
    if finding.rule_id in index:
        entry["ruleIndex"] = index[finding.rule_id]
    waiver = getattr(finding, "waiver", None)
    if waiver is not None:  # still listed, but accepted: dashboards show it as suppressed
        entry["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": waiver.reason,
                "properties": waiver.to_dict(),
            }
        ]
    return entry


def _artifact(subject: dict[str, Any]) -> dict[str, Any]:
    artifact: dict[str, Any] = {
        "location": {"uri": _uri(subject["path"])},
        "properties": {"verdict": subject["verdict"], "kind": subject["kind"]},
    }
    if subject.get("size") is not None:
        artifact["length"] = subject["size"]
    if subject.get("sha256"):
        artifact["hashes"] = {"sha-256": subject["sha256"]}
    return artifact


def _utc(stamp: str) -> str:
    """ISO 8601 in UTC with a ``Z`` (SARIF's ``date-time`` form)."""
    return stamp.replace("+00:00", "Z")
