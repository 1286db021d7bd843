"""KFP components of the data gates on Spark or the warehouse (docs/scale.md).

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components.scale import data_validation_at_scale, drift_at_scale
    >>> @dsl.pipeline(name="gate-the-lake")
    ... def gate_the_lake(day: str):
    ...     data_validation_at_scale(data_uri=f"s3://lake/train/{day}/",
    ...                              suite="s3://lake/contract.yaml", engine="spark")
    ...     drift_at_scale(current=f"s3://lake/train/{day}/", reference="s3://lake/trusted/",
    ...                    engine="spark")

The data are not KFP artifacts: they stay where they are (a Parquet/CSV dataset read by
Spark, or tables of a database) and the task only receives the verdict. Where Spark runs is
the policy's ``spark`` section (``master``, ``remote`` for Spark Connect / Databricks
Connect, ``conf``); the task's image needs pyspark and Java (``mlsec-gates[spark]``), or a
``spark.remote`` cluster.

No ``from __future__ import annotations``: KFP reads the annotations as objects.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Markdown, Metrics, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["data_validation_at_scale", "drift_at_scale"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def data_validation_at_scale(
    data_uri: str,
    suite: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    engine: str = "spark",
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ValidationOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Validate a dataset where it lives: GX's Spark datasource, rows never leave Spark.

    Args:
        data_uri: a Parquet/CSV file, directory of part files or glob; local, ``s3://`` or
            ``s3a://``.
        suite: the expectation suite: YAML/JSON text, or its path or ``s3://`` URI.
        report_html: the full report, one self-contained page.
        report_md: the one-screen summary.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``), for a browser and
            ``mlsec-gates report``.
        metrics: expectations evaluated and failed, rows, ``passed``.
        engine: ``spark`` (default) or ``local``.
        policy: policy YAML text, path or ``s3://`` URI (its ``spark`` section says where
            Spark runs).
        fail_on_violation: fail the task when the gate does not pass (hard gate).
        run_id: the pipeline run (``dsl.PIPELINE_JOB_ID_PLACEHOLDER``), for the ledger.
        task_name: this task (``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``).

    Returns:
        ``passed``, ``status`` and the one-line ``summary``; a failed hard gate raises a
        ``RuntimeError`` carrying the summary, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.validate import validate_gate

    with scratch_dir() as scratch:
        result = validate_gate(
            data_uri,
            suite=suite,
            policy=policy,
            report_dir=scratch,
            run_context=kfp_run_context(run_id, task_name),
            engine=engine or None,
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    return finish(result, fail_on_violation=fail_on_violation, metrics=metrics, **outputs)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def drift_at_scale(
    current: str,
    reference: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    suspects: Output[Dataset],
    engine: str = "spark",
    sql_url: str = "",
    label_column: str = "",
    policy: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("DriftOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Drift and poisoning checks with the statistics computed by Spark or the database.

    Args:
        current: the batch: a dataset path/URI (``spark``) or a table name (``sql``).
        reference: the trusted reference, the same way.
        report_html: the full report, one self-contained page.
        report_md: the one-screen summary.
        report_json: the machine-readable report (``details.checks`` per column).
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``), for a browser and
            ``mlsec-gates report``.
        metrics: columns checked and drifted, drift share, suspects, ``passed``.
        suspects: CSV of suspicious rows (positions in the batch) from the sampled rows.
        engine: ``spark`` (default), ``sql`` or ``local``.
        sql_url: the database of the ``sql`` engine (SQLAlchemy URL).
        label_column: the label; runs the poisoning detectors on a label-stratified sample.
        policy: policy YAML text, path or ``s3://`` URI.
        fail_on_violation: fail the task when the gate does not pass (hard gate).
        run_id: the pipeline run (``dsl.PIPELINE_JOB_ID_PLACEHOLDER``), for the ledger.
        task_name: this task (``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``).

    Returns:
        ``passed``, ``status`` and the one-line ``summary``; a failed hard gate raises a
        ``RuntimeError`` carrying the summary, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.drift import drift_gate

    with scratch_dir() as scratch:
        result = drift_gate(
            current,
            reference=reference,
            label_column=label_column or None,
            policy=policy,
            report_dir=scratch,
            suspects_out=suspects.path,
            run_context=kfp_run_context(run_id, task_name),
            engine=engine or None,
            sql_url=sql_url or None,
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    outputs["artifacts"] = {"suspects": suspects}
    return finish(result, fail_on_violation=fail_on_violation, metrics=metrics, **outputs)
