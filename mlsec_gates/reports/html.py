"""The self-contained HTML report an on-call person opens in a browser (no external assets)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from mlsec_gates.reports.numbers import rounded, shown
from mlsec_gates.result import GateResult


def template_environment() -> jinja2.Environment:
    """The Jinja environment of the packaged report templates, shared by every HTML report.

    Autoescape is always on because findings quote attacker-controlled names.
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader("mlsec_gates.reports", "templates"),
        autoescape=True,  # findings quote attacker-controlled names: always escape
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(),
    )


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's own per-user template cache, or None where it cannot be set up.

    Compiling the report template is the largest single cost of a CLI run on a small file
    (``benchmarks/scan_cold_start.py``). Jinja's default directory is private to the user
    (created 0700 and checked for ownership); the cache is keyed by the template's source.
    """
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@cache
def _template() -> jinja2.Template:
    env = template_environment()
    env.filters["evidence_view"] = evidence_view
    env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, default=str, ensure_ascii=False)
    env.filters["histogram_svg"] = _histogram_svg
    env.filters["svg_data_uri"] = _svg_data_uri
    return env.get_template("report.html.j2")


def evidence_view(value: Any) -> dict[str, Any]:
    """How to show one evidence value: plain text, a table, or indented JSON.

    A list of flat mappings (sample rows) is a table whose columns are the union of the keys;
    other lists and mappings are JSON; everything else is text. Generic for every gate.
    Floats are shown to 4 significant digits (the JSON report keeps every digit).
    """
    value = rounded(value)
    flat_rows = (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) for v in value)
        and all(not isinstance(x, (dict, list)) for row in value for x in row.values())
    )
    if flat_rows:
        headers = list(dict.fromkeys(k for row in value for k in row))
        rows = [[_cell(row.get(h)) for h in headers] for row in value]
        return {"kind": "table", "headers": headers, "rows": rows}
    if isinstance(value, (dict, list)):
        text = json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)
        if len(text) <= 80:
            text = json.dumps(value, default=str, ensure_ascii=False)
            return {"kind": "text", "text": text}
        return {"kind": "json", "text": text}
    return {"kind": "text", "text": shown(value)}


def _histogram_svg(data: Any) -> Markup:
    """A drift gate histogram (``details.histograms``) as inline SVG; its text is escaped."""
    from mlsec_gates.gates.drift.plots import histogram_svg

    return Markup(histogram_svg(data) if isinstance(data, dict) else "")


def _svg_data_uri(svg: Any) -> str:
    """An SVG plot as a ``data:`` URI for ``<img>`` (an image never runs script)."""
    import base64

    text = svg if isinstance(svg, str) else ""
    return "data:image/svg+xml;base64," + base64.b64encode(text.encode()).decode()


def _cell(value: Any) -> str:
    return shown(value)


def render_html(result: GateResult) -> str:
    """One page: status banner, what was checked, each finding with where, why and how to fix."""
    from mlsec_gates.reports.grouping import group_findings

    by_subject: dict[str, list[object]] = {}
    for finding in sorted(result.findings, key=lambda f: f.severity, reverse=True):
        by_subject.setdefault(finding.location.uri, []).append(finding)
    grouped = {path: group_findings(found) for path, found in by_subject.items()}  # type: ignore[arg-type]
    return _template().render(r=result, data=result.to_dict(), by_subject=grouped)
