"""XGBoost, LightGBM, CatBoost and TorchScript models through the whole gate.

Each test trains a small model on breast-cancer data, saves it the way its users do
(``joblib.dump`` of the scikit-learn-API estimator; ``torch.jit.trace(...).save``) and runs
the gate on the file: scan, load in the child process, predict, and the checks. A test is
skipped only when its library is not installed where the tests run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlsec_gates.gates.model_eval import run_model_eval
from mlsec_gates.policy import parse_policy
from mlsec_gates.result import Status
from tests.fixtures.eval_models import FAST_SETTINGS, cancer_split

#: Eight features keep training and the checks quick; their names have spaces, as many do.
_FEATURES = 8


def _data(tmp_path: Path):
    x_tr, x_te, y_tr, y_te = cancer_split()
    x_tr, x_te = x_tr.iloc[:, :_FEATURES], x_te.iloc[:, :_FEATURES]
    data = tmp_path / "eval.csv"
    group = np.random.default_rng(1).choice(["a", "b"], len(x_te))
    x_te.assign(group=group, label=y_te.to_numpy()).to_csv(data, index=False)
    return x_tr, y_tr, list(x_te.columns), data


def _gate(model: Path, data: Path, *, robustness: bool = False, **section: object):
    checks = {"fairness", "explainability", "backdoor"} | ({"robustness"} if robustness else set())
    settings = {
        name: {**FAST_SETTINGS.get(name, {}), "enabled": name in checks}
        for name in ("fairness", "explainability", "robustness", "backdoor")
    }
    policy = parse_policy(yaml.safe_dump({"gates": {"model_eval": {**settings, **section}}}))
    return run_model_eval(
        str(model),
        data=str(data),
        label_column="label",
        sensitive_columns=["group"],
        policy=policy,
        budget=60,  # CPU seconds; the wall timeout, 5 x (90 s + 2 x budget), only stops a hang
    )


def _checks(result) -> dict[str, dict]:
    return {c["check"]: c for c in result.details["checks"]}


def _assert_tree_model_evaluated(result, model_type: str, features: list[str]) -> None:
    assert result.status is Status.PASS, result.summary
    model = result.details["model"]
    assert model["type"] == model_type and model["kind"] == "tree-ensemble"
    assert model["features"] == features
    assert model["accuracy"] > 0.85
    checks = _checks(result)
    assert {checks[c]["decision"] for c in ("fairness", "explainability", "backdoor")} == {"pass"}
    # the backdoor search read the model's own split thresholds, for every feature it splits on
    used = checks["backdoor"]["details"]["threshold_features"]
    assert used and set(used) <= set(features)


_BOOSTERS = {
    "xgboost": lambda lib: lib.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1),
    "lightgbm": lambda lib: lib.LGBMClassifier(n_estimators=30, n_jobs=1, verbose=-1),
}


@pytest.mark.parametrize(
    ("library", "model_type"), [("xgboost", "XGBClassifier"), ("lightgbm", "LGBMClassifier")]
)
def test_gradient_boosting_library_saved_with_joblib(
    tmp_path: Path, library: str, model_type: str
) -> None:
    """LightGBM also renames 'mean radius' to 'mean_radius'; the gate maps it back."""
    lib = pytest.importorskip(library)
    import joblib

    x_tr, y_tr, features, data = _data(tmp_path)
    model = _BOOSTERS[library](lib).fit(x_tr, y_tr)
    if library == "lightgbm":
        assert "mean_radius" in model.feature_names_in_  # the renaming this test is about
    joblib.dump(model, tmp_path / "model.joblib")
    result = _gate(tmp_path / "model.joblib", data)
    _assert_tree_model_evaluated(result, model_type, features)


def test_catboost_classifier_saved_with_joblib(tmp_path: Path) -> None:
    catboost = pytest.importorskip("catboost")
    import joblib

    x_tr, y_tr, features, data = _data(tmp_path)
    model = catboost.CatBoostClassifier(
        iterations=50, verbose=0, thread_count=1, allow_writing_files=False
    ).fit(x_tr, y_tr)
    joblib.dump(model, tmp_path / "model.joblib")
    result = _gate(tmp_path / "model.joblib", data)
    assert result.status is Status.PASS, result.summary
    # catboost's n_features_in_ reads 0 after unpickling: its feature_names_ give the inputs
    assert result.details["model"]["type"] == "CatBoostClassifier"
    assert result.details["model"]["features"] == features
    assert result.details["model"]["accuracy"] > 0.85


def test_catboost_multiclass_trained_on_a_matrix(tmp_path: Path) -> None:
    """Positional inputs ("0", "1"...) take the data's columns; (n, 1) predictions are labels."""
    catboost = pytest.importorskip("catboost")
    import joblib

    x_tr, y_tr, features, data = _data(tmp_path)
    frame = pd.read_csv(data)
    cut = x_tr.iloc[:, 0].median()
    three = y_tr.to_numpy() + 2 * (x_tr.iloc[:, 0].to_numpy() > cut) * (y_tr.to_numpy() == 0)
    frame["label"] = frame["label"] + 2 * (frame[features[0]] > cut) * (frame["label"] == 0)
    frame.to_csv(data, index=False)
    model = catboost.CatBoostClassifier(
        iterations=60, verbose=0, thread_count=1, allow_writing_files=False
    ).fit(x_tr.to_numpy(), three)
    joblib.dump(model, tmp_path / "model.joblib")
    result = _gate(tmp_path / "model.joblib", data, feature_columns=features)
    assert result.status is Status.PASS, result.summary
    model_info = result.details["model"]
    assert model_info["features"] == features and model_info["classes"] == ["0", "1", "2"]
    assert model_info["accuracy"] > 0.8


def _torchscript_net(x_tr, y_tr, path: Path) -> None:
    """A small MLP that standardizes its own inputs, trained briefly, traced to TorchScript."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    mean = torch.tensor(x_tr.mean().to_numpy(), dtype=torch.float32)
    sd = torch.tensor(x_tr.std().to_numpy(), dtype=torch.float32)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("sd", sd)
            self.body = torch.nn.Sequential(
                torch.nn.Linear(_FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body((x - self.mean) / self.sd)

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    x = torch.tensor(x_tr.to_numpy(), dtype=torch.float32)
    y = torch.tensor(y_tr.to_numpy())
    for _ in range(200):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    torch.jit.trace(net.eval(), x[:4]).save(str(path))


def test_torchscript_module_end_to_end_with_a_gradient_attack(tmp_path: Path) -> None:
    x_tr, y_tr, features, data = _data(tmp_path)
    _torchscript_net(x_tr, y_tr, tmp_path / "model.pt")
    result = _gate(tmp_path / "model.pt", data, robustness=True, feature_columns=features)
    model = result.details["model"]
    assert model["kind"] == "torchscript" and model["features"] == features
    assert model["accuracy"] > 0.85
    checks = _checks(result)
    assert {checks[c]["decision"] for c in ("fairness", "explainability", "backdoor")} == {"pass"}
    # a differentiable model gets projected gradient descent through ART's PyTorch wrapper
    robustness = checks["robustness"]
    assert robustness["decision"] == "pass", robustness
    assert robustness["details"]["attack"]["attack"] == "pgd"
    assert robustness["details"]["attack"]["rows_attacked"] == 8  # FAST_SETTINGS attack_rows


def test_torchscript_without_its_columns_says_to_set_feature_columns(tmp_path: Path) -> None:
    """A TorchScript module records no column names: the text 'group' cannot go in."""
    x_tr, y_tr, _, data = _data(tmp_path)
    _torchscript_net(x_tr, y_tr, tmp_path / "model.pt")
    result = _gate(tmp_path / "model.pt", data)
    assert result.status is Status.ERROR
    assert [f.rule_id for f in result.findings] == ["model_eval.not-evaluated"]
    assert "set gates.model_eval.feature_columns" in result.findings[0].message
