"""``security_gates()``: the TaskGroup built from the policy's chain, run with ``dag.test()``.

The DAG under test is ``dags/example_existing_dag_with_gates.py``: a team's extract -> train
-> deploy DAG with the gates put between train and deploy in one line. One clean run, one
run with a tampered model (the scan gate stops it), and one in-test DAG with the same
policy in warn mode (the run goes on, with the warning).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from tests.fixtures.airflow_dags import sync_dag_to_db
from tests.fixtures.signing_keys import write_ec_key_pair

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_existing_dag_with_gates"
POLICY = REPO / "dags" / "policies" / "existing-dag-gates.yaml"
GATES = ["security_gates.scan", "security_gates.sbom", "security_gates.sign"]


@pytest.fixture(scope="module")
def existing_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture()
def conf(tmp_path: Path) -> dict[str, Any]:
    private, _ = write_ec_key_pair(tmp_path / "keys")
    return {"work_dir": str(tmp_path / "work"), "signing_key": str(private)}


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def _xcom(dag_run: Any, task_id: str, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def _path(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


def test_group_has_the_policy_steps_in_order(existing_dag: Any) -> None:
    from airflow.sdk import TriggerRule

    group = existing_dag.task_group_dict["security_gates"]
    assert sorted(group.children) == sorted([*GATES, "security_gates.report"])
    scan, sbom, sign = (existing_dag.get_task(t) for t in GATES)
    assert type(scan).__name__ == "ArtifactScanGateOperator"
    assert type(sbom).__name__ == "SbomGateOperator"
    assert type(sign).__name__ == "SignArtifactsOperator"
    # Wired in chain order, between the DAG's own train and deploy tasks.
    assert scan.upstream_task_ids == {"train"}
    assert "security_gates.scan" in sbom.upstream_task_ids
    assert "security_gates.sbom" in sign.upstream_task_ids
    assert existing_dag.get_task("deploy").upstream_task_ids == {"security_gates.sign"}
    # The combined report: a teardown after every gate, which fails the run if it fails.
    report = existing_dag.get_task("security_gates.report")
    assert report.is_teardown
    assert report.upstream_task_ids == set(GATES)
    assert report.trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS
    # Arguments come from the policy, still templated; the policy goes to every gate.
    assert scan.targets == ["{{ params.work_dir }}/model/"]
    assert sign.attach == ["{{ params.work_dir }}/model.cdx.json"]
    assert {t.policy for t in (scan, sbom, sign)} == {str(POLICY)}


def test_clean_model_is_gated_then_deployed(existing_dag: Any, conf: dict[str, Any]) -> None:
    dag_run = existing_dag.test(run_conf=conf)

    assert dag_run.state == "success"
    assert set(_states(dag_run).values()) == {"success"}
    work = Path(conf["work_dir"])
    assert (work / "serving" / "model.pkl").read_bytes() == (work / "model/model.pkl").read_bytes()
    assert (work / "model.cdx.json").is_file()
    signature = _xcom(dag_run, "security_gates.sign", "signature")
    assert Path(signature).is_file()
    combined = json.loads(
        _path(_xcom(dag_run, "security_gates.report", "report_json_url")).read_text()
    )
    assert [g["gate"] for g in combined["gates"]] == ["scan", "sbom", "sign"]
    assert {g["status"] for g in combined["gates"]} == {"pass"}


def test_tampered_model_stops_at_the_scan_and_is_not_deployed(
    existing_dag: Any, conf: dict[str, Any]
) -> None:
    dag_run = existing_dag.test(run_conf={**conf, "tamper": True})

    assert dag_run.state == "failed"
    states = _states(dag_run)
    assert states["security_gates.scan"] == "failed"
    assert states["security_gates.sbom"] == states["security_gates.sign"] == "upstream_failed"
    assert states["deploy"] == "upstream_failed"
    assert states["security_gates.report"] == "success"  # the evidence is written anyway
    assert not (Path(conf["work_dir"]) / "serving").exists()
    report = _path(_xcom(dag_run, "security_gates.report", "report_json_url"))
    combined = json.loads(report.read_text())
    assert [(g["gate"], g["status"]) for g in combined["gates"]] == [("scan", "fail")]
    assert combined["not_run"] == ["sbom", "sign"]
    html = _path(_xcom(dag_run, "security_gates.report", "report_url")).read_text()
    assert "os.system" in html


def test_warn_mode_lets_the_run_go_on_with_the_warning(
    airflow_db: Path, conf: dict[str, Any], tmp_path: Path
) -> None:
    from airflow.sdk import DAG, Asset, task

    from mlsec_gates.operators import security_gates
    from tests.fixtures import pickles as fx

    signed = Asset(name="warn_signed_model", uri="s3://models/warn/signed")

    @task
    def write_model(params: dict | None = None) -> str:
        work = Path((params or {})["work_dir"])
        (work / "extract").mkdir(parents=True)
        (work / "extract" / "iris.csv").write_text("sepal_length,species\n5.1,setosa\n")
        model = work / "model" / "model.pkl"
        model.parent.mkdir(parents=True)
        model.write_bytes(fx.payload_after_benign())
        return str(model)

    with DAG(dag_id="security_gates_warn", schedule=None, params=conf) as dag:
        gates = security_gates(
            policy=str(POLICY), on_fail="warn", model_asset=signed, report_dir=str(tmp_path / "r")
        )
        write_model() >> gates
    assert dag.get_task("security_gates.sign").outlets == [signed]
    sync_dag_to_db(dag)

    dag_run = dag.test()

    assert dag_run.state == "success"
    summary = _xcom(dag_run, "security_gates.scan", "return_value")
    assert (summary["status"], summary["passed"]) == ("warn", True)
    assert _states(dag_run)["security_gates.sign"] == "success"
    combined = json.loads((tmp_path / "r" / "combined-report.json").read_text())
    assert combined["gates"][0]["status"] == "warn"
    assert (tmp_path / "r" / "scan" / "scan-report.html").is_file()


# --- dags/example_gated_training.py: the whole chain (validate -> drift -> train -> ...) ---

GATED_ID = "example_gated_training"
CHAIN = ["validate", "drift", "train", "scan", "sbom", "sign"]


@pytest.fixture(scope="module")
def gated_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{GATED_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[GATED_ID]


def _asset_events(name: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        stmt = (
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == name)
        )
        return [dict(event.extra) for event in session.scalars(stmt)]


def test_gated_training_wires_the_whole_chain_with_assets(gated_dag: Any) -> None:
    ids = [f"security_gates.{step}" for step in CHAIN]
    for upstream, downstream in itertools.pairwise(ids):
        assert upstream in gated_dag.get_task(downstream).upstream_task_ids
    assert gated_dag.get_task(ids[0]).upstream_task_ids == {"prepare_data", "demo_signing_key"}
    assert gated_dag.get_task("release").upstream_task_ids == {"security_gates.sign"}
    outlets = {
        step: [a.name for a in gated_dag.get_task(f"security_gates.{step}").outlets]
        for step in CHAIN
    }
    assert outlets == {
        "validate": ["gated_training_data"],
        "drift": ["gated_training_data"],
        "train": [],
        "scan": [],
        "sbom": [],
        "sign": ["gated_training_model"],
    }


def test_gated_training_clean_run_signs_and_releases(gated_dag: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    dag_run = gated_dag.test(run_conf={"work_dir": str(work)})

    assert dag_run.state == "success", _states(dag_run)
    assert set(_states(dag_run).values()) == {"success"}
    assert (work / "model" / "model.pkl").is_file()
    events = _asset_events("gated_training_model")
    [event] = [e for e in events if e["model"] == str(work / "model")]
    assert (event["gate"], event["status"]) == ("sign", "pass")
    assert Path(event["signature"]).is_file()
    data_events = [e for e in _asset_events("gated_training_data") if e["status"] == "pass"]
    assert {e["gate"] for e in data_events} >= {"validate", "drift"}


def test_gated_training_poisoned_batch_stops_at_drift(gated_dag: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    dag_run = gated_dag.test(run_conf={"work_dir": str(work), "poison": True})

    assert dag_run.state == "failed"
    states = _states(dag_run)
    assert states["security_gates.validate"] == "success"  # the values are all in range
    assert states["security_gates.drift"] == "failed"
    for step in CHAIN[2:]:
        assert states[f"security_gates.{step}"] == "upstream_failed", step
    assert states["release"] == "upstream_failed"
    assert states["security_gates.report"] == "success"
    assert not (work / "model").exists()  # nothing was trained on the poisoned batch
    combined = json.loads(
        _path(_xcom(dag_run, "security_gates.report", "report_json_url")).read_text()
    )
    assert combined["stopped_at"] == "drift"
    assert combined["not_run"] == CHAIN[2:]
