"""``mlsec-gates run``, ``waive`` and ``report``: exit codes, output, and thin handlers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlsec_gates import cli
from mlsec_gates.cli import main
from tests.fixtures.pickles import os_system_p0
from tests.unit.test_adapter_size import _body_lines


def _policy(tmp_path: Path, model: Path, extra: str = "") -> Path:
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        f"waivers_file: waivers.yaml\n{extra}chain:\n  scan: {{targets: [{model}]}}\n"
    )
    return policy


@pytest.fixture()
def evil_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "evil.pkl").write_bytes(os_system_p0("id"))
    return model


def test_run_fails_then_waive_then_passes(
    tmp_path: Path, evil_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _policy(tmp_path, evil_model, "waivers_allow_scanner_blocks: true\n")
    code = main(["run", "--policy", str(policy), "--report-dir", str(tmp_path / "r1")])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^scan +FAIL +1 file\(s\) scanned", out, flags=re.M)
    assert "mlsec-gates run: FAIL at scan" in out
    html = tmp_path / "r1" / "combined-report.html"
    assert f"Combined report: {html}" in out and html.is_file()

    report = json.loads((tmp_path / "r1" / "scan" / "scan-report.json").read_text())
    for finding in report["findings"]:
        assert (
            main(
                [
                    "waive",
                    finding["fingerprint"],
                    "--reason",
                    "vendor file, replaced in ticket ML-7",
                    "--approver",
                    "alice@example.com",
                    "--expires",
                    "2999-12-31",
                    "--policy",
                    str(policy),
                ]
            )
            == 0
        )
    out = capsys.readouterr().out
    assert f"in {tmp_path / 'waivers.yaml'} (finding " in out
    code = main(["run", "--policy", str(policy), "--report-dir", str(tmp_path / "r2"), "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("mlsec-gates run: PASS")
    combined = json.loads((tmp_path / "r2" / "combined-report.json").read_text())
    assert len(combined["waived"]) == len(report["findings"])


def test_run_without_chain_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text("on_fail: fail\n")
    assert main(["run", "--policy", str(policy)]) == 2
    assert "chain: no step configured" in capsys.readouterr().err


def test_waive_needs_a_file_and_a_future_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["waive", "0123456789abcdef", "--reason", "why not", "--approver", "me"]
    assert main([*args, "--expires", "2999-01-01"]) == 2
    assert "which waiver file?" in capsys.readouterr().err
    target = str(tmp_path / "w.yaml")
    assert main([*args, "--expires", "2001-01-01", "--waivers", target]) == 2
    assert "already past" in capsys.readouterr().err
    assert main([*args, "--expires", "2999-01-01", "--waivers", target, "--gate", "scan"]) == 0
    assert "gate: scan" in Path(target).read_text()


def test_report_gathers_a_run_folder(
    tmp_path: Path, evil_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlsec_gates.gates.scan import scan_gate

    scan_gate([str(evil_model)], report_dir=str(tmp_path / "run" / "scan"))
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 0
    html = tmp_path / "out" / "combined-report.html"
    assert capsys.readouterr().out.strip() == f"mlsec-gates report: combined report: {html}"
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2


CORE = ("mlsec_gates.chain", "mlsec_gates.waivers", "mlsec_gates.reports")


@pytest.mark.parametrize("handler", [cli._run, cli._waive, cli._report])
def test_handlers_are_a_screen_with_one_core_call(handler: object) -> None:
    import ast
    import inspect
    import textwrap

    assert _body_lines(handler) <= 15
    tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))  # type: ignore[arg-type]
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith(
            ("mlsec_gates.chain", "mlsec_gates.waivers", "mlsec_gates.reports")
        )
        for alias in node.names
    }
    calls = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in imported
    ]
    assert len(calls) == 1, calls
