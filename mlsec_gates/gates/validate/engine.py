"""Run a suite with Great Expectations and turn its verdicts into findings.

Each failed expectation becomes one finding of the rule of its family (see
:mod:`mlsec_gates.gates.validate.rules`) with the expectation, the observed value, how many
rows failed and a few failing rows, values of sensitive columns masked as ``***``.
Expectations that name a column the data lack are not sent to GX (which would raise) but
become ``validate.missing-column`` findings naming the column.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlsec_gates.gates.validate import rules
from mlsec_gates.gates.validate.data import Table, sample_sql_rows
from mlsec_gates.gates.validate.suite import ExpectationSpec, Suite
from mlsec_gates.result import Finding, Location

MASK = "***"
_COUNT_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "missing_percent",
)
_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_counts", "observed_value")


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs from the policy's ``gates.validate`` section."""

    sensitive_columns: frozenset[str] = frozenset()
    sample_rows: int = 5


@dataclass
class Outcome:
    """Findings of one validation, with counts and GX's own (JSON-safe) result."""

    findings: list[Finding] = field(default_factory=list)
    evaluated: int = 0
    failed: int = 0
    errors: int = 0
    gx_result: dict[str, Any] = field(default_factory=dict)


def validate_table(table: Table, suite: Suite, settings: EngineSettings) -> Outcome:
    """Evaluate every expectation of ``suite`` on ``table``.

    Returns the outcome; an expectation GX could not evaluate becomes a
    ``validate.expectation-error`` finding (the gate then errs), never an exception.
    """
    present = set(table.columns)
    missing: dict[int, list[str]] = {}
    run_sql: list[int] = []
    run_frame: list[int] = []
    for index, spec in enumerate(suite.expectations):
        absent = [c for c in spec.columns() if c not in present]
        if absent and spec.type != "expect_column_to_exist":
            missing[index] = absent
        elif table.engine in ("pandas", "spark") or (
            table.engine == "sqlite-spill" and spec.type in rules.TYPE_EXPECTATIONS
        ):
            run_frame.append(index)
        else:
            run_sql.append(index)

    results: dict[int, Any] = {}
    described: list[dict[str, Any]] = []
    if run_frame:
        frame = table.frame if table.engine in ("pandas", "spark") else table.type_probe
        got, desc = _run_gx(suite, run_frame, settings, frame=frame)
        results.update(got)
        described.append(desc)
    if run_sql:
        assert table.sql_url is not None
        with _lenient_sqlite_regexp(table.sql_url):
            got, desc = _run_gx(suite, run_sql, settings, sql_url=table.sql_url, table=table.table)
        results.update(got)
        described.append(desc)

    # A column whose type check failed makes GX raise on its other expectations (a range on
    # strings): those are consequences of a data break already reported, not a gate error.
    type_broken = {
        column
        for index, spec in enumerate(suite.expectations)
        if spec.type in rules.TYPE_EXPECTATIONS
        and index in results
        and not _exception(results[index])
        and not results[index].success
        for column in spec.columns()
    }
    outcome = Outcome(evaluated=len(suite.expectations))
    for index, spec in enumerate(suite.expectations):
        if index in missing:
            outcome.findings.append(_missing_column(spec, missing[index], table))
            outcome.failed += 1
            continue
        result = results[index]
        error = _exception(result)
        if error:
            consequence = bool(spec.columns()) and set(spec.columns()) <= type_broken
            outcome.findings.append(
                _expectation_error(spec, error, table, after_type_break=consequence)
            )
            outcome.failed += 1
            outcome.errors += 0 if consequence else 1
        elif not result.success:
            probe = table.engine == "sqlite-spill" and index in run_frame
            outcome.findings.append(_failed(spec, result, table, settings, probe=probe))
            outcome.failed += 1
    outcome.gx_result = _merge(described, settings.sensitive_columns)
    return outcome


def _run_gx(
    suite: Suite,
    indexes: list[int],
    settings: EngineSettings,
    *,
    frame: Any = None,
    sql_url: str | None = None,
    table: str | None = None,
) -> tuple[dict[int, Any], dict[str, Any]]:
    """One GX validation of some expectations of the suite; results by suite index."""
    from mlsec_gates.gates.validate._gx import load_gx, new_context
    from mlsec_gates.gates.validate.spark import is_spark_frame, spark_batch, with_spark_types

    gx = load_gx()
    context = new_context()
    spark = frame is not None and is_spark_frame(frame)
    if spark:
        batch, params = spark_batch(context, frame)
    elif frame is not None:
        source = context.data_sources.add_pandas("mlsec")
        batch = source.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all")
        params: dict[str, Any] = {"dataframe": frame}
    else:
        assert sql_url is not None and table is not None
        if sql_url.startswith("sqlite"):
            source = context.data_sources.add_sqlite("mlsec", connection_string=sql_url)
        elif sql_url.startswith("postgres"):
            source = context.data_sources.add_postgres("mlsec", connection_string=sql_url)
        else:
            source = context.data_sources.add_sql("mlsec", connection_string=sql_url)
        asset = source.add_table_asset("data", table_name=table)
        batch = asset.add_batch_definition_whole_table("all")
        params = {}
    specs = [suite.expectations[i] for i in indexes]
    built = [(with_spark_types(spec) if spark else spec).build() for spec in specs]
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name, expectations=built))
    by_id = {exp.id: i for exp, i in zip(gx_suite.expectations, indexes, strict=True)}
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="mlsec-validate", data=batch, suite=gx_suite)
    )
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": max(settings.sample_rows, 1),
    }
    run = definition.run(batch_parameters=params, result_format=result_format)
    got = {by_id[r.expectation_config.id]: r for r in run.results}
    return got, json_safe(run.describe_dict())


@contextlib.contextmanager
def _lenient_sqlite_regexp(sql_url: str) -> Iterator[None]:
    """While validating, SQLite's REGEXP matches numbers as text, as GX does with pandas.

    SQLAlchemy's REGEXP function for SQLite raises on non-string values, so a regex on a
    column of digits would error in SQLite where pandas passes or fails it. GX builds its own
    engines, so the function is installed on connections to this database file only.
    """
    import re

    import sqlalchemy as sa

    database = sa.engine.make_url(sql_url).database
    if not database or database == ":memory:":
        yield
        return
    target = str(Path(database).resolve())

    def regexp(pattern: str | None, value: Any) -> bool | None:
        if pattern is None or value is None:
            return None
        return re.search(pattern, value if isinstance(value, str) else str(value)) is not None

    def install(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
        if target in files:
            dbapi_connection.create_function("regexp", 2, regexp, deterministic=True)

    # On checkout, not connect: the dialect installs its own REGEXP after "connect" listeners.
    sa.event.listen(sa.pool.Pool, "checkout", install)
    try:
        yield
    finally:
        sa.event.remove(sa.pool.Pool, "checkout", install)


def _exception(result: Any) -> str | None:
    """The message of the exception GX caught while evaluating, if any."""
    info = result.exception_info or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception", True):
            message = entry.get("exception_message")
            if message or entry.get("raised_exception"):
                return str(message or "exception").strip().splitlines()[0]
    return None


def _failed(
    spec: ExpectationSpec, result: Any, table: Table, settings: EngineSettings, *, probe: bool
) -> Finding:
    rule = rules.rule_for(spec.type)
    res: dict[str, Any] = json_safe(dict(result.result or {}))
    sensitive = _is_sensitive(spec, settings.sensitive_columns)
    hide_values = sensitive and not rules.is_schema(spec.type)
    evidence: dict[str, Any] = {"expectation": json_safe(spec.to_dict())}
    if "observed_value" in res:
        evidence["observed_value"] = MASK if hide_values else res["observed_value"]
    evidence.update({k: res[k] for k in _COUNT_KEYS if k in res})
    if res.get("details"):
        evidence["details"] = res["details"]
    if res.get("partial_unexpected_counts"):
        evidence["sample_values"] = [
            {"value": MASK if hide_values else e.get("value"), "count": e.get("count")}
            for e in res["partial_unexpected_counts"][: settings.sample_rows]
        ]
    rows = _sample_rows(spec, res, table, settings)
    if rows:
        evidence["sample_rows"] = rows
    if probe:
        evidence["note"] = (
            "dtype checked with pandas on the first rows, with the dtypes of the whole file"
        )
    return rule.finding(
        _message(spec, res, hide_values),
        _location(spec, table),
        evidence=evidence,
        identity=_identity(spec),
    )


def _message(spec: ExpectationSpec, res: dict[str, Any], hide: bool) -> str:
    what = _describe(spec)
    if "unexpected_count" in res and "element_count" in res:
        pct = res.get("unexpected_percent")
        share = f" ({pct:.4g}%)" if isinstance(pct, (int, float)) else ""
        return f"{what}: {res['unexpected_count']} of {res['element_count']} rows fail{share}"
    if "observed_value" in res:
        observed = MASK if hide else _short(res["observed_value"])
        return f"{what}: observed {observed}"
    return f"{what}: failed"


def _sample_rows(
    spec: ExpectationSpec, res: dict[str, Any], table: Table, settings: EngineSettings
) -> list[dict[str, Any]]:
    """A few whole failing rows (pandas: by index; SQL: by value), sensitive columns masked."""
    limit = settings.sample_rows
    if limit <= 0 or not res.get("unexpected_count"):
        return []
    rows: list[dict[str, Any]] = []
    if table.engine == "pandas" and res.get("partial_unexpected_index_list"):
        index = [i for i in res["partial_unexpected_index_list"] if isinstance(i, int)]
        frame = table.frame.loc[[i for i in index[:limit] if i in table.frame.index]]
        rows = frame.to_dict(orient="records")
    elif table.engine == "spark" and len(spec.columns()) == 1:
        from mlsec_gates.gates.validate.spark import sample_spark_rows

        values = list(res.get("partial_unexpected_list") or [])
        values = values or ([None] if "null" in spec.type else [])
        rows = sample_spark_rows(table.frame, spec.columns()[0], values, limit)
    elif table.sql_url and table.table and len(spec.columns()) == 1:
        values = list(res.get("partial_unexpected_list") or [])
        if "null" in spec.type and not values:
            values = [None]
        distinct = list({repr(v): v for v in values}.values())
        rows = sample_sql_rows(table.sql_url, table.table, spec.columns()[0], distinct, limit)
    return [_mask_row(json_safe(row), settings.sensitive_columns) for row in rows[:limit]]


def _missing_column(spec: ExpectationSpec, absent: list[str], table: Table) -> Finding:
    names = ", ".join(repr(c) for c in absent)
    return rules.MissingColumn.finding(
        f"{_describe(spec)}: column {names} not in the data",
        _location(spec, table),
        evidence={
            "expectation": json_safe(spec.to_dict()),
            "missing_columns": absent,
            "columns": list(table.columns),
        },
        identity=_identity(spec),
    )


def _expectation_error(
    spec: ExpectationSpec, error: str, table: Table, *, after_type_break: bool
) -> Finding:
    evidence: dict[str, Any] = {"expectation": json_safe(spec.to_dict()), "error": error}
    message = f"{_describe(spec)}: could not be evaluated: {error}"
    if after_type_break:
        evidence["cause"] = "the column's type check failed: the column no longer holds its type"
        message += " (the column's type is already wrong, see the type finding)"
    return rules.ExpectationError.finding(
        message, _location(spec, table), evidence=evidence, identity=_identity(spec)
    )


def _identity(spec: ExpectationSpec) -> str:
    """The expectation and its arguments: the same broken contract in every run.

    Counts and samples of this batch stay out, so a waiver keeps naming the same finding.
    """
    return json.dumps(json_safe(spec.to_dict()), sort_keys=True, default=str)


def _location(spec: ExpectationSpec, table: Table) -> Location:
    columns = spec.columns()
    if not columns:
        detail = "table"
    elif len(columns) == 1:
        detail = f"column {columns[0]}"
    else:
        detail = "columns " + ", ".join(columns)
    return Location(uri=table.subject.path, detail=detail)


def _describe(spec: ExpectationSpec) -> str:
    args = ", ".join(f"{k}={_short(v)}" for k, v in spec.kwargs.items())
    return f"{spec.type}({args})"


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_sensitive(spec: ExpectationSpec, sensitive: Iterable[str]) -> bool:
    return bool(set(spec.columns()) & set(sensitive))


def _mask_row(row: Any, sensitive: frozenset[str]) -> Any:
    if isinstance(row, dict):
        return {k: MASK if k in sensitive else v for k, v in row.items()}
    return row


def _merge(described: list[dict[str, Any]], sensitive: frozenset[str]) -> dict[str, Any]:
    """GX's ``describe_dict()`` of one or two runs as one, sensitive values masked."""
    expectations: list[dict[str, Any]] = []
    for desc in described:
        expectations += desc.get("expectations", [])
    for exp in expectations:
        kwargs = exp.get("kwargs") or {}
        cols = {kwargs.get(k) for k in ("column", "column_A", "column_B")}
        cols |= set(kwargs.get("column_list") or [])
        result = exp.get("result") or {}
        if cols & sensitive and not rules.is_schema(str(exp.get("expectation_type"))):
            for key in _VALUE_KEYS:
                if key in result:
                    result[key] = MASK
    ok = sum(1 for e in expectations if e.get("success"))
    total = len(expectations)
    return {
        "success": all(d.get("success") for d in described) if described else None,
        "statistics": {
            "evaluated_expectations": total,
            "successful_expectations": ok,
            "unsuccessful_expectations": total - ok,
            "success_percent": round(100 * ok / total, 4) if total else None,
        },
        "expectations": expectations,
    }


def json_safe(value: Any) -> Any:
    """Plain JSON data: numpy scalars to Python, NaN to None, dates to ISO strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, str)):  # subclasses (IntEnum, numpy.str_) become plain
        return int(value) if isinstance(value, int) else str(value)
    if value.__class__.__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, float):  # also numpy.float64, a float subclass
        value = float(value)
        return value if math.isfinite(value) else (None if math.isnan(value) else str(value))
    if isinstance(value, decimal.Decimal):
        return json_safe(float(value))
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item) and getattr(value, "ndim", 1) == 0:
        try:
            return json_safe(item())
        except (TypeError, ValueError):
            return str(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
