"""Report writers: versioned JSON, one-screen Markdown, self-contained HTML, SARIF 2.1.0.

Reports are data about a :class:`~mlsec_gates.result.GateResult`; gates never write files
themselves. :func:`write_reports` renders all of them and writes each atomically, before any
adapter decides to fail the task, so a failed run always leaves its evidence behind.
"""

from __future__ import annotations

import os

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
        ConfigError: the report folder's name is not UTF-8.
        StorageError: a report could not be written (none was published then, locally).
    """
    from mlsec_gates.errors import ConfigError
    from mlsec_gates.storage import display_path

    if display_path(report_dir) != report_dir:
        raise ConfigError(
            f"{display_path(report_dir)}: the report folder's name is not UTF-8; reports link "
            "to each other by name, so choose a folder whose name is UTF-8"
        )
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
    # Everything is rendered before anything is written, then written to temporary names and
    # published JSON first: a failure or a kill never leaves the human reports without the
    # machine verdict, nor a half-written file.
    json_bytes = _utf8(render_json(planned))
    files = [(names["json"], json_bytes, "application/json")]
    files.append((names["html"], _utf8(render_html(planned)), "text/html"))
    files.append((names["markdown"], _utf8(render_markdown(planned)), "text/markdown"))
    if "sarif" in names:
        sarif_bytes = _utf8(render_sarif(planned))
        files.append((names["sarif"], sarif_bytes, "application/sarif+json"))
        if sarif_copy:
            files.append((sarif_copy, sarif_bytes, "application/sarif+json"))
    if json_copy:
        files.insert(1, (json_copy, json_bytes, "application/json"))
    storage.write_all(files)
    return planned


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of a rendered report.

    A character that cannot be encoded (a lone surrogate from a file name that is not UTF-8)
    is written as a backslash escape instead of failing the report.
    """
    return text.encode("utf-8", "backslashreplace")


def _absolute(path: str) -> str:
    from pathlib import Path

    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a link loop on the way: writing will say what is wrong
        return os.path.abspath(path)
