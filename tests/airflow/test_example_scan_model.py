"""The example DAG, run end to end with ``dag.test()`` (one process, SQLite metadata DB)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_ID = "example_scan_model"


@pytest.fixture(scope="module")
def example_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def _xcoms(dag_run: Any, task_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
            )
        ).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def _path_of(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


def test_dagbag_over_dags_folder_has_no_import_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert DAG_ID in bag.dag_ids
    dag = bag.dags[DAG_ID]
    assert dag.get_task("validate_data").upstream_task_ids == {"write_training_data"}
    assert dag.get_task("poison_drift").upstream_task_ids == {
        "write_training_data",
        "validate_data",
    }
    assert dag.get_task("train_model").upstream_task_ids == {
        "write_training_data",
        "poison_drift",
    }
    assert dag.get_task("scan_model").upstream_task_ids == {"simulate_tampering"}
    # sbom gets the model, the CSV and both gates' JSON reports; sign gets the BOM and the key
    assert dag.get_task("sbom_model").upstream_task_ids == {
        "simulate_tampering",
        "write_training_data",
        "validate_data",
        "poison_drift",
        "scan_model",
    }
    assert dag.get_task("sign_model").upstream_task_ids == {
        "simulate_tampering",
        "sbom_model",
        "demo_signing_key",
    }
    assert {"sign_model", "sbom_model"} <= dag.get_task("publish").upstream_task_ids
    (outlet,) = dag.get_task("sign_model").outlets
    assert outlet.name == "example_signed_model"
    deploy = bag.dags["example_deploy_model"]
    assert list(deploy.timetable.asset_condition.objects) == [outlet]  # what sign emits
    suite = Path(dag.get_task("validate_data").suite)
    assert suite.is_file()
    assert suite.is_relative_to(DAGS)


ALL_TASKS = (
    "write_training_data",
    "validate_data",
    "poison_drift",
    "train_model",
    "simulate_tampering",
    "scan_model",
    "sbom_model",
    "demo_signing_key",
    "sign_model",
    "publish",
)
SIGNED_MODEL_URI = "mlsec-example://models/iris/signed"


def _asset_events(dag_run: Any) -> list[dict[str, Any]]:
    """Extras of the signed-model Asset events this run emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == SIGNED_MODEL_URI)
            .where(AssetEvent.source_run_id == dag_run.run_id)
        ).all()
        return [dict(row.extra or {}) for row in rows]


def test_clean_model_is_scanned_then_published(example_dag: Any, tmp_path: Path) -> None:
    dag_run = example_dag.test(run_conf={"tamper": False, "model_dir": str(tmp_path)})

    assert dag_run.state == "success"
    assert _states(dag_run) == dict.fromkeys(ALL_TASKS, "success")
    validate = _xcoms(dag_run, "validate_data")
    assert validate["return_value"]["status"] == "pass"
    assert validate["_link_GateReportLink"] == validate["report_url"]
    assert _path_of(validate["report_url"]).is_file()
    drift = _xcoms(dag_run, "poison_drift")
    assert drift["return_value"]["status"] == "pass"
    assert _path_of(drift["suspects_url"]).read_text() == "row,reason,score,detector\n"
    assert drift["evidently_report_url"] == ""  # Evidently's page: only when the gate fails
    scan = _xcoms(dag_run, "scan_model")
    summary = scan["return_value"]
    assert summary["status"] == "pass"
    assert summary["passed"] is True
    assert summary["counts"] == {"verdict_pass": 1}
    report = _path_of(scan["report_url"])
    assert report.is_file()
    assert summary["report_url"] == scan["report_url"]
    assert scan["_link_GateReportLink"] == scan["report_url"]
    published = Path(_xcoms(dag_run, "publish")["return_value"])
    assert published.is_file()
    assert published.parent.name == "published"
    assert published.is_relative_to(tmp_path)
    assert {p.name for p in published.parent.iterdir()} == {
        "model.pkl",
        "model.sig",
        "model.cdx.json",
    }

    # sbom: the model, the training CSV and both gates' reports, pinned by hash
    sbom = _xcoms(dag_run, "sbom_model")
    assert sbom["return_value"]["status"] == "pass"
    bom_text = Path(sbom["bom"]).read_text()
    bom = json.loads(bom_text)
    assert bom["bomFormat"] == "CycloneDX"
    assert "iris.csv" in bom_text
    for gate in ("validate_data", "poison_drift", "scan_model"):
        report = _path_of(_xcoms(dag_run, gate)["report_json_url"])
        assert hashlib.sha256(report.read_bytes()).hexdigest() in bom_text, gate
    assert dag_run.run_id in bom_text  # the run context became the formulation

    # sign: a bundle, and the signed-model Asset event saying which model and signature
    sign = _xcoms(dag_run, "sign_model")
    assert sign["return_value"]["status"] == "pass"
    assert Path(sign["signature"]).is_file()
    (extra,) = _asset_events(dag_run)
    assert extra["signature"] == sign["signature"]
    assert extra["model"] == _xcoms(dag_run, "simulate_tampering")["return_value"]
    assert (extra["gate"], extra["status"]) == ("sign", "pass")


def test_tampered_model_fails_the_gate_and_is_not_published(
    example_dag: Any, tmp_path: Path
) -> None:
    # Allow retries: AirflowFailException must fail the task on its first try anyway.
    scan_task = example_dag.get_task("scan_model")
    scan_task.retries, scan_task.retry_delay = 2, timedelta(0)
    try:
        dag_run = example_dag.test(run_conf={"tamper": True, "model_dir": str(tmp_path)})
    finally:
        scan_task.retries, scan_task.retry_delay = 0, timedelta(minutes=5)

    assert dag_run.state == "failed"
    tries = {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}
    assert tries["scan_model"] == 1
    states = _states(dag_run)
    assert states["validate_data"] == "success"
    assert states["train_model"] == "success"
    assert states["simulate_tampering"] == "success"
    assert states["scan_model"] == "failed"
    for task_id in ("sbom_model", "sign_model", "publish"):
        assert states[task_id] == "upstream_failed", task_id
    assert not list(tmp_path.rglob("published"))
    assert not list(tmp_path.rglob("model.sig"))
    assert _asset_events(dag_run) == []  # nothing signed: the deploy DAG is not triggered
    scan = _xcoms(dag_run, "scan_model")
    assert "return_value" not in scan
    assert scan["_link_GateReportLink"] == scan["report_url"]
    html = _path_of(scan["report_url"]).read_text()
    assert "os.system" in html
    assert _path_of(scan["report_json_url"]).is_file()


def test_corrupt_data_fails_validation_and_nothing_is_trained(
    example_dag: Any, tmp_path: Path
) -> None:
    dag_run = example_dag.test(run_conf={"corrupt_data": True, "model_dir": str(tmp_path)})

    assert dag_run.state == "failed"
    states = _states(dag_run)
    assert states["write_training_data"] == "success"
    assert states["validate_data"] == "failed"
    downstream = ("poison_drift", "train_model", "simulate_tampering", "scan_model", "sbom_model")
    for task_id in downstream:
        assert states[task_id] == "upstream_failed", task_id
    assert (states["sign_model"], states["publish"]) == ("upstream_failed", "upstream_failed")
    assert not list(tmp_path.rglob("model.pkl"))
    validate = _xcoms(dag_run, "validate_data")
    assert "return_value" not in validate
    assert validate["_link_GateReportLink"] == validate["report_url"]
    report = json.loads(_path_of(validate["report_json_url"]).read_text())
    assert (report["status"], report["passed"]) == ("fail", False)
    html = _path_of(validate["report_url"]).read_text()
    assert "expect_column_values_to_not_be_null" in html
    assert "expect_column_values_to_be_between" in html


def test_poisoned_labels_stop_the_run_at_the_drift_gate(example_dag: Any, tmp_path: Path) -> None:
    # Every flag explicit: dag.test() keeps the previous run's conf in the DAG's params.
    conf = {"poison_data": True, "corrupt_data": False, "tamper": False}
    dag_run = example_dag.test(run_conf={**conf, "model_dir": str(tmp_path)})

    assert dag_run.state == "failed"
    states = _states(dag_run)
    assert (states["write_training_data"], states["validate_data"]) == ("success", "success")
    assert states["poison_drift"] == "failed"
    for task_id in ("train_model", "scan_model", "sbom_model", "sign_model", "publish"):
        assert states[task_id] == "upstream_failed", task_id
    assert not list(tmp_path.rglob("model.pkl"))
    drift = _xcoms(dag_run, "poison_drift")
    assert "return_value" not in drift
    assert drift["_link_GateReportLink"] == drift["report_url"]
    report = json.loads(_path_of(drift["report_json_url"]).read_text())
    assert (report["status"], report["passed"]) == ("fail", False)
    assert report["details"]["poison"]["alarm"] is True
    assert report["metrics"]["columns_drifted"] == 0  # label flips do not move the features
    suspects = _path_of(drift["suspects_url"]).read_text().splitlines()
    assert suspects[0] == "row,reason,score,detector"
    assert len(suspects) > 10  # most of the 15 flipped rows are listed
