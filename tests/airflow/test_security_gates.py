"""``security_gates()``: TaskGroups built from the policy's chain, run with ``dag.test()``.

The first DAG under test is ``dags/example_existing_dag_with_gates.py``: a team's extract ->
train -> deploy DAG with data gates (validate, drift) before its own ``train`` task and model
gates (scan, sbom, sign) after it, sharing one ``gate_report`` task. One run per case: clean,
bad data (stopped before training), a tampered model (stopped before deploy), no S3
credentials for the reports (the gates could not run; the report is written locally), a
stage that never started and a training task that failed between the stages. Then the whole
chain in one group (``example_gated_training``) and warn mode.
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
DATA_GATES = ["data_gates.validate", "data_gates.drift"]
MODEL_GATES = ["model_gates.scan", "model_gates.sbom", "model_gates.sign"]
STEPS = ["validate", "drift", "scan", "sbom", "sign"]


@pytest.fixture(scope="module")
def existing_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture()
def conf(tmp_path: Path) -> dict[str, Any]:
    private, _ = write_ec_key_pair(tmp_path / "keys")
    # Every param, each run: dag.test(run_conf=...) leaves the last run's values on the DAG.
    return {
        "work_dir": str(tmp_path / "work"),
        "signing_key": str(private),
        "reports": str(tmp_path / "reports"),
        "s3_endpoint_url": "",
        "corrupt": False,
        "poison": False,
        "tamper": False,
    }


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


def _combined(dag_run: Any, task_id: str = "gate_report") -> dict[str, Any]:
    """The run's combined JSON report, found where the report task's XCom says."""
    return json.loads(_path(_xcom(dag_run, task_id, "report_json_url")).read_text())


def _example_module() -> Any:
    """The example DAG file as a module (its ``extract`` task, reused in a test DAG)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("existing_dag", REPO / "dags" / f"{DAG_ID}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _board(combined: dict[str, Any]) -> dict[str, str]:
    return {row["gate"]: row["status"] for row in combined["board"]}


def test_data_gates_before_the_dags_training_and_model_gates_after(existing_dag: Any) -> None:
    from airflow.sdk import TriggerRule

    groups = existing_dag.task_group_dict
    assert sorted(groups["data_gates"].children) == sorted(DATA_GATES)
    assert sorted(groups["model_gates"].children) == sorted(MODEL_GATES)
    validate, drift = (existing_dag.get_task(t) for t in DATA_GATES)
    scan, sbom, sign = (existing_dag.get_task(t) for t in MODEL_GATES)
    assert type(validate).__name__ == "DataValidationGateOperator"
    assert type(drift).__name__ == "PoisonDriftGateOperator"
    assert type(scan).__name__ == "ArtifactScanGateOperator"
    # extract -> validate -> drift -> train -> scan -> sbom -> sign -> deploy
    assert validate.upstream_task_ids == {"extract"}
    assert "data_gates.drift" in existing_dag.get_task("train").upstream_task_ids
    assert scan.upstream_task_ids == {"train"}
    assert existing_dag.get_task("deploy").upstream_task_ids == {"model_gates.sign"}
    # One report for the run: a teardown after every gate of both stages.
    report = existing_dag.get_task("gate_report")
    assert report.is_teardown and report.trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert report.upstream_task_ids == {*DATA_GATES, *MODEL_GATES}
    assert list(report.gate_task_ids) == STEPS
    # The BOM records the verdicts of both stages; the policy reaches every gate.
    assert [x.operator.task_id for x in sbom.gate_reports] == [*DATA_GATES, "model_gates.scan"]
    assert {t.policy for t in (validate, drift, scan, sbom, sign)} == {str(POLICY)}
    assert sign.attach == ["{{ params.work_dir }}/model.cdx.json"]


def test_clean_run_is_gated_on_both_sides_then_deployed(
    existing_dag: Any, conf: dict[str, Any]
) -> None:
    dag_run = existing_dag.test(run_conf=conf)

    assert dag_run.state == "success", _states(dag_run)
    assert set(_states(dag_run).values()) == {"success"}
    work = Path(conf["work_dir"])
    assert (work / "serving" / "model.pkl").read_bytes() == (work / "model/model.pkl").read_bytes()
    assert Path(_xcom(dag_run, "model_gates.sign", "signature")).is_file()
    combined = _combined(dag_run)
    assert _board(combined) == dict.fromkeys(STEPS, "pass")
    assert combined["title"] == f"{DAG_ID} · {dag_run.run_id}"
    assert combined["headline"] == "PASSED"
    # Every report of the run under the reports param, one folder per run.
    run_dir = Path(conf["reports"]) / dag_run.run_id.replace(":", "_")
    assert (run_dir / "combined-report.html").is_file()
    assert (run_dir / "validate" / "validate-report.html").is_file()


@pytest.mark.parametrize(
    ("param", "stopped", "not_run"),
    [
        ("corrupt", "validate", ["drift", "scan", "sbom", "sign"]),
        ("tamper", "scan", ["sbom", "sign"]),
    ],
)
def test_a_failing_gate_stops_the_run_and_the_report_lists_every_gate(
    existing_dag: Any, conf: dict[str, Any], param: str, stopped: str, not_run: list[str]
) -> None:
    dag_run = existing_dag.test(run_conf={**conf, param: True})

    assert dag_run.state == "failed"
    states = _states(dag_run)
    group = "data_gates" if stopped in ("validate", "drift") else "model_gates"
    assert states[f"{group}.{stopped}"] == "failed", states
    assert states["deploy"] == "upstream_failed"
    assert states["gate_report"] == "success"  # the evidence is written anyway
    work = Path(conf["work_dir"])
    assert not (work / "serving").exists()
    if group == "data_gates":
        assert states["train"] == "upstream_failed"
        assert not (work / "model").exists()  # nothing was trained on bad data
    combined = _combined(dag_run)
    assert combined["stopped_at"] == stopped
    assert combined["headline"] == f"FAILED at {stopped}"
    assert combined["not_run"] == not_run
    assert _board(combined)[stopped] == "fail"
    html = _path(_xcom(dag_run, "gate_report", "report_url")).read_text()
    assert f"FAILED at {stopped}" in html


def test_without_s3_credentials_the_gates_could_not_run_and_the_report_is_local(
    existing_dag: Any,
    conf: dict[str, Any],
    s3_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Reports asked for in S3 with no credentials anywhere: each gate task fails with the
    credential error, and the combined report still appears, locally, saying so."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance endpoint
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    run_conf = {**conf, "reports": "s3://gate-reports/runs", "s3_endpoint_url": s3_server}

    dag_run = existing_dag.test(run_conf=run_conf)

    assert dag_run.state == "failed"
    states = _states(dag_run)
    assert states["data_gates.validate"] == "failed"
    assert states["gate_report"] == "success"
    error = _xcom(dag_run, "data_gates.validate", "gate_error")
    assert "credentials" in error
    combined = _combined(dag_run)  # a local file: the fallback
    assert _board(combined) == {
        "validate": "could not run",
        "drift": "not run",
        "scan": "not run",
        "sbom": "not run",
        "sign": "not run",
    }
    assert combined["could_not_run"] == {"validate": error}
    assert combined["headline"] == "COULD NOT RUN at validate"
    assert "s3://gate-reports/runs" in combined["run_context"]["note"]


@pytest.mark.parametrize("fail_at", ["extract", "train"])
def test_a_stage_that_never_started_is_reported_as_not_run(
    airflow_db: Path, conf: dict[str, Any], fail_at: str
) -> None:
    from airflow.sdk import DAG, task

    from mlsec_gates.operators import security_gates

    @task(task_id="extract")
    def broken_extract() -> None:
        raise RuntimeError("the source database is down")

    @task
    def train() -> None:
        raise RuntimeError("out of memory while training")

    # This DAG lives in tests/: point the policy's {{ dag.folder }} at the example's folder.
    policy = Path(conf["work_dir"]).parent / "gates.yaml"
    policy.write_text(POLICY.read_text().replace("{{ dag.folder }}", str(REPO / "dags")))
    with DAG(dag_id=f"stage_never_started_{fail_at}", schedule=None, params=conf) as dag:
        gated = {"policy": str(policy), "report_dir": conf["reports"]}
        extract = broken_extract() if fail_at == "extract" else _example_module().extract()
        extract >> security_gates(stage="data", **gated) >> train()
        dag.get_task("train") >> security_gates(stage="model", **gated)
    sync_dag_to_db(dag)

    dag_run = dag.test()

    assert dag_run.state == "failed"
    assert _states(dag_run)["gate_report"] == "success"
    combined = json.loads((Path(conf["reports"]) / "combined-report.json").read_text())
    if fail_at == "extract":
        assert _board(combined) == dict.fromkeys(STEPS, "not run")
        assert combined["status"] == "not run" and combined["passed"] is False
        assert combined["headline"].startswith("NOT RUN")
    else:
        assert _board(combined) == {
            "validate": "pass",
            "drift": "pass",
            **dict.fromkeys(STEPS[2:], "not run"),
        }
        assert combined["status"] == "incomplete" and combined["passed"] is False
        assert combined["headline"] == "INCOMPLETE: scan, sbom, sign not run"


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
        (work / "data").mkdir(parents=True)
        (work / "data" / "batch.csv").write_text("sepal_length,species\n5.1,setosa\n")
        model = work / "model" / "model.pkl"
        model.parent.mkdir(parents=True)
        model.write_bytes(fx.payload_after_benign())
        return str(model)

    with DAG(dag_id="security_gates_warn", schedule=None, params=conf) as dag:
        gates = security_gates(
            policy=str(POLICY),
            stage="model",
            on_fail="warn",
            model_asset=signed,
            report_dir=str(tmp_path / "r"),
        )
        write_model() >> gates
    assert dag.get_task("model_gates.sign").outlets == [signed]
    sync_dag_to_db(dag)

    dag_run = dag.test()

    assert dag_run.state == "success"
    summary = _xcom(dag_run, "model_gates.scan", "return_value")
    assert (summary["status"], summary["passed"]) == ("warn", True)
    assert _states(dag_run)["model_gates.sign"] == "success"
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
