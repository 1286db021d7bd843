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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TaskGroup

from mlsec_gates.operators.base import (
    REPORT_JSON_KEY,
    _browsable,
    default_report_dir,
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
RUN_REPORT_TASK_ID = "gate_report"
"""The DAG-level combined-report task of staged gates (``security_gates(stage=...)``)."""
GROUP_IDS = {"all": "security_gates", "data": "data_gates", "model": "model_gates"}
_DATA_STEPS = ("validate", "drift")


def security_gates(
    policy: str,
    *,
    stage: str = "all",
    group_id: str | None = None,
    report_dir: str | None = None,
    report_task_id: str = RUN_REPORT_TASK_ID,
    dataset_asset: Asset | None = None,
    model_asset: Asset | None = None,
    notifier: Any = None,
    on_fail: str | None = None,
    aws_conn_id: str | None = None,
    s3_endpoint_url: str | None = None,
    **group_kwargs: Any,
) -> TaskGroup:
    """A TaskGroup running the policy's gate chain (or one stage of it), in order.

    Call it inside a DAG; the group's first gate follows what is upstream of the group, and
    what is downstream follows its last gate, so a failed gate (``AirflowFailException``)
    stops the DAG's own next tasks. ``on_fail: warn`` in the policy (per gate) or here lets
    the run go on with a warning.

    A DAG that trains in its own task gates it from both sides, sharing one report::

        extract >> security_gates(policy=P, stage="data") >> train
        train >> security_gates(policy=P, stage="model") >> deploy

    Args:
        policy: path (or ``s3://`` URI) of the policy file; read when the DAG is parsed, and
            by every gate task when it runs. Use an absolute path (the DAG folder's).
        stage: ``all`` (the whole chain, with its train hook), ``data`` (validate, drift:
            before the DAG's own training) or ``model`` (scan, sbom, sign: after it).
        group_id: the TaskGroup id; default ``security_gates``, ``data_gates`` or
            ``model_gates`` by stage. The tasks are ``<group_id>.<step>``.
        report_dir: directory or ``s3://`` prefix (templated) for the run's reports: each
            gate writes into ``<report_dir>/<step>``, the combined report into
            ``report_dir``. Default: ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>``.
        report_task_id: with a stage, the DAG-level task writing the run's combined report;
            the first stage creates it, the next ones add their gates to it.
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
        ConfigError: the policy is invalid, its ``chain`` section has no step in the stage,
            or a stage is asked of a policy with ``chain.train``.
        InputError: the policy file does not exist.
    """
    from mlsec_gates.chain import plan_chain

    steps = plan_chain(policy, stage=stage)
    shared = {"policy": policy, "on_fail": on_fail, "aws_conn_id": aws_conn_id}
    shared.update(s3_endpoint_url=s3_endpoint_url, on_failure_callback=notifier)
    where = {"report_dir": report_dir, "aws_conn_id": aws_conn_id}
    where["s3_endpoint_url"] = s3_endpoint_url
    with TaskGroup(group_id=group_id or GROUP_IDS[stage], **group_kwargs) as group:
        # With stages, the earlier stages' gates are those the run report already knows.
        staged = _existing_report(group.dag, report_task_id) if stage != "all" else None
        before = [group.dag.get_task(t) for t in staged.gate_task_ids.values()] if staged else []
        gates: list[GateOperator] = []
        for step in steps:
            module, name = OPERATORS[step.gate]
            operator_class = getattr(importlib.import_module(module), name)
            kwargs = dict(step.kwargs)
            if step.gate == "sbom":  # the earlier verdicts go into the BOM
                earlier = [g.output[REPORT_JSON_KEY] for g in [*before, *gates]]
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
        planned = {step.task_id: gate.task_id for step, gate in zip(steps, gates, strict=True)}
        if stage == "all":
            report = ChainReportOperator(
                task_id=REPORT_TASK_ID, gate_task_ids=planned, policy=policy, **where
            )
            gates >> report.as_teardown()
    # A teardown that does not decide the run (on_failure_fail_dagrun stays False): with it
    # True, Airflow would judge the run by the report task alone, and a DAG ending with the
    # gates would succeed although a gate failed.
    if stage != "all":
        report = (
            staged
            or ChainReportOperator(
                task_id=report_task_id, gate_task_ids={}, policy=policy, **where
            ).as_teardown()
        )
        report.gate_task_ids.update(planned)
        gates >> report
    return group


def _existing_report(dag: Any, task_id: str) -> ChainReportOperator | None:
    """The DAG's run-report task, when an earlier stage created it."""
    from mlsec_gates.errors import ConfigError

    existing = dag.task_dict.get(task_id) if dag is not None else None
    if existing is not None and not isinstance(existing, ChainReportOperator):
        raise ConfigError(f"report_task_id {task_id!r}: the DAG has another task by that id")
    return existing


class ChainReportOperator(BaseOperator):
    """Write the combined report of the gate tasks of this run (whatever they decided).

    Created by :func:`security_gates` as a teardown: it runs once every gate is done,
    failed, could not run or never started, and lists each planned step as passed, failed,
    error, could not run (the task broke before its gate decided: the reason from the
    ``gate_error`` XCom) or not run. It reads the gates' JSON reports where their
    ``report_json_url`` XComs say; a report it cannot read (no credentials here) is shown
    with the verdict the task pushed. When ``report_dir`` cannot be written (no
    credentials, endpoint down), the report goes to the local default folder instead and the
    page says why: the on-call person gets a report exactly when something failed. Its
    "Gate report" link opens the combined page.

    :param gate_task_ids: chain step -> gate task id, in chain order (all stages).
    :param policy: the gates' policy (its ``storage.report_links`` make S3 links clickable).
    :param report_dir: where to write ``combined-report.{html,md,json}`` (templated);
        default ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<this task>``.
    :param aws_conn_id: Airflow connection with AWS credentials.
    :param s3_endpoint_url: S3-compatible endpoint (templated).
    :param title: the page title (templated); default ``<dag id> · <run id>``.
    """

    template_fields: Sequence[str] = ("report_dir", "s3_endpoint_url", "title")
    operator_extra_links = (GateReportLink(),)
    ui_color = "#f3ecd6"

    def __init__(
        self,
        *,
        gate_task_ids: dict[str, str] | Sequence[str],
        policy: str | None = None,
        report_dir: str | None = None,
        aws_conn_id: str | None = None,
        s3_endpoint_url: str | None = None,
        title: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gate_task_ids = gate_task_ids
        self.policy = policy
        self.report_dir = report_dir
        self.aws_conn_id = aws_conn_id
        self.s3_endpoint_url = s3_endpoint_url
        self.title = title

    def execute(self, context: Context) -> dict[str, Any]:
        """Gather what each gate left, write the combined report, push its location."""
        from mlsec_gates.operators._run_report import gather_run, write_run_report

        storage, trouble = self._storage()
        ids = self.gate_task_ids
        if not isinstance(ids, Mapping):  # task ids only: the step is the last part
            ids = {task_id.rsplit(".", 1)[-1]: task_id for task_id in ids}
        gathered = gather_run(context, ids, storage=storage)
        reports, note = write_run_report(
            gathered,
            wanted=self.report_dir or default_report_dir(context),
            fallback=default_report_dir(context),
            context=context,
            storage=storage,
            policy=self.policy,
            title=self.title,
            trouble=trouble,
        )
        if note:
            self.log.warning("%s", note)
        urls = {REPORT_URL_KEY: _browsable(reports["html"])}
        urls[REPORT_JSON_KEY] = _browsable(reports["json"])
        for key, value in urls.items():
            context["ti"].xcom_push(key=key, value=value)
        self.log.info("combined gate report: %s", urls[REPORT_URL_KEY])
        return {
            **urls,
            "gates": len(gathered.reports),
            "not_run": gathered.not_run,
            "could_not_run": gathered.could_not_run,
        }

    def _storage(self) -> tuple[Any, str]:
        """Storage with the task's S3 settings; plain storage (and why) when they fail."""
        from mlsec_gates.storage import Storage

        try:
            return Storage(s3_options(self.aws_conn_id, self.s3_endpoint_url)), ""
        except Exception as exc:  # a bad connection must not stop the report
            return Storage(), f"S3 settings unusable ({type(exc).__name__}: {exc})"


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
