"""The validate gate on small files: each finding family, masking, empty and corrupt data,
SQL tables, and the same verdict whether data are validated in memory or spilled to SQLite.

Data are built in code with pandas and written to CSV, Parquet or JSON lines in tmp_path.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.validate import rules, run_validate, validate_gate
from mlsec_gates.policy import Policy, parse_policy
from mlsec_gates.result import Severity, Status

pd = pytest.importorskip("pandas")
pytest.importorskip("great_expectations")
pytest.importorskip("pyarrow")

FORMATS = ("csv", "parquet", "jsonl")


def _frame() -> Any:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "age": [34.0, 51.0, None, 300.0, 29.0, 42.0],
            "kind": ["a", "b", "a", "c", "new", "b"],
            "email": ["a@x", "b@x", "c@x", "d@x", "e@x", "e@x"],
        }
    )


def _write(frame: Any, path: Path) -> str:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return str(path)


def _suite(*lines: str) -> str:
    return "name: t\nexpectations:\n" + "".join(f"  - {line}\n" for line in lines)


def _policy(**validate: Any) -> Policy:
    body = json.dumps({"gates": {"validate": validate}})
    return parse_policy(body, source="<test>")


def _only(result: Any) -> Any:
    assert len(result.findings) == 1, [f.message for f in result.findings]
    return result.findings[0]


@pytest.fixture()
def data(tmp_path: Path) -> dict[str, str]:
    return {fmt: _write(_frame(), tmp_path / f"d.{fmt}") for fmt in FORMATS}


# -- each finding family -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_nulls(data: dict[str, str], fmt: str) -> None:
    result = run_validate(
        data[fmt], suite=_suite("expect_column_values_to_not_be_null: {column: age}")
    )
    assert result.status is Status.FAIL and not result.passed
    finding = _only(result)
    assert finding.rule_id == rules.Nulls.id == "validate.nulls"
    assert finding.severity is Severity.MEDIUM
    assert finding.evidence["unexpected_count"] == 1
    assert finding.evidence["sample_rows"][0]["id"] == 3
    assert finding.location.detail == "column age"
    assert "nulls" in finding.remediation
    assert result.subjects[0].kind == fmt and len(result.subjects[0].sha256 or "") == 64


def test_out_of_range_has_expectation_count_percent_and_samples(data: dict[str, str]) -> None:
    suite = _suite(
        "expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}"
    )
    finding = _only(run_validate(data["csv"], suite=suite))
    assert finding.rule_id == "validate.out-of-range"
    assert finding.evidence["expectation"] == {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "age", "min_value": 0, "max_value": 120},
    }
    assert finding.evidence["unexpected_count"] == 1
    assert finding.evidence["unexpected_percent"] == pytest.approx(20.0)  # of non-null values
    assert finding.evidence["sample_values"] == [{"value": 300.0, "count": 1}]
    assert finding.evidence["sample_rows"] == [{"id": 4, "age": 300.0, "kind": "c", "email": "d@x"}]
    assert "1 of 6 rows fail" in finding.message


def test_aggregate_observed_value(data: dict[str, str]) -> None:
    suite = _suite("expect_column_max_to_be_between: {column: age, max_value: 120}")
    finding = _only(run_validate(data["parquet"], suite=suite))
    assert finding.rule_id == "validate.out-of-range"
    assert finding.evidence["observed_value"] == 300.0
    assert "observed 300.0" in finding.message


def test_new_category(data: dict[str, str]) -> None:
    suite = _suite("expect_column_values_to_be_in_set: {column: kind, value_set: [a, b, c]}")
    finding = _only(run_validate(data["jsonl"], suite=suite))
    assert finding.rule_id == "validate.unexpected-value"
    assert finding.evidence["sample_values"] == [{"value": "new", "count": 1}]
    assert "value_set" in finding.remediation


def test_duplicates(data: dict[str, str]) -> None:
    finding = _only(
        run_validate(
            data["csv"], suite=_suite("expect_column_values_to_be_unique: {column: email}")
        )
    )
    assert finding.rule_id == "validate.duplicates"
    assert finding.evidence["unexpected_count"] == 2
    assert [r["id"] for r in finding.evidence["sample_rows"]] == [5, 6]


def test_row_count(data: dict[str, str]) -> None:
    finding = _only(
        run_validate(
            data["csv"], suite=_suite("expect_table_row_count_to_be_between: {min_value: 100}")
        )
    )
    assert finding.rule_id == "validate.row-count"
    assert finding.evidence["observed_value"] == 6
    assert finding.location.detail == "table"


def test_wrong_column_set_is_high(data: dict[str, str]) -> None:
    suite = _suite("expect_table_columns_to_match_set: {column_set: [id, age, kind]}")
    finding = _only(run_validate(data["parquet"], suite=suite))
    assert finding.rule_id == "validate.schema"
    assert finding.severity is Severity.HIGH
    assert finding.evidence["details"] == {"mismatched": {"unexpected": ["email"]}}


def test_type_change(tmp_path: Path) -> None:
    frame = _frame().assign(age=["34", "51", "x", "300", "29", "42"])
    path = _write(frame, tmp_path / "d.parquet")
    suite = _suite("expect_column_values_to_be_in_type_list: {column: age, type_list: [float64]}")
    finding = _only(run_validate(path, suite=suite))
    assert finding.rule_id == "validate.schema"
    assert finding.severity is Severity.HIGH


def test_missing_column_is_a_finding_naming_it(data: dict[str, str]) -> None:
    suite = _suite(
        "expect_column_values_to_not_be_null: {column: salary}",
        "expect_column_values_to_not_be_null: {column: id}",
    )
    result = run_validate(data["csv"], suite=suite)
    assert result.status is Status.FAIL
    finding = _only(result)
    assert finding.rule_id == "validate.missing-column"
    assert finding.severity is Severity.HIGH
    assert "'salary'" in finding.message
    assert finding.evidence["missing_columns"] == ["salary"]
    assert result.metrics["expectations_evaluated"] == 2
    assert result.metrics["expectations_failed"] == 1


def test_column_to_exist_is_schema(data: dict[str, str]) -> None:
    finding = _only(
        run_validate(data["csv"], suite=_suite("expect_column_to_exist: {column: salary}"))
    )
    assert finding.rule_id == "validate.schema"


def test_pass_metrics_and_gx_result(data: dict[str, str]) -> None:
    suite = _suite(
        "expect_column_values_to_not_be_null: {column: id}",
        "expect_column_values_to_be_between: {column: id, min_value: 1, max_value: 6}",
    )
    result = run_validate(data["parquet"], suite=suite)
    assert result.status is Status.PASS and result.passed
    assert not result.findings
    assert result.metrics == {
        "rows": 6,
        "columns": 4,
        "expectations_evaluated": 2,
        "expectations_failed": 0,
        "expectations_passed": 2,
        "success_percent": 100.0,
    }
    gx = result.details["gx_result"]
    assert gx["success"] is True
    assert gx["statistics"]["evaluated_expectations"] == 2
    json.dumps(result.to_dict(), allow_nan=False)  # strict JSON: no numpy, no NaN
    assert result.details["engine"] == "pandas"


def test_warn_policy(data: dict[str, str]) -> None:
    result = run_validate(
        data["csv"],
        suite=_suite("expect_column_values_to_not_be_null: {column: age}"),
        policy=_policy(on_fail="warn"),
    )
    assert result.status is Status.WARN and result.passed


# -- masking -----------------------------------------------------------------------------


def test_sensitive_columns_are_masked_everywhere(data: dict[str, str]) -> None:
    suite = _suite(
        "expect_column_values_to_be_unique: {column: email}",
        "expect_column_values_to_not_be_null: {column: age}",
    )
    result = run_validate(data["csv"], suite=suite, policy=_policy(sensitive_columns=["email"]))
    dup, nulls = result.findings
    assert dup.evidence["sample_values"] == [{"value": "***", "count": 2}]
    assert {r["email"] for r in dup.evidence["sample_rows"]} == {"***"}
    assert nulls.evidence["sample_rows"][0]["email"] == "***"
    assert nulls.evidence["sample_rows"][0]["kind"] == "a"
    assert "e@x" not in json.dumps(result.to_dict())


# -- could not check ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_zero_rows_is_an_error(tmp_path: Path, fmt: str) -> None:
    path = _write(_frame().head(0), tmp_path / f"empty.{fmt}")
    result = run_validate(path, suite=_suite("expect_column_to_exist: {column: id}"))
    assert result.status is Status.ERROR and not result.passed
    assert _only(result).rule_id == "validate.empty-data"
    assert result.metrics["rows"] == 0


def test_zero_rows_is_an_error_even_when_warning(tmp_path: Path) -> None:
    path = _write(_frame().head(0), tmp_path / "empty.csv")
    result = run_validate(
        path, suite=_suite("expect_column_to_exist: {column: id}"), policy=_policy(on_fail="warn")
    )
    assert result.status is Status.ERROR


def test_corrupt_parquet_is_an_input_error(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    _write(_frame(), good)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:40] + b"\0" * 40 + b"PAR1")
    with pytest.raises(InputError, match=r"^.*bad\.parquet: cannot read Parquet: ") as info:
        run_validate(str(bad), suite=_suite("expect_column_to_exist: {column: id}"))
    assert "\n" not in str(info.value)


def test_wrong_format_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    path.write_text("id,age\n1,2\n")
    with pytest.raises(InputError, match="not a Parquet file"):
        run_validate(str(path), suite=_suite("expect_column_to_exist: {column: id}"))


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    suite = _suite("expect_column_to_exist: {column: id}")
    with pytest.raises(InputError, match="no such file"):
        run_validate(str(tmp_path / "nope.csv"), suite=suite)
    with pytest.raises(ConfigError, match="not both"):
        run_validate("d.csv", suite=suite, sql_url="sqlite:///x.db", table="t")
    with pytest.raises(ConfigError, match="nothing to validate"):
        run_validate(None, suite=suite, sql_url="sqlite:///x.db")


def test_unevaluable_expectation_is_an_error(data: dict[str, str]) -> None:
    # A regex on a float column raises inside GX: nothing was checked for it.
    suite = _suite(
        "expect_column_values_to_match_strftime_format: {column: age, strftime_format: '%Y'}"
    )
    result = run_validate(data["parquet"], suite=suite)
    assert result.status is Status.ERROR
    assert _only(result).rule_id == "validate.expectation-error"


# -- SQL ---------------------------------------------------------------------------------


def _sqlite(tmp_path: Path, frame: Any) -> str:
    db = tmp_path / "features.db"
    with sqlite3.connect(db) as con:
        frame.to_sql("train", con, index=False)
    return f"sqlite:///{db}"


def test_sql_table_in_place(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, _frame())
    suite = _suite(
        "expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}",
        "expect_column_values_to_be_in_set: {column: kind, value_set: [a, b, c]}",
        "expect_column_values_to_not_be_null: {column: salary}",
    )
    result = run_validate(None, suite=suite, sql_url=url, table="train")
    assert result.status is Status.FAIL
    assert [f.rule_id for f in result.findings] == [
        "validate.out-of-range",
        "validate.unexpected-value",
        "validate.missing-column",
    ]
    subject = result.subjects[0]
    assert subject.kind == "sql" and subject.path == f"{url}#train" and subject.sha256 is None
    assert result.details["engine"] == "sql"
    assert result.findings[0].evidence["sample_rows"][0]["id"] == 4
    assert result.findings[1].evidence["sample_rows"][0]["kind"] == "new"


def test_sql_missing_table(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, _frame())
    with pytest.raises(InputError, match="no such table 'nope'"):
        run_validate(
            None, suite=_suite("expect_column_to_exist: {column: id}"), sql_url=url, table="nope"
        )
    with pytest.raises(InputError, match="no such SQLite database"):
        run_validate(
            None,
            suite=_suite("expect_column_to_exist: {column: id}"),
            sql_url=f"sqlite:///{tmp_path}/none.db",
            table="t",
        )


def test_sql_url_password_is_hidden() -> None:
    from mlsec_gates.gates.validate.data import safe_url

    assert "s3cret" not in safe_url("postgresql://user:s3cret@db:5432/ml")


# -- in memory vs spilled to SQLite ------------------------------------------------------

PARITY_SUITE = _suite(
    "expect_column_values_to_not_be_null: {column: age}",
    "expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}",
    "expect_column_values_to_be_in_set: {column: kind, value_set: [a, b, c]}",
    "expect_column_values_to_be_unique: {column: email}",
    "expect_table_row_count_to_be_between: {min_value: 1, max_value: 10}",
    "expect_table_columns_to_match_ordered_list: {column_list: [id, age, kind, email]}",
    "expect_column_values_to_be_of_type: {column: age, type_: float64}",
    "expect_column_values_to_match_regex: {column: id, regex: '^[1-5]$'}",
    "expect_column_mean_to_be_between: {column: id, min_value: 3, max_value: 4}",
    "expect_column_values_to_not_be_null: {column: salary}",
)


def _verdict(result: Any) -> list[tuple[Any, ...]]:
    return [
        (
            f.rule_id,
            f.location.detail,
            f.evidence.get("unexpected_count"),
            f.evidence.get("observed_value"),
            f.evidence.get("sample_values"),
        )
        for f in result.findings
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_spill_to_sqlite_gives_the_same_verdict(data: dict[str, str], fmt: str) -> None:
    memory = run_validate(data[fmt], suite=PARITY_SUITE)
    spilled = run_validate(
        data[fmt], suite=PARITY_SUITE, policy=_policy(max_in_memory_rows=1, chunk_rows=2)
    )
    assert memory.details["engine"] == "pandas"
    assert spilled.details["engine"] == "sqlite-spill"
    assert spilled.status is memory.status is Status.FAIL
    assert _verdict(spilled) == _verdict(memory)
    assert len(memory.findings) == 6
    assert spilled.metrics == memory.metrics
    assert spilled.subjects == memory.subjects
    rows = {f.rule_id: f.evidence.get("sample_rows") for f in spilled.findings}
    assert rows["validate.out-of-range"] == [{"id": 4, "age": 300.0, "kind": "c", "email": "d@x"}]


def test_spill_with_a_column_that_becomes_float(tmp_path: Path) -> None:
    # Chunk 1 reads "age" as int64, chunk 2 as float64 (a null): the whole file is float64.
    frame = pd.DataFrame({"age": [1, 2, 3, None]})
    path = _write(frame, tmp_path / "d.csv")
    suite = _suite("expect_column_values_to_be_of_type: {column: age, type_: float64}")
    memory = run_validate(path, suite=suite)
    spilled = run_validate(path, suite=suite, policy=_policy(max_in_memory_rows=1, chunk_rows=2))
    assert memory.status is spilled.status is Status.PASS


# -- gate wrapper and rule table ---------------------------------------------------------


def test_validate_gate_writes_reports(data: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "copy.json"
    result = validate_gate(
        data["csv"],
        suite=_suite("expect_column_values_to_be_unique: {column: email}"),
        policy="gates: {validate: {sensitive_columns: [email]}}",
        report_dir=str(tmp_path / "reports"),
        json_out=str(out),
    )
    assert result.status is Status.FAIL
    assert set(result.reports) == {"json", "markdown", "html"}
    report = json.loads(out.read_text())
    assert report["gate"] == "validate" and report["details"]["gx_result"]["success"] is False
    html = Path(result.reports["html"]).read_text()
    assert '<table class="evidence">' in html and "e@x" not in html
    assert result.policy["sensitive_columns"] == ["email"]


def test_on_fail_argument_beats_policy(data: dict[str, str], tmp_path: Path) -> None:
    result = validate_gate(
        data["csv"],
        suite=_suite("expect_column_values_to_not_be_null: {column: age}"),
        report_dir=str(tmp_path),
        on_fail="warn",
    )
    assert result.status is Status.WARN


def test_rules_are_listed_once_with_unique_ids() -> None:
    classes = [
        obj
        for obj in vars(rules).values()
        if inspect.isclass(obj) and issubclass(obj, rules.Rule) and obj is not rules.Rule
    ]
    assert set(classes) == set(rules.RULES)
    ids = [r.id for r in rules.RULES]
    assert len(ids) == len(set(ids))
    assert all(r.id.startswith("validate.") and r.remediation and r.__doc__ for r in rules.RULES)


@pytest.mark.s3
def test_s3_data_and_suite(s3_bucket: str, s3_env: str, tmp_path: Path) -> None:
    import boto3

    from mlsec_gates.storage import S3Options

    local = _write(_frame(), tmp_path / "d.parquet")
    client = boto3.client("s3", endpoint_url=s3_env)
    client.upload_file(local, s3_bucket, "data/train.parquet")
    client.put_object(
        Bucket=s3_bucket,
        Key="suites/contract.yaml",
        Body=_suite("expect_column_values_to_not_be_null: {column: age}").encode(),
    )
    result = validate_gate(
        f"s3://{s3_bucket}/data/train.parquet",
        suite=f"s3://{s3_bucket}/suites/contract.yaml",
        s3=S3Options(endpoint_url=s3_env),
        report_dir=f"s3://{s3_bucket}/reports/",
    )
    assert result.status is Status.FAIL
    assert _only(result).rule_id == "validate.nulls"
    assert result.subjects[0].kind == "parquet"
    assert result.reports["html"] == f"s3://{s3_bucket}/reports/validate-report.html"
