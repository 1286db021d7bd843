"""The self-contained HTML report an on-call person opens in a browser (no external assets)."""

from __future__ import annotations

from functools import cache

import jinja2

from mlsec_gates.result import GateResult


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlsec_gates.reports", "templates"),
        autoescape=True,  # findings quote attacker-controlled names: always escape
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def render_html(result: GateResult) -> str:
    """One page: status banner, what was checked, each finding with where, why and how to fix."""
    by_subject: dict[str, list[object]] = {}
    for finding in sorted(result.findings, key=lambda f: f.severity, reverse=True):
        by_subject.setdefault(finding.location.uri, []).append(finding)
    return _template().render(r=result, data=result.to_dict(), by_subject=by_subject)
