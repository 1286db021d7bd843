"""Deliberately broken batches of real data sets: each break is found, named, everywhere.

A suite is profiled once per data set from its clean reference half (CSV). The held-out half
is then damaged one way at a time (tests/datasets.py ``BREAKS``: dropped column, numeric
column turned to text, nulls, out-of-range values, new categories, duplicated keys) and
validated as CSV, as Parquet and as a SQLite table (``sql_url`` + ``table``, validated in
place by GX's SQL engine). Each time the gate must not pass, a finding must name both the
damaged column and the expectation that caught it, and all three must agree on the verdict
and on which expectations failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("great_expectations")
pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from mlsec_gates.gates.validate import validate_gate
from mlsec_gates.gates.validate.profile import profile_suite
from mlsec_gates.result import Finding, GateResult, Status
from tests import datasets as ds

FORMATS = ("csv", "parquet", "sqlite")


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One profiled suite per data set, from its clean reference half."""
    root = tmp_path_factory.mktemp("suites")
    out = {}
    for name, load in ds.DATASETS.items():
        reference, _ = ds.split(load())
        ref = ds.write(reference, root / f"{name}-reference.csv")
        out[name] = profile_suite(str(ref), out=str(root / f"{name}.yaml"))
    return out


def _validate_everywhere(frame, suite: str, root: Path) -> dict[str, GateResult]:  # type: ignore[no-untyped-def]
    """The same batch as CSV, Parquet and a SQLite table, validated with the same suite."""
    results = {}
    for fmt in FORMATS:
        reports = str(root / f"reports-{fmt}")
        if fmt == "sqlite":
            url = ds.write_sqlite(frame, root / "batch.db")
            results[fmt] = validate_gate(
                None, sql_url=url, table="batch", suite=suite, report_dir=reports
            )
        else:
            data = ds.write(frame, root / f"batch.{fmt}")
            results[fmt] = validate_gate(str(data), suite=suite, report_dir=reports)
    return results


def _names(finding: Finding, column: str, expectation: str) -> bool:
    """True when the finding says which expectation failed and on which column."""
    text = json.dumps([finding.message, finding.location.to_dict(), finding.evidence], default=str)
    return expectation in finding.message and column in text


def _failed_expectations(result: GateResult) -> set[tuple[str, str]]:
    """(rule id, message up to the colon) of every finding: the engine-independent part."""
    return {(f.rule_id, f.message.split("): ")[0]) for f in result.findings}


@pytest.mark.parametrize("brk", ds.BREAKS, ids=[b.name for b in ds.BREAKS])
def test_break_is_found_and_named(brk: ds.Break, suites: dict[str, str], tmp_path: Path) -> None:
    _, held_out = ds.split(ds.DATASETS[brk.dataset]())
    broken = brk.apply(held_out)
    results = _validate_everywhere(broken, suites[brk.dataset], tmp_path)

    for fmt, result in results.items():
        assert not result.passed, (fmt, result.summary)
        assert result.status in (Status.FAIL, Status.ERROR), fmt
        named = [f for f in result.findings if _names(f, brk.column, brk.expectation)]
        assert named, (fmt, [f.message for f in result.findings])
        report = json.loads(Path(result.reports["json"]).read_text())
        assert any(
            brk.expectation in f["message"] and brk.column in json.dumps(f)
            for f in report["findings"]
        ), fmt

    # Same verdict and the same failed expectations on a file and on the SQL table.
    verdicts = {fmt: r.status for fmt, r in results.items()}
    assert len(set(verdicts.values())) == 1, verdicts
    failed = {fmt: _failed_expectations(r) for fmt, r in results.items()}
    assert failed["csv"] == failed["parquet"] == failed["sqlite"], failed


def test_dropped_column_is_named_as_missing(suites: dict[str, str], tmp_path: Path) -> None:
    """Beyond the schema finding, every expectation on the dropped column says it is gone."""
    _, held_out = ds.split(ds.wine())
    results = _validate_everywhere(ds.drop_column(held_out, "alcohol"), suites["wine"], tmp_path)
    for fmt, result in results.items():
        missing = [f for f in result.findings if f.rule_id == "validate.missing-column"]
        assert {tuple(f.evidence["missing_columns"]) for f in missing} == {("alcohol",)}, fmt
        kinds = {f.evidence["expectation"]["type"] for f in missing}
        assert "expect_table_columns_to_match_ordered_list" in kinds
        assert "expect_column_values_to_be_between" in kinds


def test_type_change_is_a_schema_finding(suites: dict[str, str], tmp_path: Path) -> None:
    """Text where a number was: the type check names the column and what it observed."""
    _, held_out = ds.split(ds.iris())
    broken = ds.as_text(held_out, "sepal length (cm)")
    for fmt, result in _validate_everywhere(broken, suites["iris"], tmp_path).items():
        [finding] = [
            f
            for f in result.findings
            if f.evidence["expectation"]["type"] == "expect_column_values_to_be_in_type_list"
        ]
        assert finding.location.detail == "column sepal length (cm)", fmt
        assert finding.rule_id == "validate.schema", fmt


@pytest.mark.parametrize("dataset", sorted(ds.DATASETS))
def test_clean_held_out_passes_everywhere(
    dataset: str, suites: dict[str, str], tmp_path: Path
) -> None:
    """The control: the undamaged held-out half passes as CSV, Parquet and SQLite."""
    _, held_out = ds.split(ds.DATASETS[dataset]())
    results = _validate_everywhere(held_out, suites[dataset], tmp_path)
    for fmt, result in results.items():
        assert result.status is Status.PASS, (fmt, [f.message for f in result.findings])
