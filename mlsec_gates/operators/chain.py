"""The standard gate chain as one Airflow TaskGroup, to drop between a DAG's own tasks.

.. code-block:: python

    from mlsec_gates.operators import security_gates

    extract >> security_gates(policy="/opt/airflow/dags/policies/gates.yaml") >> deploy

:func:`security_gates` reads the policy's ``chain`` section when the DAG file is parsed
(:func:`mlsec_gates.chain.plan_chain`: it reads the small YAML file and nothing else) and
creates one gate task per configured step, in the chain's order (validate, drift, train,
scan, sbom, sign), with the operators of :mod:`mlsec_gates.operators`. Paths in the policy
may use Jinja (``{{ params.run_dir }}/train.csv``): they become templated operator
arguments, rendered when each task runs. A ``report`` task (an Airflow teardown, so it runs
after a failed gate and does not gate what follows the group) writes the combined report of
the run (:func:`mlsec_gates.reports.combined.write_combined_report`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TaskGroup

from mlsec_gates.operators.base import (
    REPORT_JSON_KEY,
    _browsable,
    default_report_dir,
    from_browsable,
    run_context,
    s3_options,
)
from mlsec_gates.operators.links import REPORT_URL_KEY, GateReportLink

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from mlsec_gates.operators.base import GateOperator

#: Chain step -> (module, operator class) that runs it.
OPERATORS: dict[str, tuple[str, str]] = {
    "validate": ("mlsec_gates.operators.validate", "DataValidationGateOperator"),
    "drift": ("mlsec_gates.operators.drift", "PoisonDriftGateOperator"),
    "train": ("mlsec_gates.operators.train", "TrainHookOperator"),
    "scan": ("mlsec_gates.operators.scan", "ArtifactScanGateOperator"),
    "model_eval": ("mlsec_gates.operators.model_eval", "ModelEvalGateOperator"),
    "sbom": ("mlsec_gates.operators.sbom", "SbomGateOperator"),
    "sign": ("mlsec_gates.operators.sign", "SignArtifactsOperator"),
}
REPORT_TASK_ID = "report"
_DATA_STEPS = ("validate", "drift")


def security_gates(
    policy: str,
    *,
    group_id: str = "security_gates",
    report_dir: str | None = None,
    dataset_asset: Asset | None = None,
    model_asset: Asset | None = None,
    notifier: Any = None,
    on_fail: str | None = None,
    aws_conn_id: str | None = None,
    s3_endpoint_url: str | None = None,
    **group_kwargs: Any,
) -> TaskGroup:
    """A TaskGroup running the policy's gate chain, in order, then writing the combined report.

    Call it inside a DAG; the group's first gate follows what is upstream of the group, and
    what is downstream follows its last gate, so a failed gate (``AirflowFailException``)
    stops the DAG's own next tasks. ``on_fail: warn`` in the policy (per gate) or here lets
    the run go on with a warning.

    Args:
        policy: path (or ``s3://`` URI) of the policy file; read when the DAG is parsed, and
            by every gate task when it runs. Use an absolute path (the DAG folder's).
        group_id: the TaskGroup id; the tasks are ``<group_id>.<step>``.
        report_dir: directory or ``s3://`` prefix (templated) for the run's reports: each
            gate writes into ``<report_dir>/<step>``, the combined report into
            ``report_dir``. Default: ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>``.
        dataset_asset: the Asset standing for the gated dataset, an outlet of the validate
            and drift tasks; default ``Asset(<the validated data's URI>)`` when the policy
            gives an absolute path or ``s3://`` URI without Jinja.
        model_asset: the Asset standing for the signed model, an outlet of the sign task;
            default likewise from the signed model's path. A DAG scheduled on it runs only
            after a model was signed (events carry the model and signature locations).
        notifier: ``on_failure_callback`` of every gate task, e.g. a
            :class:`~mlsec_gates.operators.GateReportNotifier`.
        on_fail: ``"fail"`` or ``"warn"`` for every gate, over the policy's settings.
        aws_conn_id: Airflow connection with AWS credentials for every task.
        s3_endpoint_url: S3-compatible endpoint for every task.
        group_kwargs: more TaskGroup arguments (``tooltip``, ``default_args``...).

    Returns:
        The TaskGroup.

    Raises:
        ConfigError: the policy is invalid or its ``chain`` section has no step.
        InputError: the policy file does not exist.
    """
    from mlsec_gates.chain import plan_chain

    steps = plan_chain(policy)
    shared = {"policy": policy, "on_fail": on_fail, "aws_conn_id": aws_conn_id}
    shared.update(s3_endpoint_url=s3_endpoint_url, on_failure_callback=notifier)
    with TaskGroup(group_id=group_id, **group_kwargs) as group:
        gates: list[GateOperator] = []
        for step in steps:
            module, name = OPERATORS[step.gate]
            operator_class = getattr(importlib.import_module(module), name)
            kwargs = dict(step.kwargs)
            if step.gate == "sbom":  # the earlier verdicts go into the BOM
                earlier = [g.output[REPORT_JSON_KEY] for g in gates]
                kwargs["gate_reports"] = [*kwargs.get("gate_reports", ()), *earlier]
            task = operator_class(
                task_id=step.task_id,
                report_dir=_join(report_dir, step.task_id),
                outlets=_outlets(step.gate, step.kwargs, dataset_asset, model_asset),
                **shared,
                **kwargs,
            )
            if gates:
                gates[-1] >> task
            gates.append(task)
        report = ChainReportOperator(
            task_id=REPORT_TASK_ID,
            gate_task_ids=[g.task_id for g in gates],
            report_dir=report_dir,
            aws_conn_id=aws_conn_id,
            s3_endpoint_url=s3_endpoint_url,
        )
        gates >> report.as_teardown(on_failure_fail_dagrun=True)
    return group


class ChainReportOperator(BaseOperator):
    """Write the combined report of the gate tasks of this run (whatever they decided).

    Created by :func:`security_gates` as the group's teardown: it runs once every gate is
    done, failed or not run, reads their JSON reports from the ``report_json_url`` XComs, and
    lists the gates without one (not run after an earlier failure) as not run. Its
    "Gate report" link opens the combined page.

    :param gate_task_ids: the gate tasks, in chain order.
    :param report_dir: where to write ``combined-report.{html,md,json}`` (templated);
        default ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<this task>``.
    :param aws_conn_id: Airflow connection with AWS credentials.
    :param s3_endpoint_url: S3-compatible endpoint (templated).
    """

    template_fields: Sequence[str] = ("report_dir", "s3_endpoint_url")
    operator_extra_links = (GateReportLink(),)
    ui_color = "#f3ecd6"

    def __init__(
        self,
        *,
        gate_task_ids: Sequence[str],
        report_dir: str | None = None,
        aws_conn_id: str | None = None,
        s3_endpoint_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gate_task_ids = gate_task_ids
        self.report_dir = report_dir
        self.aws_conn_id = aws_conn_id
        self.s3_endpoint_url = s3_endpoint_url

    def execute(self, context: Context) -> dict[str, Any]:
        """Gather the gates' JSON reports, write the combined report, push its location."""
        from mlsec_gates.reports.combined import write_combined_report
        from mlsec_gates.storage import Storage

        ti = context["ti"]
        found = {t: ti.xcom_pull(task_ids=t, key=REPORT_JSON_KEY) for t in self.gate_task_ids}
        reports = write_combined_report(
            [from_browsable(url) for url in found.values() if url],
            self.report_dir or default_report_dir(context),
            run_context=run_context(context),
            storage=Storage(s3_options(self.aws_conn_id, self.s3_endpoint_url)),
            not_run=[t.rsplit(".", 1)[-1] for t, url in found.items() if not url],
        )
        urls = {REPORT_URL_KEY: _browsable(reports["html"])}
        urls[REPORT_JSON_KEY] = _browsable(reports["json"])
        for key, value in urls.items():
            ti.xcom_push(key=key, value=value)
        self.log.info("combined gate report: %s", urls[REPORT_URL_KEY])
        return {**urls, "gates": len([u for u in found.values() if u])}


def _outlets(
    gate: str, kwargs: Any, dataset_asset: Asset | None, model_asset: Asset | None
) -> list[Asset]:
    """The gated dataset on the data gates, the signed model on the sign task."""
    if gate in _DATA_STEPS:
        asset = dataset_asset or _asset_for(kwargs.get("data") or kwargs.get("current"))
    elif gate == "sign":
        asset = model_asset or _asset_for(kwargs.get("model"))
    else:
        return []
    return [asset] if asset is not None else []


def _asset_for(location: str | None) -> Asset | None:
    """An Asset for a literal absolute path or ``s3://`` URI; None for Jinja or relative."""
    from airflow.sdk import Asset

    if not location or "{{" in location or "{%" in location:
        return None
    if location.startswith("s3://"):
        return Asset(uri=location)
    if location.startswith("/"):
        from pathlib import PurePosixPath

        return Asset(uri=PurePosixPath(location).as_uri())
    return None


def _join(base: str | None, name: str) -> str | None:
    return f"{base.rstrip('/')}/{name}" if base else None
