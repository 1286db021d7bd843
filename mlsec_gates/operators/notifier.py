"""Tell people a gate stopped a run: the one-screen summary and the report link, anywhere.

:class:`GateReportNotifier` does not talk to Slack or mail itself. It builds the message from
what the gate tasks left in XCom (``report_url``, ``report_json_url``) and hands it to any
Airflow notifier: Slack, SMTP, Amazon SNS/SES, Teams... whichever provider is installed.
Imports only ``airflow.sdk`` and the standard library at module level.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from mlsec_gates.operators.base import REPORT_JSON_KEY
from mlsec_gates.operators.links import REPORT_URL_KEY

if TYPE_CHECKING:
    from airflow.sdk import Context

CONTEXT_KEY = "gate_report"
"""Name of the message in the Jinja context of the wrapped notifier's template fields."""

_MAX_FINDINGS = 5


class GateReportNotifier(BaseNotifier):
    """Send a gate's one-screen summary and report link through another Airflow notifier.

    Give it a notifier *instance* whose template fields use ``{{ gate_report.text }}``
    (also ``gate_report.title``, ``gate_report.report_url``, ``gate_report.gates``), or a
    notifier *class*, the name of its message argument and its other arguments:

    .. code-block:: python

        from airflow.providers.slack.notifications.slack import SlackNotifier

        notify = GateReportNotifier(
            notifier=SlackNotifier(
                slack_conn_id="slack", channel="#ml-oncall", text="{{ gate_report.text }}"
            )
        )
        # or: GateReportNotifier(notifier=SlackNotifier, message_field="text",
        #                        slack_conn_id="slack", channel="#ml-oncall")
        scan = ArtifactScanGateOperator(..., on_failure_callback=notify)

    As a task callback it reports the task it is attached to; as a DAG callback, the task
    instance Airflow passes (the one that failed the run); ``task_ids`` names gate tasks of
    the same run instead. The summaries come from the JSON
    reports the gates wrote before deciding, read where the XCom says (path, ``file://`` or
    ``s3://`` with the worker's credentials). A report that cannot be read is named as such
    in the message with its link: the notification still goes out.

    :param notifier: the notifier that delivers the message (instance or class).
    :param message_field: with a notifier class, the argument that receives the message.
    :param task_ids: gate tasks to report; default: the callback's own task (templated).
    :param title: first line of the message (templated).
    :param notifier_kwargs: with a notifier class, its other arguments.
    """

    template_fields = ("task_ids", "title")

    def __init__(
        self,
        *,
        notifier: BaseNotifier | type[BaseNotifier] | Callable[..., Any],
        message_field: str | None = None,
        task_ids: str | Sequence[str] | None = None,
        title: str = "mlsec-gates: {{ dag.dag_id }} / {{ run_id }}",
        **notifier_kwargs: Any,
    ) -> None:
        super().__init__()
        if isinstance(notifier, type) and not message_field:
            raise ValueError("GateReportNotifier: a notifier class needs message_field")
        self.notifier = notifier
        self.message_field = message_field
        self.task_ids = task_ids
        self.title = title
        self.notifier_kwargs = notifier_kwargs

    def __call__(self, *args: Any) -> None:
        """Notify from a copy: rendering replaces the template fields of the object it renders.

        One notifier object serves every task and run it is attached to (``dag.test()`` runs
        them all in one process), so each call must start from the templates.
        """
        BaseNotifier.__call__(copy.copy(self), *args)

    def notify(self, context: Context) -> None:
        """Build the message from the gates' XComs and reports, then send it."""
        message = self.build_message(context)
        context[CONTEXT_KEY] = message  # type: ignore[literal-required]
        if isinstance(self.notifier, type):
            target = self.notifier(**{self.message_field: message["text"]}, **self.notifier_kwargs)
        else:  # a copy: rendering replaces the template fields of the instance it renders
            target = copy.copy(self.notifier)
        target(context)

    def build_message(self, context: Context) -> dict[str, Any]:
        """The message as data: ``title``, ``text``, ``report_url`` and one entry per gate."""
        ti = context.get("ti") or context.get("task_instance")
        task_ids = _as_list(self.task_ids) or ([ti.task_id] if ti is not None else [])
        gates = [_gate_entry(ti, task_id) for task_id in task_ids] if ti is not None else []
        lines = [self.title]
        for gate in gates:
            lines += ["", *gate["lines"]]
        exception = context.get("exception")
        if exception is not None and not any(g["status"] for g in gates):
            lines += ["", f"Error: {(str(exception) or repr(exception)).splitlines()[0]}"]
        return {
            "title": self.title,
            "text": "\n".join(lines),
            "report_url": next((g["report_url"] for g in gates if g["report_url"]), ""),
            "gates": [{k: v for k, v in g.items() if k != "lines"} for g in gates],
        }


def _gate_entry(ti: Any, task_id: str) -> dict[str, Any]:
    """What one gate task reported: status, summary, worst findings, links."""
    report_url = ti.xcom_pull(task_ids=task_id, key=REPORT_URL_KEY) or ""
    json_url = ti.xcom_pull(task_ids=task_id, key=REPORT_JSON_KEY) or ""
    report, problem = _read_report(json_url)
    status = str(report.get("status", "")) if report else ""
    head = f"{report.get('gate', task_id)} ({task_id}): {status.upper()}" if report else task_id
    lines = [head]
    if report:
        lines.append(str(report.get("summary", "")))
        counts = report.get("counts") or {}
        if counts:
            lines.append("Counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        findings = report.get("findings") or []
        for finding in findings[:_MAX_FINDINGS]:
            where = (finding.get("location") or {}).get("uri", "")
            lines.append(
                f"- [{finding.get('severity')}] {finding.get('rule_id')}: "
                f"{finding.get('message')} ({where})"
            )
        if len(findings) > _MAX_FINDINGS:
            lines.append(f"- ... and {len(findings) - _MAX_FINDINGS} more in the report")
    else:
        lines.append(problem)
    lines.append(f"Report: {report_url or 'none'}")
    return {
        "task_id": task_id,
        "gate": report.get("gate", "") if report else "",
        "status": status,
        "summary": report.get("summary", "") if report else problem,
        "counts": report.get("counts", {}) if report else {},
        "report_url": report_url,
        "report_json_url": json_url,
        "lines": lines,
    }


def _read_report(json_url: str) -> tuple[dict[str, Any], str]:
    """The JSON report at ``json_url``, or an empty dict and why it could not be read."""
    if not json_url:
        return {}, "no report: the task stopped before the gate wrote one"
    import json

    from mlsec_gates.operators.base import from_browsable
    from mlsec_gates.storage import Storage

    try:
        report = json.loads(Storage().read_text(from_browsable(json_url)))
    except Exception as exc:  # the notification must still go out, naming the problem
        return {}, f"report unreadable ({json_url}): {type(exc).__name__}: {exc}"
    if not isinstance(report, dict):
        return {}, f"report unreadable ({json_url}): not a JSON object"
    return report, ""


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)
