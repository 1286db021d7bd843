"""A KFP pipeline that trains in its own task, gated in two stages with one run report.

``pipelines/existing_pipeline_with_gates.py``: extract -> data-gates (validate, drift) ->
train (the team's) -> model-gates (scan, sbom, sign) -> deploy, inside
``dsl.ExitHandler(run_report(...))``. Compiled, then run with kfp.local: clean, bad data
(stopped before training) and a tampered model (stopped before deploy); each run's combined
report lists every gate, and ``mlsec-gates report`` rebuilds it from the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp_helpers import PIPELINES, load_pipeline_module

pytestmark = pytest.mark.kfp

STEPS = ["validate", "drift", "scan", "sbom", "sign"]


@pytest.fixture(scope="module")
def module() -> Any:
    return load_pipeline_module(PIPELINES / "existing_pipeline_with_gates.py")


def _run(module: Any, root: Path, **params: bool) -> str:
    """Run the pipeline; return the failure message ("" when it succeeded)."""
    from kfp import local

    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True
    )
    try:
        module.existing_pipeline_with_gates(**params)
    except RuntimeError as exc:
        return str(exc)
    return ""


def _combined(root: Path) -> dict[str, Any]:
    [path] = root.glob("mlsec-gates-reports/*/combined-report.json")
    return json.loads(path.read_text())


def _board(combined: dict[str, Any]) -> dict[str, str]:
    return {row["gate"]: row["status"] for row in combined["board"]}


def test_compiled_yaml_is_current_and_wires_both_stages(module: Any, tmp_path: Path) -> None:
    fresh = module.compile_pipeline(tmp_path / "p.yaml").read_text()
    assert fresh == (PIPELINES / "existing_pipeline_with_gates.yaml").read_text()
    spec = yaml.safe_load(fresh)
    root = spec["root"]["dag"]["tasks"]
    assert root["publish-report"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert (
        root["publish-report"]["inputs"]["parameters"]["steps"]["runtimeValue"]["constant"] == STEPS
    )
    handler = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert handler["data-gates"]["dependentTasks"] == ["extract"]
    assert handler["train"]["dependentTasks"] == ["data-gates"]
    assert handler["model-gates"]["dependentTasks"] == ["train"]
    assert handler["deploy"]["dependentTasks"] == ["model-gates"]
    data = spec["components"]["comp-data-gates"]["dag"]["tasks"]
    assert {"data-validation-uri", "validate-verdict", "poison-drift", "drift-verdict"} <= set(data)
    assert data["poison-drift"]["dependentTasks"][-1] == "validate-verdict"
    for name in ("comp-validate-verdict", "comp-scan-verdict", "comp-sign-verdict"):
        assert name in spec["components"]


def test_clean_run_passes_both_stages_and_deploys(
    module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root"
    assert _run(module, root) == ""

    combined = _combined(root)
    assert _board(combined) == dict.fromkeys(STEPS, "pass")
    assert combined["title"].startswith("existing-pipeline-with-gates")
    assert (tmp_path / "work" / "serving" / "model.pkl").is_file()
    # Outputs people can open: each gate's reports as files with their extensions.
    [scan] = root.glob("existing-pipeline-with-gates-*/artifact-scan-uri")
    assert {p.name for p in (scan / "report_files").iterdir()} == {
        "scan-report.html",
        "scan-report.md",
        "scan-report.json",
    }
    markdown = (scan / "report_md").read_text()
    assert f"Full report: {scan / 'report_files' / 'scan-report.html'}" in markdown


@pytest.mark.parametrize(
    ("param", "stopped", "not_run"),
    [("corrupt", "validate", STEPS[1:]), ("tamper", "scan", ["sbom", "sign"])],
)
def test_a_failing_gate_names_itself_and_the_report_lists_every_gate(
    module: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    param: str,
    stopped: str,
    not_run: list[str],
) -> None:
    from mlsec_gates.cli import main

    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root"
    failure = _run(module, root, **{param: True})

    assert f"'{stopped}-verdict'" in failure  # the failed task is named after the gate
    combined = _combined(root)
    assert combined["headline"] == f"FAILED at {stopped}"
    assert combined["not_run"] == not_run
    assert _board(combined)[stopped] == "fail"
    assert not (tmp_path / "work" / "serving").exists()
    if stopped == "validate":
        assert not (tmp_path / "work" / "model").exists()  # never trained on bad data
    # `mlsec-gates report` reads the run folder as it reads an Airflow run's.
    [run] = root.glob("existing-pipeline-with-gates-*")
    assert main(["report", str(run), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "combined-report.json").read_text())
    ran = [g for g in STEPS if g not in not_run]
    assert [(g["gate"], g["status"]) for g in again["gates"]] == [
        (g, "fail" if g == stopped else "pass") for g in ran
    ]
    assert again["title"] == run.name
    assert "combined-report.html" in capsys.readouterr().out
