"""Report writers: versioned JSON, one-screen Markdown, self-contained HTML, SARIF 2.1.0.

Reports are data about a :class:`~mlsec_gates.result.GateResult`; gates never write files
themselves. :func:`write_reports` renders all of them and writes each atomically, before any
adapter decides to fail the task, so a failed run always leaves its evidence behind.
"""

from __future__ import annotations

from mlsec_gates.reports.html import render_html
from mlsec_gates.reports.json_report import render_json
from mlsec_gates.reports.markdown import render_markdown
from mlsec_gates.reports.sarif import SARIF_GATES, render_sarif
from mlsec_gates.result import GateResult
from mlsec_gates.storage import Storage, join

__all__ = ["render_html", "render_json", "render_markdown", "render_sarif", "write_reports"]


def write_reports(
    result: GateResult,
    report_dir: str,
    *,
    storage: Storage,
    json_copy: str | None = None,
    sarif_copy: str | None = None,
) -> GateResult:
    """Write the JSON, Markdown and HTML reports of a run into a directory or S3 prefix.

    Gates with a rule catalogue (:data:`~mlsec_gates.reports.sarif.SARIF_GATES`, the scan
    gate) also get a SARIF 2.1.0 report (``<gate>-report.sarif``). Returns the result with
    ``reports`` filled in (kind -> path or URI); the JSON report lists the locations of all
    of them. ``json_copy`` (the CLI's ``--json-out``) and ``sarif_copy`` (``--sarif-out``)
    receive second copies.

    Raises:
        StorageError: a report could not be written.
    """
    names = {
        "json": join(report_dir, f"{result.gate}-report.json"),
        "markdown": join(report_dir, f"{result.gate}-report.md"),
        "html": join(report_dir, f"{result.gate}-report.html"),
    }
    if result.gate in SARIF_GATES:
        names["sarif"] = join(report_dir, f"{result.gate}-report.sarif")
    located = {
        kind: uri if storage.is_remote(uri) else _absolute(uri) for kind, uri in names.items()
    }
    # Keep what the gate wrote itself (the sbom gate's BOM) next to the reports.
    planned = result.with_reports({**result.reports, **located})
    json_bytes = render_json(planned).encode()
    storage.write_bytes(names["html"], render_html(planned).encode(), content_type="text/html")
    storage.write_bytes(
        names["markdown"], render_markdown(planned).encode(), content_type="text/markdown"
    )
    if "sarif" in names:
        sarif_bytes = render_sarif(planned).encode()
        for target in (names["sarif"], sarif_copy):
            if target:
                storage.write_bytes(target, sarif_bytes, content_type="application/sarif+json")
    for target in (names["json"], json_copy):
        if target:
            storage.write_bytes(target, json_bytes, content_type="application/json")
    return planned


def _absolute(path: str) -> str:
    from pathlib import Path

    return str(Path(path).resolve())
