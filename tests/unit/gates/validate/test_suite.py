"""Suites in YAML, JSON and GX's own layout; one-line errors with file, line and suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.validate.suite import Suite, load_suite, parse_suite
from mlsec_gates.storage import Storage

pytest.importorskip("great_expectations")

SHORT = """\
name: iris-contract
expectations:
  - expect_column_values_to_not_be_null: {column: age}
  - expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}
"""


def test_short_yaml() -> None:
    suite = parse_suite(SHORT, source="iris.yaml")
    assert suite.name == "iris-contract"
    assert [e.type for e in suite.expectations] == [
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
    ]
    assert suite.expectations[1].kwargs == {"column": "age", "min_value": 0, "max_value": 120}
    assert [e.line for e in suite.expectations] == [3, 4]
    assert suite.expectations[1].columns() == ("age",)


def test_short_json() -> None:
    text = json.dumps({"name": "j", "expectations": [{"expect_column_to_exist": {"column": "id"}}]})
    suite = parse_suite(text, source="s.json")
    assert suite.expectations[0].type == "expect_column_to_exist"


def test_gx_suite_json() -> None:
    text = json.dumps(
        {
            "name": "gx-suite",
            "id": "5f0c",
            "meta": {"great_expectations_version": "1.24.1"},
            "notes": None,
            "expectations": [
                {
                    "type": "expect_column_values_to_be_in_set",
                    "kwargs": {"column": "kind", "value_set": ["a", "b"]},
                    "meta": {"owner": "data-team"},
                    "id": "e1",
                    "rendered_content": [],
                },
                {
                    "expectation_type": "expect_table_row_count_to_be_between",
                    "kwargs": {"min_value": 1},
                },
            ],
        },
        indent=2,
    )
    suite = parse_suite(text, source="gx.json")
    assert suite.name == "gx-suite"
    first, second = suite.expectations
    assert first.kwargs == {"column": "kind", "value_set": ["a", "b"]}
    assert first.extra == {"meta": {"owner": "data-team"}}
    assert second.type == "expect_table_row_count_to_be_between"
    assert first.build().value_set == ["a", "b"]


def test_gx_0x_suite_name() -> None:
    suite = parse_suite(
        '{"expectation_suite_name": "old", "expectations": '
        '[{"expectation_type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}'
    )
    assert suite.name == "old"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "expectations:\n  - expect_column_values_to_not_be_nul: {column: age}\n",
            "s.yaml:2: expectations.0.expect_column_values_to_not_be_nul: unknown expectation; "
            "did you mean 'expect_column_values_to_not_be_null'?",
        ),
        (
            "expectations:\n  - expect_column_to_exist: {column: a}\n"
            "  - expect_column_values_to_be_between:\n      column: age\n      min_vale: 0\n",
            "s.yaml:5: expectations.1.expect_column_values_to_be_between.min_vale: unknown "
            "argument; did you mean 'min_value'?",
        ),
        (
            "expectations:\n  - expect_column_values_to_be_between:\n      column: age\n"
            "      min_value: abc\n",
            "s.yaml:4: expectations.0.expect_column_values_to_be_between.min_value: invalid "
            "value 'abc'",
        ),
        (
            "expectations:\n  - expect_column_values_to_be_between: {min_value: 1}\n",
            "s.yaml:2: expectations.0.expect_column_values_to_be_between.column: required "
            "argument is missing",
        ),
        (
            "expectations:\n  - expect_column_values_to_be_between: {column: a}\n",
            "s.yaml:2: expectations.0.expect_column_values_to_be_between: min_value and "
            "max_value cannot both be None",
        ),
        ("name: x\nexpectations: []\n", "s.yaml:2: expectations: a non-empty list"),
        ("name: x\n", "s.yaml:1: expectations: a non-empty list"),
        ("- 1\n", "s.yaml:1: a suite must be a mapping"),
        ("nme: x\nexpectations: []\n", "s.yaml:1: nme: unknown key; did you mean 'name'?"),
        ("expectations:\n  - [1]\n", "s.yaml:2: expectations.0: an expectation is"),
        (
            "expectations:\n  - expect_column_to_exist: {column: a}\n    expect_x: {}\n",
            "s.yaml:2: expectations.0: one expectation per list entry",
        ),
        ("expectations: [\n", "s.yaml:2: invalid YAML"),
    ],
)
def test_errors_are_one_line_with_position(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_suite(text, source="s.yaml")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_gx_layout_error_names_the_kwargs_line() -> None:
    text = (
        '{"expectations": [\n  {"type": "expect_column_values_to_be_between",\n'
        '   "kwargs": {"column": "a",\n              "max_valu": 3}}]}'
    )
    with pytest.raises(
        ConfigError,
        match=r"^gx\.json:4: .*max_valu: unknown argument; did you "
        r"mean 'max_value'\?$",
    ):
        parse_suite(text, source="gx.json")


def test_load_suite_path_inline_and_parsed(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(SHORT)
    storage = Storage()
    from_file = load_suite(str(path), storage=storage)
    assert from_file.source == str(path)
    inline = load_suite(SHORT, storage=storage)
    assert inline.source == "<inline suite>"
    assert load_suite(inline, storage=storage) is inline
    assert isinstance(inline, Suite)
    unnamed = load_suite(
        '{"expectations": [{"expect_column_to_exist": {"column": "a"}}]}', storage=storage
    )
    assert unnamed.name == "unnamed"
    with pytest.raises(InputError, match="no such file"):
        load_suite(str(tmp_path / "nope.yaml"), storage=storage)
    with pytest.raises(ConfigError, match="a suite is required"):
        load_suite("  ", storage=storage)
