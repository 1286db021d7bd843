"""KFP components for the data validation gate (Great Expectations 1.x).

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import data_validation
    >>> SUITE = "expectations: [{expect_column_values_to_not_be_null: {column: age}}]"
    >>> @dsl.pipeline(name="validate-then-train")
    ... def validate_then_train(data_uri: str):
    ...     data = dsl.importer(artifact_uri=data_uri, artifact_class=dsl.Dataset)
    ...     data_validation(data=data.output, suite=SUITE)  # the run fails on bad data

Two components share one body, because KFP has no optional artifact input:

- :func:`data_validation` takes ``data: Input[Dataset]``, the usual way to hand a dataset from
  one task to the next (an upstream ``Output[Dataset]`` or a ``dsl.importer``).
- :func:`data_validation_uri` takes ``data_uri: str``: a path or ``s3://`` URI that the gate
  reads itself, with the policy's ``storage.s3`` settings and the task's AWS credentials.

The ``suite`` is a path or ``s3://`` URI of a suite file, or the suite's YAML/JSON text. The
task container does not have the pipeline's source tree, so inline text (or an ``s3://`` URI)
is what usually works; expectations use GX's snake_case names.

Both are hard gates by default: when the gate does not pass, the task fails after every output
is written. With ``fail_on_violation=False`` they are soft gates: the task succeeds and
``passed`` feeds ``dsl.If``. The outputs are those of the scan components (see
:mod:`mlsec_gates.components.scan`), written by the same
:func:`mlsec_gates.components._runtime.finish`.

This module has no ``from __future__ import annotations``: KFP reads the annotations of the
component functions as objects. The bodies import what they use, since KFP ships only their
source to the container; Great Expectations and pandas are imported by the gate, at run time.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["data_validation", "data_validation_uri"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def data_validation(
    data: Input[Dataset],
    suite: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ValidationOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Validate a dataset artifact against an expectation suite.

    Args:
        data: the dataset to validate: a CSV, Parquet or JSON-lines file.
        suite: the expectation suite: YAML/JSON text, or the path or ``s3://`` URI of a file.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary: verdict, counts, failed expectations, what to do.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: expectations evaluated and failed, rows, ``passed``.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate); when false,
            the task succeeds and ``passed`` says whether the data may go on (soft gate).

    Returns:
        ``passed`` (the data may go on), ``status`` (``pass``, ``warn``, ``fail`` or ``error``)
        and the one-line ``summary``. A hard gate that did not pass raises a ``RuntimeError``
        carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.validate import validate_gate

    with scratch_dir() as scratch:
        result = validate_gate(
            data.path,
            suite=suite,
            policy=policy,
            report_dir=scratch,
            run_context=kfp_run_context(run_id, task_name),
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    return finish(result, fail_on_violation=fail_on_violation, metrics=metrics, **outputs)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def data_validation_uri(
    data_uri: str,
    suite: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ValidationOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Validate a dataset at a path or ``s3://`` URI against an expectation suite.

    The same gate as ``data_validation``, for datasets that are not KFP artifacts. The gate
    reads the file itself; S3 is reached with the task's AWS credentials and the policy's
    ``storage.s3`` settings (``endpoint_url`` for MinIO).

    Args:
        data_uri: path or ``s3://bucket/key`` of a CSV, Parquet or JSON-lines file.
        suite: the expectation suite: YAML/JSON text, or the path or ``s3://`` URI of a file.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary: verdict, counts, failed expectations, what to do.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: expectations evaluated and failed, rows, ``passed``.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate); when false,
            the task succeeds and ``passed`` says whether the data may go on (soft gate).

    Returns:
        ``passed`` (the data may go on), ``status`` (``pass``, ``warn``, ``fail`` or ``error``)
        and the one-line ``summary``. A hard gate that did not pass raises a ``RuntimeError``
        carrying the summary instead, after writing every output.
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
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    return finish(result, fail_on_violation=fail_on_violation, metrics=metrics, **outputs)
