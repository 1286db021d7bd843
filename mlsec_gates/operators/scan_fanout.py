"""Airflow: one scan fanned out over mapped tasks, one merged report, one verdict.

.. code-block:: python

    from mlsec_gates.operators.scan_fanout import scan_fan_out

    with DAG("scan_model_zoo", schedule=None) as dag:
        scan = scan_fan_out(targets=["s3://models/zoo/"], shards=8, policy="gates.yaml")
        scan >> publish

:func:`scan_fan_out` builds a task group of three steps:

1. ``plan`` (:class:`ScanShardPlanOperator`) lists the targets once and returns the shards
   as its XCom: lists of ``{"uri", "size", "etag"}`` (the listing's size and ETag, so a
   shard reads each S3 object with one GET pinned to that ETag, with no listing of its own);
2. ``scan_shard``: :class:`~mlsec_gates.operators.ArtifactScanGateOperator` mapped over the
   shards with ``.expand(targets=...)`` (dynamic task mapping), each shard with its own
   report, under ``on_fail="warn"`` so that a shard with a finding does not stop the others;
3. ``merge`` (:class:`ScanMergeGateOperator`, trigger rule ``all_done``) reads every shard's
   JSON report and gives the one verdict: it fails the task on any blocked or quarantined
   file, and errs (fails) when a shard crashed or a planned file was not scanned.

Only ``airflow.sdk`` and the standard library are imported here (DAG parsing stays fast).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TaskGroup

from mlsec_gates.operators.base import REPORT_JSON_KEY, GateOperator, s3_options
from mlsec_gates.operators.scan import ArtifactScanGateOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class ScanShardPlanOperator(BaseOperator):
    """List scan targets and cut them into shards; returns the shards (an XCom list).

    :param targets: files, directories or ``s3://`` prefixes (templated).
    :param shards: at most this many shards (mapped tasks).
    :param policy: policy file (its ``storage.s3`` settings reach S3) (templated).
    :param aws_conn_id: Airflow AWS connection, as for the gate operators.
    :param s3_endpoint_url: S3-compatible endpoint (templated).
    """

    template_fields: Sequence[str] = ("targets", "policy", "s3_endpoint_url")

    def __init__(
        self,
        *,
        targets: str | Sequence[str],
        shards: int,
        policy: str | None = None,
        aws_conn_id: str | None = None,
        s3_endpoint_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.shards = shards
        self.policy = policy
        self.aws_conn_id = aws_conn_id
        self.s3_endpoint_url = s3_endpoint_url

    def execute(self, context: Context) -> list[list[dict[str, Any]]]:
        """The shards, with the number of files logged."""
        from mlsec_gates.gates._common import gate_storage, load_policy
        from mlsec_gates.gates.scan.fanout import plan_shards
        from mlsec_gates.storage import Storage

        s3 = s3_options(self.aws_conn_id, self.s3_endpoint_url)
        loaded = load_policy(self.policy, storage=Storage(s3), gate="scan")
        targets = [self.targets] if isinstance(self.targets, str) else list(self.targets)
        shards = plan_shards(targets, shards=self.shards, storage=gate_storage(loaded, s3))
        self.log.info("%d file(s) in %d shard(s)", sum(map(len, shards)), len(shards))
        return shards


class ScanMergeGateOperator(GateOperator):
    """Merge the mapped shard scans into one scan report and verdict (fails closed).

    :param shard_task_id: the mapped scan task whose ``report_json_url`` XComs are merged.
    :param plan_task_id: the planning task; its shards must all appear in the reports.

    Give it ``trigger_rule="all_done"`` (as :func:`scan_fan_out` does) so it runs, and fails
    closed, when a shard task failed.
    """

    gate_name = "scan"

    def __init__(self, *, shard_task_id: str, plan_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard_task_id = shard_task_id
        self.plan_task_id = plan_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Pull the shard reports and the plan, then merge like any gate run."""
        ti = context["ti"]
        planned = ti.xcom_pull(task_ids=self.plan_task_id) or []
        pulled = ti.xcom_pull(
            task_ids=self.shard_task_id, key=REPORT_JSON_KEY, map_indexes=range(len(planned))
        )
        reports = [str(r or "") for r in (pulled or [])]
        reports += [""] * (len(planned) - len(reports))  # a shard that never pushed
        self._merge_inputs = (reports, planned)
        return super().execute(context)

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Merge with :func:`mlsec_gates.gates.scan.fanout.merge_scan_reports`."""
        from mlsec_gates.gates.scan.fanout import merge_scan_reports

        reports, planned = self._merge_inputs
        return merge_scan_reports(
            reports,
            planned=planned,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
            run_context=run_context,
        )


def scan_fan_out(
    *,
    targets: str | Sequence[str],
    shards: int,
    policy: str | None = None,
    group_id: str = "scan_fan_out",
    on_fail: str | None = None,
    aws_conn_id: str | None = None,
    s3_endpoint_url: str | None = None,
    max_active_shards: int | None = None,
) -> TaskGroup:
    """The plan -> mapped shard scans -> merge task group (see the module docstring).

    Call it inside a ``with DAG(...)`` block. ``max_active_shards`` caps how many shard
    tasks run at once (``max_active_tis_per_dagrun``); each shard also scans with
    ``gates.scan.workers`` threads.
    """
    common = {"policy": policy, "aws_conn_id": aws_conn_id, "s3_endpoint_url": s3_endpoint_url}
    with TaskGroup(group_id=group_id) as group:
        plan = ScanShardPlanOperator(task_id="plan", targets=targets, shards=shards, **common)
        shard_scan = ArtifactScanGateOperator.partial(
            task_id="scan_shard",
            on_fail="warn",
            max_active_tis_per_dagrun=max_active_shards,
            **common,
        ).expand(targets=plan.output)
        merge = ScanMergeGateOperator(
            task_id="merge",
            shard_task_id=f"{group_id}.scan_shard",
            plan_task_id=plan.task_id,
            on_fail=on_fail,
            trigger_rule="all_done",
            **common,
        )
        shard_scan >> merge
    return group
