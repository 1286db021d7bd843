"""The SARIF report validates against the official SARIF 2.1.0 schema and maps every finding."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.gates.scan import rules, run_scan, scan_gate
from mlsec_gates.reports.sarif import render_sarif

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[3] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
    ).read_text()
)
# Protocol-2 pickle calling os.system("echo"). Built by hand; never loaded.
MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
UNKNOWN = b"\x80\x02cacme.models\nHead\nq\x00)\x81q\x01."


def _validate(log: dict[str, object]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(log)


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    import zipfile

    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "evil.pkl").write_bytes(MALICIOUS)
    (folder / "head.pkl").write_bytes(UNKNOWN)
    with zipfile.ZipFile(folder / "ckpt.pt", "w") as zf:
        zf.writestr("archive/data.pkl", MALICIOUS)
    return folder


def test_log_validates_and_maps_findings(models: Path) -> None:
    result = run_scan([str(models)], cache=False)
    log = json.loads(render_sarif(result))
    _validate(log)
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mlsec-gates"
    assert [r["id"] for r in driver["rules"]] == [rule.id for rule in rules.RULES]
    dangerous = driver["rules"][[r.id for r in rules.RULES].index(rules.DangerousGlobal.id)]
    assert dangerous["defaultConfiguration"]["level"] == "error"
    assert dangerous["help"]["text"] == rules.DangerousGlobal.remediation
    assert len(run["results"]) == len(result.findings)
    for res, finding in zip(run["results"], result.findings, strict=True):
        assert res["ruleId"] == finding.rule_id
        assert driver["rules"][res["ruleIndex"]]["id"] == finding.rule_id
        assert res["partialFingerprints"]["mlsecFindingFingerprint/v1"] == finding.fingerprint
        assert res["message"]["text"] == finding.message
    by_file = {
        Path(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]).name: r
        for r in run["results"]
    }
    assert by_file["evil.pkl"]["level"] == "error"
    assert by_file["evil.pkl"]["locations"][0]["physicalLocation"]["region"]["byteOffset"] == 2
    member = by_file["ckpt.pt"]["locations"][0]
    assert member["logicalLocations"][0]["name"] == "archive/data.pkl"
    assert "region" not in member["physicalLocation"]  # the offset is inside the member
    assert by_file["head.pkl"]["level"] == "error"  # unknown global: HIGH
    assert run["invocations"][0]["executionSuccessful"] is True
    hashes = {Path(a["location"]["uri"]).name: a["hashes"]["sha-256"] for a in run["artifacts"]}
    assert hashes == {Path(s.path).name: s.sha256 for s in result.subjects}


def test_incomplete_run_is_not_successful(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    log = json.loads(render_sarif(run_scan([str(tmp_path / "empty")], cache=False)))
    _validate(log)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_gate_writes_sarif_by_default_and_a_copy(models: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out" / "scan.sarif"
    result = scan_gate(
        [str(models / "evil.pkl")], report_dir=str(tmp_path / "r"), sarif_out=str(copy)
    )
    written = Path(result.reports["sarif"])
    assert written == (tmp_path / "r" / "scan-report.sarif").resolve()
    assert written.read_bytes() == copy.read_bytes()
    _validate(json.loads(copy.read_text()))
    report = json.loads(Path(result.reports["json"]).read_text())
    assert report["reports"]["sarif"] == str(written)


def test_cli_sarif_out(models: Path, tmp_path: Path) -> None:
    from mlsec_gates.cli import main

    out = tmp_path / "ci" / "scan.sarif"
    code = main(
        ["scan", str(models), "--sarif-out", str(out), "-q", "--report-dir", str(tmp_path / "r")]
    )
    assert code == 1
    log = json.loads(out.read_text())
    _validate(log)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"scan.pickle.dangerous-global"}


def test_waived_findings_are_suppressed_not_dropped(models: Path) -> None:
    from dataclasses import replace

    from mlsec_gates import result as result_module

    mark = getattr(result_module, "WaiverMark", None)
    if mark is None:
        pytest.skip("waivers are not available")
    result = run_scan([str(models / "evil.pkl")], cache=False)
    waiver = mark(id="w-1", approver="sec@example.com", reason="sandboxed", expires="2099-01-01")
    waived = replace(result, findings=tuple(replace(f, waiver=waiver) for f in result.findings))
    log = json.loads(render_sarif(waived))
    _validate(log)
    [res] = log["runs"][0]["results"]
    assert res["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "sandboxed",
            "properties": waiver.to_dict(),
        }
    ]
