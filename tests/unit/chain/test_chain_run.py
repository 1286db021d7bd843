"""run_chain end to end on tiny data: a clean chain passes; a poisoned or tampered one stops at
the right gate; a step that cannot run is an error; the combined report is always written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlsec_gates.chain import STEP_ORDER, ChainResult, run_chain
from mlsec_gates.chain.train import run_train
from mlsec_gates.errors import ConfigError
from mlsec_gates.result import Status
from tests.unit.chain.conftest import CLEAN_HOOK, ChainInputs


def _combined(outcome: ChainResult) -> dict:  # type: ignore[type-arg]
    return json.loads(Path(outcome.reports["json"]).read_text())


@pytest.fixture(scope="module")
def clean_run(chain_inputs: ChainInputs, tmp_path_factory: pytest.TempPathFactory) -> ChainResult:
    root = tmp_path_factory.mktemp("clean-run")
    model = root / "build" / "model"
    policy = root / "gates.yaml"
    policy.write_text(
        "gates: {drift: {evidently_report: false}}\n"
        "chain:\n"
        f"  validate: {{data: {chain_inputs.current_csv}, suite: {chain_inputs.suite}}}\n"
        f"  drift: {{reference: {chain_inputs.reference_csv}, current: {chain_inputs.current_csv}, "
        "label_column: species}\n" + chain_inputs.train(CLEAN_HOOK, model) + "  scan: {}\n"
        "  sbom: {}\n"
        f"  sign: {{key: {chain_inputs.key}}}\n"
    )
    return run_chain(str(policy), report_dir=str(root / "reports"))


def test_a_clean_chain_passes_end_to_end(clean_run: ChainResult) -> None:
    # model_eval needs a real model; it runs in tests/airflow/test_model_eval_operator.py
    assert [r.gate for r in clean_run.results] == [s for s in STEP_ORDER if s != "model_eval"]
    assert all(r.status is Status.PASS for r in clean_run.results), [
        r.summary for r in clean_run.results
    ]
    assert (clean_run.status, clean_run.exit_code, clean_run.not_run) == (Status.PASS, 0, ())
    assert clean_run.stopped_at is None
    drift, train, scan, sbom, sign = clean_run.results[1:]
    assert drift.metrics["columns_drifted"] == 0
    assert [Path(s.path).name for s in train.subjects] == ["weights.npy"]
    assert scan.metrics["files_scanned"] == 1
    assert Path(sbom.reports["bom"]).is_file()
    assert Path(sign.reports["signature"]).is_file()
    combined = _combined(clean_run)
    assert [row["status"] for row in combined["board"]] == ["pass"] * 6
    assert combined["headline"] == "PASSED"


def test_each_step_writes_its_reports_in_its_own_folder(clean_run: ChainResult) -> None:
    root = Path(clean_run.reports["html"]).parent
    for result in clean_run.results:
        assert Path(result.reports["json"]).parent == root / result.gate


def test_the_sbom_records_the_earlier_gates(clean_run: ChainResult) -> None:
    sbom = clean_run.results[4]
    text = Path(sbom.reports["bom"]).read_text()
    for gate in ("validate", "drift", "train", "scan"):
        assert f"{gate}-report.json" in text


def test_corrupt_data_stops_the_chain_at_validate(
    chain_inputs: ChainInputs, tmp_path: Path
) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "chain:\n"
        f"  validate: {{data: {chain_inputs.corrupt_csv}, suite: {chain_inputs.suite}}}\n"
        + chain_inputs.train(CLEAN_HOOK, tmp_path / "model")
        + "  scan: {}\n"
    )
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert (outcome.status, outcome.exit_code, outcome.stopped_at) == (Status.FAIL, 1, "validate")
    assert outcome.not_run == ("train", "scan")
    assert not (tmp_path / "model").exists()  # training never started
    combined = _combined(outcome)
    assert [(r["gate"], r["status"]) for r in combined["board"]] == [
        ("validate", "fail"),
        ("train", "not run"),
        ("scan", "not run"),
    ]
    assert {f["rule_id"] for f in combined["gates"][0]["findings"]} == {
        "validate.nulls",
        "validate.out-of-range",
    }


def test_poisoned_labels_stop_the_chain_at_drift(chain_inputs: ChainInputs, tmp_path: Path) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "gates: {drift: {evidently_report: false}}\n"
        "chain:\n"
        f"  validate: {{data: {chain_inputs.poisoned_csv}, suite: {chain_inputs.suite}}}\n"
        f"  drift: {{reference: {chain_inputs.reference_csv}, "
        f"current: {chain_inputs.poisoned_csv}, label_column: species}}\n"
        + chain_inputs.train(CLEAN_HOOK, tmp_path / "model")
        + "  scan: {}\n"
    )
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert [r.status for r in outcome.results] == [Status.PASS, Status.FAIL]  # values are valid
    assert (outcome.stopped_at, outcome.not_run, outcome.exit_code) == (
        "drift",
        ("train", "scan"),
        1,
    )
    assert any(f.rule_id.startswith("drift.poison.") for f in outcome.results[1].findings)
    html = Path(outcome.reports["html"]).read_text()
    assert "Data poisoning and drift" in html and "drift per column" in html


def test_a_tampered_model_stops_the_chain_at_scan(
    chain_inputs: ChainInputs, tmp_path: Path
) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "chain:\n"
        + chain_inputs.evil_train(tmp_path / "model")
        + "  scan: {}\n  sbom: {}\n"
        + f"  sign: {{key: {chain_inputs.key}}}\n"
    )
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert (outcome.status, outcome.exit_code, outcome.stopped_at) == (Status.FAIL, 1, "scan")
    assert outcome.not_run == ("sbom", "sign")
    assert not (tmp_path / "model.sig").exists()
    html = Path(outcome.reports["html"]).read_text()
    assert "os.system" in html and "Model-artifact code execution" in html


def test_warn_goes_on(chain_inputs: ChainInputs, tmp_path: Path) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "gates: {scan: {on_fail: warn}}\n"
        "chain:\n" + chain_inputs.evil_train(tmp_path / "model") + "  scan: {}\n  sbom: {}\n"
    )
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert [r.status for r in outcome.results] == [Status.PASS, Status.WARN, Status.PASS]
    assert (outcome.status, outcome.exit_code, outcome.passed) == (Status.WARN, 0, True)


def test_a_missing_input_is_an_error_and_still_reported(tmp_path: Path) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text(f"chain:\n  scan: {{targets: [{tmp_path / 'missing.pkl'}]}}\n")
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert (outcome.status, outcome.exit_code) == (Status.ERROR, 2)
    [result] = outcome.results
    assert result.findings[0].rule_id == "chain.step-error"
    assert "missing.pkl" in result.summary
    assert _combined(outcome)["board"][0]["status"] == "error"


def test_a_step_that_cannot_run_is_an_error_and_the_chain_stops(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"weights")
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "chain:\n"
        f"  sbom: {{model_dir: {tmp_path / 'model'}}}\n"
        f"  sign: {{model_dir: {tmp_path / 'model'}, key: {tmp_path / 'no-such-key.pem'}}}\n"
    )
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert (outcome.status, outcome.exit_code, outcome.stopped_at) == (Status.ERROR, 2, "sign")
    [finding] = outcome.results[1].findings
    assert finding.rule_id == "chain.step-error"
    assert "no-such-key.pem" in finding.message
    assert outcome.results[1].policy["sources"] == [str(policy)]
    assert Path(outcome.results[1].reports["html"]).is_file()  # its own report, too
    assert _combined(outcome)["board"][1]["status"] == "error"


def test_a_failing_train_command_is_an_error(chain_inputs: ChainInputs, tmp_path: Path) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "chain:\n"
        + chain_inputs.train(
            "import sys; print('boom', file=sys.stderr); sys.exit(3)", tmp_path / "m"
        )
        + "  scan: {}\n"
    )
    outcome = run_chain(str(policy), report_dir=str(tmp_path / "reports"))
    assert (outcome.exit_code, outcome.stopped_at, outcome.not_run) == (2, "train", ("scan",))
    [finding] = outcome.results[0].findings
    assert finding.rule_id == "train.command-failed"
    assert finding.evidence["exit_code"] == 3 and "boom" in finding.evidence["output"]


class TestTrainHook:
    def test_records_every_output_file(self, tmp_path: Path) -> None:
        result = run_train(
            [sys.executable, "-c", CLEAN_HOOK, "{model_dir}"], model_dir=str(tmp_path / "m")
        )
        assert result.status is Status.PASS
        [subject] = result.subjects
        assert subject.sha256 and subject.verdict == "produced"

    def test_model_dir_reaches_the_command_as_env(self, tmp_path: Path) -> None:
        hook = (
            "import os, pathlib; pathlib.Path(os.environ['MLSEC_MODEL_DIR'], 'w').write_text('1')"
        )
        result = run_train([sys.executable, "-c", hook], model_dir=str(tmp_path / "m"))
        assert result.status is Status.PASS

    def test_no_output_is_an_error(self, tmp_path: Path) -> None:
        result = run_train([sys.executable, "-c", "pass"], model_dir=str(tmp_path / "m"))
        assert result.status is Status.ERROR
        assert result.findings[0].rule_id == "train.no-model"

    def test_timeout_is_an_error(self, tmp_path: Path) -> None:
        result = run_train(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            model_dir=str(tmp_path / "m"),
            timeout_seconds=1,
        )
        assert result.status is Status.ERROR
        assert "still running after 1 s" in result.findings[0].message

    def test_missing_program_is_an_error(self, tmp_path: Path) -> None:
        result = run_train(["/nonexistent/train"], model_dir=str(tmp_path / "m"))
        assert result.status is Status.ERROR
        assert "could not start" in result.findings[0].message

    def test_s3_model_dir_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="local model_dir"):
            run_train(["true"], model_dir="s3://bucket/model/")
