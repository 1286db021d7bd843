"""The HTML of the gate-review pages: two plain tables, escaped, no scripts."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

import jinja2

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2433}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #dde;padding:.35rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f3f4f8}
.pass{color:#1a7f37}.warn{color:#9a6700}.fail,.error,.unreadable{color:#cf222e;font-weight:600}
nav a{margin-right:1rem}
"""

_RUNS = """<!doctype html><html><head><meta charset="utf-8"><title>Security gates</title>
<style>{{ style }}</style></head><body>
<nav><a href="./">Gate runs</a><a href="waivers">Open waivers</a></nav>
<h1>Recent gate runs</h1>
{% if not rows %}<p>No gate run yet in the DAGs you may read.</p>{% else %}
<table><tr><th>When</th><th>DAG</th><th>Run</th><th>Task</th><th>Gate</th><th>Verdict</th>
<th>Summary</th><th>Report</th></tr>
{% for r in rows %}<tr><td>{{ r.timestamp }}</td><td>{{ r.dag_id }}</td><td>{{ r.run_id }}</td>
<td>{{ r.task_id }}{% if r.map_index != -1 %}[{{ r.map_index }}]{% endif %}</td>
<td>{{ r.gate }}</td><td class="{{ r.status }}">{{ r.status | upper }}</td>
<td>{{ r.summary }}</td><td><a href="report?{{ r.query }}">HTML</a>
<a href="report?{{ r.query }}&amp;format=json">JSON</a></td></tr>{% endfor %}
</table>{% endif %}</body></html>"""

_WAIVERS = """<!doctype html><html><head><meta charset="utf-8"><title>Open waivers</title>
<style>{{ style }}</style></head><body>
<nav><a href="./">Gate runs</a><a href="waivers">Open waivers</a></nav>
<h1>Open waivers</h1><p>Policy: <code>{{ data.policy or "(none)" }}</code></p>
{% if data.problem %}<p class="error">{{ data.problem }}</p>{% endif %}
{% if not data.waivers %}<p>No waiver in force.</p>{% else %}
<table><tr><th>Id</th><th>Fingerprint</th><th>Gate</th><th>Expires (UTC)</th><th>Approver</th>
<th>Reason</th></tr>
{% for w in data.waivers %}<tr><td>{{ w.id }}</td><td><code>{{ w.fingerprint }}</code></td>
<td>{{ w.gate or "any" }}</td><td>{{ w.expires }}</td><td>{{ w.approver }}</td>
<td>{{ w.reason }}</td></tr>{% endfor %}</table>{% endif %}</body></html>"""


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True)  # names and summaries come from the gates' input


def runs_page(rows: list[dict[str, Any]]) -> str:
    """The table of recent gate runs, each with links to its reports."""
    shown = [
        {
            **row,
            "query": urlencode({k: row[k] for k in ("dag_id", "run_id", "task_id", "map_index")}),
        }
        for row in rows
    ]
    return _env().from_string(_RUNS).render(rows=shown, style=_STYLE)


def waivers_page(data: dict[str, Any]) -> str:
    """The table of waivers in force (as returned by ``runs.open_waivers``)."""
    return _env().from_string(_WAIVERS).render(data=data, style=_STYLE)
