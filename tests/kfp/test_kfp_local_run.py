"""Components and the example pipeline run under kfp.local.SubprocessRunner(use_venv=False).

Each task is a real subprocess (``python -m kfp.dsl.executor_main``) using this interpreter, so
the editable mlsec-gates is what runs. The prepare and train steps of the example still run
their ``pip install scikit-learn`` (already satisfied here: no download, about 2 s each), and
the validation step imports Great Expectations in its own process (4-7 s). The clean run
also builds the BOM (hashing the installed packages, 3-4 s) and signs, then runs the deploy
pipeline on what it signed (about 1.5 s).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kfp_helpers import PIPELINES, load_pipeline_module

from mlsec_gates.components import artifact_scan_uri
from tests.fixtures.signing_keys import write_ec_key_pair

pytestmark = pytest.mark.kfp


@pytest.fixture(scope="module")
def example():
    return load_pipeline_module(PIPELINES / "scan_model_pipeline.py")


def plain(exc: BaseException) -> str:
    """kfp.local colours its messages; drop the ANSI escapes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(exc))


def only(root: Path, pattern: str) -> Path:
    found = sorted(root.glob(pattern))
    assert len(found) == 1, f"{pattern}: {found}"
    return found[0]


def test_scan_component_runs_in_a_subprocess(clean_model: Path, local_root: Path) -> None:
    task = artifact_scan_uri(model_uri=str(clean_model))
    assert task.outputs["passed"] is True
    assert task.outputs["status"] == "pass"
    assert task.outputs["report_json"].metadata["passed"] is True
    assert "<html" in Path(task.outputs["report_html"].path).read_text().lower()
    assert task.outputs["metrics"].metadata["files_scanned"] == 1


def test_scan_component_fails_the_task(malicious_model: Path, local_root: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        artifact_scan_uri(model_uri=str(malicious_model))
    assert plain(info.value) == "Task 'artifact-scan-uri' finished with status FAILURE"
    body = json.loads(only(local_root, "*/artifact-scan-uri/report_json").read_text())
    assert body["status"] == "fail"
    assert only(local_root, "*/artifact-scan-uri/report_html").stat().st_size > 0


def test_clean_model_is_signed_published_then_verified_and_deployed(
    example, local_root: Path, tmp_path: Path
) -> None:
    private, public = write_ec_key_pair(tmp_path / "keys")
    example.scan_model_pipeline(tamper=False, hard_gate=True, signing_key=str(private))
    published = only(local_root, "scan-model-*/publish-model/published")
    trained = only(local_root, "scan-model-*/train-iris/model")
    assert published.read_bytes() == trained.read_bytes()
    assert not list(local_root.glob("scan-model-*/hold-model"))
    body = json.loads(only(local_root, "scan-model-*/artifact-scan/report_json").read_text())
    assert body["passed"] is True
    assert body["subjects"][0]["kind"]  # the scanner recognised the pickle
    data = json.loads(only(local_root, "scan-model-*/data-validation/report_json").read_text())
    assert (data["passed"], data["status"]) == (True, "pass")
    drift = json.loads(only(local_root, "scan-model-*/poison-drift/report_json").read_text())
    assert (drift["passed"], drift["status"]) == (True, "pass")
    suspects = only(local_root, "scan-model-*/poison-drift/suspects").read_text()
    assert suspects == "row,reason,score,detector\n"
    bom = json.loads(only(local_root, "scan-model-*/model-sbom/bom").read_text())
    assert bom["bomFormat"] == "CycloneDX"
    signature = only(local_root, "scan-model-*/model-signing/signature")
    assert sorted(p.name for p in signature.iterdir()) == ["model.sig", "model.sig.bom.dsse.json"]

    # The deploy side: import what was signed, verify the staged copy, deploy it.
    deploy = load_pipeline_module(PIPELINES / "deploy_model_pipeline.py")
    deploy.deploy_model_pipeline(
        model_uri=str(trained), signature_uri=str(signature), public_key=str(public)
    )
    served = only(local_root, "deploy-model-*/deploy-model/served")
    assert served.read_bytes() == trained.read_bytes()
    check = json.loads(
        only(local_root, "deploy-model-*/signature-verification/report_json").read_text()
    )
    assert (check["gate"], check["status"]) == ("verify", "pass")


def test_tampered_model_fails_the_run(example, local_root: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        example.scan_model_pipeline(tamper=True, hard_gate=True)
    assert plain(info.value).endswith("FAILURE. Inner task failed: 'artifact-scan'.")
    html = only(local_root, "scan-model-*/artifact-scan/report_html").read_text()
    assert "os.system" in html
    body = json.loads(only(local_root, "scan-model-*/artifact-scan/report_json").read_text())
    assert (body["passed"], body["status"]) == (False, "fail")
    assert not list(local_root.glob("scan-model-*/publish-model"))


def test_tampered_model_is_held_back_by_the_soft_gate(example, local_root: Path) -> None:
    example.scan_model_pipeline(tamper=True, hard_gate=False)
    assert not list(local_root.glob("scan-model-*/publish-model"))
    assert list(local_root.glob("scan-model-*/hold-model"))
    assert only(local_root, "scan-model-*/artifact-scan/report_html").stat().st_size > 0


def test_corrupt_data_fails_the_run_before_training(example, local_root: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        example.scan_model_pipeline(corrupt_data=True)
    assert plain(info.value).endswith("FAILURE. Inner task failed: 'data-validation'.")
    body = json.loads(only(local_root, "scan-model-*/data-validation/report_json").read_text())
    assert (body["passed"], body["status"]) == (False, "fail")
    html = only(local_root, "scan-model-*/data-validation/report_html").read_text()
    assert "expect_column_values_to_not_be_null" in html
    assert not list(local_root.glob("scan-model-*/train-iris"))


def test_poisoned_labels_fail_the_run_at_the_drift_gate(example, local_root: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        example.scan_model_pipeline(poison_data=True)
    assert plain(info.value).endswith("FAILURE. Inner task failed: 'poison-drift'.")
    data = json.loads(only(local_root, "scan-model-*/data-validation/report_json").read_text())
    assert data["status"] == "pass"  # the flipped labels still meet the data contract
    body = json.loads(only(local_root, "scan-model-*/poison-drift/report_json").read_text())
    assert (body["passed"], body["status"]) == (False, "fail")
    assert body["details"]["poison"]["alarm"] is True
    suspects = only(local_root, "scan-model-*/poison-drift/suspects").read_text().splitlines()
    assert len(suspects) > 10  # header + most of the 15 flipped rows
    assert (
        "Produced by mlsec-gates"
        in only(local_root, "scan-model-*/poison-drift/evidently_html").read_text()
    )
    assert not list(local_root.glob("scan-model-*/train-iris"))
