"""Loading safely: scan first, refuse anything but a pass, load in a limited child process."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from mlsec_gates.gates.model_eval import rules, run_model_eval
from mlsec_gates.gates.model_eval.isolation import WorkerFailed, evaluate_isolated
from mlsec_gates.policy import ModelEvalPolicy, parse_policy
from mlsec_gates.result import Status
from mlsec_gates.rules import Rule
from tests.fixtures import pickles
from tests.fixtures.eval_models import only


def test_a_model_the_scanner_blocks_is_never_loaded(cases, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    model = tmp_path / "model.pkl"
    model.write_bytes(pickles.os_system_p0(f"touch {marker}"))
    result = run_model_eval(str(model), data=str(cases["clean"].data), label_column="label")
    assert result.status is Status.ERROR
    assert [f.rule_id for f in result.findings] == [rules.ScanNotPassed.id]
    assert result.findings[0].evidence["scan_findings"]
    assert {c["decision"] for c in result.details["checks"]} == {"not run"}
    assert not marker.exists()


def test_an_object_without_predict_is_not_evaluated(cases, tmp_path: Path) -> None:
    model = tmp_path / "not-a-model.pkl"
    model.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    result = run_model_eval(str(model), data=str(cases["clean"].data), label_column="label")
    assert result.status is Status.ERROR
    assert result.findings[0].rule_id == rules.ModelNotEvaluated.id
    assert "no predict()" in result.findings[0].message


def test_a_text_file_is_refused_by_the_scan(cases, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_text("this is not a model\n")
    result = run_model_eval(str(model), data=str(cases["clean"].data), label_column="label")
    assert result.status is Status.ERROR
    assert result.findings[0].rule_id in (rules.ScanNotPassed.id, rules.ModelNotEvaluated.id)


def test_the_child_stops_at_its_memory_limit(cases, tmp_path: Path) -> None:
    """The limit holds: the child reports running out (or dies), the gate process is fine."""
    settings = ModelEvalPolicy().model_dump(mode="json")
    try:
        answer = evaluate_isolated(
            model=str(cases["clean"].model),
            data=str(cases["clean"].data),
            label_column="label",
            sensitive_columns=[],
            settings=settings,
            workdir=str(tmp_path),
            budget_seconds=5,
            memory_mb=64,  # below what numpy and pandas need to import
            threads=1,
        )
    except WorkerFailed as exc:
        assert "killed" in str(exc) or "exited" in str(exc)
    else:
        assert answer["stage"] in ("memory", "worker"), answer
        assert "checks" not in answer


def _onnx_logistic(path: Path, weights: np.ndarray, bias: float) -> None:
    """A linear classifier written with the onnx library: scores = softmax(xW + b)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.stack([-weights, weights], axis=1).astype(np.float32)
    b = np.array([-bias, bias], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "logistic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, len(weights)])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def test_onnx_model_runs_through_onnxruntime(cases, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from tests.fixtures.eval_models import cancer_split

    x_tr, x_te, y_tr, y_te = cancer_split()
    scaler = StandardScaler().fit(x_tr)
    linear = LogisticRegression(C=0.1).fit(scaler.transform(x_tr), y_tr)
    weights = linear.coef_[0] / scaler.scale_  # fold the scaling into the weights
    bias = linear.intercept_[0] - float(np.sum(linear.coef_[0] * scaler.mean_ / scaler.scale_))
    model = tmp_path / "linear.onnx"
    _onnx_logistic(model, weights / 2, bias / 2)  # softmax of +-z/2 == sigmoid(z)
    data = tmp_path / "eval.csv"
    x_te.assign(label=y_te.to_numpy()).to_csv(data, index=False)
    policy = parse_policy(only("explainability", "robustness", "backdoor"))
    result = run_model_eval(str(model), data=str(data), label_column="label", policy=policy)
    assert result.details["model"]["kind"] == "onnx", result.summary
    assert result.details["model"]["accuracy"] > 0.9
    assert result.subjects[0].kind == "onnx"
    decided = {c["check"]: c["decision"] for c in result.details["checks"]}
    # the budget is CPU time: a busy machine slows the attack down but does not cut it short
    assert decided["robustness"] in ("pass", "fail") and decided["backdoor"] == "pass"
    robustness = next(c for c in result.details["checks"] if c["check"] == "robustness")
    assert robustness["details"]["attack"]["rows_attacked"] == 8  # FAST_SETTINGS attack_rows


def test_rules_are_listed_once_with_unique_ids() -> None:
    ids = [r.id for r in rules.RULES]
    assert len(ids) == len(set(ids))
    assert all(r.id.startswith("model_eval.") for r in rules.RULES)
    declared = {
        obj for obj in vars(rules).values() if isinstance(obj, type) and issubclass(obj, Rule)
    }
    assert declared - {Rule} == set(rules.RULES)
    assert set(rules.BY_KEY.values()) <= set(rules.RULES)


def test_json_answer_has_no_infinity(cases, tmp_path: Path) -> None:
    settings = ModelEvalPolicy().model_dump(mode="json")
    for name in ("fairness", "explainability", "backdoor"):
        settings[name]["enabled"] = False
    settings["robustness"].update(attack_rows=2, max_queries=360)
    answer = evaluate_isolated(
        model=str(cases["brittle"].model),
        data=str(cases["brittle"].data),
        label_column="label",
        sensitive_columns=[],
        settings=settings,
        workdir=str(tmp_path),
        budget_seconds=10,
        memory_mb=4096,
        threads=1,
    )
    text = (tmp_path / "answer.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text) == answer
