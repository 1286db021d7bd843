"""One report per pipeline run, gathering every gate: what ops reads after a failed run.

Example:
    >>> from mlsec_gates.reports.combined import write_combined_report
    >>> write_combined_report(["reports/run-1/"], "reports/run-1")  # doctest: +SKIP
    {'json': '/.../combined-report.json', 'markdown': '/.../combined-report.md',
     'html': '/.../combined-report.html'}

The input is either the :class:`~mlsec_gates.result.GateResult` objects of a run (``mlsec-gates
run``) or the JSON reports the gates wrote (Airflow and KFP runs: folders, ``s3://`` prefixes
or ``*-report.json`` files). The output, written atomically next to each other:

* ``combined-report.html``: a self-contained page (no external asset) with a status board
  (gate, status, counts, duration), then each finding with its evidence (the offending
  global and byte offset, the failing rows, the drifted columns and their plots), why it
  matters (which of the five pillars, docs/threat-model.md), what to do, and the waived
  findings with approver and expiry;
* ``combined-report.md``: the same on one screen;
* ``combined-report.json``: the board plus every gate report, for machines.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import jinja2

from mlsec_gates.bounded import loads_json
from mlsec_gates.chain.plan import STEP_ORDER
from mlsec_gates.errors import InputError
from mlsec_gates.reports.html import evidence_view, template_environment
from mlsec_gates.reports.markdown import _code, _row, _text
from mlsec_gates.reports.pillars import PILLARS, pillar_for
from mlsec_gates.result import GateResult
from mlsec_gates.storage import Storage, join, resolve_path

__all__ = ["COMBINED_SCHEMA_VERSION", "gather_reports", "write_combined_report"]

#: Version of the combined JSON layout (docs/report-schema.md, "Combined report").
COMBINED_SCHEMA_VERSION = "1.0"

_NAMES = {
    "json": "combined-report.json",
    "markdown": "combined-report.md",
    "html": "combined-report.html",
}
_ORDER = (*STEP_ORDER, "verify")
_RANK = {"error": 3, "fail": 2, "warn": 1, "pass": 0}
_WORD = {"pass": "PASSED", "warn": "PASSED WITH WARNINGS", "fail": "FAILED", "error": "ERROR"}
_SEVERITY_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
#: Findings shown per gate in the HTML page (all are in the JSON and the gate's own report).
_MAX_FINDINGS = 50
_MAX_IMAGES = 24
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+")


def write_combined_report(
    results: Sequence[GateResult | str],
    out_dir: str,
    *,
    run_context: Mapping[str, str] | None = None,
    storage: Storage | None = None,
    not_run: Sequence[str] = (),
) -> dict[str, str]:
    """Write the combined HTML, Markdown and JSON reports of one pipeline run.

    Args:
        results: gate results, or JSON report paths/URIs, or folders/``s3://`` prefixes
            holding ``*-report.json`` files (searched recursively); mixed is fine.
        out_dir: directory or ``s3://`` prefix for ``combined-report.{html,md,json}``.
        run_context: where the run happened (Airflow dag/run ids, KFP run id), shown on top.
        storage: reads the reports and writes the output (default: local files and S3).
        not_run: steps that did not run because an earlier gate stopped the chain.

    Returns:
        Report kind (``json``, ``markdown``, ``html``) -> absolute path or ``s3://`` URI.

    Raises:
        InputError: no gate report found, or a file that is not a gate report.
        StorageError: a report could not be read or written.
    """
    storage = storage or Storage()
    reports = gather_reports(results, storage=storage)
    located = {
        kind: join(out_dir, name) if storage.is_remote(out_dir) else _absolute(join(out_dir, name))
        for kind, name in _NAMES.items()
    }
    model = _model(reports, run_context or {}, not_run, located)
    html = _template().render(m=model, pillars=PILLARS)
    storage.write_bytes(located["html"], html.encode(), content_type="text/html")
    storage.write_bytes(
        located["markdown"], render_combined_markdown(model).encode(), content_type="text/markdown"
    )
    body = {k: v for k, v in model.items() if not k.startswith("_")}
    storage.write_bytes(
        located["json"],
        (json.dumps(body, indent=2, sort_keys=True, default=str) + "\n").encode(),
        content_type="application/json",
    )
    return located


def gather_reports(
    items: Sequence[GateResult | str], *, storage: Storage | None = None
) -> list[dict[str, Any]]:
    """Every gate report named by ``items``, as JSON dicts, in chain order.

    Raises:
        InputError: nothing found, or a JSON file that is not a gate report.
    """
    storage = storage or Storage()
    if isinstance(items, (str, GateResult)):
        items = [items]
    found: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, GateResult):
            found.append(item.to_dict())
            continue
        uris = [item] if item.endswith(".json") else _report_files(item, storage)
        found += [_load_report(uri, storage) for uri in uris]
    if not found:
        raise InputError("no gate report to combine")
    return sorted(found, key=_order)


def render_combined_markdown(model: Mapping[str, Any]) -> str:
    """The one-screen summary: the board, the failing gates' worst findings, the waivers."""
    lines = [f"# mlsec-gates run: {model['headline']}", ""]
    lines += ["| gate | status | findings | waived | duration |", "|---|---|---|---|---|"]
    for row in model["board"]:
        lines.append(
            _row(
                row["gate"],
                row["status"].upper(),
                row["counts_text"] or "-",
                str(row["waived"]),
                f"{row['duration_seconds']} s" if row["duration_seconds"] is not None else "-",
            )
        )
    lines.append("")
    for gate in model["_gates"]:
        if gate["status"] in ("pass", "not run") or not gate["findings"]:
            continue
        lines.append(f"## {gate['gate']}: {_WORD[gate['status']]}")
        lines += ["", _text(gate["summary"]), ""]
        for f in [f for f in gate["findings"] if not f["waiver"]][:5]:
            lines.append(
                f"- **{f['severity']}** `{f['rule_id']}` at {_code(f['where'])}: "
                f"{_text(f['message'])}"
            )
            if f["pillar"]:
                lines.append(f"  - why: {f['pillar']['title']}. {_text(f['why'])}")
            if f["todo"]:
                lines.append(f"  - what to do: {_text(f['todo'])}")
        lines.append("")
    if model["waived"]:
        lines.append("Waived (still listed, not counted):")
        lines += [
            f"- `{w['fingerprint']}` {w['gate']} `{w['rule_id']}`: waiver {w['waiver']['id']} "
            f"by {_text(w['waiver']['approver'])}, expires {w['waiver']['expires']}"
            for w in model["waived"]
        ]
        lines.append("")
    lines.append(f"Full report: {model['reports']['html']}")
    return "\n".join(lines).rstrip() + "\n"


# -- model ------------------------------------------------------------------------------


def _model(
    reports: list[dict[str, Any]],
    run_context: Mapping[str, str],
    not_run: Sequence[str],
    located: Mapping[str, str],
) -> dict[str, Any]:
    """Everything the three renderings show; keys starting with ``_`` stay out of the JSON."""
    status = max((r["status"] for r in reports), key=_RANK.__getitem__)
    stopped = next((r["gate"] for r in reports if r["status"] in ("fail", "error")), None)
    headline = _WORD[status] + (f" at {stopped}" if stopped else "")
    out_dir = str(Path(located["html"]).parent) if not located["html"].startswith("s3://") else ""
    gates = [_gate_view(r, out_dir) for r in reports]
    gates += [
        {"gate": name, "status": "not run", "findings": [], "summary": "", "images": []}
        for name in not_run
    ]
    board = [_board_row(g) for g in gates]
    waived = [
        {
            "gate": g["gate"],
            "fingerprint": f["fingerprint"],
            "rule_id": f["rule_id"],
            "message": f["message"],
            "waiver": f["waiver"],
        }
        for g in gates
        for f in g["findings"]
        if f["waiver"]
    ]
    sources = list(
        dict.fromkeys(s for r in reports for s in r.get("policy", {}).get("sources", []))
    )
    return {
        "kind": "mlsec-gates/combined-report",
        "schema_version": COMBINED_SCHEMA_VERSION,
        "status": status,
        "passed": status in ("pass", "warn"),
        "headline": headline,
        "stopped_at": stopped,
        "not_run": list(not_run),
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "run_context": dict(run_context),
        "policy_sources": sources,
        "board": board,
        "waived": waived,
        "reports": dict(located),
        "gates": reports,
        "_gates": gates,
    }


def _gate_view(report: Mapping[str, Any], out_dir: str) -> dict[str, Any]:
    """One gate's section: its findings with pillar, why, what to do, and its plots."""
    gate = str(report["gate"])
    findings = sorted(
        (_finding_view(gate, f) for f in report.get("findings", [])),
        key=lambda f: (f["waiver"] is not None, -_SEVERITY_RANK.get(f["severity"], 0)),
    )
    html_report = report.get("reports", {}).get("html")
    return {
        "gate": gate,
        "status": report["status"],
        "summary": report.get("summary", ""),
        "counts": report.get("counts", {}),
        "duration_seconds": report.get("duration_seconds"),
        "started_at": report.get("started_at"),
        "policy": report.get("policy", {}),
        "findings": findings,
        "shown": findings[:_MAX_FINDINGS],
        "hidden": max(0, len(findings) - _MAX_FINDINGS),
        "pillar": pillar_for(gate),
        "images": _gate_images(report.get("details") or {}),
        "report_html": html_report,
        "report_href": _href(html_report, out_dir),
        "artifacts": [
            {"kind": kind, "uri": uri, "href": _href(uri, out_dir)}
            for kind, uri in report.get("reports", {}).items()
            if kind not in ("json", "markdown", "html") and isinstance(uri, str)
        ],
    }


def _finding_view(gate: str, finding: Mapping[str, Any]) -> dict[str, Any]:
    location = finding.get("location") or {}
    pillar = pillar_for(gate, finding.get("rule_id"))
    where = str(location.get("uri", ""))
    if location.get("member"):
        where += f"!{location['member']}"
    if location.get("offset") is not None:
        where += f"@{location['offset']}"
    if location.get("detail"):
        where += f" ({location['detail']})"
    return {
        "rule_id": finding.get("rule_id", ""),
        "severity": finding.get("severity", "info"),
        "message": finding.get("message", ""),
        "location": location,
        "where": where,
        "evidence": [(k, evidence_view(v)) for k, v in (finding.get("evidence") or {}).items()],
        "images": _images(finding.get("evidence") or {}, "evidence")[:4],
        "pillar": {"key": pillar.key, "title": pillar.title} if pillar else None,
        "why": finding.get("why") or (pillar.threat if pillar else ""),
        "todo": finding.get("remediation") or (pillar.next_step if pillar else ""),
        "fingerprint": finding.get("fingerprint", ""),
        "waiver": finding.get("waiver"),
    }


def _board_row(gate: Mapping[str, Any]) -> dict[str, Any]:
    counts = {k: v for k, v in gate.get("counts", {}).items() if k != "waived"}
    return {
        "gate": gate["gate"],
        "status": gate["status"],
        "counts": counts,
        "counts_text": ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()),
        "waived": sum(1 for f in gate["findings"] if f["waiver"]),
        "duration_seconds": gate.get("duration_seconds"),
        "summary": gate.get("summary", ""),
        "report": gate.get("report_html"),
    }


def _images(value: Any, label: str, depth: int = 0) -> list[dict[str, str]]:
    """Plots kept in a report's details or evidence, as ``data:`` URIs safe for ``<img>``.

    PNG/JPEG/GIF/WebP data URIs are kept as they are; SVG text is base64-encoded into a data
    URI, so it is shown as an image and any script in it never runs.
    """
    if depth > 5:
        return []
    if isinstance(value, str):
        text = value.strip()
        if _DATA_IMAGE.fullmatch(text):
            return [{"label": label, "src": re.sub(r"\s", "", text)}]
        if text.startswith("<svg") or (text.startswith("<?xml") and "<svg" in text[:500]):
            encoded = base64.b64encode(text.encode()).decode()
            return [{"label": label, "src": f"data:image/svg+xml;base64,{encoded}"}]
        return []
    out: list[dict[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            out += _images(item, f"{label}.{key}" if depth else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value[:200]):
            out += _images(item, f"{label}[{index}]", depth + 1)
    return out


def _gate_images(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every plot a gate report holds, as ``<img>`` sources.

    The drift gate's per-column chart and the histograms of its drifted columns, then any
    image kept in ``details``.
    """
    found = _drift_chart(details) + _histograms(details) + _images(details, "details")
    return found[:_MAX_IMAGES]


def _histograms(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """The drift gate's reference-vs-current histograms (``details.histograms``).

    Drawn with the gate's own :func:`~mlsec_gates.gates.drift.plots.histogram_svg`.
    """
    histograms = details.get("histograms")
    if not isinstance(histograms, Mapping) or not histograms:
        return []
    from mlsec_gates.gates.drift.plots import histogram_svg

    out = []
    for column, data in histograms.items():
        svg = histogram_svg(data) if isinstance(data, dict) else ""
        if svg:
            src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
            label = f"{column}: reference (grey) vs current (orange)"
            out.append({"label": label, "src": src})
    return out


def _drift_chart(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """A bar chart of the drift gate's per-column checks, as an SVG ``data:`` URI.

    Each bar is how far the column is past its threshold, on a log scale: ``threshold / p``
    for p-value tests, ``statistic / threshold`` for distances; a bar that crosses the
    line drifted. Built from ``details.checks`` (the numbers the gate decided on); the
    column names are XML-escaped, and the chart is shown through ``<img>``.
    """
    checks = [
        c
        for c in details.get("checks", [])
        if isinstance(c, Mapping)
        and "column" in c  # per-column checks (the model-eval gate's checks have none)
        and isinstance(c.get("statistic"), (int, float))
        and isinstance(c.get("threshold"), (int, float))
        and c.get("threshold", 0) > 0
    ][:40]
    if not checks:
        return []
    row, label_w, bar_w, lo, hi = 20, 230, 380, -3.0, 6.0
    height = row * len(checks) + 30

    def x(score: float) -> float:
        return label_w + bar_w * (min(max(score, lo), hi) - lo) / (hi - lo)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 20}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for i, check in enumerate(checks):
        stat, threshold = float(check["statistic"]), float(check["threshold"])
        if check.get("statistic_kind") == "p_value":
            score = math.log10(threshold / max(stat, 1e-12))
        else:
            score = math.log10(max(stat, 1e-12) / threshold)
        y = 20 + i * row
        color = "#b3261e" if check.get("drifted") else "#8a96a3"
        name = xml_escape(str(check.get("column", "?"))[:32])
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{name}</text>')
        left, right = sorted((x(0.0), x(score)))
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 2}" width="{max(right - left, 1):.1f}" height="12" '
            f'fill="{color}"/>'
        )
    parts.append(
        f'<line x1="{x(0.0):.1f}" y1="14" x2="{x(0.0):.1f}" y2="{height - 6}" '
        'stroke="#1d232a" stroke-dasharray="3,2"/>'
    )
    parts.append(
        f'<text x="{x(0.0) + 4:.1f}" y="11">threshold (bars to the right drifted)</text></svg>'
    )
    encoded = base64.b64encode("".join(parts).encode()).decode()
    return [{"label": "drift per column", "src": f"data:image/svg+xml;base64,{encoded}"}]


# -- reading ----------------------------------------------------------------------------


def _report_files(where: str, storage: Storage) -> list[str]:
    files = [
        uri
        for uri in storage.list_files(where)
        if uri.endswith("-report.json") and not uri.endswith(_NAMES["json"])
    ]
    if not files:
        raise InputError(f"{where}: no gate report (*-report.json) found")
    return files


def _load_report(uri: str, storage: Storage) -> dict[str, Any]:
    try:
        data = loads_json(storage.read_text(uri))
    except ValueError as exc:
        raise InputError(f"{uri}: not JSON: {exc}") from None
    valid = (
        isinstance(data, dict)
        and isinstance(data.get("gate"), str)
        and data.get("status") in _RANK
        and str(data.get("schema_version", "")).startswith("1.")
    )
    if not valid:
        raise InputError(f"{uri}: not an mlsec-gates gate report (schema 1.x)")
    return data


def _order(report: Mapping[str, Any]) -> tuple[int, str]:
    gate = report.get("gate")
    rank = _ORDER.index(gate) if gate in _ORDER else len(_ORDER)
    return rank, str(report.get("started_at", ""))


def _href(path: str | None, out_dir: str) -> str | None:
    """A link from the combined page to a gate's own page (relative when both are local)."""
    if not path:
        return None
    if path.startswith("s3://") or not out_dir:
        return None
    try:
        return os.path.relpath(path, out_dir)
    except ValueError:
        return None


def _absolute(path: str) -> str:
    return str(resolve_path(path))


@cache
def _template() -> jinja2.Template:
    return template_environment().get_template("combined.html.j2")
