"""``mlsec-gates model-eval``: exit codes, the JSON report, one-line errors."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

QUICK = "gates: {model_eval: {robustness: {enabled: false}, backdoor: {enabled: false}}}"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlsec_gates.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_unfair_model_exits_1_with_checks_in_the_json(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(1)
    x = x.assign(sex=rng.choice(["f", "m"], len(x)))
    y = y.copy()
    y[(x["sex"] == "f") & (rng.random(len(x)) < 0.7)] = 0
    features = x.assign(sex=(x["sex"] == "f").astype(int))
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(features[::2], y[::2])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    features[1::2].assign(label=y[1::2].to_numpy()).to_csv(tmp_path / "eval.csv", index=False)
    (tmp_path / "gates.yaml").write_text(QUICK)
    done = _cli(
        "model-eval",
        "model.pkl",
        "--data",
        "eval.csv",
        "--label-column",
        "label",
        "--sensitive-columns",
        "sex",
        "--policy",
        "gates.yaml",
        "--json-out",
        "out.json",
        "--report-dir",
        "reports",
        "--budget",
        "20",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    checks = {c["check"]: c for c in report["details"]["checks"]}
    assert set(checks) == {"fairness", "explainability", "robustness", "backdoor"}
    assert checks["fairness"]["decision"] == "fail"
    assert checks["fairness"]["threshold"] == 0.8
    assert checks["robustness"]["decision"] == "skipped"
    assert "demographic-parity" in done.stdout


def test_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "eval.csv").write_text("a,label\n1,0\n2,1\n")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    missing = _cli(
        "model-eval", "nope.pkl", "--data", "eval.csv", "--label-column", "label", cwd=tmp_path
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "nope.pkl" in missing.stderr
    budget = _cli("model-eval", "model.pkl", "--data", "eval.csv", "--budget", "-3", cwd=tmp_path)
    assert budget.returncode == 2 and "positive number of seconds" in budget.stderr
    no_label = _cli("model-eval", "model.pkl", "--data", "eval.csv", cwd=tmp_path)
    assert no_label.returncode == 2 and "--label-column" in no_label.stderr
    assert "Traceback" not in missing.stderr + budget.stderr + no_label.stderr
