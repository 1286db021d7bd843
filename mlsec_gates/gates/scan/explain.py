"""``mlsec-gates scan --explain``: why each file got its verdict, and what would change it.

For every file: the verdict, then each finding with its rule, where it is (member, offset,
opcode) and its evidence. For a global quarantined as unknown, the exact allowlist entry that
would accept it (a YAML snippet for ``gates.scan.allow_globals`` or the project allowlist
file, with a reason to fill in); for everything else (a known code-execution global, an
unparseable stream, a resource limit) it says that no allowlist entry can change the verdict.

The explanation is built from the :class:`~mlsec_gates.result.GateResult` alone (findings
and the effective policy), so it can be printed for any scan report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from mlsec_gates.result import Finding, GateResult, Severity

from . import rules

__all__ = ["explain_result", "suggest_entry"]

_ALLOWABLE = re.compile(r"^[A-Za-z_][\w.]*$")
_REASON = "<why you trust it: review, ticket, owner>"
_GLOBAL_RULES = (rules.UnknownGlobal.id, rules.DangerousGlobal.id)


def suggest_entry(global_name: str, project_allow: Mapping[str, str]) -> tuple[str, str | None]:
    """Whether an allowlist entry can accept an unknown global, and which one.

    Uses the allowlist's own judgement (``allowlist.explain_global``) when it provides one.

    Returns:
        ``(explanation, entry)``: the entry is the ``global`` value to add, or None when no
        entry can change the verdict.
    """
    module, _, name = global_name.rpartition(".")
    from . import allowlist

    judge = getattr(allowlist, "explain_global", None)
    if judge is not None and module:
        decision, reason, entry = judge(module, name, dict(project_allow))
        if entry is None and decision != "pass":
            return f"{decision}: {reason}; no allowlist entry can change it", None
        if isinstance(entry, Mapping):
            entry = entry.get("global")
        return f"{decision}: {reason}", str(entry) if entry else None
    if not module or not _ALLOWABLE.match(global_name):
        return (
            f"{global_name!r} is not a plain dotted name; no allowlist entry can accept it",
            None,
        )
    reason = allowlist.dangerous_reason(module, name)
    if reason is not None:
        return f"known code-execution global ({reason}); no allowlist entry can change it", None
    return "not on the built-in allowlist nor in the policy's", global_name


def explain_result(result: GateResult) -> str:
    """The ``--explain`` text of a scan result (several lines per file)."""
    allowed = _project_allow(result.policy)
    lines: list[str] = []
    suggestions: list[str] = []
    for subject in result.subjects:
        own = sorted(
            (f for f in result.findings if f.location.uri == subject.path),
            key=lambda f: f.severity,
            reverse=True,
        )
        lines.append(f"{subject.path}: {subject.verdict.upper()} ({subject.kind or 'unknown'})")
        if not own:
            lines.append("  no finding: every import is allowlisted and the format checks held")
        blockers: list[Finding] = []
        for finding in own:
            lines += _describe(finding)
            entry = None
            if finding.rule_id in _GLOBAL_RULES and finding.evidence.get("global"):
                text, entry = suggest_entry(str(finding.evidence.get("global", "")), allowed)
                lines.append(f"    allowlist: {text}")
                if entry and entry not in suggestions:
                    suggestions.append(entry)
            elif finding.severity >= Severity.MEDIUM:
                lines.append(f"    allowlist: no allowlist entry can change this ({_why(finding)})")
            if entry is None and finding.severity >= Severity.MEDIUM:
                blockers.append(finding)
        if subject.verdict != "pass":
            lines.append("  " + _outcome(own, blockers))
        lines.append("")
    orphans = [
        f for f in result.findings if f.location.uri not in {s.path for s in result.subjects}
    ]
    for finding in orphans:
        lines += _describe(finding)
    if suggestions:
        lines += [
            "To accept the unknown globals above, if you trust the producer, add to the policy",
            "(or list the same entries in the file named by gates.scan.allowlist_file):",
            "",
            "gates:",
            "  scan:",
            "    allow_globals:",
        ]
        for entry in suggestions:
            lines += [f"      - global: {entry}", f'        reason: "{_REASON}"']
    return "\n".join(lines).rstrip() + "\n"


def _project_allow(policy: Mapping[str, Any]) -> dict[str, str]:
    entries = policy.get("allow_globals_effective") or policy.get("allow_globals") or []
    out: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("global"), str):
            out[entry["global"]] = str(entry.get("reason", ""))
    return out


def _describe(finding: Finding) -> list[str]:
    where = finding.location.position.lstrip("!") or "(whole file)"
    evidence = json.dumps(finding.evidence, default=str, ensure_ascii=False, sort_keys=True)
    if len(evidence) > 300:
        evidence = evidence[:297] + "..."
    return [
        f"  - {finding.severity.label} {finding.rule_id} at {where}",
        f"    {finding.message}",
        f"    evidence: {evidence}",
    ]


def _why(finding: Finding) -> str:
    if finding.severity >= Severity.CRITICAL:
        return "known code execution or an obfuscated import: do not load the file"
    return "the file could not be fully checked; " + (
        finding.remediation.split(". ")[0].rstrip(".") or "re-export it"
    )


def _outcome(own: list[Finding], blockers: list[Finding]) -> str:
    if not blockers:
        return "=> the allowlist entries suggested below would let this file pass"
    rule_ids = ", ".join(dict.fromkeys(f.rule_id for f in blockers))
    return f"=> no allowlist entry alone can make this file pass: {rule_ids}"
