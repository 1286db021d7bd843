"""SbomGateOperator, SignArtifactsOperator and VerifySignatureGateOperator on the real gates.

The operators run with a fake task instance (milliseconds each), except the Asset check: only
a real task run (``dag.test()``) records the outlet events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators import (
    ArtifactScanGateOperator,
    SbomGateOperator,
    SignArtifactsOperator,
    VerifySignatureGateOperator,
)
from mlsec_gates.operators.base import run_context
from tests.airflow.conftest import FakeTI

pytestmark = pytest.mark.airflow


@pytest.fixture()
def train_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "train.csv"
    path.parent.mkdir()
    path.write_text("x,y\n1,a\n2,b\n")
    return path


@pytest.fixture()
def signed(
    clean_model: Path, ec_keys: tuple[Path, Path], tmp_path: Path, fake_context: dict[str, Any]
) -> tuple[Path, Path]:
    """The clean model and its signature bundle, signed through the operator."""
    op = SignArtifactsOperator(
        task_id="sign",
        model=str(clean_model),
        key=str(ec_keys[0]),
        out=str(tmp_path / "model.sig"),
        report_dir=str(tmp_path / "sign-reports"),
    )
    op.execute(fake_context)
    return clean_model, tmp_path / "model.sig"


def test_run_context_names_the_task_try() -> None:
    ti = FakeTI(dag_id="d", task_id="t", map_index=3, try_number=2)
    assert run_context({"ti": ti, "run_id": "scheduled__x"}) == {
        "orchestrator": "airflow",
        "dag_id": "d",
        "run_id": "scheduled__x",
        "task_id": "t",
        "map_index": "3",
        "try_number": "2",
    }


def test_sbom_passes_and_pushes_the_bom(
    clean_model: Path, train_csv: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    scan = ArtifactScanGateOperator(
        task_id="scan", targets=[str(clean_model)], report_dir=str(tmp_path / "scan")
    )
    scan_json_url = scan.execute(fake_context)["report_json_url"]
    assert scan_json_url.startswith("file://")  # the XCom the example DAG hands on
    op = SbomGateOperator(
        task_id="sbom",
        model=str(clean_model),
        datasets=str(train_csv),
        gate_reports=[scan_json_url, ""],  # an unset template renders as ""
        out=str(tmp_path / "model.cdx.json"),
        report_dir=str(tmp_path / "sbom"),
    )
    summary = op.execute(fake_context)

    assert (summary["gate"], summary["status"], summary["passed"]) == ("sbom", "pass", True)
    json.dumps(summary)  # an XCom must be plain JSON
    xcoms = fake_context["ti"].xcoms
    assert xcoms["bom"] == summary["bom"] == str(tmp_path / "model.cdx.json")
    bom = json.loads(Path(xcoms["bom"]).read_text())
    assert bom["bomFormat"] == "CycloneDX"
    text = json.dumps(bom)
    assert str(train_csv.name) in text
    assert "manual__2026-01-01T00:00:00+00:00" in text  # the run context -> formulation
    assert Path(xcoms["report_json_url"].removeprefix("file://")).is_file()


def test_sign_writes_a_bundle_and_verify_passes(
    signed: tuple[Path, Path], ec_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    model, bundle = signed
    assert json.loads(bundle.read_text())["mediaType"].startswith(
        "application/vnd.dev.sigstore.bundle"
    )
    context = {"ti": FakeTI(task_id="verify"), "run_id": "r1"}
    op = VerifySignatureGateOperator(
        task_id="verify",
        model=str(model),
        signature=str(bundle),
        public_key=str(ec_keys[1]),
        report_dir=str(tmp_path / "verify"),
    )
    summary = op.execute(context)
    assert (summary["gate"], summary["status"]) == ("verify", "pass")
    assert "signature" not in context["ti"].xcoms  # verify produces no artifact


def test_sign_pushes_the_bundle_location(
    clean_model: Path, ec_keys: tuple[Path, Path], tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = SignArtifactsOperator(
        task_id="sign",
        model=str(clean_model),
        key=str(ec_keys[0]),
        out=str(tmp_path / "out" / "model.sig"),
        report_dir=str(tmp_path / "reports"),
    )
    summary = op.execute(fake_context)
    assert (summary["gate"], summary["status"]) == ("sign", "pass")
    assert fake_context["ti"].xcoms["signature"] == summary["signature"]
    assert Path(summary["signature"]).is_file()


def test_verify_fails_the_task_after_tampering(
    signed: tuple[Path, Path], ec_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    model, bundle = signed
    with model.open("ab") as out:
        out.write(b"\x00")
    context = {"ti": FakeTI(task_id="verify"), "run_id": "r1"}
    op = VerifySignatureGateOperator(
        task_id="verify",
        model=str(model),
        signature=str(bundle),
        public_key=str(ec_keys[1]),
        report_dir=str(tmp_path / "verify"),
    )
    with pytest.raises(AirflowFailException) as excinfo:
        op.execute(context)
    assert str(excinfo.value).startswith("verify gate fail\n")
    assert context["ti"].xcoms["report_url"]  # the report link survives the failure


def test_verify_with_another_key_fails(signed: tuple[Path, Path], tmp_path: Path) -> None:
    from tests.fixtures.signing_keys import write_ec_key_pair

    model, bundle = signed
    _, other_public = write_ec_key_pair(tmp_path / "other")
    op = VerifySignatureGateOperator(
        task_id="verify",
        model=str(model),
        signature=str(bundle),
        public_key=str(other_public),
        report_dir=str(tmp_path / "verify"),
    )
    with pytest.raises(AirflowFailException):
        op.execute({"ti": FakeTI(task_id="verify"), "run_id": "r1"})


def test_templates_render(tmp_path: Path) -> None:
    from airflow.sdk import DAG

    assert {"model", "datasets", "gate_reports", "out", "requirements"} <= set(
        SbomGateOperator.template_fields
    )
    assert {"model", "key", "kms_key_id", "out", "attach"} <= set(
        SignArtifactsOperator.template_fields
    )
    assert {"model", "signature", "public_key", "kms_key_id"} <= set(
        VerifySignatureGateOperator.template_fields
    )
    with DAG(dag_id="render_sign", schedule=None) as dag:
        op = SignArtifactsOperator(
            task_id="sign",
            model="{{ params.root }}/model.pkl",
            key="{{ params.root }}/key.pem",
            attach=["{{ params.root }}/model.cdx.json"],
            params={"root": str(tmp_path)},
        )
    op.render_template_fields({"params": op.params, "dag": dag, "task": op})
    assert (op.model, op.key) == (f"{tmp_path}/model.pkl", f"{tmp_path}/key.pem")
    assert op.attach == [f"{tmp_path}/model.cdx.json"]


def _asset_events(uri: str) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
        return [(row.source_task_id, dict(row.extra or {})) for row in rows]


def _serialize(dag: Any, tmp_path: Path) -> None:
    """Write a DAG built in a test to the metadata DB, as the DAG processor would a file's."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    empty = tmp_path / "no-dags"
    empty.mkdir()
    bag = DagBag(dag_folder=str(empty))
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def test_sign_emits_the_signed_model_asset_only_on_success(
    airflow_db: Path, clean_model: Path, ec_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    from airflow.sdk import DAG, Asset

    asset = Asset(name="unit_signed_model", uri="mlsec-test://unit/signed-model")
    with DAG(dag_id="unit_sign_asset", schedule=None, params={"key": str(ec_keys[0])}) as dag:
        SignArtifactsOperator(
            task_id="sign",
            model=str(clean_model),
            key="{{ params.key }}",
            out=str(tmp_path / "model.sig"),
            report_dir=str(tmp_path / "reports"),
            outlets=[asset],
        )
    _serialize(dag, tmp_path)
    assert dag.test().state == "success"
    events = _asset_events(asset.uri)
    assert len(events) == 1
    task_id, extra = events[0]
    assert task_id == "sign"
    assert extra["model"] == str(clean_model)
    assert extra["signature"] == str(tmp_path / "model.sig")
    assert (extra["gate"], extra["status"]) == ("sign", "pass")

    # A key that does not exist: the task fails and no event is emitted.
    run = dag.test(run_conf={"key": str(tmp_path / "missing.pem")})
    assert run.state == "failed"
    assert len(_asset_events(asset.uri)) == 1
