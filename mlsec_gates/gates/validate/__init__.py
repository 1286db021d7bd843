"""Data validation gate: check a dataset against a Great Expectations suite.

Example:
    >>> from mlsec_gates.gates.validate import validate_gate
    >>> result = validate_gate("train.parquet", suite="contract.yaml")  # doctest: +SKIP
    >>> result.status, result.metrics["expectations_failed"]  # doctest: +SKIP
    (<Status.FAIL: 'fail'>, 2)

The data are a CSV, Parquet or JSON-lines file (local or ``s3://``) or a table in a SQL
database (``sql_url`` + ``table``, validated in place). The suite is written with GX's own
expectation names and arguments (see :mod:`mlsec_gates.gates.validate.suite`). Every failed
expectation is a finding and fails the gate (``warn`` under ``on_fail: warn``); zero rows, or
an expectation GX could not evaluate, is an ``error``: nothing was proven.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import decide, now, run_and_report, tool_versions
from mlsec_gates.gates.validate import rules
from mlsec_gates.gates.validate.suite import Suite, load_suite
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import GateResult, Location, Subject
from mlsec_gates.scale import with_engine
from mlsec_gates.storage import S3Options, Storage

if TYPE_CHECKING:
    from mlsec_gates.gates.validate.engine import Outcome

__all__ = ["run_validate", "validate_gate"]

GATE = "validate"


def validate_gate(
    data: str | None,
    *,
    suite: Suite | str,
    sql_url: str | None = None,
    table: str | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
    engine: str | None = None,
) -> GateResult:
    """Validate, then write the JSON, Markdown and HTML reports; the one call adapters make.

    Args:
        data: CSV, Parquet or JSON-lines file, local path or ``s3://`` URI; None with
            ``sql_url`` and ``table``.
        suite: the expectation suite: a YAML/JSON path or ``s3://`` URI, inline YAML/JSON
            text, or a parsed :class:`~mlsec_gates.gates.validate.suite.Suite`.
        sql_url: SQLAlchemy URL of a database (``sqlite:///data.db``,
            ``postgresql://...``) whose ``table`` is validated in place.
        table: the table in ``sql_url``.
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None
            for the defaults.
        report_dir: directory or ``s3://`` prefix for the reports; default
            ``./mlsec-gate-reports/validate-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        run_context: where the task runs (Airflow ``dag_id``/``run_id``/``task_id``/
            ``map_index``/``try_number``, KFP ``pipeline_run_id``/``task_id``), recorded in
            the provenance ledger when the policy sets ``ledger.uri``; retries of one task
            then add one entry (see :mod:`mlsec_gates.ledger`).
        engine: ``local`` or ``spark``; overrides the policy's ``gates.validate.engine``
            (``spark``: a Parquet/CSV dataset validated by GX's Spark datasource, see
            docs/scale.md).

    Returns:
        The result, with ``reports`` pointing at the written files. The status is ``pass``
        when every expectation holds, ``fail`` when one fails (``warn`` under ``on_fail:
        warn``), and ``error`` on zero rows or an expectation that could not be evaluated.

    Raises:
        ConfigError: invalid policy, suite or arguments (not exactly one of ``data`` or
            ``sql_url`` + ``table``).
        InputError: the data, suite or policy cannot be found or read (corrupt file, wrong
            format, missing table).
        StorageError: S3 or the report directory refused access, or the ledger could not
            be appended to.
    """
    return run_and_report(
        GATE,
        lambda loaded, storage: run_validate(
            data,
            suite=suite,
            sql_url=sql_url,
            table=table,
            policy=with_engine(loaded, GATE, engine),
            storage=storage,
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def run_validate(
    data: str | None,
    *,
    suite: Suite | str,
    sql_url: str | None = None,
    table: str | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
) -> GateResult:
    """Validate the data and return the result without writing reports (see :func:`validate_gate`).

    Raises:
        ConfigError: invalid suite, or not exactly one of ``data`` or ``sql_url`` + ``table``.
        InputError: the data or suite cannot be found or read.
        StorageError: S3 refused access.
    """
    from mlsec_gates.gates.validate.data import ReadSettings, open_data
    from mlsec_gates.gates.validate.engine import EngineSettings, Outcome, validate_table

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.section(GATE)
    if data and (sql_url or table):
        raise ConfigError("give either a data file or --sql-url with --table, not both")
    if not data and not (sql_url and table):
        raise ConfigError("nothing to validate: give a data file, or --sql-url and --table")
    parsed = load_suite(suite, storage=storage)
    read = ReadSettings(
        max_in_memory_rows=section.max_in_memory_rows, chunk_rows=section.chunk_rows
    )
    engine = EngineSettings(
        sensitive_columns=frozenset(section.sensitive_columns), sample_rows=section.sample_rows
    )
    if section.engine == "spark":
        if not data:
            raise ConfigError("the spark engine validates a dataset path, not --sql-url/--table")
        from mlsec_gates.gates.validate.spark import open_spark_data

        opened = open_spark_data(data, policy=policy, s3=storage.s3_options)
    else:
        opened = open_data(data, sql_url=sql_url, table=table, storage=storage, settings=read)
    with opened as data_:
        if data_.rows == 0:
            outcome = Outcome(evaluated=0)
            outcome.findings.append(
                rules.EmptyData.finding(
                    f"{data_.subject.path} has no rows, so nothing was validated",
                    Location(uri=data_.subject.path, detail="table"),
                    {"rows": 0, "columns": list(data_.columns)},
                )
            )
        else:
            outcome = validate_table(data_, parsed, engine)
        rows, columns, engine_name = data_.rows, data_.columns, data_.engine
        dtypes, subject = data_.dtypes, data_.subject

    incomplete = rows == 0 or outcome.errors > 0
    violations = outcome.failed > outcome.errors
    status = decide(violations=violations, incomplete=incomplete, on_fail=policy.on_fail_for(GATE))
    verdict = "error" if incomplete else ("fail" if violations else "pass")
    passed_count = outcome.evaluated - outcome.failed
    return GateResult(
        gate=GATE,
        status=status,
        summary=_summary(subject, rows, outcome, incomplete, parsed),
        findings=tuple(outcome.findings),
        subjects=(Subject(**{**subject.to_dict(), "verdict": verdict}),),
        started_at=started,
        finished_at=now(),
        metrics={
            "rows": rows,
            "columns": len(columns),
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": outcome.failed,
            "expectations_passed": passed_count,
            "success_percent": round(100 * passed_count / outcome.evaluated, 2)
            if outcome.evaluated
            else 0.0,
        },
        tool_versions=tool_versions("great-expectations", "pandas", "pyarrow", "sqlalchemy"),
        policy=policy.effective(GATE),
        details={
            "suite": {"name": parsed.name, "source": parsed.source},
            "engine": engine_name,
            "columns": dtypes,
            "gx_result": outcome.gx_result,
        },
    )


def _summary(subject: Subject, rows: int, outcome: Outcome, incomplete: bool, suite: Suite) -> str:
    head = (
        f"{subject.path}: {rows} row(s), {outcome.evaluated} expectation(s) of suite "
        f"'{suite.name}', {outcome.failed} failed."
    )
    if rows == 0:
        return head + " The data have no rows, so the gate could not pass."
    if incomplete:
        return head + f" {outcome.errors} could not be evaluated, so the gate could not pass."
    if outcome.findings:
        return head + f" First: {outcome.findings[0].message}."
    return head
