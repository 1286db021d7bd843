"""Airflow operator for the artifact scan gate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from mlsec_gates.operators.base import GateOperator, _browsable

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


SARIF_KEY = "sarif_url"


class ArtifactScanGateOperator(GateOperator):
    """Scan model files for code that runs at load time; fail the task on block or quarantine.

    .. code-block:: python

        scan = ArtifactScanGateOperator(task_id="scan_model", targets=["s3://models/{{ ds }}/"])

    The SARIF 2.1.0 report (for code-scanning dashboards) is written next to the other
    reports; its location goes to XCom as ``sarif_url`` (before any failure).

    :param targets: files, directories or ``s3://`` URIs to scan (templated), or one shard
        of :class:`~mlsec_gates.operators.scan_fanout.ScanShardPlanOperator`'s plan
        (``{"uri", "size", "etag"}`` entries, read without listing).
    :param allowlist: project allowlist file, path or ``s3://`` URI (templated); replaces
        the policy's ``gates.scan.allowlist_file``.
    :param use_cache: reuse verdicts of files already scanned (the verdict cache); None:
        the policy's ``gates.scan.cache``.
    """

    xcom_keys: ClassVar[dict[str, str]] = {SARIF_KEY: "where the SARIF 2.1.0 report is"}
    gate_name = "scan"
    template_fields: Sequence[str] = ("targets", "allowlist", *GateOperator.template_fields)

    def __init__(
        self,
        *,
        targets: str | Sequence[str | Mapping[str, Any]],
        allowlist: str | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.allowlist = allowlist
        self.use_cache = use_cache

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Scan the targets with :func:`mlsec_gates.gates.scan.scan_gate`."""
        from mlsec_gates.gates.scan import scan_gate

        targets = [self.targets] if isinstance(self.targets, str) else list(self.targets)
        return scan_gate(
            targets,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
            allowlist=self.allowlist or None,
            cache=self.use_cache,
            run_context=run_context,
        )

    def _push_locations(self, context: Context, result: GateResult) -> dict[str, str]:
        """Also push where the SARIF report is (``sarif_url``)."""
        locations = super()._push_locations(context, result)
        sarif = _browsable(result.reports.get("sarif", ""))
        context["ti"].xcom_push(key=SARIF_KEY, value=sarif)
        return {**locations, SARIF_KEY: sarif}
