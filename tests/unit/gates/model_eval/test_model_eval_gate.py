"""The model-eval gate on real models: clean ones pass, planted problems are found and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.model_eval import CHECK_NAMES, model_eval_gate, run_model_eval
from mlsec_gates.policy import parse_policy
from mlsec_gates.result import Status
from tests.fixtures.eval_models import FAST, only


def _run(case, *, checks=CHECK_NAMES, sensitive=None, budget=30.0, **overrides):
    return run_model_eval(
        str(case.model),
        data=str(case.data),
        label_column="label",
        sensitive_columns=sensitive,
        policy=parse_policy(only(*checks, **overrides)),
        budget=budget,
    )


def _check(result, name):
    return next(c for c in result.details["checks"] if c["check"] == name)


def _rules(result):
    return {f.rule_id for f in result.findings}


def test_clean_model_passes_every_check_and_writes_the_reports(cases, tmp_path: Path) -> None:
    case = cases["clean"]
    result = model_eval_gate(
        str(case.model),
        data=str(case.data),
        label_column="label",
        sensitive_columns=["group"],
        policy=FAST,
        budget=40,
        report_dir=str(tmp_path / "reports"),
        json_out=str(tmp_path / "model-eval.json"),
    )
    assert result.status is Status.PASS, result.summary
    report = json.loads((tmp_path / "model-eval.json").read_text())
    checks = report["details"]["checks"]
    assert [c["check"] for c in checks] == list(CHECK_NAMES)
    for c in checks:
        assert {"statistic", "threshold", "decision"} <= set(c)
        assert c["decision"] == "pass", c
    assert report["gate"] == "model_eval" and report["passed"] is True
    fairness = _check(result, "fairness")["details"]["groupings"][0]
    assert {g["group"] for g in fairness["groups"]} == {"a", "b"}
    assert {"accuracy", "selection_rate", "true_positive_rate", "false_positive_rate"} <= set(
        fairness["groups"][0]
    )
    robustness = _check(result, "robustness")["details"]
    assert robustness["attack"]["attack"] == "hopskipjump"
    assert robustness["attack"]["rows_attacked"] > 0
    assert robustness["attack"]["median_perturbation"] > 0
    html = Path(result.reports["html"]).read_text()
    assert "permutation importance" in html  # the per-feature plot
    wrong = _check(result, "explainability")["details"]["wrong_rows_explained"]
    assert wrong and all(w["label"] != w["predicted"] for w in wrong)
    assert result.subjects[0].sha256 and result.subjects[0].verdict == "pass"


@pytest.mark.parametrize(
    ("name", "feature", "target"),
    [
        ("backdoor-in-range", "worst symmetry", "0"),
        ("backdoor-out-of-range", "mean smoothness", "1"),
    ],
)
def test_planted_trigger_is_found_with_feature_and_target(cases, name, feature, target) -> None:
    result = _run(cases[name], checks=("backdoor",))
    assert result.status is Status.FAIL, result.summary
    triggers = _check(result, "backdoor")["details"]["triggers"]
    assert triggers[0]["pattern"].keys() == {feature}
    assert triggers[0]["target"] == target
    assert triggers[0]["flip_rate"] >= 0.5
    finding = next(f for f in result.findings if f.rule_id == "model_eval.backdoor.trigger")
    assert feature in finding.message and repr(target) in finding.message


def test_labels_that_depend_on_a_sensitive_column_fail_fairness(cases) -> None:
    result = _run(cases["unfair"], checks=("fairness", "explainability"), sensitive=["sex"])
    assert result.status is Status.FAIL
    assert _check(result, "fairness")["decision"] == "fail"
    assert _check(result, "fairness")["statistic"] < 0.8  # the four-fifths rule
    assert {
        "model_eval.fairness.demographic-parity",
        "model_eval.fairness.equalized-odds",
        "model_eval.explainability.sensitive-feature",
    } <= _rules(result)


def test_a_proxy_of_the_sensitive_column_is_flagged(cases) -> None:
    result = _run(cases["proxy"], checks=("explainability",), sensitive=["sex"])
    assert result.status is Status.FAIL
    finding = next(f for f in result.findings if f.rule_id.endswith("proxy-feature"))
    assert finding.evidence["feature"] == "district"
    assert finding.evidence["sensitive_column"] == "sex"
    assert finding.evidence["proxy_strength"] >= 0.5


def test_a_brittle_model_is_less_robust_than_a_regularized_one(cases) -> None:
    more = {"attack_rows": 12, "max_queries": 1200}
    brittle = _check(_run(cases["brittle"], checks=("robustness",), robustness=more), "robustness")
    steady = _check(
        _run(cases["regularized"], checks=("robustness",), robustness=more), "robustness"
    )
    b, s = brittle["details"], steady["details"]
    assert b["noise"]["accuracy_drop"] > s["noise"]["accuracy_drop"]
    assert b["attack"]["median_perturbation"] < s["attack"]["median_perturbation"]


def test_small_groups_are_reported_not_passed(cases) -> None:
    result = _run(
        cases["clean"],
        checks=("fairness",),
        sensitive=["group"],
        fairness={"min_group_size": 1000},
    )
    assert result.status is Status.ERROR
    assert _check(result, "fairness")["decision"] == "inconclusive"
    groups = _check(result, "fairness")["details"]["groupings"][0]["groups"]
    assert {g["decision"] for g in groups} == {"too small to judge"}
    assert {
        "model_eval.fairness.group-too-small",
        "model_eval.fairness.inconclusive",
    } <= _rules(result)


def test_no_sensitive_column_skips_fairness_but_says_so(cases) -> None:
    result = _run(cases["clean"], checks=("fairness",))
    assert _check(result, "fairness")["decision"] == "skipped"
    assert "model_eval.check-skipped" in _rules(result)
    assert result.status is Status.ERROR  # every check skipped: nothing was checked


def test_input_errors_are_one_line(cases) -> None:
    case = cases["clean"]
    with pytest.raises(InputError, match="no label column 'nope'"):
        run_model_eval(str(case.model), data=str(case.data), label_column="nope")
    with pytest.raises(InputError, match="no sensitive column 'race'"):
        run_model_eval(
            str(case.model), data=str(case.data), label_column="label", sensitive_columns=["race"]
        )
    with pytest.raises(ConfigError, match="label"):
        run_model_eval(str(case.model), data=str(case.data))
    with pytest.raises(InputError, match="no such file"):
        run_model_eval(str(case.model) + ".missing", data=str(case.data), label_column="label")


def test_policy_section_is_strict() -> None:
    policy = parse_policy("gates:\n  model_eval:\n    backdoor: {min_flip_rate: 0.7}\n")
    assert policy.section("model_eval").backdoor.min_flip_rate == 0.7
    with pytest.raises(ConfigError, match="did you mean 'min_flip_rate'"):
        parse_policy("gates:\n  model_eval:\n    backdoor: {min_flip_rte: 0.7}\n")
