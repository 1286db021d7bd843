"""ModelEvalGateOperator against the real gate; the chain's model_eval step in ``dag.test()``."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators import ModelEvalGateOperator
from tests.fixtures.airflow_dags import sync_dag_to_db

pytestmark = pytest.mark.airflow

QUICK = {
    "robustness": {"attack_rows": 4, "max_queries": 360},
    "explainability": {"repeats": 2},
    "backdoor": {"rows": 150},
}

TRAIN = """\
import pickle, sys
from pathlib import Path
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
frame = pd.read_csv(sys.argv[1])
x, y = frame.drop(columns=["label", "group"]), frame["label"]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
(Path(sys.argv[2]) / "model.pkl").write_bytes(pickle.dumps(model))
"""


def _halves(folder: Path, *, unfair: bool) -> tuple[Path, Path]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(2)
    group = rng.choice([0, 1], len(x))
    y = y.copy()
    if unfair:
        y[(group == 1) & (rng.random(len(x)) < 0.7)] = 0
    frame = x.assign(group=group, label=y.to_numpy())
    folder.mkdir(parents=True, exist_ok=True)
    frame[::2].to_csv(folder / "train.csv", index=False)
    frame[1::2].to_csv(folder / "holdout.csv", index=False)
    return folder / "train.csv", folder / "holdout.csv"


def test_constructor_stores_only() -> None:
    op = ModelEvalGateOperator(
        task_id="model_eval", model="s3://m/{{ ds }}.pkl", data="d.csv", sensitive_columns="sex"
    )
    assert {"model", "data", "label_column", "sensitive_columns"} <= set(op.template_fields)
    assert op.model.endswith("{{ ds }}.pkl")


def test_unfair_model_fails_the_task_after_pushing_the_report(
    tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    from sklearn.tree import DecisionTreeClassifier

    train, holdout = _halves(tmp_path, unfair=True)
    frame = __import__("pandas").read_csv(train)
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        frame.drop(columns=["label"]), frame["label"]
    )
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    op = ModelEvalGateOperator(
        task_id="model_eval",
        model=str(tmp_path / "model.pkl"),
        data=str(holdout),
        label_column="label",
        sensitive_columns=["group"],
        policy=yaml.safe_dump(
            {"gates": {"model_eval": {**QUICK, "robustness": {"enabled": False}}}}
        ),
        report_dir=str(tmp_path / "reports"),
    )
    with pytest.raises(AirflowFailException, match="model_eval gate fail"):
        op.execute(fake_context)
    assert fake_context["ti"].xcoms["report_json_url"].startswith("file://")


def test_chain_runs_model_eval_after_scan_and_records_it_in_the_bom(
    airflow_db: Path, tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    from mlsec_gates.operators import security_gates

    train, holdout = _halves(tmp_path / "data", unfair=False)
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    model_dir = tmp_path / "model"
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        yaml.safe_dump(
            {
                "gates": {"model_eval": QUICK},
                "chain": {
                    "train": {
                        "command": [sys.executable, str(script), str(train), "{model_dir}"],
                        "model_dir": str(model_dir),
                    },
                    "scan": {},
                    "model_eval": {
                        "data": str(holdout),
                        "label_column": "label",
                        "sensitive_columns": ["group"],
                    },
                    "sbom": {"out": str(tmp_path / "model.cdx.json")},
                },
            }
        )
    )
    with DAG(dag_id="model_eval_chain", schedule=None) as dag:
        security_gates(policy=str(policy), report_dir=str(tmp_path / "reports"))
    assert [t.task_id for t in dag.tasks if t.task_id != "security_gates.report"] == [
        "security_gates.train",
        "security_gates.scan",
        "security_gates.model_eval",
        "security_gates.sbom",
    ]
    sync_dag_to_db(dag)
    dag_run = dag.test()
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", states
    report = json.loads(
        (tmp_path / "reports" / "model_eval" / "model_eval-report.json").read_text()
    )
    assert [c["decision"] for c in report["details"]["checks"]] == ["pass"] * 4
    card = json.loads((tmp_path / "model.cdx.json").read_text())["metadata"]["component"][
        "modelCard"
    ]
    assert card["considerations"]["fairnessAssessments"][0]["groupAtRisk"].startswith("group =")
    combined = json.loads((tmp_path / "reports" / "combined-report.json").read_text())
    assert [g["gate"] for g in combined["gates"]] == ["train", "scan", "model_eval", "sbom"]
