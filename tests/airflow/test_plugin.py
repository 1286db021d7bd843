"""The gate-review plugin inside Airflow's real API server app, behind Airflow's own login.

A small DAG runs two scan gates with ``dag.test()`` (one clean model, one with an
``os.system`` payload), so the XCom table holds real gate runs. The API server app is built
by ``airflow.api_fastapi.app.create_app()``, which loads the plugin through its
``airflow.plugins`` entry point; the token comes from the Simple auth manager's
``POST /auth/token``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import pickles as fx
from tests.fixtures.airflow_dags import sync_dag_to_db

pytestmark = pytest.mark.airflow

DAG_ID = "plugin_gate_runs"
PASSWORD = "plugin-test-password"


@pytest.fixture(scope="module")
def gate_run(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One DAG run with a passing and a failing scan gate (their reports in XCom)."""
    from airflow.sdk import DAG

    from mlsec_gates.operators import ArtifactScanGateOperator

    folder = tmp_path_factory.mktemp("plugin-models")
    (folder / "good.pkl").write_bytes(fx.benign_dict_pickle())
    (folder / "bad.pkl").write_bytes(fx.payload_after_benign())
    with DAG(dag_id=DAG_ID, schedule=None, catchup=False) as dag:
        for name in ("good", "bad"):
            ArtifactScanGateOperator(
                task_id=f"scan_{name}",
                targets=str(folder / f"{name}.pkl"),
                report_dir=str(folder / "reports" / name),
            )
    sync_dag_to_db(dag)
    dag_run = dag.test()
    return {"run_id": dag_run.run_id, "folder": folder}


@pytest.fixture(scope="module")
def client(gate_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A test client of the API server app, with one admin user and a policy with waivers."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    home = tmp_path_factory.mktemp("api-server")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    expires = (date.today() + timedelta(days=30)).isoformat()
    expired = (date.today() - timedelta(days=3)).isoformat()
    (home / "waivers.yaml").write_text(
        "version: 1\nwaivers:\n"
        f"- {{id: w-00000000aa, fingerprint: 0123456789abcdef, reason: vendor fix due,"
        f" approver: sec-oncall, expires: '{expires}', gate: validate}}\n"
        f"- {{id: w-00000000bb, fingerprint: fedcba9876543210, reason: old one,"
        f" approver: sec-oncall, expires: '{expired}'}}\n"
    )
    (home / "gates.yaml").write_text("waivers_file: waivers.yaml\n")
    env = {
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__MLSEC_GATES__POLICY": str(home / "gates.yaml"),
        # Reports are only read inside these roots (issue 13 item 3).
        "AIRFLOW__MLSEC_GATES__REPORT_ROOTS": f"{gate_run['folder'] / 'reports'},s3://nowhere/r",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        with TestClient(create_app(), base_url="http://localhost") as test_client:
            yield test_client


@pytest.fixture(scope="module")
def token(client: Any) -> str:
    response = client.post("/auth/token", json={"username": "admin", "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def _report_query(run_id: str, task_id: str) -> dict[str, str]:
    return {"dag_id": DAG_ID, "run_id": run_id, "task_id": task_id}


def test_plugin_is_registered_through_the_entry_point() -> None:
    from airflow import plugins_manager

    from mlsec_gates.airflow_plugin import MLSecGatesPlugin

    plugins, _ = plugins_manager._get_plugins()
    ours = [p for p in plugins if isinstance(p, MLSecGatesPlugin) or p.name == "mlsec_gates"]
    assert len(ours) == 1
    assert [a["url_prefix"] for a in ours[0].fastapi_apps] == ["/mlsec-gates"]
    views = {v["destination"]: v for v in ours[0].external_views}
    assert not views["task_instance"]["href"].startswith("/")  # Airflow wants relative hrefs
    assert "{TASK_ID}" in views["task_instance"]["href"]


@pytest.mark.parametrize(
    "path",
    ["/mlsec-gates/", "/mlsec-gates/api/runs", "/mlsec-gates/waivers", "/mlsec-gates/report"],
)
def test_no_token_is_401(client: Any, gate_run: dict[str, Any], path: str) -> None:
    params = _report_query(gate_run["run_id"], "scan_bad") if path.endswith("report") else {}
    response = client.get(path, params=params)
    assert response.status_code == 401, response.text


def test_a_forged_token_is_refused(client: Any) -> None:
    response = client.get("/mlsec-gates/api/runs", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code in (401, 403)


def test_runs_list_shows_both_gate_runs(client: Any, token: str, gate_run: dict[str, Any]) -> None:
    response = client.get("/mlsec-gates/api/runs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    rows = {r["task_id"]: r for r in response.json() if r["run_id"] == gate_run["run_id"]}
    assert set(rows) == {"scan_good", "scan_bad"}
    assert (rows["scan_good"]["status"], rows["scan_good"]["task_state"]) == ("pass", "success")
    assert (rows["scan_bad"]["status"], rows["scan_bad"]["task_state"]) == ("fail", "failed")
    assert rows["scan_bad"]["gate"] == "scan"
    assert rows["scan_bad"]["counts"]["verdict_block"] == 1

    page = client.get("/mlsec-gates/", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert "scan_bad" in page.text and "FAIL" in page.text


def test_report_page_is_the_gate_report_sandboxed(
    client: Any, token: str, gate_run: dict[str, Any]
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    query = _report_query(gate_run["run_id"], "scan_bad")
    html = client.get("/mlsec-gates/report", params=query, headers=auth)
    assert html.status_code == 200, html.text
    assert "os.system" in html.text
    assert html.headers["content-security-policy"].startswith("sandbox")

    as_json = client.get("/mlsec-gates/report", params={**query, "format": "json"}, headers=auth)
    assert as_json.status_code == 200
    assert as_json.json()["status"] == "fail"

    # The UI's session cookie is accepted too (the task-instance tab is an iframe).
    client.cookies.set("_token", token)
    try:
        assert client.get("/mlsec-gates/report", params=query).status_code == 200
    finally:
        client.cookies.clear()


def test_task_without_report_is_404(client: Any, token: str, gate_run: dict[str, Any]) -> None:
    response = client.get(
        "/mlsec-gates/report",
        params=_report_query(gate_run["run_id"], "no_such_task"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    assert "no gate report" in response.json()["detail"]


def test_open_waivers_lists_only_those_in_force(client: Any, token: str) -> None:
    response = client.get("/mlsec-gates/api/waivers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["problem"] == ""
    assert [w["id"] for w in data["waivers"]] == ["w-00000000aa"]
    page = client.get("/mlsec-gates/waivers", headers={"Authorization": f"Bearer {token}"})
    assert "w-00000000aa" in page.text and "w-00000000bb" not in page.text


def test_only_gate_report_files_are_read() -> None:
    from mlsec_gates.airflow_plugin.runs import _read

    text, problem = _read("file:///etc/passwd", "html")
    assert text is None
    assert "not a gate report" in problem


# -- hostile XComs (issue 13: items 3, 12, 22) ---------------------------------------------

HOSTILE_DAG = "plugin_hostile_xcoms"


@pytest.fixture(scope="module")
def hostile_run(gate_run: dict[str, Any]) -> dict[str, Any]:
    """Tasks that push report locations an attacker controls, as any task of a DAG can."""
    import os

    from airflow.sdk import DAG, task

    reports = gate_run["folder"] / "reports"
    secret = gate_run["folder"] / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN\n")
    evil = reports / "evil"
    evil.mkdir()
    os.symlink(secret, evil / "link-report.html")  # a link out of the roots
    os.symlink("/etc/passwd", evil / "passwd-report.json")
    inside = reports / "good" / "scan-report.html"
    os.symlink(inside, evil / "inner-report.html")  # a link, even to a report inside
    os.mkfifo(evil / "fifo-report.json")
    outside = gate_run["folder"] / "outside-report.html"
    outside.write_text("<p>not under the roots</p>")
    pushed = {
        "link": str(evil / "link-report.html"),
        "passwd": (evil / "passwd-report.json").as_uri(),
        "inner": str(evil / "inner-report.html"),
        "fifo": str(evil / "fifo-report.json"),
        "outside": str(outside),
        "nul": str(reports / "good" / "scan-report.json") + "\x00.json",
        "s3": "s3://other-bucket/x/scan-report.json",
    }
    with DAG(dag_id=HOSTILE_DAG, schedule=None, catchup=False) as dag:
        for name, where in pushed.items():

            @task(task_id=f"push_{name}")
            def push(location: str = where, **context: Any) -> None:
                context["ti"].xcom_push(key="report_url", value=location)
                context["ti"].xcom_push(key="report_json_url", value=location)

            push()
    sync_dag_to_db(dag)
    dag_run = dag.test()
    return {"run_id": dag_run.run_id, "secret": secret}


@pytest.mark.parametrize("task", ["link", "passwd", "inner", "fifo", "outside", "nul", "s3"])
def test_report_page_reads_nothing_outside_the_roots_or_through_a_link(
    client: Any, token: str, hostile_run: dict[str, Any], task: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    query = {"dag_id": HOSTILE_DAG, "run_id": hostile_run["run_id"], "task_id": f"push_{task}"}
    for fmt in ("html", "json"):
        response = client.get("/mlsec-gates/report", params={**query, "format": fmt}, headers=auth)
        assert response.status_code == 404, (task, fmt, response.text)
        assert "TOP-SECRET" not in response.text and "root:" not in response.text


def test_one_hostile_xcom_does_not_break_the_run_list(
    client: Any, token: str, hostile_run: dict[str, Any], gate_run: dict[str, Any]
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get("/mlsec-gates/api/runs", params={"limit": 200}, headers=auth)
    assert response.status_code == 200, response.text
    rows = response.json()
    hostile = {r["task_id"]: r for r in rows if r["dag_id"] == HOSTILE_DAG}
    assert hostile["push_nul"]["status"] == "unreadable"
    assert all(r["status"] == "unreadable" for r in hostile.values())
    assert "TOP-SECRET" not in response.text
    assert {"scan_good", "scan_bad"} <= {r["task_id"] for r in rows if r["dag_id"] == DAG_ID}
    page = client.get("/mlsec-gates/", params={"limit": 200}, headers=auth)
    assert page.status_code == 200


@pytest.mark.parametrize(
    "path", ["/mlsec-gates/docs", "/mlsec-gates/redoc", "/mlsec-gates/openapi.json"]
)
def test_no_unauthenticated_docs_or_schema(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (401, 404), response.text
    assert "openapi" not in response.text.lower()
