"""One report per pipeline run, gathering every gate: what ops reads after a failed run.

Example:
    >>> from mlsec_gates.reports.combined import write_combined_report
    >>> write_combined_report(["reports/run-1/"], "reports/run-1")  # doctest: +SKIP
    {'json': '/.../combined-report.json', 'markdown': '/.../combined-report.md',
     'html': '/.../combined-report.html'}

The input is either the :class:`~mlsec_gates.result.GateResult` objects of a run (``mlsec-gates
run``) or the JSON reports the gates wrote (Airflow and KFP runs: folders, ``s3://`` prefixes,
``*-report.json`` files, or a KFP run's ``report_json`` outputs), plus the planned steps that
left no report: *not run* (an earlier gate or task stopped the run, or its stage never
started) and *could not run* (the task broke before its gate decided, e.g. no credentials),
each with the reason. The report is written even when no gate ran. The output, written
atomically next to each other:

* ``combined-report.html``: a self-contained page (no external asset) with a status board
  (gate, status, counts, duration), then each finding with its evidence (the offending
  global and byte offset, the failing rows, the drifted columns and their plots), why it
  matters (which of the five pillars, docs/threat-model.md), what to do, and the waived
  findings with approver and expiry;
* ``combined-report.md``: the same on one screen;
* ``combined-report.json``: the board plus every gate report, for machines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from mlsec_gates.bounded import loads_json
from mlsec_gates.chain.plan import STEP_ORDER
from mlsec_gates.errors import InputError
from mlsec_gates.reports.combined_plots import gate_images, images
from mlsec_gates.reports.html import evidence_view, template_environment
from mlsec_gates.reports.links import policy_link
from mlsec_gates.reports.markdown import _code, _row, _text
from mlsec_gates.reports.numbers import shown
from mlsec_gates.reports.pillars import PILLARS, pillar_for
from mlsec_gates.result import GateResult
from mlsec_gates.storage import Storage, join, resolve_path

if TYPE_CHECKING:
    from mlsec_gates.policy import Policy

__all__ = ["COMBINED_SCHEMA_VERSION", "gather_reports", "write_combined_report"]

#: Version of the combined JSON layout (docs/report-schema.md, "Combined report").
COMBINED_SCHEMA_VERSION = "1.1"

_NAMES = {
    "json": "combined-report.json",
    "markdown": "combined-report.md",
    "html": "combined-report.html",
}
_ORDER = (*STEP_ORDER, "verify")
_RANK = {"error": 3, "fail": 2, "warn": 1, "pass": 0}
#: The run's status: worst first ("incomplete": every gate that ran passed, some did not run).
_RUN_RANK = {"error": 5, "fail": 4, "not run": 3, "incomplete": 2, "warn": 1, "pass": 0}
_WORD = {
    "pass": "PASSED",
    "warn": "PASSED WITH WARNINGS",
    "fail": "FAILED",
    "error": "ERROR",
    "not run": "NOT RUN",
    "could not run": "COULD NOT RUN",
    "incomplete": "INCOMPLETE",
}
NOT_RUN = "not run"
COULD_NOT_RUN = "could not run"
_SEVERITY_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
#: Findings shown per gate in the HTML page (all are in the JSON and the gate's own report).
_MAX_FINDINGS = 50
#: Names under which KFP writes a gate component's JSON report output (no extension).
_KFP_JSON_OUTPUTS = ("report_json",)


def write_combined_report(
    results: Sequence[GateResult | str | Mapping[str, Any]],
    out_dir: str,
    *,
    run_context: Mapping[str, str] | None = None,
    storage: Storage | None = None,
    not_run: Sequence[str] = (),
    could_not_run: Mapping[str, str] | None = None,
    title: str | None = None,
    policy: Policy | None = None,
) -> dict[str, str]:
    """Write the combined HTML, Markdown and JSON reports of one pipeline run.

    Args:
        results: gate results, or JSON report paths/URIs, or folders/``s3://`` prefixes
            holding ``*-report.json`` files or KFP ``report_json`` outputs (searched
            recursively); mixed is fine.
        out_dir: directory or ``s3://`` prefix for ``combined-report.{html,md,json}``.
        run_context: where the run happened (Airflow dag/run ids, KFP run id), shown on top.
        storage: reads the reports and writes the output (default: local files and S3).
        not_run: planned steps that did not run (an earlier gate or task stopped the run,
            or their stage never started).
        could_not_run: planned steps whose task broke before the gate decided -> why.
        title: the page title; default from ``run_context`` (``<dag> · <run>``).
        policy: its ``storage.report_links`` turns ``s3://`` report locations into links.

    Returns:
        Report kind (``json``, ``markdown``, ``html``) -> absolute path or ``s3://`` URI.

    Raises:
        InputError: nothing to combine (no gate report and no planned step), or a file
            that is not a gate report.
        StorageError: a report could not be read or written.
    """
    storage = storage or Storage()
    missing = {**dict.fromkeys(not_run, ""), **(could_not_run or {})}
    reports = gather_reports(results, storage=storage, allow_empty=bool(missing))
    located = {
        kind: join(out_dir, name) if storage.is_remote(out_dir) else _absolute(join(out_dir, name))
        for kind, name in _NAMES.items()
    }
    context = dict(run_context or {})
    model = _model(
        reports,
        context,
        not_run=[s for s in not_run if s not in (could_not_run or {})],
        could_not_run=dict(could_not_run or {}),
        located=located,
        title=title or run_title(context),
        link=lambda uri: policy_link(uri, policy, storage),
    )
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


def run_title(run_context: Mapping[str, str]) -> str:
    """A readable title for a run: ``<dag> · <run>`` (Airflow), ``<pipeline> · <run>`` (KFP)."""
    orchestrator = run_context.get("orchestrator")
    if orchestrator == "airflow" and run_context.get("dag_id"):
        return f"{run_context['dag_id']} · {run_context.get('run_id', '')}".strip(" ·")
    if orchestrator == "kfp":
        name = run_context.get("pipeline") or "KFP pipeline"
        run = run_context.get("run_id", "")
        return f"{name} · {run}" if run and run != name else name
    return "mlsec-gates run"


def gather_reports(
    items: Sequence[GateResult | str | Mapping[str, Any]],
    *,
    storage: Storage | None = None,
    allow_empty: bool = False,
) -> list[dict[str, Any]]:
    """Every gate report named by ``items``, as JSON dicts, in chain order, once each.

    A folder is searched recursively for ``*-report.json`` files and KFP ``report_json``
    outputs (combined reports are skipped); the same report found twice (a KFP output and
    its collected copy) counts once.

    Raises:
        InputError: nothing found (unless ``allow_empty``), or a JSON file named like a gate
            report that is not one.
    """
    storage = storage or Storage()
    if isinstance(items, (str, GateResult, Mapping)):
        items = [items]
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in items:
        if isinstance(item, GateResult):
            loaded = [item.to_dict()]
        elif isinstance(item, Mapping):  # a report already read (or built from a verdict)
            loaded = [dict(item)]
        elif item.endswith(".json") or _is_kfp_json(item):
            loaded = [_load_report(item, storage)]
        else:
            loaded = _folder_reports(item, storage, allow_empty=allow_empty)
        for report in loaded:
            key = (str(report["gate"]), str(report.get("started_at")), str(report.get("summary")))
            found.setdefault(key, report)
    if not found and not allow_empty:
        raise InputError("no gate report to combine")
    return sorted(found.values(), key=_order)


def render_combined_markdown(model: Mapping[str, Any]) -> str:
    """The one-screen summary: the board, the failing gates' worst findings, the waivers."""
    lines = [f"# {model['title']}: {model['headline']}", ""]
    lines += ["| gate | status | findings | waived | duration |", "|---|---|---|---|---|"]
    for row in model["board"]:
        lines.append(
            _row(
                row["gate"],
                row["status"].upper(),
                row["counts_text"] or "-",
                str(row["waived"]),
                row["duration_text"] or "-",
            )
        )
    lines.append("")
    for gate in model["_gates"]:
        if gate["status"] == COULD_NOT_RUN:
            lines += [f"## {gate['gate']}: COULD NOT RUN", "", _text(gate["summary"]), ""]
        if gate["status"] in ("pass", NOT_RUN, COULD_NOT_RUN) or not gate["findings"]:
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
        if gate["report_link"]:
            lines.append(f"- gate report: {gate['report_link']}")
        lines.append("")
    if model["waived"]:
        lines.append("Waived (still listed, not counted):")
        lines += [
            f"- `{w['fingerprint']}` {w['gate']} `{w['rule_id']}`: waiver {w['waiver']['id']} "
            f"by {_text(w['waiver']['approver'])}, expires {w['waiver']['expires']}"
            for w in model["waived"]
        ]
        lines.append("")
    lines.append(f"Full report: {model['_links']['html']}")
    return "\n".join(lines).rstrip() + "\n"


# -- model ------------------------------------------------------------------------------


def _model(
    reports: list[dict[str, Any]],
    run_context: Mapping[str, str],
    *,
    not_run: Sequence[str],
    could_not_run: Mapping[str, str],
    located: Mapping[str, str],
    title: str,
    link: Any,
) -> dict[str, Any]:
    """Everything the three renderings show; keys starting with ``_`` stay out of the JSON."""
    out_dir = str(Path(located["html"]).parent) if not located["html"].startswith("s3://") else ""
    gates = [_gate_view(r, out_dir, link) for r in reports]
    gates += [_missing_view(name, COULD_NOT_RUN, why) for name, why in could_not_run.items()]
    gates += [_missing_view(name, NOT_RUN, "") for name in not_run]
    gates.sort(key=_order)
    status, stopped = _run_status(gates)
    headline = _headline(status, stopped, gates)
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
        "title": title,
        "status": status,
        "passed": status in ("pass", "warn"),
        "headline": headline,
        "stopped_at": stopped,
        "not_run": list(not_run),
        "could_not_run": dict(could_not_run),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_context": dict(run_context),
        "policy_sources": sources,
        "board": board,
        "waived": waived,
        "reports": dict(located),
        "gates": reports,
        "_gates": gates,
        "_links": {kind: link(uri) for kind, uri in located.items()},
    }


def _run_status(gates: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """The run's status and the step that stopped it (first failed, erred or broken)."""
    statuses = [g["status"] for g in gates]
    stopped = next(
        (g["gate"] for g in gates if g["status"] in ("fail", "error", COULD_NOT_RUN)), None
    )
    ran = [s for s in statuses if s in _RANK]
    if COULD_NOT_RUN in statuses:
        return "error", stopped
    if not ran:
        return NOT_RUN, stopped
    worst = max(ran, key=_RANK.__getitem__)
    if worst in ("pass", "warn") and NOT_RUN in statuses:
        return "incomplete", stopped
    return worst, stopped


def _headline(status: str, stopped: str | None, gates: Sequence[Mapping[str, Any]]) -> str:
    """``PASSED``, ``FAILED at drift``, ``COULD NOT RUN at scan``, ``INCOMPLETE: ...``."""
    if stopped:
        step = next(g for g in gates if g["gate"] == stopped)
        word = _WORD[step["status"]]
        return f"{word} at {stopped}"
    missing = [g["gate"] for g in gates if g["status"] == NOT_RUN]
    if status == NOT_RUN:
        return "NOT RUN: no gate ran (the run stopped before its first gate)"
    if status == "incomplete":
        return f"INCOMPLETE: {', '.join(missing)} not run"
    return _WORD[status]


def _missing_view(name: str, status: str, why: str) -> dict[str, Any]:
    """A board entry for a planned step without a report."""
    summary = why or "not run: the run stopped before this step (an earlier gate or task)"
    return {
        "gate": name,
        "status": status,
        "findings": [],
        "summary": summary if status == NOT_RUN else f"could not run: {why}",
        "images": [],
        "report_html": None,
        "report_link": None,
    }


def _gate_view(report: Mapping[str, Any], out_dir: str, link: Any) -> dict[str, Any]:
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
        "images": gate_images(report.get("details") or {}),
        "report_html": html_report,
        "report_href": _href(html_report, out_dir, link),
        "report_link": link(html_report) if html_report else None,
        "artifacts": [
            {"kind": kind, "uri": uri, "href": _href(uri, out_dir, link)}
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
        "images": images(finding.get("evidence") or {}, "evidence")[:4],
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
        "counts_text": ", ".join(f"{k.replace('_', ' ')} {shown(v)}" for k, v in counts.items()),
        "waived": sum(1 for f in gate["findings"] if f["waiver"]),
        "duration_seconds": gate.get("duration_seconds"),
        "duration_text": _seconds(gate.get("duration_seconds")),
        "summary": gate.get("summary", ""),
        "report": gate.get("report_html"),
    }


# -- reading ----------------------------------------------------------------------------


def _is_kfp_json(uri: str) -> bool:
    """A KFP gate component's JSON output (``.../<task>/report_json``, no extension)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] in _KFP_JSON_OUTPUTS


def _folder_reports(where: str, storage: Storage, *, allow_empty: bool) -> list[dict[str, Any]]:
    """The gate reports under a folder or prefix: ``*-report.json`` and KFP JSON outputs.

    A KFP ``report_json`` output that is not a gate report (the run's combined report,
    published under the same output name) is skipped.
    """
    try:
        files = storage.list_files(where)
    except InputError:
        if allow_empty:
            return []
        raise
    found = [
        _load_report(uri, storage)
        for uri in files
        if uri.endswith("-report.json") and not uri.endswith(_NAMES["json"])
    ]
    for uri in (u for u in files if _is_kfp_json(u)):
        try:
            found.append(_load_report(uri, storage))
        except InputError:
            continue  # the publish task's combined report, or another output
    if not found and not allow_empty:
        raise InputError(
            f"{where}: no gate report found (*-report.json files, or KFP report_json outputs)"
        )
    return found


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


def _href(path: str | None, out_dir: str, link: Any) -> str | None:
    """A link from the combined page to a gate's own page.

    Relative when both are local files; for ``s3://`` the policy's browsable or pre-signed
    URL (:mod:`mlsec_gates.reports.links`), or None when there is none (shown as text).
    """
    if not path:
        return None
    if path.startswith("s3://"):
        url = link(path)
        return url if url and not url.startswith("s3://") else None
    if "://" in path or not out_dir:
        return None
    try:
        return os.path.relpath(path, out_dir)
    except ValueError:
        return None


def _seconds(value: Any) -> str:
    """A duration as people read it: ``27.16 s``, ``0.116 s``; empty when unknown."""
    return f"{shown(float(value))} s" if isinstance(value, (int, float)) else ""


def _absolute(path: str) -> str:
    return str(resolve_path(path))


@cache
def _template() -> jinja2.Template:
    return template_environment().get_template("combined.html.j2")
