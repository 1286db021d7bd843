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

A pipeline that trains in its own task gates it from both sides with one run report:
``security_gates_pipeline(policy, stage="data")`` before the training task and
``stage="model"`` after it, both inside ``dsl.ExitHandler(run_report(policy))``, whose task
publishes the combined report of every gate of the run (passed, failed, not run).

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

from typing import Any

from kfp import dsl

from mlsec_gates.components.chain_steps import (
    gate_verdict,
    hold_chain,
    publish_report,
    train_hook,
)

__all__ = [
    "gate_verdict",
    "hold_chain",
    "publish_report",
    "run_report",
    "security_gates_pipeline",
    "train_hook",
]


def security_gates_pipeline(
    policy: str,
    *,
    stage: str = "all",
    name: str | None = None,
    task_policy: str | None = None,
) -> Any:
    """A ``@dsl.pipeline`` running the policy's gate chain (or one stage), as a sub-pipeline.

    ``stage="all"`` (the whole chain with its train hook) takes ``hard_gates`` (bool,
    default true) and ``report_root`` (str, default empty: ``<pipeline root>/
    mlsec-gates-reports``), publishes the run's combined report itself (its exit task) and
    returns ``passed`` (bool: every gate passed), for a ``dsl.If`` around what follows a soft
    chain. Its tasks show the steps' names (``validate``, ``validate-verdict``, ...) and
    ``publish-report``.

    ``stage="data"`` (validate, drift) and ``stage="model"`` (scan, sbom, sign) are for a
    pipeline that trains in its own task: hard gates (a stage cannot hold the tasks that
    follow it), taking ``report_root`` only; the pipeline publishes their one combined
    report with :func:`run_report` as its ``dsl.ExitHandler`` task.

    Args:
        policy: path or ``s3://`` URI of the policy file, read now to plan the chain.
        stage: ``all``, ``data`` or ``model``.
        name: the pipeline's name; default ``security-gates`` (``data-gates``,
            ``model-gates``).
        task_policy: what the gate tasks get as their policy when they run: a path or URI
            they can read, or the policy's YAML text (then ``extends`` and relative
            ``waivers_file`` paths resolve against the task's working directory). Default:
            ``policy``.

    Raises:
        ConfigError: the policy is invalid, has no chain step (in the stage), or asks for
            something the KFP chain cannot do (validate a SQL table, drift against a profile,
            scan more than one target, sign attachments other than the chain's BOM).
        InputError: the policy file does not exist.
    """
    from mlsec_gates.chain import plan_chain
    from mlsec_gates.components._chain_wiring import wire_steps

    steps = plan_chain(policy, stage=stage)
    name = name or {"all": "security-gates", "data": "data-gates", "model": "model-gates"}[stage]
    description = "mlsec-gates chain: " + " -> ".join(s.gate for s in steps)
    tasks_policy = task_policy or policy

    if stage != "all":

        @dsl.pipeline(name=name, description=description)
        def gate_stage(report_root: str = "") -> None:
            where = {"report_root": report_root, "pipeline_root": dsl.PIPELINE_ROOT_PLACEHOLDER}
            where["run_id"] = dsl.PIPELINE_JOB_ID_PLACEHOLDER
            wire_steps(steps, policy=tasks_policy, hard=True, where=where)

        return gate_stage

    @dsl.pipeline(name=name, description=description)
    def security_gates(hard_gates: bool = True, report_root: str = "") -> bool:
        where = {"report_root": report_root, "pipeline_root": dsl.PIPELINE_ROOT_PLACEHOLDER}
        where["run_id"] = dsl.PIPELINE_JOB_ID_PLACEHOLDER
        name_it = {"pipeline_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER}
        publish = publish_report(steps=[s.task_id for s in steps], **where, **name_it)
        publish.set_caching_options(False)
        with dsl.ExitHandler(publish, name="gate-chain"):
            wire_steps(steps, policy=tasks_policy, hard=hard_gates, where=where)
        return publish.outputs["passed"]

    return security_gates


def run_report(
    policy: str, *, report_root: str = "", stages: tuple[str, ...] = ("data", "model")
) -> Any:
    """The task publishing the combined report of a pipeline gated in stages.

    Call it inside the pipeline function and use it as the exit task, so it runs whatever
    happened, and lists every planned gate of ``stages`` (those without a report as not
    run)::

        report = run_report(POLICY)
        with dsl.ExitHandler(report, name="gated-run"):
            data = data_gates()
            trained = train(...).after(data)
            model_gates().after(trained)

    Args:
        policy: the policy the stages were built from (planned again now, at compile time).
        report_root: the stages' ``report_root`` (same value; empty: the pipeline root's).
        stages: the stages the pipeline runs.

    Returns:
        The ``publish_report`` task (outputs ``passed``, ``headline``, the report
        artifacts), caching off.
    """
    from mlsec_gates.chain import plan_chain

    steps = [s.task_id for stage in stages for s in plan_chain(policy, stage=stage)]
    task = publish_report(
        steps=steps,
        report_root=report_root,
        pipeline_root=dsl.PIPELINE_ROOT_PLACEHOLDER,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
    )
    return task.set_caching_options(False).set_display_name("gate-report")
