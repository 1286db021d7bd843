"""KFP: the standard gate chain as a sub-pipeline built from the policy, with its run report.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components.chain import security_gates_pipeline
    >>> gates = security_gates_pipeline("policies/gates.yaml")  # doctest: +SKIP
    >>> @dsl.pipeline(name="train-and-gate")
    ... def train_and_gate():
    ...     gates(hard_gates=True)  # doctest: +SKIP

:func:`security_gates_pipeline` reads the policy's ``chain`` section when the pipeline is
compiled (:func:`mlsec_gates.chain.plan_chain`) and wires the existing gate components in
the chain's order (validate, drift, train, scan, sbom, sign) with the paths and URIs of the
policy. Each gate runs as a soft gate (it always writes its HTML, Markdown, JSON and metrics
outputs) followed by a ``gate_verdict`` task that collects its JSON report for the run
report and then decides:

- ``hard_gates=True`` (default): a gate that did not pass fails its verdict task, so the
  run fails right after the gate, with the gate's summary as the error;
- ``hard_gates=False``: the chain goes on under ``dsl.If(passed)``; ``dsl.Else`` runs
  ``hold_chain``, which records where and why the chain stopped, and the run succeeds.

Policy ``on_fail: warn`` makes a gate pass with status ``warn`` either way. Caching is off
for every task of the chain: the paths stay the same from run to run while the bytes behind
them change, and a cached verdict would be about other bytes. The chain runs
inside ``dsl.ExitHandler(publish_report)``: the combined report
(:func:`mlsec_gates.reports.combined.write_combined_report`) is published as the exit task's
HTML/Markdown outputs whatever happened (a KFP exit task cannot read the outputs of the tasks
it guards, hence the collection folder: ``report_root``, default under the pipeline root).

The tasks read the policy file and the paths it names when they run: on a cluster use
``s3://`` URIs (or paths inside the image), as for any component. This module has no
``from __future__ import annotations``: KFP reads the component annotations as objects.
"""

from typing import Any, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from mlsec_gates.components._image import IMAGE

__all__ = [
    "gate_verdict",
    "hold_chain",
    "publish_report",
    "security_gates_pipeline",
    "train_hook",
]

# Every gate gets the run and task ids: the ledger's idempotency key and the BOM's formulation.
_RUN = {"run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER, "task_name": dsl.PIPELINE_TASK_NAME_PLACEHOLDER}


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_hook(
    command: list,
    model_dir: str,
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
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
    from mlsec_gates._kfp_runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.chain.train import train_gate

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
    from mlsec_gates._kfp_chain import collect_report, run_folder

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

    Returns:
        ``passed`` (every gate that ran passed: the chain's output) and the report's
        ``headline``, e.g. ``FAILED at scan``.
    """
    from mlsec_gates._kfp_chain import publish_combined_report, run_folder

    return publish_combined_report(
        folder=run_folder(report_root, pipeline_root, run_id),
        steps=steps,
        run_id=run_id,
        status=status,
        report_html=report_html,
        report_md=report_md,
        report_json=report_json,
    )


def security_gates_pipeline(
    policy: str, *, name: str = "security-gates", task_policy: str | None = None
) -> Any:
    """A ``@dsl.pipeline`` running the policy's gate chain, usable as a sub-pipeline.

    The pipeline takes ``hard_gates`` (bool, default true) and ``report_root`` (str, default
    empty: ``<pipeline root>/mlsec-gates-reports``) and returns ``passed`` (bool: every gate
    passed), for a ``dsl.If`` around what follows a soft chain. Its tasks show the steps'
    names (``validate``, ``validate-verdict``, ...) and ``publish-report``.

    Args:
        policy: path or ``s3://`` URI of the policy file, read now to plan the chain.
        name: the pipeline's name.
        task_policy: what the gate tasks get as their policy when they run: a path or URI
            they can read, or the policy's YAML text (then ``extends`` and relative
            ``waivers_file`` paths resolve against the task's working directory). Default:
            ``policy``.

    Raises:
        ConfigError: the policy is invalid, has no chain step, or asks for something the
            KFP chain cannot do (validate a SQL table, drift against a profile, scan more
            than one target, sign attachments other than the chain's BOM).
        InputError: the policy file does not exist.
    """
    from mlsec_gates.chain import plan_chain
    from mlsec_gates.components._chain_wiring import wire_steps

    steps = plan_chain(policy)

    @dsl.pipeline(name=name, description="mlsec-gates chain: " + " -> ".join(s.gate for s in steps))
    def security_gates(hard_gates: bool = True, report_root: str = "") -> bool:
        where = {"report_root": report_root, "pipeline_root": dsl.PIPELINE_ROOT_PLACEHOLDER}
        where["run_id"] = dsl.PIPELINE_JOB_ID_PLACEHOLDER
        publish = publish_report(steps=[s.task_id for s in steps], **where)
        publish.set_caching_options(False)
        with dsl.ExitHandler(publish, name="gate-chain"):
            wire_steps(steps, policy=task_policy or policy, hard=hard_gates, where=where)
        return publish.outputs["passed"]

    return security_gates
