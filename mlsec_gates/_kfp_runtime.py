"""The run-time side of the KFP components: what every component does around its gate call.

It writes the reports into the output artifacts, logs the metrics,
then passes or fails the task. The component bodies import it inside the function (KFP ships
only the function's source to the container), so the shared logic lives, and is tested, here.

It sits outside :mod:`mlsec_gates.components` on purpose. In the task container KFP sets
``_KFP_RUNTIME=true`` and ``kfp.dsl`` then exposes only the run-time types (no
``dsl.component``), so importing that package, which declares the components, fails there.
This module imports only the standard library at top level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfp import dsl

    from mlsec_gates.result import GateResult

__all__ = ["GateFailed", "finish"]


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
) -> tuple[bool, str, str]:
    """Write the reports and metrics of a gate run, then return or raise.

    The reports are rendered again with the artifacts' URIs as their locations (so the
    "Full report" link in the Markdown and the ``reports`` of the JSON point at the KFP
    artifacts, not at a scratch directory) and written atomically to the artifacts' paths.
    Every output is written before the decision, so a failed task keeps its evidence.

    Returns:
        ``(passed, status, summary)`` for the component's NamedTuple output.

    Raises:
        GateFailed: ``fail_on_violation`` is set and the gate did not pass (status ``fail``
            or ``error``); the message is the Markdown summary.
    """
    from mlsec_gates.reports import render_html, render_json, render_markdown
    from mlsec_gates.storage import Storage

    located = result.with_reports(
        {"json": report_json.uri, "markdown": report_md.uri, "html": report_html.uri}
    )
    markdown = render_markdown(located)
    storage = Storage()
    storage.write_bytes(report_html.path, render_html(located).encode(), content_type="text/html")
    storage.write_bytes(report_md.path, markdown.encode(), content_type="text/markdown")
    storage.write_bytes(
        report_json.path, render_json(located).encode(), content_type="application/json"
    )
    report_json.metadata.update(_verdict(result))
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    metrics.log_metric("passed", int(result.passed))
    if fail_on_violation and not result.passed:
        raise GateFailed(f"{result.gate} gate {result.status.value}\n{markdown}")
    print(markdown, flush=True)  # the task log is the first place an on-call person looks
    return result.passed, result.status.value, result.summary


def _verdict(result: GateResult) -> dict[str, Any]:
    return {
        "gate": result.gate,
        "passed": result.passed,
        "status": result.status.value,
        "summary": result.summary,
    }
