"""Findings repeated across members are one report entry with a count (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

from mlsec_gates.gates.scan import rules
from mlsec_gates.reports import render_html, render_markdown
from mlsec_gates.reports.grouping import group_findings
from mlsec_gates.result import GateResult, Location, Status, Subject


def _unknown(member: str) -> object:
    return rules.UnknownGlobal.finding(
        f"pickle in {member} imports acme.Layer, which is not on the allowlist",
        Location(uri="model.tar", member=member),
        {"global": "acme.Layer"},
    )


def _result(findings: list) -> GateResult:
    return GateResult(
        gate="scan",
        status=Status.FAIL,
        summary="1 file(s) scanned",
        findings=tuple(findings),
        subjects=(Subject(path="model.tar", sha256="0" * 64, verdict="quarantine"),),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
    )


def test_same_problem_in_many_members_is_one_group() -> None:
    findings = [_unknown(f"shard{i}/data.pkl") for i in range(40)]
    findings.append(
        rules.DangerousGlobal.finding(
            "pickle imports os.system", Location(uri="model.tar", member="x.pkl"), {}
        )
    )
    groups = group_findings(findings)
    assert [g.count for g in groups] == [40, 1]
    assert groups[0].locations[3] == "model.tar!shard3/data.pkl"


def test_markdown_and_html_show_the_count_once() -> None:
    result = _result([_unknown(f"shard{i}/data.pkl") for i in range(40)])
    markdown = render_markdown(result)
    assert markdown.count("acme.Layer") == 1
    assert "x40" in markdown and "and 39 more" in markdown
    html = render_html(result)
    assert html.count("which is not on the allowlist") == 1
    assert "x40" in html and "40 places" in html
