"""DataValidationGateOperator against the real validation gate, with a fake task instance.

Great Expectations is imported once per process (4-7 s, paid by the first test); each later
validation of these few rows takes well under a second.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators import DataValidationGateOperator

pytestmark = pytest.mark.airflow

SUITE = """\
name: people
expectations:
  - expect_column_values_to_not_be_null: {column: age}
  - expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}
"""
CLEAN_ROWS = [("ada", 36), ("alan", 41), ("grace", 85)]
BROKEN_ROWS = [("ada", 36), ("alan", None), ("grace", 185)]


def _path_of(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


def _csv(path: Path, rows: list[tuple[str, int | None]]) -> Path:
    lines = ["name,age", *(f"{name},{'' if age is None else age}" for name, age in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def clean_csv(tmp_path: Path) -> Path:
    return _csv(tmp_path / "clean.csv", CLEAN_ROWS)


@pytest.fixture()
def broken_csv(tmp_path: Path) -> Path:
    """One missing age, one out of range."""
    return _csv(tmp_path / "broken.csv", BROKEN_ROWS)


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Path:
    """Tables ``people`` (clean) and ``people_broken``."""
    path = tmp_path / "people.db"
    with sqlite3.connect(path) as db:
        for table, rows in (("people", CLEAN_ROWS), ("people_broken", BROKEN_ROWS)):
            db.execute(f"CREATE TABLE {table} (name TEXT, age INTEGER)")
            db.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
    db.close()
    return path


def test_clean_csv_passes_and_pushes_reports(
    clean_csv: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = DataValidationGateOperator(
        task_id="validate", data=str(clean_csv), suite=SUITE, report_dir=str(tmp_path / "out")
    )
    summary = op.execute(fake_context)

    assert summary["gate"] == "validate"
    assert (summary["status"], summary["passed"]) == ("pass", True)
    json.dumps(summary)  # an XCom must be plain JSON
    xcoms = fake_context["ti"].xcoms
    assert summary["report_url"] == xcoms["report_url"]
    assert _path_of(xcoms["report_url"]).is_file()
    report = json.loads(_path_of(xcoms["report_json_url"]).read_text())
    assert report["status"] == "pass"
    assert report["subjects"][0]["path"] == str(clean_csv)


def test_broken_csv_fails_naming_the_expectations(
    broken_csv: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    suite = tmp_path / "people.yaml"
    suite.write_text(SUITE)
    op = DataValidationGateOperator(
        task_id="validate", data=str(broken_csv), suite=str(suite), report_dir=str(tmp_path / "o")
    )
    with pytest.raises(AirflowFailException) as excinfo:
        op.execute(fake_context)

    message = str(excinfo.value)
    assert message.startswith("validate gate fail\n")
    assert "expect_column_values_to_not_be_null" in message
    assert "expect_column_values_to_be_between" in message
    # The reports were written before the task failed, and the link points at them.
    xcoms = fake_context["ti"].xcoms
    report = json.loads(_path_of(xcoms["report_json_url"]).read_text())
    assert (report["status"], report["passed"]) == ("fail", False)
    assert report["summary"] in message
    assert "expect_column_values_to_be_between" in _path_of(xcoms["report_url"]).read_text()


def test_warn_lets_the_task_succeed_and_logs_a_warning(
    broken_csv: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    from structlog.testing import capture_logs

    op = DataValidationGateOperator(
        task_id="validate",
        data=str(broken_csv),
        suite=SUITE,
        report_dir=str(tmp_path / "out"),
        on_fail="warn",
    )
    with capture_logs() as logs:
        summary = op.execute(fake_context)

    assert (summary["status"], summary["passed"]) == ("warn", True)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "on_fail=warn" in warnings[0]["event"]
    assert "expect_column_values_to_not_be_null" in warnings[0]["event"]


def test_sql_table_from_url_and_from_connection(
    sqlite_db: Path, tmp_path: Path, fake_context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_url = DataValidationGateOperator(
        task_id="validate",
        sql_url=f"sqlite:///{sqlite_db}",
        table="people",
        suite=SUITE,
        report_dir=str(tmp_path / "url"),
    )
    assert by_url.execute(fake_context)["status"] == "pass"

    # A connection defined in URI form; looked up when the task runs, not when it is built.
    by_conn = DataValidationGateOperator(
        task_id="validate",
        sql_conn_id="people_db",
        table="people_broken",
        suite=SUITE,
        report_dir=str(tmp_path / "conn"),
    )
    monkeypatch.setenv("AIRFLOW_CONN_PEOPLE_DB", f"sqlite:///{sqlite_db}")
    with pytest.raises(AirflowFailException, match="expect_column_values_to_be_between"):
        by_conn.execute(fake_context)


def test_templates_render_data_suite_and_table(tmp_path: Path) -> None:
    from airflow.sdk import DAG

    assert {"data", "suite", "sql_url", "table", "policy", "report_dir", "on_fail"} <= set(
        DataValidationGateOperator.template_fields
    )
    assert "sql_conn_id" not in DataValidationGateOperator.template_fields
    with DAG(dag_id="render_validate", schedule=None) as dag:
        op = DataValidationGateOperator(
            task_id="validate",
            data="{{ params.root }}/{{ ds }}.csv",
            suite="{{ params.root }}/suite.yaml",
            sql_url="sqlite:///{{ params.root }}/db.sqlite",
            table="t_{{ ds_nodash }}",
            params={"root": str(tmp_path)},
        )
    context = {"params": op.params, "ds": "2026-01-01", "ds_nodash": "20260101", "dag": dag}
    op.render_template_fields({**context, "task": op})
    assert op.data == f"{tmp_path}/2026-01-01.csv"
    assert op.suite == f"{tmp_path}/suite.yaml"
    assert op.sql_url == f"sqlite:///{tmp_path}/db.sqlite"
    assert op.table == "t_20260101"
