"""What the gate-review pages show: gate runs from XCom, their reports, the open waivers.

Runs inside the Airflow API server (it reads the metadata DB through the request's session).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import REPORT_JSON_KEY, from_browsable
from mlsec_gates.operators.links import REPORT_URL_KEY

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

POLICY_OPTION = ("mlsec_gates", "policy")
"""Airflow config option (``AIRFLOW__MLSEC_GATES__POLICY``) naming the policy for waivers."""

_SUFFIX = {"json": "-report.json", "html": "-report.html"}


class NoReport(LookupError):
    """The task has no readable gate report (not a gate, not run yet, or report gone)."""


def recent_gate_runs(session: Session, *, dag_ids: Iterable[str], limit: int) -> list[dict]:
    """The newest gate task runs of the given DAGs: identity, task state, verdict, links.

    One row per gate task that pushed ``report_json_url`` (and per ``security_gates``
    report task: gate ``chain``, its combined report); the verdict and summary come from the
    JSON report (``unreadable`` with the reason when it cannot be read).
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, select

    dag_ids = set(dag_ids)
    if not dag_ids:
        return []
    ti = TaskInstance
    stmt = (
        select(XComModel, ti.state)
        .outerjoin(
            ti,
            and_(
                ti.dag_id == XComModel.dag_id,
                ti.run_id == XComModel.run_id,
                ti.task_id == XComModel.task_id,
                ti.map_index == XComModel.map_index,
            ),
        )
        .where(XComModel.key == REPORT_JSON_KEY, XComModel.dag_id.in_(dag_ids))
        .order_by(XComModel.timestamp.desc())
        .limit(limit)
    )
    rows = []
    for xcom, state in session.execute(stmt):
        json_url = str(XComModel.deserialize_value(xcom) or "")
        report, problem = _load_json(json_url)
        rows.append(
            {
                "dag_id": xcom.dag_id,
                "run_id": xcom.run_id,
                "task_id": xcom.task_id,
                "map_index": xcom.map_index,
                "task_state": str(state.value if hasattr(state, "value") else state or ""),
                "timestamp": xcom.timestamp.isoformat() if xcom.timestamp else "",
                "gate": report.get("gate") or ("chain" if _is_combined(report) else ""),
                "status": report.get("status", "unreadable"),
                "summary": report.get("summary") or report.get("headline") or problem,
                "counts": report.get("counts", {}),
                "report_json_url": json_url,
            }
        )
    return rows


def read_task_report(
    session: Session, *, dag_id: str, run_id: str, task_id: str, map_index: int, kind: str
) -> str:
    """The text of one gate task's report (``kind``: ``html`` or ``json``).

    Raises:
        NoReport: the task pushed no report location, or the report cannot be read.
    """
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    key = REPORT_JSON_KEY if kind == "json" else REPORT_URL_KEY
    # A run id such as "manual__2026-01-01T00:00:00+00:00" may arrive with "+" as a space.
    for candidate in dict.fromkeys((run_id, run_id.replace(" ", "+"))):
        stmt = select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == candidate,
            XComModel.task_id == task_id,
            XComModel.map_index == map_index,
            XComModel.key == key,
        )
        xcom = session.scalars(stmt).first()
        if xcom is not None:
            break
    else:
        raise NoReport(f"{dag_id}/{run_id}/{task_id}: no gate report (not a gate task, or not run)")
    location = str(XComModel.deserialize_value(xcom) or "")
    text, problem = _read(location, kind)
    if text is None:
        raise NoReport(f"{dag_id}/{run_id}/{task_id}: {problem}")
    return text


def open_waivers(*, today: datetime | None = None) -> dict[str, Any]:
    """The waivers in force under the configured policy, soonest expiry first.

    Returns ``{"policy": <path or "">, "waivers": [...], "problem": <why none, or "">}``.
    """
    from airflow.configuration import conf

    from mlsec_gates.errors import Error
    from mlsec_gates.policy import parse_policy
    from mlsec_gates.storage import Storage
    from mlsec_gates.waivers import is_active, load_waivers

    source = conf.get(*POLICY_OPTION, fallback="") or ""
    if not source:
        return {"policy": "", "waivers": [], "problem": "no policy: set [mlsec_gates] policy"}
    storage = Storage()
    day = (today or datetime.now(timezone.utc)).date()
    try:
        policy = parse_policy(storage.read_text(source), source=source, read=storage.read_text)
        waivers = load_waivers(policy, storage)
    except Error as exc:
        return {"policy": source, "waivers": [], "problem": exc.diagnostics()}
    active = sorted((w for w in waivers if is_active(w, today=day)), key=lambda w: w.expires)
    return {
        "policy": source,
        "waivers": [w.model_dump(mode="json", exclude_none=True) for w in active],
        "problem": "",
    }


def _is_combined(report: dict[str, Any]) -> bool:
    """The combined report of a chain (``security_gates``' report task), not one gate's."""
    return report.get("kind") == "mlsec-gates/combined-report"


def _load_json(location: str) -> tuple[dict[str, Any], str]:
    text, problem = _read(location, "json")
    if text is None:
        return {}, problem
    try:
        report = json.loads(text)
    except ValueError:
        return {}, f"{location}: not JSON"
    if not isinstance(report, dict):
        return {}, f"{location}: not a gate report"
    return report, ""


def _read(location: str, kind: str) -> tuple[str | None, str]:
    """The text at a report location from XCom, or None and why not.

    Only files named like a gate report (``<gate>-report.json`` / ``.html``) are read.
    """
    from mlsec_gates.errors import Error
    from mlsec_gates.storage import Storage

    if not location:
        return None, "no report location"
    path = from_browsable(location)
    if not PurePosixPath(path.split("?")[0]).name.endswith(_SUFFIX[kind]):
        return None, f"{location}: not a gate report ({_SUFFIX[kind]} expected)"
    try:
        return Storage().read_text(path), ""
    except Error as exc:
        return None, exc.diagnostics()
