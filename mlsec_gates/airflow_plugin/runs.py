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

ROOTS_OPTION = ("mlsec_gates", "report_roots")
"""Airflow config option (``AIRFLOW__MLSEC_GATES__REPORT_ROOTS``): comma-separated folders
and ``s3://`` prefixes the pages may read reports from (default: the operators' default
report folder, ``$AIRFLOW_HOME/mlsec-gate-reports``)."""

_SUFFIX = {"json": "-report.json", "html": "-report.html"}
_MAX_REPORT_BYTES = 64 * 1024 * 1024
"""Reports larger than this are not served (a gate report is kilobytes to a few megabytes)."""


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
        json_url = _location(XComModel, xcom)
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
    location = _location(XComModel, xcom)
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


def _location(model: Any, xcom: Any) -> str:
    """The report location a task pushed; "" when the XCom value cannot be read as text."""
    try:
        return str(model.deserialize_value(xcom) or "")
    except Exception:  # one task's odd XCom must not break the page for every run
        return ""


def report_roots() -> list[str]:
    """Where reports may be read from: ``[mlsec_gates] report_roots``, else the default."""
    import os

    from airflow.configuration import conf

    configured = conf.get(*ROOTS_OPTION, fallback="") or ""
    roots = [r.strip() for r in configured.split(",") if r.strip()]
    if roots:
        return roots
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return [os.path.join(home, "mlsec-gate-reports")]


def _read(location: str, kind: str) -> tuple[str | None, str]:
    """The text at a report location from XCom, or None and why not.

    Only files named like a gate report (``<gate>-report.json`` / ``.html``) are read, only
    under the configured report roots (the real path, links resolved), never through a
    symbolic link, and only regular files of bounded size: a task controls the XCom value, so
    it must not make the page read anything else.
    """
    from mlsec_gates.errors import Error
    from mlsec_gates.storage import Storage

    if not location:
        return None, "no report location"
    path = from_browsable(location)
    if any(ord(c) < 32 or c == "\x7f" for c in location + path):
        return None, "the report location holds control characters: refused"
    if not PurePosixPath(path.split("?")[0]).name.endswith(_SUFFIX[kind]):
        return None, f"{location}: not a gate report ({_SUFFIX[kind]} expected)"
    roots = report_roots()
    try:
        if Storage.is_remote(path):
            if not any(_under_prefix(path, r) for r in roots if Storage.is_remote(r)):
                return None, f"{location}: outside the report roots ([mlsec_gates] report_roots)"
            return Storage().read_text(path), ""
        return _read_local(path, [r for r in roots if not Storage.is_remote(r)]), ""
    except Error as exc:
        return None, exc.diagnostics()


def _under_prefix(uri: str, root: str) -> bool:
    return uri.startswith(root.rstrip("/") + "/") and "/../" not in uri


def _read_local(path: str, roots: list[str]) -> str:
    """A local report inside the roots, opened without following a link.

    Raises:
        InputError: outside the roots, a link, not a regular file, too big or unreadable.
    """
    import os
    import stat

    from mlsec_gates.errors import InputError

    real = os.path.realpath(path)
    inside = any(
        os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root)
        for root in roots
    )
    if not inside:
        raise InputError(f"{path}: outside the report roots ([mlsec_gates] report_roots)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{path}: cannot read (a symbolic link, or {exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file")
        if info.st_size > _MAX_REPORT_BYTES:
            raise InputError(f"{path}: larger than {_MAX_REPORT_BYTES} bytes")
        data = fh.read(_MAX_REPORT_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
