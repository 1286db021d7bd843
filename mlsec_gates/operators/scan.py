"""Airflow operator for the artifact scan gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class ArtifactScanGateOperator(GateOperator):
    """Scan model files for code that runs at load time; fail the task on block or quarantine.

    .. code-block:: python

        scan = ArtifactScanGateOperator(task_id="scan_model", targets=["s3://models/{{ ds }}/"])

    :param targets: files, directories or ``s3://`` URIs to scan (templated).
    """

    gate_name = "scan"
    template_fields: Sequence[str] = ("targets", *GateOperator.template_fields)

    def __init__(self, *, targets: str | Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = targets

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
            run_context=run_context,
        )
