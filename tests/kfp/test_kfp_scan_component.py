"""The scan components called through ``.python_func`` against the real core (no subprocess)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl
from kfp_helpers import report_locations

from mlsec_gates.components import artifact_scan, artifact_scan_uri
from mlsec_gates.components._runtime import GateFailed
from mlsec_gates.errors import ConfigError

pytestmark = pytest.mark.kfp


def outputs(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "outputs"
    out.mkdir()
    return {
        "report_html": dsl.HTML(uri=str(out / "report_html")),
        "report_md": dsl.Markdown(uri=str(out / "report_md")),
        "report_json": dsl.Artifact(uri=str(out / "report_json")),
        "report_files": dsl.Artifact(uri=str(out / "report_files")),
        "report_sarif": dsl.Artifact(uri=str(out / "report_sarif")),
        "metrics": dsl.Metrics(uri=str(out / "metrics")),
    }


def report(outs: dict[str, Any]) -> dict[str, Any]:
    return json.loads(Path(outs["report_json"].path).read_text())


def assert_written(outs: dict[str, Any]) -> None:
    assert "<html" in Path(outs["report_html"].path).read_text().lower()
    assert Path(outs["report_md"].path).read_text().startswith("# mlsec-gates scan:")
    body = report(outs)
    # The reports point at the KFP artifacts, not at the scratch directory the gate used.
    assert body["reports"] == {
        **report_locations(outs, "scan"),
        "sarif": outs["report_sarif"].uri,
    }
    for location in report_locations(outs, "scan").values():
        assert Path(location).is_file()
    sarif = json.loads(Path(outs["report_sarif"].path).read_text())
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) == len(body["findings"])
    assert outs["report_sarif"].metadata["status"] == body["status"]
    assert outs["report_json"].metadata == {
        "gate": "scan",
        "passed": body["passed"],
        "status": body["status"],
        "summary": body["summary"],
    }
    assert outs["metrics"].metadata["files_scanned"] >= 1
    assert outs["metrics"].metadata["passed"] == int(body["passed"])


def test_clean_model_passes(clean_model: Path, tmp_path: Path) -> None:
    outs = outputs(tmp_path)
    passed, status, summary = artifact_scan.python_func(
        model=dsl.Model(uri=str(clean_model)), **outs
    )
    assert (passed, status) == (True, "pass")
    assert summary.startswith("1 file(s) scanned: 0 blocked")
    assert_written(outs)
    assert outs["metrics"].metadata["files_passed"] == 1


def test_malicious_model_fails_the_task_after_writing_outputs(
    malicious_model: Path, tmp_path: Path
) -> None:
    outs = outputs(tmp_path)
    with pytest.raises(RuntimeError, match=r"^scan gate fail\n# mlsec-gates scan: FAILED") as info:
        artifact_scan.python_func(model=dsl.Model(uri=str(malicious_model)), **outs)
    assert isinstance(info.value, GateFailed)
    assert "os.system" in str(info.value)  # the one-screen summary names the culprit
    assert_written(outs)
    body = report(outs)
    assert (body["passed"], body["status"]) == (False, "fail")
    assert outs["metrics"].metadata["files_blocked"] == 1
    assert "os.system" in Path(outs["report_html"].path).read_text()


def test_soft_gate_returns_instead_of_raising(malicious_model: Path, tmp_path: Path) -> None:
    outs = outputs(tmp_path)
    passed, status, summary = artifact_scan.python_func(
        model=dsl.Model(uri=str(malicious_model)), fail_on_violation=False, **outs
    )
    assert (passed, status) == (False, "fail")
    assert "BLOCK" in summary
    assert_written(outs)


def test_inline_policy_can_warn_only(malicious_model: Path, tmp_path: Path) -> None:
    outs = outputs(tmp_path)
    passed, status, _ = artifact_scan.python_func(
        model=dsl.Model(uri=str(malicious_model)), policy="on_fail: warn", **outs
    )
    assert (passed, status) == (True, "warn")
    assert report(outs)["policy"]["source"] == "<inline policy>"


def test_policy_file(malicious_model: Path, tmp_path: Path) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text("version: 1\ngates:\n  scan:\n    on_fail: warn\n")
    outs = outputs(tmp_path)
    _, status, _ = artifact_scan.python_func(
        model=dsl.Model(uri=str(malicious_model)), policy=str(policy), **outs
    )
    assert status == "warn"
    assert report(outs)["policy"]["source"] == str(policy)


def test_invalid_policy_cannot_run(clean_model: Path, tmp_path: Path) -> None:
    outs = outputs(tmp_path)
    with pytest.raises(ConfigError, match="on_fial"):
        artifact_scan.python_func(
            model=dsl.Model(uri=str(clean_model)), policy="on_fial: warn", **outs
        )


def test_uri_component_scans_a_directory(
    clean_model: Path, malicious_model: Path, tmp_path: Path
) -> None:
    outs = outputs(tmp_path)
    passed, status, summary = artifact_scan_uri.python_func(
        model_uri=str(clean_model.parent), fail_on_violation=False, **outs
    )
    assert (passed, status) == (False, "fail")
    assert summary.startswith("2 file(s) scanned: 1 blocked")
    assert_written(outs)


def test_empty_directory_is_not_a_pass(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    outs = outputs(tmp_path)
    with pytest.raises(GateFailed, match="scan gate error"):
        artifact_scan_uri.python_func(model_uri=str(empty), **outs)
    assert report(outs)["status"] == "error"
