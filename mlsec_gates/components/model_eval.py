"""KFP component for the model-eval gate (fairness, explanations, robustness, backdoors).

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import model_eval
    >>> @dsl.pipeline(name="train-evaluate")
    ... def train_evaluate(model_uri: str, holdout_uri: str):
    ...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    ...     holdout = dsl.importer(artifact_uri=holdout_uri, artifact_class=dsl.Dataset)
    ...     model_eval(model=model.output, data=holdout.output, label_column="label",
    ...                sensitive_columns=["sex"])

The model (a file, or a folder holding one file) is scanned, loaded only on a scan pass in a
child process with memory and time limits, and evaluated on ``data``. Outputs: the reports
(``report_html``, ``report_md``, ``report_json``, ``metrics``) as for every gate (see
:mod:`mlsec_gates.components.scan`); ``details.checks`` of the JSON report holds each
check's statistic, threshold and decision.

No ``from __future__ import annotations`` here: KFP reads the annotations as objects.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["model_eval"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def model_eval(
    model: Input[Model],
    data: Input[Dataset],
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    label_column: str = "",
    sensitive_columns: list = [],  # noqa: B006 - KFP wants a literal default
    budget: float = 0.0,
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ModelEvalOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Evaluate a trained model: fairness, explainability, robustness, backdoor triggers.

    Args:
        model: the model file (pickle/joblib, ONNX, TorchScript), or a folder with one file.
        data: held-out evaluation data with the label (CSV, Parquet or JSON lines).
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary: verdict, failed checks, what to do.
        report_json: the machine-readable report (``details.checks``: statistic, threshold
            and decision per check); its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: accuracy, checks run and failed, each check's statistic, ``passed``.
        label_column: the true label. Empty: the policy's ``gates.model_eval.label_column``.
        sensitive_columns: columns whose groups fairness compares. Empty: the policy's.
        budget: CPU seconds the checks share. 0: the policy's ``budget_seconds``.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        fail_on_violation: fail the task when the gate does not pass (hard gate).
        run_id: the pipeline run (``dsl.PIPELINE_JOB_ID_PLACEHOLDER``), for the ledger.
        task_name: this task (``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``).

    Returns:
        ``passed``, ``status`` and the one-line ``summary``; a failed hard gate raises a
        ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.model_eval import model_eval_gate

    with scratch_dir() as scratch:
        result = model_eval_gate(
            model.path,
            data=data.path,
            label_column=label_column or None,
            sensitive_columns=list(sensitive_columns) or None,
            budget=budget or None,
            policy=policy,
            report_dir=scratch,
            run_context=kfp_run_context(run_id, task_name),
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs.update(report_files=report_files, metrics=metrics)
    return finish(result, fail_on_violation=fail_on_violation, **outputs)
