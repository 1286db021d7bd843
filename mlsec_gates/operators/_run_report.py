"""What the combined-report task of a DAG run does: find what each gate left, write the page.

Kept apart from :mod:`mlsec_gates.operators.chain` (which DAG files import at parse time):
this runs in the report task only. Every planned gate ends up in one of four places:

- its JSON report (read where the task's ``report_json_url`` XCom says); when this task
  cannot read it (no credentials here), the verdict the task pushed (``gate_verdict``);
- *could not run*: the task pushed ``gate_error`` (bad input, no credentials, endpoint
  down), or failed without pushing anything (killed, out of memory);
- *not run*: nothing at all (an earlier gate or task stopped the run, or the stage never
  started).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import (
    GATE_ERROR_KEY,
    REPORT_JSON_KEY,
    VERDICT_KEY,
    from_browsable,
    run_context,
)
from mlsec_gates.operators.links import REPORT_URL_KEY

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlsec_gates.storage import Storage

#: Why a gate task that failed without telling us could not run.
_FAILED_SILENTLY = "the task failed before its gate decided (see the task's log)"


@dataclass
class RunGather:
    """What the gates of one run left: reports (or their verdicts), and the steps without."""

    reports: list[Any] = field(default_factory=list)
    """JSON report locations, or report dicts built from a verdict when unreadable here."""
    not_run: list[str] = field(default_factory=list)
    could_not_run: dict[str, str] = field(default_factory=dict)


def gather_run(
    context: Context, gate_task_ids: Mapping[str, str], *, storage: Storage
) -> RunGather:
    """Look at every planned gate task of this run (XComs, and task states when needed)."""
    from mlsec_gates.errors import Error
    from mlsec_gates.reports.combined import gather_reports

    ti = context["ti"]
    found = RunGather()
    states: dict[str, str] | None = None
    for step, task_id in gate_task_ids.items():
        url = ti.xcom_pull(task_ids=task_id, key=REPORT_JSON_KEY)
        if url:
            try:
                found.reports += gather_reports([from_browsable(url)], storage=storage)
            except Error as exc:
                verdict = ti.xcom_pull(task_ids=task_id, key=VERDICT_KEY) or {}
                html = ti.xcom_pull(task_ids=task_id, key=REPORT_URL_KEY) or ""
                found.reports.append(_from_verdict(step, verdict, html, exc.diagnostics()))
            continue
        error = ti.xcom_pull(task_ids=task_id, key=GATE_ERROR_KEY)
        if error:
            found.could_not_run[step] = str(error)
            continue
        if states is None:
            states = _task_states(context, list(gate_task_ids.values()))
        if states.get(task_id) == "failed":
            found.could_not_run[step] = _FAILED_SILENTLY
        else:
            found.not_run.append(step)
    return found


def write_run_report(
    gathered: RunGather,
    *,
    wanted: str,
    fallback: str,
    context: Context,
    storage: Storage,
    policy: str | None,
    title: str | None,
    trouble: str = "",
) -> tuple[dict[str, str], str]:
    """Write the combined report to ``wanted``, else to the local ``fallback`` folder.

    Returns:
        The written locations, and a note saying why the fallback was used ("" if not).

    Raises:
        Error: even the local fallback could not be written.
    """
    from mlsec_gates.errors import Error
    from mlsec_gates.reports.combined import write_combined_report
    from mlsec_gates.storage import Storage

    where = {
        k: v for k, v in run_context(context).items() if k in ("orchestrator", "dag_id", "run_id")
    }
    if trouble:
        where["note"] = trouble
    common = {
        "not_run": gathered.not_run,
        "could_not_run": gathered.could_not_run,
        "title": title,
        "policy": _policy(policy, storage),
    }
    try:
        written = write_combined_report(
            gathered.reports, wanted, run_context=where, storage=storage, **common
        )
        return written, ""
    except Error as exc:
        if wanted == fallback:
            raise
        note = (
            f"could not write the combined report to {wanted} ({exc.diagnostics()}); "
            f"written to {fallback} instead"
        )
    where["note"] = note
    written = write_combined_report(
        gathered.reports, fallback, run_context=where, storage=Storage(), **common
    )
    return written, note


def _from_verdict(step: str, verdict: Mapping[str, Any], html: str, why: str) -> dict[str, Any]:
    """A gate report for the board from the verdict the task pushed (its report unreadable)."""
    from mlsec_gates.result import SCHEMA_VERSION

    summary = str(verdict.get("summary") or "")
    return {
        "schema_version": SCHEMA_VERSION,
        "gate": str(verdict.get("gate") or step),
        "status": str(verdict.get("status") or "error"),
        "summary": f"{summary} (its report could not be read here: {why})".strip(),
        "findings": [],
        "counts": {},
        "reports": {"html": from_browsable(html)} if html else {},
        "policy": {},
    }


def _task_states(context: Context, task_ids: list[str]) -> dict[str, str]:
    """The states of the gate tasks in this run (best effort: {} when Airflow cannot say)."""
    ti = context["ti"]
    try:
        states = ti.get_task_states(
            dag_id=ti.dag_id, task_ids=task_ids, run_ids=[context["run_id"]]
        )
    except Exception:  # observability never decides
        return {}
    by_run = states.get(context["run_id"], states) if isinstance(states, Mapping) else {}
    return {str(k): str(v) for k, v in by_run.items() if v is not None}


def _policy(policy: str | None, storage: Storage) -> Any:
    """The policy, for its report-link settings; None when it cannot be read here."""
    if not policy:
        return None
    from mlsec_gates.errors import Error
    from mlsec_gates.gates._common import load_policy

    try:
        return load_policy(policy, storage=storage, gate="scan")
    except Error:
        return None
