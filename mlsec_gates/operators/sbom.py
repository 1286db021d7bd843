"""Airflow operator for the SBOM gate (CycloneDX 1.6 ML-BOM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator, as_list, from_browsable

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class SbomGateOperator(GateOperator):
    """Write the ML-BOM of a model and fail the task when it is incomplete or invalid.

    .. code-block:: python

        sbom = SbomGateOperator(
            task_id="sbom_model",
            model="s3://models/{{ ds }}/model.pkl",
            datasets=["s3://datasets/{{ ds }}/train.csv"],
            gate_reports=[
                "{{ ti.xcom_pull(task_ids='validate_data', key='report_json_url') }}",
                "{{ ti.xcom_pull(task_ids='scan_model', key='report_json_url') }}",
            ],
        )

    The BOM lists the model's files with their hashes, the datasets it was trained on, the
    Python packages, the verdicts of the earlier gates (their JSON reports, pinned by hash)
    and this DAG run as the formulation. Its location goes to XCom under ``bom`` (and in the
    returned summary), for the signing task to attach.

    :param model: the model file or directory, or its ``s3://`` URI (templated).
    :param datasets: datasets the model was trained on, paths or ``s3://`` URIs (templated).
    :param requirements: a pip requirements/lock file listing the packages (templated).
    :param environment: list the packages installed where the task runs instead.
    :param out: where to write the BOM (templated); default next to the reports.
    :param gate_reports: JSON reports of earlier gates, paths, ``s3://`` or ``file://``
        URIs (the ``report_json_url`` XCom of a gate task) (templated).
    """

    gate_name = "sbom"
    artifacts = ("bom",)
    template_fields: Sequence[str] = (
        "model",
        "datasets",
        "requirements",
        "out",
        "gate_reports",
        *GateOperator.template_fields,
    )
    ui_color = "#e3f0d8"

    def __init__(
        self,
        *,
        model: str,
        datasets: Sequence[str] = (),
        requirements: str | None = None,
        environment: bool = False,
        out: str | None = None,
        gate_reports: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.datasets = datasets
        self.requirements = requirements
        self.environment = environment
        self.out = out
        self.gate_reports = gate_reports

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Build and check the BOM with :func:`mlsec_gates.gates.sbom.sbom_gate`."""
        from mlsec_gates.gates.sbom import sbom_gate

        return sbom_gate(
            from_browsable(self.model),
            datasets=[from_browsable(d) for d in as_list(self.datasets)],
            requirements=self.requirements or None,
            environment=self.environment,
            out=self.out or None,
            gate_reports=[from_browsable(r) for r in as_list(self.gate_reports)],
            run_context=run_context,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
        )
