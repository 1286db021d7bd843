"""The example deploy DAG, run with ``dag.test()``: verify before deploying, never after.

The model is signed here with the sign gate itself (a throwaway key); the scan DAG's test
checks that its sign task emits the Asset this DAG is scheduled on.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.fixtures import pickles as fx
from tests.fixtures.signing_keys import write_ec_key_pair

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_deploy_model"


@pytest.fixture(scope="module")
def deploy_dag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{DAG_ID}.py"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture()
def signed_model(tmp_path: Path) -> dict[str, str]:
    """A model signed as example_scan_model signs it: run dir with model/, keys/, model.sig."""
    from mlsec_gates.gates.sign import sign_gate

    run_dir = tmp_path / "producer-run"
    model = run_dir / "model" / "model.pkl"
    model.parent.mkdir(parents=True)
    model.write_bytes(fx.benign_dict_pickle())
    private, public = write_ec_key_pair(run_dir / "keys")
    result = sign_gate(
        str(model),
        key=str(private),
        out=str(run_dir / "model.sig"),
        report_dir=str(tmp_path / "sign-reports"),
    )
    assert result.passed, result.summary
    return {
        "model": str(model),
        "signature": result.reports["signature"],
        "public_key": str(public),
    }


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def test_shape(deploy_dag: Any) -> None:
    assert deploy_dag.get_task("verify_model").upstream_task_ids == {
        "stage_model",
        "simulate_tampering",
    }
    assert "verify_model" in deploy_dag.get_task("deploy").upstream_task_ids


def test_verified_model_is_deployed(
    deploy_dag: Any, signed_model: dict[str, str], tmp_path: Path
) -> None:
    conf = {**signed_model, "deploy_dir": str(tmp_path / "deploy")}
    dag_run = deploy_dag.test(run_conf=conf)

    assert dag_run.state == "success"
    assert set(_states(dag_run).values()) == {"success"}
    served = list((tmp_path / "deploy").rglob("serving/model.pkl"))
    assert len(served) == 1
    assert served[0].read_bytes() == Path(signed_model["model"]).read_bytes()


def test_model_tampered_after_signing_is_not_deployed(
    deploy_dag: Any, signed_model: dict[str, str], tmp_path: Path
) -> None:
    # No public_key: the DAG falls back to the producer run's demo key (keys/ by model.sig).
    conf = {
        "model": signed_model["model"],
        "signature": signed_model["signature"],
        "tamper": True,
        "deploy_dir": str(tmp_path / "deploy"),
    }
    dag_run = deploy_dag.test(run_conf=conf)

    assert dag_run.state == "failed"
    states = _states(dag_run)
    assert states["stage_model"] == states["simulate_tampering"] == "success"
    assert states["verify_model"] == "failed"
    assert states["deploy"] == "upstream_failed"
    assert not list((tmp_path / "deploy").rglob("serving"))
    original = Path(signed_model["model"]).read_bytes()
    assert original == fx.benign_dict_pickle()  # only the staged copy was tampered with


def test_scheduled_run_deploys_what_the_asset_event_names(
    deploy_dag: Any, signed_model: dict[str, str], tmp_path: Path
) -> None:
    from airflow.sdk import Asset

    stage = deploy_dag.get_task("stage_model").python_callable
    asset = Asset(name="example_signed_model", uri="mlsec-example://models/iris/signed")
    event = SimpleNamespace(extra={"model": signed_model["model"], "signature": "/x/model.sig"})
    staged = stage(str(tmp_path / "run"), params={}, triggering_asset_events={asset: [event]})
    assert Path(staged["model"]).read_bytes() == Path(signed_model["model"]).read_bytes()
    assert staged["signature"] == "/x/model.sig"
    assert staged["public_key"] == "/x/keys/signing-key.pub.pem"
    with pytest.raises(ValueError, match="nothing to deploy"):
        stage(str(tmp_path / "run2"), params={}, triggering_asset_events={})
