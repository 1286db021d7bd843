"""Scan fan-out with dynamic task mapping: the example DAG, run for real with ``dag.test()``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_scan_fan_out"


@pytest.fixture(scope="module")
def fan_out_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def _xcom(dag_run: Any, task_id: str, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).one()
        return XComModel.deserialize_value(row)


def _merged_report(dag_run: Any) -> dict[str, Any]:
    url = _xcom(dag_run, "scan_fan_out.merge", "report_json_url")
    return json.loads(Path(unquote(urlparse(url).path)).read_text())


def _states(dag_run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}


def test_clean_zoo_fans_out_to_three_shards_and_passes(fan_out_dag: Any, tmp_path: Path) -> None:
    dag_run = fan_out_dag.test(run_conf={"model_dir": str(tmp_path), "zoo_size": 10})
    states = _states(dag_run)
    assert dag_run.state == "success", states
    assert sorted(i for (t, i) in states if t == "scan_fan_out.scan_shard") == [0, 1, 2]
    assert states[("publish", -1)] == "success"
    report = _merged_report(dag_run)
    assert report["status"] == "pass"
    assert report["metrics"]["shards"] == 3
    assert report["metrics"]["files_scanned"] == 10
    assert len({s["path"] for s in report["subjects"]}) == 10


def test_one_planted_file_fails_the_merged_verdict(fan_out_dag: Any, tmp_path: Path) -> None:
    dag_run = fan_out_dag.test(run_conf={"model_dir": str(tmp_path), "zoo_size": 10, "plant": True})
    states = _states(dag_run)
    assert dag_run.state == "failed"
    assert states[("scan_fan_out.merge", -1)] == "failed"
    assert states[("publish", -1)] == "upstream_failed"
    # The shards ran under on_fail=warn: only the merge decides.
    assert all(s == "success" for (t, _), s in states.items() if t.endswith("scan_shard"))
    report = _merged_report(dag_run)
    assert report["status"] == "fail"
    blocked = [Path(s["path"]).name for s in report["subjects"] if s["verdict"] == "block"]
    assert blocked == ["model-005.pkl"]
    assert len(report["subjects"]) == 10
