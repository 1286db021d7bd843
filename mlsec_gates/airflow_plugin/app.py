"""The FastAPI app of the gate-review pages, mounted by Airflow's API server under ``/mlsec-gates``.

**Where the data come from.** Gate runs are read from Airflow's own metadata: every gate
task pushes ``report_json_url`` (and ``report_url``) to XCom before it decides, so the XCom
table lists every gate run, failed or not, with its DAG, run and task, and the reports say
the rest. This works with or without a provenance ledger (the ledger is for audits: see
``mlsec-gates ledger verify`` and ``mlsec-gates lineage``). Reports are read where the XCom
says, with the API server's file system or S3 credentials, and only inside the report roots
(``[mlsec_gates] report_roots``; real paths, no symbolic links, regular files only); XCom
values whose file name is not a gate report (``<gate>-report.json`` / ``.html``) are
refused, so a task cannot make the page read other files. One unreadable XCom shows as an
``unreadable`` row, never as an error page for every run. Waivers come from the policy
named by ``[mlsec_gates] policy``.

**Access.** Every route depends on Airflow's ``requires_access_dag("GET")`` (there is no
``/docs``, ``/redoc`` or ``/openapi.json``): no valid JWT
(``Authorization: Bearer`` or the UI's session cookie) is a 401; a report needs read access
to its DAG; lists only show the DAGs the user may read. Reports are served with a sandboxing
``Content-Security-Policy`` (no scripts, no outside requests).
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mlsec_gates.airflow_plugin import pages, runs

REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
"""The gate's HTML report is self-contained and needs nothing else; it may be framed by the UI."""

_READ_DAGS = [Depends(requires_access_dag("GET"))]


def create_app() -> FastAPI:
    """The app; each route checks the caller with Airflow's auth manager."""
    # No interactive docs or OpenAPI schema: they would answer without Airflow's auth check.
    app = FastAPI(
        title="mlsec-gates",
        description="Security gate runs, reports and waivers.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/api/runs", dependencies=_READ_DAGS)
    def list_runs(
        user: GetUserDep,
        session: SessionDep,
        limit: Annotated[int, Query(ge=1, le=200)] = 25,
        dag_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The most recent gate runs the caller may see, newest first."""
        readable = _readable_dags(user, dag_id)
        return runs.recent_gate_runs(session, dag_ids=readable, limit=limit)

    @app.get("/", dependencies=_READ_DAGS, response_class=HTMLResponse)
    def index(
        user: GetUserDep,
        session: SessionDep,
        limit: Annotated[int, Query(ge=1, le=200)] = 25,
        dag_id: str | None = None,
    ) -> str:
        """The recent gate runs as a page."""
        readable = _readable_dags(user, dag_id)
        return pages.runs_page(runs.recent_gate_runs(session, dag_ids=readable, limit=limit))

    @app.get("/report", dependencies=_READ_DAGS)
    def report(
        session: SessionDep,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int = -1,
        format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
    ) -> Response:
        """One gate task's report: its HTML page (the default) or its JSON."""
        try:
            body = runs.read_task_report(
                session,
                dag_id=dag_id,
                run_id=run_id,
                task_id=task_id,
                map_index=map_index,
                kind=format,
            )
        except runs.NoReport as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        if format == "json":
            return Response(body, media_type="application/json")
        return HTMLResponse(body, headers={"Content-Security-Policy": REPORT_CSP})

    @app.get("/api/waivers", dependencies=_READ_DAGS)
    def list_waivers() -> JSONResponse:
        """The waivers in force under the configured policy (and which policy that is)."""
        return JSONResponse(runs.open_waivers())

    @app.get("/waivers", dependencies=_READ_DAGS, response_class=HTMLResponse)
    def waivers_page() -> str:
        """The waivers in force, as a page."""
        return pages.waivers_page(runs.open_waivers())

    return app


def _readable_dags(user: Any, dag_id: str | None) -> set[str]:
    """The DAG ids the user may read (only ``dag_id`` when given)."""
    allowed = get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
    return allowed & {dag_id} if dag_id else allowed
