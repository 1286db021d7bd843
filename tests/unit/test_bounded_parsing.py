"""Alias bombs and deep documents are refused with one line, fast (issue 13, item 9).

A 10-line alias bomb ran for minutes (2.9 GB at 300 s); ``a: &a [*a]`` and 100,000-deep
JSON raised ``RecursionError`` tracebacks (policy, suite, allowlist, signature bundle,
``--gate-report``, ``report`` inputs).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlsec_gates.bounded import TooDeep, loads_json
from mlsec_gates.errors import ConfigError, Error, InputError, VerificationError
from mlsec_gates.policy import parse_policy
from mlsec_gates.storage import Storage
from tests.hostile.inputs import _BOMB

DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_BOMB, "too many values"),
        ("a: &a [*a]\n", "refers to itself"),
        ("a: &a {b: *a}\n", "refers to itself"),
        (DEEP_JSON, "nested too deeply"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 3000)), "nested too deeply"),
        ("? [a, b]\n: 1\n", "a key must be a plain value"),
        ("on_fail: !!python/name:os.system ''\n", "invalid YAML"),
    ],
)
def test_policy_yaml_is_bounded(text: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message) as info:
        parse_policy(text, source="gates.yaml")
    assert "\n" not in info.value.diagnostics()
    assert time.monotonic() - started < 30


def test_suite_and_allowlist_share_the_bounds(tmp_path: Path) -> None:
    from mlsec_gates.gates.scan.allowlist_file import load_allowlist_file
    from mlsec_gates.gates.validate.suite import parse_suite

    with pytest.raises(ConfigError, match="too many values"):
        parse_suite(_BOMB, source="suite.yaml")
    (tmp_path / "allow.yaml").write_text("a: &a [*a]\n")
    with pytest.raises(ConfigError, match="refers to itself"):
        load_allowlist_file(str(tmp_path / "allow.yaml"), storage=Storage())


def test_deep_json_is_a_decode_error_not_a_recursion_error() -> None:
    with pytest.raises(TooDeep):
        loads_json(DEEP_JSON)
    with pytest.raises(TooDeep):
        loads_json("[" * 200 + "]" * 200)  # parses, but deeper than any real document
    assert loads_json('{"a": [[1]]}') == {"a": [[1]]}


def test_deep_signature_bundle_gate_report_and_report_input(tmp_path: Path) -> None:
    from mlsec_gates.gates.sbom.evidence import read_gate_report
    from mlsec_gates.reports.combined import write_combined_report
    from mlsec_gates.signing.bundle import parse_bundle

    with pytest.raises(VerificationError, match="not JSON"):
        parse_bundle(DEEP_JSON.encode())
    deep = tmp_path / "scan-report.json"
    deep.write_text(DEEP_JSON)
    with pytest.raises(InputError):
        read_gate_report(str(deep), storage=Storage())
    with pytest.raises(Error):
        write_combined_report([str(deep)], str(tmp_path / "out"), storage=Storage())
