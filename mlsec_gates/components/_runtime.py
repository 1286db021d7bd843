"""The run-time side of the KFP components: what every component does around its gate call.

It writes the reports into the output artifacts, logs the metrics,
then passes or fails the task. The component bodies import it inside the function (KFP ships
only the function's source to the container), so the shared logic lives, and is tested, here.

In the task container KFP sets ``_KFP_RUNTIME=true`` and ``kfp.dsl`` then exposes only the
run-time types (no ``dsl.component``): a module declaring components cannot be imported
there. This module declares none and imports only the standard library at top level; the
package's ``__init__`` imports the component modules lazily, so importing
``mlsec_gates.components._runtime`` in a task loads nothing else of the package.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kfp import dsl

    from mlsec_gates.result import GateResult

__all__ = [
    "SIGNATURE_FILE",
    "GateFailed",
    "copy_file",
    "finish",
    "local_paths",
    "scratch_dir",
    "signature_file",
]


_EXTENSIONS = {"json": "json", "markdown": "md", "html": "html"}
_TYPES = {"json": "application/json", "markdown": "text/markdown", "html": "text/html"}

SIGNATURE_FILE = "model.sig"
"""The bundle's name inside a signature artifact folder."""


class GateFailed(RuntimeError):
    """Raised by a hard gate (``fail_on_violation=True``) that did not pass.

    A ``RuntimeError`` so that the KFP executor fails the task; the message is the one-screen
    Markdown summary, which is what the KFP UI and logs show for the failed task.
    """


def finish(
    result: GateResult,
    *,
    fail_on_violation: bool,
    report_html: dsl.HTML,
    report_md: dsl.Markdown,
    report_json: dsl.Artifact,
    metrics: dsl.Metrics,
    report_files: dsl.Artifact | None = None,
    artifacts: Mapping[str, dsl.Artifact] | None = None,
) -> tuple[bool, str, str]:
    """Write the reports and metrics of a gate run, then return or raise.

    The reports are rendered again with the artifacts' URIs as their locations (so the
    "Full report" link in the Markdown and the ``reports`` of the JSON point at the KFP
    artifacts, not at a scratch directory) and written atomically to the artifacts' paths.
    Every output is written before the decision, so a failed task keeps its evidence.

    ``report_files`` (a folder artifact) gets the same three reports as files named with
    their extensions, ``<gate>-report.{html,md,json}``: KFP names an output file after the
    output (``report_html``), which a browser shows as text; the "Full report" link and the
    JSON's ``reports`` then name these files, and ``mlsec-gates report`` finds them.

    ``artifacts`` maps a key of ``result.reports`` (``bom``, ``signature``) to the output
    artifact the gate wrote it to (the component passes the artifact's path as the gate's
    ``out``); the reports then name the artifact's URI and the artifact gets the verdict as
    metadata.

    Returns:
        ``(passed, status, summary)`` for the component's NamedTuple output.

    Raises:
        GateFailed: ``fail_on_violation`` is set and the gate did not pass (status ``fail``
            or ``error``); the message is the Markdown summary.
    """
    from mlsec_gates.reports import render_html, render_json, render_markdown
    from mlsec_gates.storage import Storage

    extra = dict(artifacts or {})
    outputs = {"json": report_json, "markdown": report_md, "html": report_html}
    names = {kind: f"{result.gate}-report.{ext}" for kind, ext in _EXTENSIONS.items()}
    if report_files is not None:
        uris = {kind: f"{report_files.uri.rstrip('/')}/{names[kind]}" for kind in outputs}
    else:
        uris = {kind: artifact.uri for kind, artifact in outputs.items()}
    located = result.with_reports({**{k: a.uri for k, a in extra.items()}, **uris})
    rendered = {
        "json": render_json(located).encode(),
        "markdown": render_markdown(located).encode(),
        "html": render_html(located).encode(),
    }
    storage = Storage()
    for kind, artifact in outputs.items():
        body, kind_type = rendered[kind], _TYPES[kind]
        storage.write_bytes(artifact.path, body, content_type=kind_type)
        if report_files is not None:
            path = os.path.join(report_files.path, names[kind])
            storage.write_bytes(path, body, content_type=kind_type)
    markdown = rendered["markdown"].decode()
    for artifact in (report_json, *extra.values()):
        artifact.metadata.update(_verdict(result))
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    metrics.log_metric("passed", int(result.passed))
    if fail_on_violation and not result.passed:
        raise GateFailed(f"{result.gate} gate {result.status.value}\n{markdown}")
    print(markdown, flush=True)  # the task log is the first place an on-call person looks
    return result.passed, result.status.value, result.summary


def copy_file(source: str, target: str) -> None:
    """Copy a file a gate wrote (Evidently's page) to an output artifact's path."""
    import shutil

    shutil.copyfile(source, target)


def kfp_run_context(run_id: str, task_name: str) -> dict[str, str] | None:
    """The run context a component hands its gate (ledger idempotency key, BOM formulation).

    With it a retried task does not fork the ledger's chain. None when the pipeline did not
    pass ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``, or a runner left the placeholder unresolved.
    """
    if not run_id or run_id.startswith("{{"):
        return None
    context = {"orchestrator": "kfp", "run_id": run_id}
    if task_name and not task_name.startswith("{{"):
        context["task_id"] = task_name
    return context


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    """A temporary directory for the gate's own report files (``finish`` writes the outputs)."""
    return tempfile.TemporaryDirectory(prefix="mlsec-gates-")


def signature_file(signature: dsl.Artifact) -> str:
    """The bundle file of a signature artifact.

    The signing component writes a folder: the bundle (``model.sig``) and, next to it, the
    signed attachments (``model.sig.<label>.dsse.json``), which the verify gate needs too; a
    KFP artifact is uploaded as one file or one folder. A signature artifact that is a plain
    file (a bundle imported from elsewhere) is the bundle itself.
    """
    import os

    if os.path.isfile(signature.path):
        return signature.path
    return os.path.join(signature.path, SIGNATURE_FILE)


def local_paths(*inputs: dsl.Artifact | str | None) -> list[str]:
    """Local paths of the given input artifacts and the given strings, Nones dropped.

    For optional artifact inputs (``Optional[Input[Dataset]] = None``) next to lists of
    paths or URIs, in the order given.
    """
    out = []
    for item in inputs:
        if item is None or item == "":
            continue
        out.append(item if isinstance(item, str) else item.path)
    return out


def _verdict(result: GateResult) -> dict[str, Any]:
    return {
        "gate": result.gate,
        "passed": result.passed,
        "status": result.status.value,
        "summary": result.summary,
    }
