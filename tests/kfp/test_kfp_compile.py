"""Every pipeline and component compiles, the committed YAML is current, adapters stay thin."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import compiler
from kfp.dsl.base_component import BaseComponent
from kfp.dsl.graph_component import GraphComponent
from kfp_helpers import PIPELINES, REPO, load_pipeline_module

import mlsec_gates.components as components
from mlsec_gates import __version__

pytestmark = pytest.mark.kfp

PIPELINE_FILES = sorted(PIPELINES.glob("*.py"))
COMPONENTS = {
    name: obj
    for name in components.__all__
    if isinstance(obj := getattr(components, name), BaseComponent)
}
GATE_FUNCTIONS = {
    "scan_gate",
    "validate_gate",
    "sbom_gate",
    "sign_gate",
    "verify_gate",
    "drift_gate",
    "model_eval_gate",
}


def test_something_to_compile() -> None:
    # Finding nothing would make every check below pass vacuously.
    assert PIPELINE_FILES
    assert set(COMPONENTS) == {
        "artifact_scan",
        "artifact_scan_uri",
        "data_validation",
        "data_validation_uri",
        "model_eval",
        "model_sbom",
        "model_signing",
        "poison_drift",
        "signature_verification",
    }
    assert {p.name for p in PIPELINE_FILES} >= {
        "scan_model_pipeline.py",
        "deploy_model_pipeline.py",
    }


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: p.name)
def test_pipeline_yaml_is_up_to_date(path: Path, tmp_path: Path) -> None:
    module = load_pipeline_module(path)
    pipelines = [  # a module-private GraphComponent is a sub-pipeline of the file's pipeline
        obj
        for name, obj in vars(module).items()
        if isinstance(obj, GraphComponent) and not name.startswith("_")
    ]
    assert len(pipelines) == 1, f"{path.name}: expected one pipeline, found {len(pipelines)}"
    committed = path.with_suffix(".yaml")
    assert committed.exists(), f"compile it: python pipelines/{path.name}"
    fresh = tmp_path / committed.name
    compiler.Compiler().compile(pipelines[0], str(fresh))
    assert fresh.read_text() == committed.read_text(), (
        f"{committed.name} is stale; regenerate it with: python pipelines/{path.name}"
    )


def test_example_pipeline_shape(tmp_path: Path) -> None:
    spec = yaml.safe_load((PIPELINES / "scan_model_pipeline.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert {
        "prepare-iris",
        "data-validation",
        "poison-drift",
        "train-iris",
        "artifact-scan",
        "condition-branches-1",
    } <= set(tasks)
    assert spec["root"]["inputDefinitions"]["parameters"].keys() == {
        "tamper",
        "hard_gate",
        "corrupt_data",
        "signing_key",
        "kms_key_id",
        "poison_data",
    }
    validation_inputs = tasks["data-validation"]["inputs"]
    data_source = validation_inputs["artifacts"]["data"]["taskOutputArtifact"]
    assert data_source["producerTask"] == "prepare-iris"
    suite = validation_inputs["parameters"]["suite"]["runtimeValue"]["constant"]
    assert "expect_column_values_to_not_be_null" in suite
    # Nothing is trained on data that did not pass: validation, then the poisoning-drift gate.
    drift = tasks["poison-drift"]
    assert "data-validation" in drift["dependentTasks"]
    drift_inputs = {k: v["taskOutputArtifact"] for k, v in drift["inputs"]["artifacts"].items()}
    assert drift_inputs["current"]["outputArtifactKey"] == "dataset"
    assert drift_inputs["reference"]["outputArtifactKey"] == "reference"
    assert "poison-drift" in tasks["train-iris"]["dependentTasks"]
    scan_inputs = tasks["artifact-scan"]["inputs"]
    assert scan_inputs["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] == "train-iris"
    assert scan_inputs["parameters"]["fail_on_violation"]["componentInputParameter"] == "hard_gate"
    branches = spec["components"]["comp-condition-branches-1"]["dag"]["tasks"]
    conditions = {name: t["triggerPolicy"]["condition"] for name, t in branches.items()}
    assert any("passed'] == true" in c for c in conditions.values()), conditions
    # Only a model that passed the scan gets a BOM, a signature and published: in that order.
    passed = spec["components"]["comp-condition-2"]["dag"]["tasks"]
    assert set(passed) == {"model-sbom", "model-signing", "publish-model"}
    sbom_inputs = passed["model-sbom"]["inputs"]["artifacts"]
    assert set(sbom_inputs) == {"model", "dataset", "validation_report", "scan_report"}
    sign = passed["model-signing"]
    assert sign["inputs"]["artifacts"]["bom"]["taskOutputArtifact"]["producerTask"] == "model-sbom"
    assert sign["inputs"]["parameters"]["key"]["componentInputParameter"].endswith("signing_key")
    publish = passed["publish-model"]["inputs"]["artifacts"]
    assert publish["signature"]["taskOutputArtifact"]["producerTask"] == "model-signing"


def test_deploy_pipeline_shape() -> None:
    spec = yaml.safe_load((PIPELINES / "deploy_model_pipeline.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert {"stage-model", "signature-verification", "deploy-model"} <= set(tasks)
    verify = tasks["signature-verification"]["inputs"]
    staged = verify["artifacts"]["model"]["taskOutputArtifact"]
    assert (staged["producerTask"], staged["outputArtifactKey"]) == ("stage-model", "staged")
    assert verify["parameters"]["public_key"]["componentInputParameter"] == "public_key"
    # deploy runs after verify (its report is an input), on the same staged bytes
    deploy = tasks["deploy-model"]["inputs"]["artifacts"]
    assert deploy["verification"]["taskOutputArtifact"]["producerTask"] == "signature-verification"
    assert deploy["model"]["taskOutputArtifact"]["producerTask"] == "stage-model"


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_component_compiles(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.yaml"
    compiler.Compiler().compile(COMPONENTS[name], str(out))
    spec = yaml.safe_load(out.read_text())
    (executor,) = spec["deploymentSpec"]["executors"].values()
    container = executor["container"]
    assert container["image"] == f"ghcr.io/mlsec-gates/mlsec-gates-python:{__version__}"
    command = " ".join(container["command"])
    assert "pip install" not in command  # the image has mlsec-gates and kfp: no pip at start
    (comp,) = spec["components"].values()
    inputs = comp["inputDefinitions"]
    outputs = comp["outputDefinitions"]
    kind, primary = {
        "artifact_scan": ("artifacts", "model"),
        "artifact_scan_uri": ("parameters", "model_uri"),
        "data_validation": ("artifacts", "data"),
        "data_validation_uri": ("parameters", "data_uri"),
        "model_eval": ("artifacts", "model"),
        "model_sbom": ("artifacts", "model"),
        "model_signing": ("artifacts", "model"),
        "poison_drift": ("artifacts", "current"),
        "signature_verification": ("artifacts", "model"),
    }[name]
    assert primary in inputs[kind]
    if name.startswith("data_validation"):
        assert "isOptional" not in inputs["parameters"]["suite"]  # a suite is required
    assert {"policy", "fail_on_violation"} <= set(inputs["parameters"])
    assert inputs["parameters"]["policy"]["isOptional"] is True
    assert inputs["parameters"]["fail_on_violation"]["defaultValue"] is True
    produced = {"model_sbom": {"bom": "system.Artifact"}}
    produced["model_signing"] = {"signature": "system.Artifact"}
    produced["poison_drift"] = {"suspects": "system.Dataset", "evidently_html": "system.HTML"}
    produced["artifact_scan"] = produced["artifact_scan_uri"] = {"report_sarif": "system.Artifact"}
    assert {k: v["artifactType"]["schemaTitle"] for k, v in outputs["artifacts"].items()} == {
        "report_html": "system.HTML",
        "report_md": "system.Markdown",
        "report_json": "system.Artifact",
        "report_files": "system.Artifact",
        "metrics": "system.Metrics",
        **produced.get(name, {}),
    }
    if name == "signature_verification":
        assert "isOptional" not in inputs["artifacts"]["signature"]
    assert {k: v["parameterType"] for k, v in outputs["parameters"].items()} == {
        "passed": "BOOLEAN",
        "status": "STRING",
        "summary": "STRING",
    }


def test_with_base_image(tmp_path: Path) -> None:
    rebased = components.with_base_image(
        components.artifact_scan,
        "python:3.11-slim",
        packages_to_install=["mlsec-gates[scan]==0.1.0"],
        pip_index_urls=["https://pypi.internal/simple"],
    )
    out = tmp_path / "rebased.yaml"
    compiler.Compiler().compile(rebased, str(out))
    (executor,) = yaml.safe_load(out.read_text())["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == "python:3.11-slim"
    command = " ".join(executor["container"]["command"])
    assert "'mlsec-gates[scan]==0.1.0'" in command
    assert "https://pypi.internal/simple" in command
    assert "'kfp==" in command  # a plain Python image needs kfp too
    assert rebased.component_spec.inputs == components.artifact_scan.component_spec.inputs
    assert components.artifact_scan.component_spec.implementation.container.image == (
        components.IMAGE
    )

    mirrored = components.with_base_image(components.artifact_scan_uri, "mirror/x-python:1")
    assert mirrored.component_spec.implementation.container.image == "mirror/x-python:1"
    assert "pip install" not in " ".join(mirrored.component_spec.implementation.container.command)


def test_import_stays_light() -> None:
    heavy = ["fickling", "numpy", "pandas", "torch", "boto3", "sklearn", "jinja2", "pydantic"]
    heavy += ["fairlearn", "art", "onnxruntime", "scipy"]
    heavy += ["great_expectations", "pyarrow", "cyclonedx", "model_signing"]
    code = (
        "import sys, mlsec_gates.components\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "loaded += [m for m in sys.modules if m.startswith('mlsec_gates.gates')]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_component_body_is_thin(name: str) -> None:
    # Style habit 1: imports, one gate call, writing outputs; at most 20 lines of body.
    func = COMPONENTS[name].python_func
    tree = ast.parse(inspect.getsource(func))
    (node,) = tree.body
    assert isinstance(node, ast.FunctionDef)
    body = node.body[1:] if ast.get_docstring(node) else node.body
    lines = body[-1].end_lineno - body[0].lineno + 1
    assert lines <= 20, f"{name} body has {lines} lines"
    called = {
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert len(called & GATE_FUNCTIONS) == 1
    # Everything the body uses is imported inside it (KFP ships only the function source).
    top_level = [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert top_level


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_body_imports_work_in_the_task_container(name: str) -> None:
    # Inside a task KFP sets _KFP_RUNTIME=true and kfp.dsl loses dsl.component & co, so a body
    # must not import mlsec_gates.components (which declares the components).
    tree = ast.parse(inspect.getsource(COMPONENTS[name].python_func))
    imports = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom)) and n.col_offset > 0
    ]
    assert imports
    env = {**os.environ, "_KFP_RUNTIME": "true"}
    code = "\n".join(imports)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
