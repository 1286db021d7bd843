"""The one-screen Markdown summary: what the on-call person reads first (Slack, KFP UI, logs)."""

from __future__ import annotations

from mlsec_gates.reports.grouping import group_findings
from mlsec_gates.result import GateResult

_MAX_FINDINGS = 10
_ICON = {"pass": "PASSED", "warn": "PASSED WITH WARNINGS", "fail": "FAILED", "error": "ERROR"}


def render_markdown(result: GateResult) -> str:
    """A summary of at most about 30 lines: verdict, counts, the worst findings, next steps."""
    lines = [
        f"# mlsec-gates {result.gate}: {_ICON[result.status.value]}",
        "",
        _text(result.summary),
        "",
    ]
    digest = result.details.get("digest") if isinstance(result.details, dict) else None
    if digest:
        lines += _digest(digest)
    counts = result.counts()
    if counts:
        lines.append(
            "Counts: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        )
        lines.append("")
    ordered = sorted(result.findings, key=lambda f: f.severity, reverse=True)
    groups = group_findings(ordered)
    shown = groups[:_MAX_FINDINGS]
    if shown:
        lines += ["| severity | rule | where | what |", "|---|---|---|---|"]
        lines += [
            _row(
                g.finding.severity.label
                + (f" (waived: {g.finding.waiver.id})" if g.finding.waiver else ""),
                f"`{g.finding.rule_id}`",
                _code(g.locations[0]) + (f" and {g.count - 1} more" if g.count > 1 else ""),
                (f"x{g.count} " if g.count > 1 else "") + _text(g.finding.message),
            )
            for g in shown
        ]
        rest = sum(g.count for g in groups[_MAX_FINDINGS:])
        if rest:
            lines.append(f"\n... and {rest} more in the full report.")
        worst = [g.finding for g in shown]
        fixes = list(dict.fromkeys(f.remediation for f in worst if f.remediation))[:3]
        if fixes and not digest:  # a gate's digest says what to do once, above
            lines += ["", "What to do:"] + [f"- {fix}" for fix in fixes]
        lines.append("")
    sources = result.policy.get("sources") or [result.policy.get("source", "<defaults>")]
    lines.append(f"Policy: {_code(' <- '.join(reversed([str(s) for s in sources])))}")
    if "html" in result.reports:
        lines.append(f"Full report: {result.reports['html']}")
    return "\n".join(lines).rstrip() + "\n"


def _digest(digest: dict) -> list[str]:
    """A gate's plain-language digest: its tables, what to do (once), and caveats."""
    lines: list[str] = []
    for section in digest.get("sections") or []:
        lines += [f"**{_text(section['title'])}**", ""]
        lines.append(_row(*(_text(str(c)) for c in section["columns"])))
        lines.append("|" + "---|" * len(section["columns"]))
        lines += [
            _row(*(_text("" if v is None else str(v)) for v in row)) for row in section["rows"]
        ]
        if section.get("note"):
            lines += ["", _text(section["note"])]
        lines.append("")
    if digest.get("what_to_do"):
        lines += [f"What to do: {_text(digest['what_to_do'])}", ""]
    if digest.get("signal"):
        lines += [_text(digest["signal"]), ""]
    return lines


def _row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _text(text: str) -> str:
    """Markdown text from untrusted strings (pickle global names, file names).

    ``<`` and ``>`` are backslash-escaped so that a renderer (the KFP UI) never takes them for
    HTML, such as a global named ``<img onerror=...>``, and shows ``<opaque>`` instead of
    dropping it as an unknown tag.
    """
    return text.replace("<", "\\<").replace(">", "\\>")


def _code(text: str) -> str:
    """A code span that a backtick inside ``text`` (a file name) cannot close early."""
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"
