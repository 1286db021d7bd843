"""Findings that repeat across members or files, folded into one entry with a count.

A checkpoint with 300 members that all import the same unknown class, or 40 joblib files
of one training run with the same finding, should read as one problem "x300", not as a page
of copies. Two findings are the same problem when rule, severity, waiver and message agree
once the member and file names they quote are taken out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlsec_gates.result import Finding


@dataclass
class FindingGroup:
    """One problem: the first finding and every location where it occurs."""

    finding: Finding
    locations: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many findings the group folds."""
        return len(self.locations)


def _key(finding: Finding) -> tuple[str, int, str, str]:
    message = finding.message
    for name in (finding.location.member, finding.location.uri):
        if name:
            message = message.replace(name, "…")
    waiver = finding.waiver.id if finding.waiver else ""
    return finding.rule_id, int(finding.severity), waiver, message


def group_findings(findings: list[Finding] | tuple[Finding, ...]) -> list[FindingGroup]:
    """Groups in first-seen order; each keeps the first finding as its example."""
    groups: dict[tuple[str, int, str, str], FindingGroup] = {}
    for finding in findings:
        group = groups.setdefault(_key(finding), FindingGroup(finding))
        group.locations.append(str(finding.location))
    return list(groups.values())
