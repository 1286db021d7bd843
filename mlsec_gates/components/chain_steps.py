"""KFP components of the gate chain's own steps: the train hook, verdicts, the run report.

:func:`~mlsec_gates.components.chain.security_gates_pipeline` wires them around the gate
components (:mod:`mlsec_gates.components._chain_wiring`); :func:`run_report` is the exit
task of a pipeline gated in stages. This module has no ``from __future__ import
annotations``: KFP reads the component annotations as objects.
"""

import copy
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["RUN", "gate_verdict", "hold_chain", "publish_report", "train_hook", "verdict_for"]

#: Every gate gets the run and task ids: the ledger's idempotency key and the BOM's formulation.
RUN = {"run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER, "task_name": dsl.PIPELINE_TASK_NAME_PLACEHOLDER}


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_hook(
    command: list,
    model_dir: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    timeout_seconds: int = 3600,
    env: dict = {},  # noqa: B006 - KFP wants a literal default
    policy: str = "",
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("TrainOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Run the chain's training command (no shell) and record the files it wrote.

    Args:
        command: the command and its arguments; ``{model_dir}`` is replaced.
        model_dir: where the command writes the model (a path the later steps can read).
        report_html: the full report (shown by "View HTML").
        report_md: the one-screen summary.
        report_json: the machine-readable report.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: files, bytes, seconds, exit code, ``passed``.
        timeout_seconds: stop the command after this long.
        env: extra environment variables for the command.
        policy: policy YAML text, or its path or ``s3://`` URI.
        fail_on_violation: fail the task when training produced no model.
        run_id: the pipeline run; pass ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.

    Returns:
        ``passed``, ``status`` and the one-line ``summary``.
    """
    from mlsec_gates.chain.train import train_gate
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir

    with scratch_dir() as scratch:
        result = train_gate(
            command,
            model_dir=model_dir,
            timeout_seconds=timeout_seconds,
            env=env,
            policy=policy or None,
            report_dir=scratch,
            run_context=kfp_run_context(run_id, task_name),
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    return finish(result, fail_on_violation=fail_on_violation, metrics=metrics, **outputs)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def gate_verdict(
    report_json: Input[Artifact],
    step: str,
    passed: bool,
    summary: str,
    hard: bool = True,
    report_root: str = "",
    pipeline_root: str = "",
    run_id: str = "",
) -> bool:
    """Collect a gate's JSON report for the run's combined report, then pass or fail the chain.

    Args:
        report_json: the gate's JSON report.
        step: the chain step (``validate``, ``scan``...).
        passed: the gate's ``passed`` output.
        summary: the gate's one-line summary.
        hard: fail this task (and so the run) when the gate did not pass.
        report_root: folder or ``s3://`` prefix collecting the runs' reports; empty: under
            the pipeline root.
        pipeline_root: pass ``dsl.PIPELINE_ROOT_PLACEHOLDER``.
        run_id: pass ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``.

    Returns:
        Whether the chain goes on (a soft chain branches on it with ``dsl.If``).
    """
    from mlsec_gates.components._collect import collect_report, run_folder

    folder = run_folder(report_root, pipeline_root, run_id)
    return collect_report(
        report_json, step=step, folder=folder, passed=passed, hard=hard, summary=summary
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def hold_chain(step: str, summary: str) -> str:
    """Record that a soft chain stopped at a gate (the ``dsl.Else`` branch).

    Args:
        step: the gate that did not pass.
        summary: its one-line summary.

    Returns:
        The notice, also printed to the task log.
    """
    notice = f"security gates held the chain at {step}: {summary}"
    print(notice, flush=True)
    return notice


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def publish_report(
    steps: list,
    status: dsl.PipelineTaskFinalStatus,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_root: str = "",
    pipeline_root: str = "",
    run_id: str = "",
    pipeline_name: str = "",
) -> NamedTuple("ReportOutputs", [("passed", bool), ("headline", str)]):
    """Publish the run's combined gate report (the chain's exit task: it always runs).

    Args:
        steps: the chain's steps, in order; those without a collected report are "not run".
        status: the chain's final status (filled in by KFP).
        report_html: the combined report, one self-contained page ("View HTML").
        report_md: the one-screen summary.
        report_json: the board and every gate report; metadata ``status``, ``passed``.
        report_root: the folder ``gate_verdict`` collected into (same value).
        pipeline_root: pass ``dsl.PIPELINE_ROOT_PLACEHOLDER``.
        run_id: pass ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``.
        pipeline_name: pass ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER`` (the report's title).

    Returns:
        ``passed`` (every gate that ran passed: the chain's output) and the report's
        ``headline``, e.g. ``FAILED at scan``.
    """
    from mlsec_gates.components._collect import publish_combined_report, run_folder

    return publish_combined_report(
        folder=run_folder(report_root, pipeline_root, run_id),
        steps=steps,
        run_id=run_id,
        pipeline_name=pipeline_name,
        status=status,
        report_html=report_html,
        report_md=report_md,
        report_json=report_json,
    )


def verdict_for(step: str) -> dsl.base_component.BaseComponent:
    """:func:`gate_verdict` under the name ``<step>-verdict``.

    KFP names a task after its component, and a failed run names the failed task
    (``Inner task failed: 'drift-verdict' inside ...``): this way it names the gate.
    """
    component = copy.copy(gate_verdict)
    component.component_spec = copy.deepcopy(gate_verdict.component_spec)
    component.component_spec.name = f"{step}-verdict"
    component.name = component.component_spec.name
    return component
