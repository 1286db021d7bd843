"""plan_chain: the steps, their arguments and defaults, as every adapter builds its tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlsec_gates.chain import STEP_ORDER, ChainStep, plan_chain, step_context
from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import parse_policy

FULL = """\
chain:
  sign: {key: k.pem}
  sbom: {requirements: req.lock}
  scan: {}
  model_eval: {data: holdout.csv, label_column: species, sensitive_columns: [sex]}
  train: {command: [python, train.py, "{model_dir}"], model_dir: build/model}
  drift: {reference: ref.csv, current: cur.csv, label_column: species}
  validate: {data: cur.csv, suite: suite.yaml}
"""


def test_steps_come_in_chain_order_with_defaults_between_them() -> None:
    steps = plan_chain(parse_policy(FULL, source="gates.yaml"))
    assert [s.task_id for s in steps] == list(STEP_ORDER)
    by = {s.gate: s for s in steps}
    assert by["validate"].kwargs == {"data": "cur.csv", "suite": "suite.yaml"}
    assert by["drift"].kwargs == {
        "current": "cur.csv",
        "reference": "ref.csv",
        "label_column": "species",
    }
    assert by["train"].kwargs["command"] == ["python", "train.py", "{model_dir}"]
    assert by["scan"].kwargs == {"targets": ["build/model"]}
    assert by["model_eval"].kwargs == {
        "model": "build/model",
        "data": "holdout.csv",
        "label_column": "species",
        "sensitive_columns": ["sex"],
    }
    assert by["model_eval"].function == "mlsec_gates.gates.model_eval:model_eval_gate"
    assert by["sbom"].kwargs == {
        "model": "build/model",
        "datasets": ["cur.csv"],
        "requirements": "req.lock",
        "environment": False,
        "out": "build/model.cdx.json",
    }
    assert by["sign"].kwargs == {
        "model": "build/model",
        "key": "k.pem",
        "attach": ["build/model.cdx.json"],
    }
    assert by["scan"].function == "mlsec_gates.gates.scan:scan_gate"
    assert by["drift"].function == "mlsec_gates.gates.drift:drift_gate"
    json.dumps([s.to_dict() for s in steps])  # adapters pass kwargs as task parameters


def test_omitted_steps_are_skipped_and_explicit_values_win() -> None:
    policy = parse_policy(
        "chain:\n  scan: {targets: [s3://b/m/]}\n  sign: {model_dir: s3://b/m/, key: k.pem}\n",
        source="gates.yaml",
    )
    steps = plan_chain(policy)
    assert [(s.gate, s.kwargs) for s in steps] == [
        ("scan", {"targets": ["s3://b/m/"]}),
        ("sign", {"model": "s3://b/m/", "key": "k.pem", "attach": []}),
    ]


def test_a_policy_path_is_kept_so_each_task_rereads_it(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text("chain:\n  scan: {targets: [m.pkl]}\n")
    [step] = plan_chain(str(path))
    assert step.policy == str(path)
    assert step == ChainStep(gate="scan", task_id="scan", kwargs={"targets": ["m.pkl"]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("on_fail: warn\n", r"gates\.yaml: chain: no step configured"),
        ("chain:\n  scan: {}\n", r"^gates\.yaml:1: chain: scan needs targets"),
        (
            "chain:\n  model_eval: {data: d.csv}\n",
            r"^gates\.yaml:1: chain: model_eval needs model",
        ),
        ("chain:\n  sign: {key: k.pem}\n", r"^gates\.yaml:1: chain: sign needs model_dir"),
        (
            "chain:\n  sign: {model_dir: m}\n",
            r"^gates\.yaml:1: chain: sign needs key or kms_key_id",
        ),
        ("chain:\n  scan: {target: [m]}\n", r"gates\.yaml:2: chain\.scan\.target: unknown key"),
        ("chain:\n  train: {command: [], model_dir: m}\n", r"gates\.yaml:2: chain\.train\.command"),
    ],
)
def test_bad_chain_sections_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_chain(parse_policy(text, source="gates.yaml"))


def test_step_context_gives_each_step_its_own_idempotency_key() -> None:
    step = ChainStep(gate="scan", task_id="scan", kwargs={})
    airflow = {"dag_id": "d", "run_id": "r", "task_id": "security_gates"}
    assert step_context(airflow, step)["task_id"] == "security_gates.scan"
    assert step_context({"idempotency_key": "k"}, step) == {
        "idempotency_key": "k.scan",
        "task_id": "scan",
    }
    assert step_context(None, step) == {}


def test_planning_imports_no_heavy_library() -> None:
    code = (
        "import sys, mlsec_gates.chain as c; "
        "c.plan_chain(c.plan_chain.__globals__['Policy'].model_validate("
        "{'chain': {'scan': {'targets': ['m']}}})); "
        "print(sorted(m for m in ('pandas', 'numpy', 'great_expectations', 'evidently', "
        "'boto3', 'sklearn', 'fickling') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
