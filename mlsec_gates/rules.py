"""The base of every gate's rules: a finding type with a stable id, a severity and advice.

Each gate lists its rules, one small class each, in its own ``rules`` module (one explicit
``RULES`` tuple, no registration by import side effect). Reports, docs and waivers look ids,
severities, remediations and threats up there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mlsec_gates.result import Finding, Location, Severity


class Rule:
    """A finding type. Subclasses set the class variables; the gate calls :meth:`finding`."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    remediation: ClassVar[str] = ""
    why: ClassVar[str] = ""

    @classmethod
    def finding(
        cls,
        message: str,
        location: Location,
        evidence: dict[str, Any] | None = None,
        *,
        identity: str | None = None,
    ) -> Finding:
        """Build a :class:`Finding` of this rule (see :attr:`Finding.identity`)."""
        return Finding(
            rule_id=cls.id,
            severity=cls.severity,
            message=message,
            location=location,
            evidence=dict(evidence or {}),
            remediation=cls.remediation,
            why=cls.why,
            identity=identity,
        )
