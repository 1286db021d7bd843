"""The run-time side of the KFP gate chain: collect each gate's report, decide, publish.

A KFP exit task cannot take the outputs of the tasks it guards, so each gate's JSON report is
copied to a run folder (``<report root>/<run id>/<step>/``) by the step's verdict task, and
the exit task (``publish_report``) combines whatever is there, whether the chain passed,
stopped at a gate or broke. Imported inside the component bodies (see
:mod:`mlsec_gates.components._runtime` for why it declares no component); imports only the
standard library at top level.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kfp import dsl

    from mlsec_gates.storage import Storage

__all__ = ["collect_report", "publish_combined_report", "run_folder"]

REPORTS_FOLDER = "mlsec-gates-reports"
"""Folder under the pipeline root holding the run folders, when no report root is given."""


def run_folder(report_root: str, pipeline_root: str, run_id: str) -> str:
    """Where one run's gate reports are collected: ``<root>/<run id>``.

    ``report_root`` (a path or ``s3://`` prefix) when set, else ``<pipeline root>/
    mlsec-gates-reports``. A run id the runner left unresolved becomes ``run``.
    """
    from mlsec_gates.storage import join

    root = report_root or join(pipeline_root, REPORTS_FOLDER)
    run = run_id if run_id and not run_id.startswith("{{") else "run"
    return join(root, run)


def collect_report(
    report_json: dsl.Artifact, *, step: str, folder: str, passed: bool, hard: bool, summary: str
) -> bool:
    """Copy a gate's JSON report into the run folder, then pass or fail the chain.

    Returns:
        ``passed``: whether the chain goes on (a soft chain branches on it).

    Raises:
        GateFailed: ``hard`` is set and the gate did not pass; the message is its summary.
    """
    from mlsec_gates.components._runtime import GateFailed
    from mlsec_gates.storage import Storage, join

    storage = Storage()
    with open(report_json.path, "rb") as source:
        body = source.read()
    gate = json.loads(body)["gate"]
    target = join(join(folder, step), f"{gate}-report.json")
    storage.write_bytes(target, body, content_type="application/json")
    if hard and not passed:
        raise GateFailed(f"{step}: {gate} gate did not pass: {summary}")
    print(f"{step}: {'passed' if passed else 'did not pass (soft chain)'}: {summary}", flush=True)
    return passed


def publish_combined_report(
    *,
    folder: str,
    steps: Sequence[str],
    run_id: str,
    status: dsl.PipelineTaskFinalStatus | None,
    report_html: dsl.HTML,
    report_md: dsl.Markdown,
    report_json: dsl.Artifact,
    pipeline_name: str = "",
) -> tuple[bool, str]:
    """Write the combined report of the collected gate reports into the output artifacts.

    The steps without a collected report are listed as not run (after a failed gate, or
    a task that broke before its gate wrote one). A copy is also written into the run folder.

    Returns:
        ``(passed, headline)``: whether every gate that ran passed, and the report's headline
        (``FAILED at scan``...).

    Raises:
        InputError: no gate report was collected (the chain broke before its first gate).
    """
    from mlsec_gates.reports.combined import write_combined_report
    from mlsec_gates.storage import Storage, join

    storage = Storage()
    found = [s for s in steps if _has_files(storage, join(folder, s))]
    context = {"orchestrator": "kfp"}
    if run_id and not run_id.startswith("{{"):
        context["run_id"] = run_id
    if pipeline_name and not pipeline_name.startswith("{{"):
        context["pipeline"] = pipeline_name
    if status is not None:
        context["pipeline_status"] = status.state
        if status.error_message:
            context["pipeline_error"] = status.error_message.splitlines()[0][:300]
    written = write_combined_report(
        [join(folder, s) for s in found],
        folder,
        run_context=context,
        storage=storage,
        not_run=[s for s in steps if s not in found],
    )
    for kind, artifact in (("html", report_html), ("markdown", report_md), ("json", report_json)):
        with storage.open_read(written[kind]) as source:
            storage.write_bytes(artifact.path, source.read())
    combined = json.loads(storage.read_text(written["json"]))
    report_json.metadata.update({"status": combined["status"], "passed": combined["passed"]})
    stopped = next((g for g in combined["board"] if g["gate"] == combined["stopped_at"]), None)
    why = f": {stopped['summary']}" if stopped else ""
    print(f"combined gate report: {combined['headline']}{why}", flush=True)
    print(f"Full report: {written['html']}", flush=True)
    return bool(combined["passed"]), str(combined["headline"])


def _has_files(storage: Storage, uri: str) -> bool:
    """True when a step folder holds a collected report (a missing folder holds none)."""
    from mlsec_gates.errors import InputError

    try:
        return bool(storage.list_files(uri))
    except InputError:  # no such folder: the step collected nothing
        return False
