"""KFP components for the artifact scan gate.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import artifact_scan
    >>> @dsl.pipeline(name="scan-then-serve")
    ... def scan_then_serve(model_uri: str):
    ...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    ...     artifact_scan(model=model.output)  # the run fails if the model is unsafe

Two components share one body, because KFP has no optional artifact input:

- :func:`artifact_scan` takes ``model: Input[Model]``, the usual way to hand a model from one
  task to the next (an upstream ``Output[Model]`` or a ``dsl.importer``). KFP downloads or mounts
  the artifact and the gate scans its local path, a file or a directory.
- :func:`artifact_scan_uri` takes ``model_uri: str``: a path or ``s3://`` URI (object or prefix)
  that the gate reads itself, with the policy's ``storage.s3`` settings and the task's AWS
  credentials. Use it for models that are not KFP artifacts, or to scan a whole S3 prefix
  without KFP copying it first.

Both are hard gates by default: when the gate does not pass, the task fails after every
output is written. With ``fail_on_violation=False`` they are soft gates: the task succeeds and
``passed`` feeds ``dsl.If``.

The JSON report is a plain ``Output[Artifact]``: kfp 2 rejects artifact types outside the
``system`` and ``google`` namespaces (``TypeError: Artifact schema_title must belong to
`system` or `google` namespace``), so an ``mlsec.GateReport`` type is not possible; its
``metadata`` (``gate``, ``passed``, ``status``, ``summary``) makes it queryable instead.

This module has no ``from __future__ import annotations``: KFP reads the annotations of the
component functions as objects. The bodies import what they use, since KFP ships only their
source to the container.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Model, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["artifact_scan", "artifact_scan_uri"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def artifact_scan(
    model: Input[Model],
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    report_sarif: Output[Artifact],
    metrics: Output[Metrics],
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    allowlist: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ScanOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Scan a model artifact for code that would run when it is loaded.

    Every file of the artifact (a file or a directory) is recognised by its content and
    analysed without being loaded: pickle, PyTorch, joblib, NumPy, Keras and archives.

    Args:
        model: the model artifact to scan.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary: verdict, counts, worst findings, what to do.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        report_sarif: the SARIF 2.1.0 report, for code-scanning dashboards.
        metrics: files scanned, blocked, quarantined and passed, bytes, findings, ``passed``.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        allowlist: project allowlist file (path or ``s3://`` URI) of trusted pickle globals;
            replaces the policy's ``gates.scan.allowlist_file``. Empty: the policy's.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate); when false,
            the task succeeds and ``passed`` says whether the model may go on (soft gate).

    Returns:
        ``passed`` (the model may go on), ``status`` (``pass``, ``warn``, ``fail`` or
        ``error``) and the one-line ``summary``. A hard gate that did not pass raises a
        ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.scan import scan_gate

    with scratch_dir() as scratch:
        result = scan_gate(
            [model.path],
            policy=policy,
            report_dir=scratch,
            sarif_out=report_sarif.path,
            allowlist=allowlist or None,
            run_context=kfp_run_context(run_id, task_name),
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    extra = {"sarif": report_sarif}
    return finish(
        result, fail_on_violation=fail_on_violation, metrics=metrics, artifacts=extra, **outputs
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def artifact_scan_uri(
    model_uri: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    report_sarif: Output[Artifact],
    metrics: Output[Metrics],
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    allowlist: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ScanOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Scan model files at a path or ``s3://`` URI for code that would run when loaded.

    The same gate as ``artifact_scan``, for models that are not KFP artifacts. The gate reads
    the files itself: a file, a directory (recursive), an S3 object or every object under an
    S3 prefix. S3 is reached with the task's AWS credentials and the policy's ``storage.s3``
    settings (``endpoint_url`` for MinIO).

    Args:
        model_uri: path, ``s3://bucket/key`` or ``s3://bucket/prefix/`` to scan.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary: verdict, counts, worst findings, what to do.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        report_sarif: the SARIF 2.1.0 report, for code-scanning dashboards.
        metrics: files scanned, blocked, quarantined and passed, bytes, findings, ``passed``.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        allowlist: project allowlist file (path or ``s3://`` URI) of trusted pickle globals;
            replaces the policy's ``gates.scan.allowlist_file``. Empty: the policy's.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate); when false,
            the task succeeds and ``passed`` says whether the model may go on (soft gate).

    Returns:
        ``passed`` (the model may go on), ``status`` (``pass``, ``warn``, ``fail`` or
        ``error``) and the one-line ``summary``. A hard gate that did not pass raises a
        ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.scan import scan_gate

    with scratch_dir() as scratch:
        result = scan_gate(
            [model_uri],
            policy=policy,
            report_dir=scratch,
            sarif_out=report_sarif.path,
            allowlist=allowlist or None,
            run_context=kfp_run_context(run_id, task_name),
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    extra = {"sarif": report_sarif}
    return finish(
        result, fail_on_violation=fail_on_violation, metrics=metrics, artifacts=extra, **outputs
    )
