"""The KFP gate chain: the sub-pipeline built from the policy, compiled and run with kfp.local.

``pipelines/gated_training_pipeline.py`` prepares data in ``work/`` (relative to the working
directory, hence ``chdir``), then runs the ``security-gates`` sub-pipeline (validate, drift,
train, scan, sbom, sign) inside an ``ExitHandler`` that publishes the combined report. Three
local runs: clean, poisoned with hard gates (the run fails at the drift gate, the report is
published anyway), poisoned with soft gates (the chain is held, the run succeeds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp_helpers import PIPELINES, load_pipeline_module

from mlsec_gates.errors import ConfigError

pytestmark = pytest.mark.kfp

CHAIN = ["validate", "drift", "train", "scan", "sbom", "sign"]
GATE_COMPONENTS = {
    "data-validation-uri": "validate",
    "poison-drift": "drift",
    "train-hook": "train",
    "artifact-scan-uri": "scan",
    "model-sbom": "sbom",
    "model-signing": "sign",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load((PIPELINES / "gated_training_pipeline.yaml").read_text())


@pytest.fixture(scope="module")
def pipeline_module() -> Any:
    return load_pipeline_module(PIPELINES / "gated_training_pipeline.py")


def _tasks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every task of every component of the compiled pipeline, by task key."""
    found: dict[str, dict[str, Any]] = {}
    for component in spec["components"].values():
        found.update(component.get("dag", {}).get("tasks", {}))
    return found


def test_sub_pipeline_runs_the_policy_chain_inside_an_exit_handler(spec: dict[str, Any]) -> None:
    root = spec["root"]["dag"]["tasks"]
    assert root["security-gates"]["dependentTasks"] == ["prepare-data"]
    gates = spec["components"]["comp-security-gates"]["dag"]
    assert set(gates["tasks"]) == {"exit-handler-1", "publish-report"}
    publish = gates["tasks"]["publish-report"]
    assert publish["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert publish["inputs"]["parameters"]["status"] == {
        "taskFinalStatus": {"producerTask": "exit-handler-1"}
    }
    assert publish["inputs"]["parameters"]["steps"]["runtimeValue"]["constant"] == CHAIN
    # The sub-pipeline's output is the report's verdict; release sits under dsl.If on it.
    assert gates["outputs"]["parameters"]["Output"]["valueFromParameter"] == {
        "outputParameterKey": "passed",
        "producerSubtask": "publish-report",
    }
    tasks = _tasks(spec)
    shown = {t["taskInfo"]["name"] for t in tasks.values()}
    assert {*CHAIN, *(f"{s}-verdict" for s in CHAIN), "publish-report"} <= shown


def test_gates_run_soft_and_the_verdict_decides(spec: dict[str, Any]) -> None:
    tasks = _tasks(spec)
    for key, step in GATE_COMPONENTS.items():
        params = tasks[key]["inputs"]["parameters"]
        assert params["fail_on_violation"]["runtimeValue"]["constant"] is False, key
        assert "cachingOptions" in tasks[key] and not tasks[key]["cachingOptions"], key
        assert tasks[key]["taskInfo"]["name"] == step
    verdicts = [t for t in tasks.values() if t["componentRef"]["name"].endswith("-verdict")]
    assert len(verdicts) == len(CHAIN)
    for verdict in verdicts:
        hard = verdict["inputs"]["parameters"]["hard"]
        assert hard["componentInputParameter"].endswith("hard_gates")
    conditions = [
        t["triggerPolicy"]["condition"]
        for t in tasks.values()
        if "triggerPolicy" in t and "condition" in t["triggerPolicy"]
    ]
    assert sum("== true" in c for c in conditions) >= len(CHAIN) - 1  # dsl.If per step
    assert sum("!(" in c for c in conditions) >= len(CHAIN) - 1  # and its dsl.Else


def test_outputs_render_in_the_kfp_ui(spec: dict[str, Any]) -> None:
    types = {
        name: {
            k: v["artifactType"]["schemaTitle"]
            for k, v in c["outputDefinitions"].get("artifacts", {}).items()
        }
        for name, c in spec["components"].items()
        if "executorLabel" in c
    }
    for component in ("comp-train-hook", "comp-data-validation-uri", "comp-poison-drift"):
        assert types[component]["report_html"] == "system.HTML"
        assert types[component]["report_md"] == "system.Markdown"
        assert types[component]["metrics"] == "system.Metrics"
    assert types["comp-publish-report"] == {
        "report_html": "system.HTML",
        "report_md": "system.Markdown",
        "report_json": "system.Artifact",
    }


def test_committed_policy_is_what_the_tasks_get(spec: dict[str, Any]) -> None:
    policy = (PIPELINES / "policies" / "gated-training.yaml").read_text()
    params = _tasks(spec)["artifact-scan-uri"]["inputs"]["parameters"]
    assert params["policy"]["runtimeValue"]["constant"] == policy


@pytest.mark.parametrize(
    ("chain", "problem"),
    [
        ("drift: {current: a.csv, profile: p.json}", "no profile in KFP"),
        ("scan: {targets: [a.pkl, b.pkl]}", "one target"),
        ("validate: {suite: s.yaml, sql_url: 'sqlite://', table: t}", "no SQL table"),
    ],
)
def test_what_the_kfp_chain_cannot_do_is_refused(chain: str, problem: str) -> None:
    from mlsec_gates.components.chain import security_gates_pipeline

    with pytest.raises(ConfigError, match=problem):
        security_gates_pipeline(f"chain:\n  {chain}\n")


def _combined(root: Path) -> dict[str, Any]:
    [path] = root.glob("mlsec-gates-reports/*/combined-report.json")
    return json.loads(path.read_text())


def _published(root: Path) -> Path:
    [html] = root.glob("*/publish-report/report_html")
    return html


def _run(module: Any, root: Path, **params: Any) -> None:
    from kfp import local

    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True
    )
    module.gated_training_pipeline(**params)


def test_clean_run_passes_every_gate_and_releases(
    pipeline_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root"
    _run(pipeline_module, root)

    combined = _combined(root)
    assert [g["gate"] for g in combined["gates"]] == CHAIN
    assert {g["status"] for g in combined["gates"]} == {"pass"}
    assert combined["passed"] is True
    assert "PASSED" in _published(root).read_text()
    assert list(root.glob("*/release"))
    assert (tmp_path / "work" / "model" / "model.pkl").is_file()


def test_poisoned_batch_fails_the_run_at_drift_and_the_report_is_published(
    pipeline_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root"
    with pytest.raises(RuntimeError, match="'drift-verdict'"):  # the failure names the gate
        _run(pipeline_module, root, poison=True)

    combined = _combined(root)
    assert [(g["gate"], g["status"]) for g in combined["gates"]] == [
        ("validate", "pass"),
        ("drift", "fail"),
    ]
    assert combined["not_run"] == CHAIN[2:]
    assert "FAILED at drift" in _published(root).read_text()
    assert not (tmp_path / "work" / "model").exists()  # nothing trained on poisoned data
    assert not list(root.glob("*/release"))


def test_soft_chain_is_held_at_drift_and_the_run_succeeds(
    pipeline_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root"
    _run(pipeline_module, root, poison=True, hard_gates=False)  # raise_on_error: would raise

    combined = _combined(root)
    assert combined["stopped_at"] == "drift"
    assert combined["passed"] is False
    assert list(root.glob("*/hold-chain*"))
    assert not list(root.glob("*/release"))
    assert not (tmp_path / "work" / "model").exists()


def test_model_eval_step_compiles_after_scan(tmp_path: Path) -> None:
    """The chain's model_eval step: the model_eval component between scan and sbom."""
    from kfp import compiler

    from mlsec_gates.components.chain import security_gates_pipeline

    policy = (
        "chain:\n"
        "  train: {command: [python, train.py, '{model_dir}'], model_dir: /models/m}\n"
        "  scan: {}\n"
        "  model_eval: {data: /data/holdout.csv, label_column: y, sensitive_columns: [sex]}\n"
        "  sbom: {}\n"
    )
    out = tmp_path / "chain.yaml"
    compiler.Compiler().compile(security_gates_pipeline(policy), str(out))
    spec = yaml.safe_load(out.read_text())
    tasks = _tasks(spec)
    evaluate = next(t for t in tasks.values() if t["taskInfo"]["name"] == "model_eval")
    assert evaluate["componentRef"]["name"].startswith("comp-model-eval")
    assert evaluate["inputs"]["parameters"]["sensitive_columns"]["runtimeValue"]["constant"] == [
        "sex"
    ]
    publish = spec["root"]["dag"]["tasks"]["publish-report"]
    steps = publish["inputs"]["parameters"]["steps"]["runtimeValue"]["constant"]
    assert steps == ["train", "scan", "model_eval", "sbom"]
    # The BOM gets the model-eval report (its modelCard), as the Airflow and CLI chains do.
    # The sbom task sits inside the model_eval verdict's dsl.If, so KFP hands the report down
    # as a pipeline channel named after its producer task and output.
    key = next(k for k, t in tasks.items() if t["taskInfo"]["name"] == "model_eval")
    bom = next(t for t in tasks.values() if t["taskInfo"]["name"] == "sbom")
    evidence = bom["inputs"]["artifacts"]["model_eval_report"]["componentInputArtifact"]
    assert evidence == f"pipelinechannel--{key}-report_json"
