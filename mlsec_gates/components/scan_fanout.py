"""KFP: one scan fanned out with ``dsl.ParallelFor``, one merged report and verdict.

Example:
    >>> from kfp import compiler
    >>> from mlsec_gates.components.scan_fanout import scan_fan_out_pipeline
    >>> compiler.Compiler().compile(scan_fan_out_pipeline, "scan-fan-out.yaml")  # doctest: +SKIP

:func:`scan_fan_out_pipeline` (or the three components in a pipeline of your own):

1. :func:`scan_plan` lists the targets (paths or ``s3://`` prefixes) once and returns the
   shards: lists of ``{"uri", "size", "etag"}`` (the listing's size and ETag: a shard reads
   each S3 object with one GET pinned to that ETag, with no listing of its own);
2. :func:`scan_shard` runs in a ``dsl.ParallelFor`` over the shards, each scanning its files
   with the ordinary scan gate (``gates.scan.workers`` threads) and writing its JSON report;
   a shard never fails on a finding: the merge decides;
3. :func:`scan_merge` receives every shard report (``dsl.Collected``) and the plan, and
   writes the one report and verdict; a hard gate by default. It fails closed: a missing or
   unreadable shard report, or a planned file no shard scanned, is an ``error``.

No ``from __future__ import annotations``: KFP reads the annotations as objects.
"""

from typing import List, NamedTuple, Optional  # noqa: UP035 - KFP needs typing.List

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["scan_fan_out_pipeline", "scan_merge", "scan_plan", "scan_shard"]

SHARD_PARALLELISM = 8
"""Shards the pipeline scans at the same time (``dsl.ParallelFor(parallelism=...)``)."""


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def scan_plan(
    targets: List[str],  # noqa: UP006
    shards: int,
    policy: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `str | None`
) -> List[List[dict]]:  # noqa: UP006
    """List the files under the targets and cut them into at most ``shards`` shards.

    Args:
        targets: paths, directories or ``s3://`` prefixes.
        shards: most shards (parallel scan tasks).
        policy: policy YAML text, path or ``s3://`` URI (its ``storage.s3`` reaches S3).

    Returns:
        The shards: lists of ``{"uri", "size", "etag"}``, sorted, each scanned by one task.
    """
    from mlsec_gates.gates._common import gate_storage, load_policy
    from mlsec_gates.gates.scan.fanout import plan_shards
    from mlsec_gates.storage import Storage

    loaded = load_policy(policy, storage=Storage(), gate="scan")
    return plan_shards(list(targets), shards=shards, storage=gate_storage(loaded, None))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def scan_shard(
    shard: List[dict],  # noqa: UP006
    report_json: Output[Artifact],
    policy: Optional[str] = None,  # noqa: UP045
    run_id: str = "",
    task_name: str = "",
) -> str:
    """Scan one shard's files and write its JSON report (never fails on a finding).

    Args:
        shard: the planned files of this shard (from ``scan_plan``).
        report_json: this shard's JSON report, for ``scan_merge``.
        policy: policy YAML text, path or ``s3://`` URI.
        run_id: the pipeline run (``dsl.PIPELINE_JOB_ID_PLACEHOLDER``), for the ledger.
        task_name: this task (``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``).

    Returns:
        The shard's status (``pass``, ``warn``, ``error``); the merge makes the verdict.
    """
    from mlsec_gates.components._runtime import kfp_run_context, scratch_dir
    from mlsec_gates.gates.scan import scan_gate

    with scratch_dir() as scratch:
        result = scan_gate(
            list(shard),
            policy=policy,
            report_dir=scratch,
            on_fail="warn",
            json_out=report_json.path,
            run_context=kfp_run_context(run_id, task_name),
        )
    report_json.metadata.update({"status": result.status.value, "files": len(result.subjects)})
    return result.status.value


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def scan_merge(
    reports: Input[List[Artifact]],  # noqa: UP006
    planned: List[List[dict]],  # noqa: UP006
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    policy: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("ScanOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Merge the shard reports into one scan report and verdict.

    Args:
        reports: every shard's JSON report (``dsl.Collected`` of ``scan_shard``).
        planned: the plan (``scan_plan``'s output): every file must have been scanned.
        report_html: the merged report, one self-contained page.
        report_md: the one-screen summary.
        report_json: the merged machine-readable report.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``), for a browser and
            ``mlsec-gates report``.
        metrics: files scanned, blocked, quarantined, passed, shards, ``passed``.
        policy: policy YAML text, path or ``s3://`` URI.
        fail_on_violation: fail the task when the merged gate does not pass.
        run_id: the pipeline run (``dsl.PIPELINE_JOB_ID_PLACEHOLDER``).
        task_name: this task (``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``).

    Returns:
        ``passed``, ``status`` and ``summary`` of the merged gate; a hard gate that did not
        pass raises after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir
    from mlsec_gates.gates.scan.fanout import merge_scan_reports

    with scratch_dir() as scratch:
        result = merge_scan_reports(
            [r.path for r in reports],
            planned=planned,
            policy=policy,
            report_dir=scratch,
            run_context=kfp_run_context(run_id, task_name),
        )
    return finish(
        result,
        fail_on_violation=fail_on_violation,
        report_html=report_html,
        report_md=report_md,
        report_json=report_json,
        report_files=report_files,
        metrics=metrics,
    )


@dsl.pipeline(name="mlsec-scan-fan-out")
def scan_fan_out_pipeline(
    targets: List[str],  # noqa: UP006
    shards: int = 4,
    policy: str = "",
    fail_on_violation: bool = True,
) -> None:
    """Scan every file under ``targets`` in parallel shards, then merge into one verdict."""
    plan = scan_plan(targets=targets, shards=shards, policy=policy)
    with dsl.ParallelFor(plan.output, parallelism=SHARD_PARALLELISM) as shard:
        scanned = scan_shard(
            shard=shard,
            policy=policy,
            run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
        )
    scan_merge(
        reports=dsl.Collected(scanned.outputs["report_json"]),
        planned=plan.output,
        policy=policy,
        fail_on_violation=fail_on_violation,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
    )
