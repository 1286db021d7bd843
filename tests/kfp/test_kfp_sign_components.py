"""The SBOM, signing and verification components through ``.python_func`` (no subprocess).

A model is BOM'd and signed as the example pipeline does it (the BOM signed along), then
verified; the signature is a folder artifact (bundle + attachment envelopes).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl
from kfp_helpers import gate_outputs, iris_like_csv

from mlsec_gates.components import model_sbom, model_signing, signature_verification
from mlsec_gates.components._runtime import GateFailed
from tests.fixtures.signing_keys import write_ec_key_pair

pytestmark = pytest.mark.kfp


def outputs_in(folder: Path) -> dict[str, Any]:
    """The four gate outputs under ``folder/outputs`` (as KFP lays out a task's outputs)."""
    folder.mkdir(parents=True, exist_ok=True)
    return gate_outputs(folder)


def report(outs: dict[str, Any]) -> dict[str, Any]:
    return json.loads(Path(outs["report_json"].path).read_text())


@pytest.fixture()
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_ec_key_pair(tmp_path / "keys")


@pytest.fixture()
def signed(
    clean_model: Path, keys: tuple[Path, Path], tmp_path: Path
) -> tuple[dsl.Model, dsl.Artifact, dsl.Artifact]:
    """(model, BOM artifact, signature folder artifact), as the pipeline's tasks leave them."""
    data = tmp_path / "prepare-iris" / "dataset"
    data.parent.mkdir()
    data.write_text(iris_like_csv())
    model = dsl.Model(uri=str(clean_model))
    bom = dsl.Artifact(uri=str(tmp_path / "model-sbom" / "bom"))
    outs = outputs_in(tmp_path / "model-sbom")
    passed, status, _ = model_sbom.python_func(
        model=model, bom=bom, dataset=dsl.Dataset(uri=str(data)), **outs
    )
    assert (passed, status) == (True, "pass")
    signature = dsl.Artifact(uri=str(tmp_path / "model-signing" / "signature"))
    outs = outputs_in(tmp_path / "model-signing")
    passed, status, _ = model_signing.python_func(
        model=model, signature=signature, bom=bom, key=str(keys[0]), **outs
    )
    assert (passed, status) == (True, "pass")
    return model, bom, signature


def test_sbom_writes_the_bom_artifact(signed: Any, tmp_path: Path) -> None:
    _, bom, _ = signed
    doc = json.loads(Path(bom.path).read_text())
    assert doc["bomFormat"] == "CycloneDX"
    assert "dataset" in json.dumps(doc)  # the dataset artifact is in it
    assert bom.metadata == {
        "gate": "sbom",
        "passed": True,
        "status": "pass",
        "summary": bom.metadata["summary"],
    }
    body = json.loads((tmp_path / "model-sbom" / "outputs" / "report_json").read_text())
    assert body["reports"]["bom"] == bom.uri  # the report points at the KFP artifact


def test_signature_is_a_folder_with_the_signed_bom(signed: Any) -> None:
    _, _, signature = signed
    assert sorted(p.name for p in Path(signature.path).iterdir()) == [
        "model.sig",
        "model.sig.bom.dsse.json",
    ]
    assert signature.metadata["status"] == "pass"


def test_verify_passes_on_the_signed_model(
    signed: Any, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    model, _, signature = signed
    outs = outputs_in(tmp_path / "verify")
    passed, status, summary = signature_verification.python_func(
        model=model, signature=signature, public_key=str(keys[1]), **outs
    )
    assert (passed, status) == (True, "pass")
    assert report(outs)["gate"] == "verify"
    assert summary.startswith("Valid:")
    assert Path(outs["report_md"].path).read_text().startswith("# mlsec-gates verify: PASSED")


def test_verify_accepts_a_plain_bundle_file(
    signed: Any, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    model, _, signature = signed
    bundle = tmp_path / "imported" / "model.sig"
    bundle.parent.mkdir()
    shutil.copytree(signature.path, bundle.parent, dirs_exist_ok=True)
    outs = outputs_in(tmp_path / "verify")
    passed, _, _ = signature_verification.python_func(
        model=model, signature=dsl.Artifact(uri=str(bundle)), public_key=str(keys[1]), **outs
    )
    assert passed is True


def test_verify_fails_the_task_after_tampering(
    signed: Any, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    model, _, signature = signed
    with open(model.path, "ab") as out:
        out.write(b"\x00")
    outs = outputs_in(tmp_path / "verify")
    with pytest.raises(GateFailed, match=r"^verify gate fail\n"):
        signature_verification.python_func(
            model=model, signature=signature, public_key=str(keys[1]), **outs
        )
    assert (report(outs)["passed"], report(outs)["status"]) == (False, "fail")
    assert outs["metrics"].metadata["passed"] == 0

    soft = outputs_in(tmp_path / "verify-soft")
    passed, status, _ = signature_verification.python_func(
        model=model,
        signature=signature,
        public_key=str(keys[1]),
        fail_on_violation=False,
        **soft,
    )
    assert (passed, status) == (False, "fail")


def test_verify_with_another_key_fails(signed: Any, tmp_path: Path) -> None:
    model, _, signature = signed
    _, other = write_ec_key_pair(tmp_path / "other")
    with pytest.raises(GateFailed):
        signature_verification.python_func(
            model=model, signature=signature, public_key=str(other), **outputs_in(tmp_path)
        )


def test_sign_without_a_key_cannot_run(clean_model: Path, tmp_path: Path) -> None:
    from mlsec_gates.errors import Error

    with pytest.raises(Error):
        model_signing.python_func(
            model=dsl.Model(uri=str(clean_model)),
            signature=dsl.Artifact(uri=str(tmp_path / "sig")),
            key="",
            **outputs_in(tmp_path),
        )
