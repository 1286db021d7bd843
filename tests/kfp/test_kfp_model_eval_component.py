"""The model_eval component: ``python_func`` against the real gate, and one kfp.local run.

No ``from __future__ import annotations``: KFP reads the test pipeline's annotations.
"""

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl
from kfp_helpers import gate_outputs

from mlsec_gates.components import model_eval
from mlsec_gates.components._runtime import GateFailed

pytestmark = pytest.mark.kfp

#: Fairness and explainability only: the component's wiring is what is tested here.
QUICK = (
    "gates: {model_eval: {robustness: {enabled: false}, backdoor: {enabled: false}, "
    "explainability: {repeats: 2}}}"
)


def _artifacts(tmp_path: Path, *, unfair: bool) -> tuple[Any, Any]:
    """A pickled model and its evaluation CSV as extension-less KFP artifacts."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    x = x.assign(sex=rng.choice([0, 1], len(x)))
    y = y.copy()
    if unfair:
        y[(x["sex"] == 1) & (rng.random(len(x)) < 0.7)] = 0
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[::2], y[::2])
    model_path = tmp_path / "model" / "model"
    model_path.parent.mkdir(parents=True)
    model_path.write_bytes(pickle.dumps(model))
    data_path = tmp_path / "holdout" / "dataset"
    data_path.parent.mkdir(parents=True)
    x[1::2].assign(label=y[1::2].to_numpy()).to_csv(data_path, index=False)
    return dsl.Model(uri=str(model_path)), dsl.Dataset(uri=str(data_path))


def test_unfair_model_fails_the_task_after_writing_outputs(tmp_path: Path) -> None:
    model, data = _artifacts(tmp_path, unfair=True)
    outs = gate_outputs(tmp_path)
    with pytest.raises(GateFailed, match="model_eval gate fail"):
        model_eval.python_func(
            model=model,
            data=data,
            label_column="label",
            sensitive_columns=["sex"],
            policy=QUICK,
            **outs,
        )
    body = json.loads(Path(outs["report_json"].path).read_text())
    assert [c["check"] for c in body["details"]["checks"]] == [
        "fairness",
        "explainability",
        "robustness",
        "backdoor",
    ]
    assert body["details"]["checks"][0]["decision"] == "fail"
    assert outs["metrics"].metadata["passed"] == 0


def test_runs_under_kfp_local(tmp_path: Path, local_root: Path) -> None:
    model, data = _artifacts(tmp_path, unfair=False)

    @dsl.pipeline(name="model-eval-check")
    def check(model_uri: str, data_uri: str) -> None:
        imported = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
        holdout = dsl.importer(artifact_uri=data_uri, artifact_class=dsl.Dataset)
        model_eval(
            model=imported.output,
            data=holdout.output,
            label_column="label",
            sensitive_columns=["sex"],
            policy=QUICK,
            fail_on_violation=False,
        )

    check(model_uri=model.uri, data_uri=data.uri)
    (task,) = local_root.glob("model-eval-check-*/model-eval")
    body = json.loads((task / "report_json").read_text())
    assert body["gate"] == "model_eval"
    assert body["status"] == "pass", body["summary"]


def test_the_bom_component_takes_the_model_eval_report_into_its_model_card(
    tmp_path: Path,
) -> None:
    """What the KFP chain wires: model_eval's ``report_json`` into model_sbom's input."""
    from mlsec_gates.components import model_sbom

    model, data = _artifacts(tmp_path, unfair=True)
    for task in ("model-eval", "model-sbom"):
        (tmp_path / task).mkdir()
    outs = gate_outputs(tmp_path / "model-eval")
    passed, status, _ = model_eval.python_func(
        model=model,
        data=data,
        label_column="label",
        sensitive_columns=["sex"],
        policy=QUICK,
        fail_on_violation=False,
        **outs,
    )
    assert (passed, status) == (False, "fail")
    bom = dsl.Artifact(uri=str(tmp_path / "model-sbom" / "bom"))
    passed, status, _ = model_sbom.python_func(
        model=model,
        bom=bom,
        model_eval_report=outs["report_json"],
        **gate_outputs(tmp_path / "model-sbom"),
    )
    assert (passed, status) == (True, "pass")
    card = json.loads(Path(bom.path).read_text())["metadata"]["component"]["modelCard"]
    assessment = card["considerations"]["fairnessAssessments"][0]
    assert assessment["groupAtRisk"].startswith("sex = ")
    assert "failed" in assessment["mitigationStrategy"]
