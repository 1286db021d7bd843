"""KFP component for the poisoning-drift gate.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import poison_drift
    >>> @dsl.pipeline(name="check-then-train")
    ... def check_then_train(batch_uri: str, trusted_uri: str):
    ...     batch = dsl.importer(artifact_uri=batch_uri, artifact_class=dsl.Dataset)
    ...     trusted = dsl.importer(artifact_uri=trusted_uri, artifact_class=dsl.Dataset)
    ...     poison_drift(current=batch.output, reference=trusted.output, label_column="label")

The batch (``current``) is compared with the trusted ``reference``: per-column drift with
Evidently's methods and thresholds, and, with ``label_column``, the row-level poisoning
detectors. Outputs: the reports (``report_html``, ``report_md``, ``report_json``,
``metrics``) as for every gate (see :mod:`mlsec_gates.components.scan`), the suspicious rows
(``suspects``, CSV: ``row``, ``reason``, ``score``, ``detector``; only its header when
nothing is suspicious) and Evidently's own drift page (``evidently_html``, for people).

A hard gate by default: when the gate does not pass, the task fails after every output is
written. With ``fail_on_violation=False`` it is a soft gate whose ``passed`` feeds ``dsl.If``.

No ``from __future__ import annotations`` here: KFP reads the annotations as objects.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["poison_drift"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def poison_drift(
    current: Input[Dataset],
    reference: Input[Dataset],
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    suspects: Output[Dataset],
    evidently_html: Output[HTML],
    label_column: str = "",
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("DriftOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Check a batch against trusted reference data for drift and poisoned rows.

    Args:
        current: the batch to check (CSV, Parquet or JSON lines).
        reference: the trusted reference data (same format family).
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary: verdict, drifted columns, alarms, what to do.
        report_json: the machine-readable report (``details.checks``: statistic, threshold
            and decision per column); its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: columns checked and drifted, drift share, suspects, ``passed``.
        suspects: CSV of the suspicious rows of ``current`` (0-based ``row``).
        evidently_html: Evidently's drift page (a bounded sample; it does not decide).
        label_column: the label; runs the poisoning detectors. Empty: drift only.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        fail_on_violation: fail the task when the gate does not pass (hard gate).
        run_id: the pipeline run (``dsl.PIPELINE_JOB_ID_PLACEHOLDER``), for the ledger.
        task_name: this task (``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``).

    Returns:
        ``passed``, ``status`` and the one-line ``summary``; a failed hard gate raises a
        ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import copy_file, finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.drift import drift_gate

    with scratch_dir() as scratch:
        result = drift_gate(
            current.path,
            reference=reference.path,
            label_column=label_column or None,
            policy=policy,
            report_dir=scratch,
            suspects_out=suspects.path,
            run_context=kfp_run_context(run_id, task_name),
        )
        if page := result.reports.get("evidently"):
            copy_file(page, evidently_html.path)
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs.update(report_files=report_files, metrics=metrics)
    outputs["artifacts"] = {"suspects": suspects, **({"evidently": evidently_html} if page else {})}
    return finish(result, fail_on_violation=fail_on_violation, **outputs)
