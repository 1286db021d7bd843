"""The docs quote the code: their examples must parse, validate and match the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.policy import Policy, parse_policy
from mlsec_gates.result import SCHEMA_VERSION

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _blocks(name: str, lang: str) -> list[str]:
    text = (DOCS / name).read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_report_example_validates() -> None:
    schema = json.loads((DOCS / "report-schema.json").read_text())
    [example] = _blocks("report-schema.md", "json")
    data = json.loads(example)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    assert data["schema_version"] == SCHEMA_VERSION


def test_report_doc_names_the_current_version() -> None:
    assert f"the current version is **{SCHEMA_VERSION}**" in (DOCS / "report-schema.md").read_text()


def test_report_doc_lists_every_field() -> None:
    schema = json.loads((DOCS / "report-schema.json").read_text())
    text = (DOCS / "report-schema.md").read_text()
    fields = set(schema["properties"])
    for sub in ("subject", "finding"):
        fields |= set(schema["$defs"][sub]["properties"])
    for field in sorted(fields):
        assert f"`{field}`" in text, field


def test_policy_example_parses() -> None:
    [example] = _blocks("policy.md", "yaml")
    policy = parse_policy(example, source="example.yaml")
    assert policy.gates.scan.allow_globals
    assert all(entry.reason for entry in policy.gates.scan.allow_globals)


def test_policy_doc_lists_every_key_with_its_default() -> None:
    text = (DOCS / "policy.md").read_text()
    defaults = Policy()
    for key, field in type(defaults.gates.scan).model_fields.items():
        assert f"`gates.scan.{field.alias or key}`" in text, key
    for key in ("max_file_bytes", "max_members", "max_depth", "max_opcodes"):
        assert f"`{getattr(defaults.gates.scan, key)}`" in text, key
    for key in type(defaults.gates.validate_).model_fields:
        assert f"`gates.validate.{key}`" in text, key
    for key in ("sample_rows", "max_in_memory_rows", "chunk_rows"):
        assert f"`{getattr(defaults.gates.validate_, key)}`" in text, key
    section = defaults.gates.model_eval
    for key in type(section).model_fields:
        value = getattr(section, key)
        for sub in type(value).model_fields if hasattr(type(value), "model_fields") else ():
            assert f"`gates.model_eval.{key}.{sub}`" in text, f"{key}.{sub}"
        if not hasattr(type(value), "model_fields"):
            assert f"`gates.model_eval.{key}`" in text, key
    for key in type(defaults.storage.s3).model_fields:
        assert f"`storage.s3.{key}`" in text, key
    for key in ("version", "on_fail"):
        assert f"| `{key}` |" in text


@pytest.mark.parametrize(
    "line",
    [line for line in _blocks("policy.md", "text")[1].splitlines() if line.strip()],
)
def test_policy_error_examples_have_the_documented_shape(line: str) -> None:
    assert re.fullmatch(r"gates\.yaml:\d+: .+", line)


def test_getting_started_options_exist(capsys: pytest.CaptureFixture[str]) -> None:
    from mlsec_gates.cli import main

    help_text = ""
    for gate in ("scan", "validate", "validate-profile"):
        with pytest.raises(SystemExit):
            main([gate, "--help"])
        help_text += capsys.readouterr().out
    text = (DOCS / "getting-started.md").read_text()
    for option in set(re.findall(r"`(--[a-z0-9-]+)", text)):
        assert option in help_text, option
