"""Waivers: they apply, expire (UTC, inclusive), are recorded in the ledger, and cannot cover a
scanner block unless the policy allows it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.policy import WaiverEntry
from mlsec_gates.result import Finding, GateResult, Location, Severity, Status
from mlsec_gates.waivers import (
    add_waiver,
    apply_waivers,
    is_blocking,
    load_waivers,
    parse_waiver_file,
)
from tests.fixtures.pickles import benign_dict_pickle, os_system_p0

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs/report-schema.json").read_text())
TODAY = date(2026, 11, 28)


def _finding(rule: str = "validate.nulls", severity: Severity = Severity.MEDIUM, n: int = 1):  # type: ignore[no-untyped-def]
    return Finding(
        rule_id=rule,
        severity=severity,
        message=f"problem {n}",
        location=Location(uri="data.csv", detail=f"column c{n}"),
        evidence={"column": f"c{n}"},
    )


def _result(gate: str, status: Status, *findings: Finding) -> GateResult:
    at = datetime(2026, 11, 28, tzinfo=timezone.utc)
    return GateResult(
        gate=gate,
        status=status,
        summary="s.",
        findings=findings,
        subjects=(),
        started_at=at,
        finished_at=at,
    )


def _waiver(finding: Finding, expires: date = TODAY, **kw: object) -> WaiverEntry:
    return WaiverEntry(
        id=kw.pop("id", "w-0000000001"),  # type: ignore[arg-type]
        fingerprint=finding.fingerprint,
        reason="accepted for the test",
        approver="alice",
        expires=expires,
        **kw,  # type: ignore[arg-type]
    )


class TestApply:
    def test_every_failing_finding_waived_passes_and_stays_listed(self) -> None:
        f1, f2 = _finding(n=1), _finding(n=2)
        result = _result("validate", Status.FAIL, f1, f2)
        waived = apply_waivers(result, [_waiver(f1), _waiver(f2, id="w-2")], today=TODAY)
        assert waived.status is Status.PASS and waived.passed
        assert [f.waiver.id for f in waived.findings if f.waiver] == ["w-0000000001", "w-2"]
        assert len(waived.findings) == 2
        assert "every failing finding is waived (2; was fail)" in waived.summary
        assert waived.counts()["waived"] == 2
        applied = waived.details["waivers"]["applied"]
        assert {a["fingerprint"] for a in applied} == {f1.fingerprint, f2.fingerprint}

    def test_a_partial_waiver_keeps_the_failure(self) -> None:
        f1, f2 = _finding(n=1), _finding(n=2)
        waived = apply_waivers(_result("validate", Status.FAIL, f1, f2), [_waiver(f1)], today=TODAY)
        assert waived.status is Status.FAIL
        assert waived.findings[0].waiver is not None and waived.findings[1].waiver is None

    def test_warn_becomes_pass(self) -> None:
        f1 = _finding()
        waived = apply_waivers(_result("validate", Status.WARN, f1), [_waiver(f1)], today=TODAY)
        assert waived.status is Status.PASS

    def test_error_is_never_waived(self) -> None:
        f1 = _finding()
        waived = apply_waivers(_result("validate", Status.ERROR, f1), [_waiver(f1)], today=TODAY)
        assert waived.status is Status.ERROR
        assert waived.findings[0].waiver is not None  # marked, but the check was incomplete

    def test_expiry_day_is_inclusive_in_utc(self) -> None:
        f1 = _finding()
        result = _result("validate", Status.FAIL, f1)
        on_the_day = apply_waivers(result, [_waiver(f1, TODAY)], today=TODAY)
        assert on_the_day.status is Status.PASS
        after = apply_waivers(result, [_waiver(f1, TODAY)], today=TODAY + timedelta(days=1))
        assert after.status is Status.FAIL and after.findings[0].waiver is None
        assert after.details["waivers"]["expired"][0]["waiver_id"] == "w-0000000001"

    def test_a_waiver_for_another_gate_does_not_apply(self) -> None:
        f1 = _finding()
        waived = apply_waivers(
            _result("validate", Status.FAIL, f1), [_waiver(f1, gate="drift")], today=TODAY
        )
        assert waived.status is Status.FAIL and waived.findings[0].waiver is None

    def test_no_matching_waiver_leaves_the_result_alone(self) -> None:
        result = _result("validate", Status.FAIL, _finding(n=1))
        assert apply_waivers(result, [_waiver(_finding(n=2))], today=TODAY) is result

    def test_sign_findings_are_not_waivable(self) -> None:
        f1 = _finding("sign.refused-path", Severity.HIGH)
        waived = apply_waivers(_result("sign", Status.FAIL, f1), [_waiver(f1)], today=TODAY)
        assert waived.status is Status.FAIL
        assert "refuses to sign" in waived.details["waivers"]["refused"][0]["why"]

    def test_scanner_quarantine_is_waivable_without_the_flag(self) -> None:
        info = _finding("scan.pickle.info", Severity.LOW, n=1)
        quarantine = _finding("scan.pickle.unknown-global", Severity.MEDIUM, n=2)
        result = _result("scan", Status.FAIL, info, quarantine)
        waived = apply_waivers(result, [_waiver(quarantine)], today=TODAY)
        assert waived.status is Status.PASS  # LOW findings never made the scan fail

    def test_json_report_with_a_waiver_validates(self) -> None:
        f1 = _finding()
        waived = apply_waivers(_result("validate", Status.FAIL, f1), [_waiver(f1)], today=TODAY)
        data = waived.to_dict()
        jsonschema.Draft202012Validator(SCHEMA).validate(data)
        assert data["findings"][0]["waiver"] == {
            "id": "w-0000000001",
            "approver": "alice",
            "reason": "accepted for the test",
            "expires": "2026-11-28",
        }


@pytest.mark.parametrize("severity", list(Severity))
def test_blocking_matches_the_scanner_verdicts(severity: Severity) -> None:
    from mlsec_gates.gates.scan.engine import verdict_for

    finding = _finding("scan.x", severity)
    assert is_blocking("scan", finding) == (verdict_for([finding]) != "pass")
    assert is_blocking("validate", finding)  # every validate finding fails the gate


def test_drift_fails_on_dataset_drift_and_alarms_not_on_notices() -> None:
    dataset = _finding("drift.dataset", Severity.HIGH, n=1)
    column = _finding("drift.column", Severity.MEDIUM, n=2)
    notice = _finding("drift.schema", Severity.INFO, n=3)
    alarm = _finding("drift.poison.label-consistency", Severity.HIGH, n=4)
    assert is_blocking("drift", dataset) and is_blocking("drift", alarm)
    assert not is_blocking("drift", notice)
    assert not is_blocking("drift", column, {"fail_on": "dataset"})
    assert is_blocking("drift", column, {"fail_on": "column"})
    result = _result("drift", Status.FAIL, dataset, column, notice)
    assert apply_waivers(result, [_waiver(dataset)], today=TODAY).status is Status.PASS
    by_column = replace(result, policy={"fail_on": "column"})
    assert apply_waivers(by_column, [_waiver(dataset)], today=TODAY).status is Status.FAIL


class TestScannerBlocks:
    def _evil(self, tmp_path: Path) -> Path:
        path = tmp_path / "evil.pkl"
        path.write_bytes(os_system_p0("id"))
        return path

    def _fingerprint(self, tmp_path: Path, evil: Path) -> str:
        first = scan_gate([str(evil)], report_dir=str(tmp_path / "r0"))
        assert first.status is Status.FAIL
        [critical] = [f for f in first.findings if f.severity is Severity.CRITICAL]
        return critical.fingerprint

    def _policy(self, tmp_path: Path, fingerprints: list[str], allow: bool) -> str:
        entries = "".join(
            f"  - {{id: w-{i}, fingerprint: {fp}, reason: vendor file, approver: bob, "
            f"expires: 2999-01-01}}\n"
            for i, fp in enumerate(fingerprints)
        )
        return f"waivers_allow_scanner_blocks: {str(allow).lower()}\nwaivers:\n{entries}"

    def test_a_block_is_refused_unless_the_policy_allows_it(self, tmp_path: Path) -> None:
        evil = self._evil(tmp_path)
        first = scan_gate([str(evil)], report_dir=str(tmp_path / "r0"))
        fingerprints = [f.fingerprint for f in first.findings if is_blocking("scan", f)]
        refused = scan_gate(
            [str(evil)],
            policy=self._policy(tmp_path, fingerprints, allow=False),
            report_dir=str(tmp_path / "r1"),
        )
        assert refused.status is Status.FAIL
        assert all(f.waiver is None for f in refused.findings if f.severity >= Severity.CRITICAL)
        assert "waivers_allow_scanner_blocks" in refused.summary
        allowed = scan_gate(
            [str(evil)],
            policy=self._policy(tmp_path, fingerprints, allow=True),
            report_dir=str(tmp_path / "r2"),
        )
        assert allowed.status is Status.PASS
        report = json.loads(Path(allowed.reports["json"]).read_text())
        assert report["counts"]["waived"] == len(fingerprints)
        assert all(f["waiver"]["approver"] == "bob" for f in report["findings"] if f["waiver"])


class TestWaiverFile:
    def test_add_appends_and_the_gate_reads_it(self, tmp_path: Path) -> None:
        evil = tmp_path / "m" / "evil.pkl"
        evil.parent.mkdir()
        evil.write_bytes(os_system_p0("id"))
        first = scan_gate([str(evil.parent)], report_dir=str(tmp_path / "r0"))
        waivers = tmp_path / "policy" / "waivers.yaml"
        for finding in first.findings:
            add_waiver(
                str(waivers),
                fingerprint=finding.fingerprint,
                reason="known vendor file",
                approver="carol",
                expires="2999-12-31",
            )
        entries = parse_waiver_file(waivers.read_text(), source=str(waivers))
        assert len(entries) == len(first.findings)
        assert all(e.id.startswith("w-") and len(e.id) == 12 for e in entries)
        policy = tmp_path / "policy" / "gates.yaml"
        policy.write_text("waivers_file: waivers.yaml\nwaivers_allow_scanner_blocks: true\n")
        again = scan_gate([str(evil.parent)], policy=str(policy), report_dir=str(tmp_path / "r1"))
        assert again.status is Status.PASS

    def test_missing_file_means_no_waivers(self, tmp_path: Path) -> None:
        from mlsec_gates.policy import Policy
        from mlsec_gates.storage import Storage

        policy = Policy(waivers_file=str(tmp_path / "none.yaml"))
        assert load_waivers(policy, Storage()) == ()

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"fingerprint": "xyz"}, "is not a finding fingerprint"),
            ({"expires": "31/12/2026"}, "is not a date"),
            ({"expires": "2020-01-01"}, "already past"),
            ({"reason": " "}, "reason"),
            ({"approver": ""}, "approver"),
            ({"gate": "scna"}, "gate: Input should be"),
        ],
    )
    def test_add_refuses_bad_input(
        self, tmp_path: Path, kwargs: dict[str, str], message: str
    ) -> None:
        args = {
            "fingerprint": "0123456789abcdef",
            "reason": "ok reason",
            "approver": "dave",
            "expires": "2999-01-01",
            **kwargs,
        }
        with pytest.raises(ConfigError, match=message):
            add_waiver(str(tmp_path / "w.yaml"), **args)  # type: ignore[arg-type]
        assert not (tmp_path / "w.yaml").exists()

    def test_today_is_still_allowed(self, tmp_path: Path) -> None:
        now = datetime(2026, 11, 28, 23, 59, tzinfo=timezone.utc)
        waiver = add_waiver(
            str(tmp_path / "w.yaml"),
            fingerprint="0123456789abcdef",
            reason="ok reason",
            approver="dave",
            expires="2026-11-28",
            now=now,
        )
        assert waiver.expires == date(2026, 11, 28)

    def test_bad_file_names_file_line_and_key(self, tmp_path: Path) -> None:
        text = (
            "version: 1\nwaivers:\n  - id: w-1\n    fingerprint: 0123456789abcdef\n"
            "    reason: ok reason\n    approver: x\n    expires: 2026-13-01\n"
        )
        with pytest.raises(ConfigError, match=r"^w\.yaml:7: waivers\.0\.expires: month must"):
            parse_waiver_file(text, source="w.yaml")
        with pytest.raises(ConfigError, match=r"^w\.yaml:7: waivers\.0\.expires: "):
            parse_waiver_file(text.replace("2026-13-01", "soon"), source="w.yaml")
        with pytest.raises(ConfigError, match=r"^w\.yaml:1: waiverz: unknown key; did you mean"):
            parse_waiver_file("waiverz: []\n", source="w.yaml")


def test_every_use_is_recorded_in_the_ledger(tmp_path: Path) -> None:
    from mlsec_gates.ledger.entries import decode_entry

    model = tmp_path / "m"
    model.mkdir()
    (model / "evil.pkl").write_bytes(os_system_p0("id"))
    (model / "ok.pkl").write_bytes(benign_dict_pickle())
    first = scan_gate([str(model)], report_dir=str(tmp_path / "r0"))
    fingerprints = sorted(f.fingerprint for f in first.findings)
    ledger = tmp_path / "ledger.jsonl"
    entries = "".join(
        f"  - {{id: w-{i}, fingerprint: {fp}, reason: vendor, approver: erin, "
        f"expires: 2999-01-01}}\n"
        for i, fp in enumerate(fingerprints)
    )
    policy = f"ledger: {{uri: {ledger}}}\nwaivers_allow_scanner_blocks: true\nwaivers:\n{entries}"
    result = scan_gate([str(model)], policy=policy, report_dir=str(tmp_path / "r1"))
    assert result.status is Status.PASS
    [line] = ledger.read_bytes().splitlines()
    body = decode_entry(line).body
    assert body["status"] == "pass"
    assert sorted(w["fingerprint"] for w in body["waivers"]) == fingerprints
    assert {w["waiver_id"] for w in body["waivers"]} == {f"w-{i}" for i in range(len(fingerprints))}
    assert all(w["approver"] == "erin" for w in body["waivers"])
