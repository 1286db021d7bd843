"""``--explain`` and the project allowlist file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlsec_gates.cli import main
from mlsec_gates.errors import ConfigError
from mlsec_gates.gates.scan import run_scan
from mlsec_gates.gates.scan.allowlist_file import parse_allowlist
from mlsec_gates.gates.scan.explain import explain_result
from mlsec_gates.policy import Policy

MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
UNKNOWN = b"\x80\x02cacme.models\nHead\nq\x00)\x81q\x01."


def test_explain_suggests_the_entry_that_passes_the_file(tmp_path: Path) -> None:
    (tmp_path / "head.pkl").write_bytes(UNKNOWN)
    (tmp_path / "evil.pkl").write_bytes(MALICIOUS)
    text = explain_result(run_scan([str(tmp_path)], cache=False))
    assert f"{tmp_path / 'evil.pkl'}: BLOCK" in text
    assert "os.system" in text and "no allowlist entry can change it" in text
    assert f"{tmp_path / 'head.pkl'}: QUARANTINE" in text
    snippet = text[text.index("gates:") :]
    policy = Policy.model_validate(yaml.safe_load(snippet.replace("<", "").replace(">", "")))
    [entry] = policy.gates.scan.allow_globals
    assert entry.global_ == "acme.models.Head"
    # The suggested entry really changes the verdict, and only for the unknown global.
    again = run_scan([str(tmp_path)], policy=policy, cache=False)
    assert {Path(s.path).name: s.verdict for s in again.subjects} == {
        "evil.pkl": "block",
        "head.pkl": "pass",
    }


def test_cli_explain_and_allowlist_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "head.pkl"
    model.write_bytes(UNKNOWN)
    code = main(
        ["scan", str(model), "--explain", "--no-cache", "--report-dir", str(tmp_path / "r")]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "- global: acme.models.Head" in out
    allow = tmp_path / "allow.yaml"
    allow.write_text("- global: acme.models.Head\n  reason: our own head, SEC-1\n")
    code = main(
        ["scan", str(model), "--allowlist", str(allow), "--report-dir", str(tmp_path / "r2")]
    )
    assert code == 0, capsys.readouterr().out


def test_policy_allowlist_file_is_merged(tmp_path: Path) -> None:
    model = tmp_path / "m" / "head.pkl"
    model.parent.mkdir()
    model.write_bytes(UNKNOWN)
    allow = tmp_path / "allow.yaml"
    allow.write_text("allow_globals:\n  - global: acme.models.*\n    reason: in-house package\n")
    policy = Policy.model_validate({"gates": {"scan": {"allowlist_file": str(allow)}}})
    result = run_scan([str(model)], policy=policy, cache=False)
    assert result.subjects[0].verdict == "pass"
    assert {"global": "acme.models.*", "reason": "in-house package"} in result.policy[
        "allow_globals_effective"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- global: a.B\n  reason: ok fine\n- global: c.D\n",
            "allow.yaml:3: allow_globals.1.reason: required key is missing",
        ),
        (
            "- global: a.B\n  reason: ok fine\n  why: x\n",
            "allow.yaml:3: allow_globals.0.why: unknown key; known keys: global, reason",
        ),
        (
            "allow_globals:\n  - global: 'os system'\n    reason: nope\n",
            "allow.yaml:2: allow_globals.0.global: String should match pattern",
        ),
        ("allowed: []\n", "allow.yaml:1: allowed: unknown key; known keys: allow_globals"),
        ("- [a, b\n", "allow.yaml:2: invalid YAML"),
        ("just text\n", "allow.yaml:1: expected a list of {global, reason} entries"),
    ],
)
def test_allowlist_file_errors_are_one_line_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_allowlist(text, source="allow.yaml")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


DOCS = Path(__file__).resolve().parents[4] / "docs" / "scan.md"


def test_scan_doc_lists_every_option_and_its_examples_hold(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    options = set(re.findall(r"(--[a-z0-9-]+)", capsys.readouterr().out)) - {"--help"}
    text = DOCS.read_text()
    for option in sorted(options):
        assert f"`{option}" in text, option
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    allowlists = [b for b in blocks if b.startswith("- global:")]
    assert allowlists and all(parse_allowlist(b, source="doc.yaml") for b in allowlists)
    errors = re.findall(r"```text\n(allowed-globals.yaml:.*?)```", text, flags=re.S)[0]
    for line in errors.splitlines():
        _source, _, rest = line.partition(":")
        assert re.fullmatch(r"\d+: allow_globals\.\d+\.\w+: .+", rest), line
