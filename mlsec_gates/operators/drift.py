"""Airflow operator for the poisoning-drift gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from mlsec_gates.operators.base import GateOperator, _browsable

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options

SUSPECTS_KEY = "suspects_url"
EVIDENTLY_KEY = "evidently_report_url"


class PoisonDriftGateOperator(GateOperator):
    """Check a batch against trusted reference data; fail the task on drift or poisoning.

    .. code-block:: python

        drift = PoisonDriftGateOperator(
            task_id="drift_gate",
            current="s3://datasets/{{ ds }}/train.parquet",
            reference="s3://datasets/trusted/reference.parquet",  # or profile=".../ref.npz"
            label_column="label",
        )

    The data are read when the task runs, never when the DAG file is parsed. Besides the
    report links, the task pushes to XCom where the suspicious rows (``suspects_url``, a CSV
    of ``row``, ``reason``, ``score``, ``detector``) and Evidently's drift page
    (``evidently_report_url``) are, before any failure.

    Numeric libraries run with ``gates.drift.threads`` threads (default 1): two gate tasks
    on one worker do not starve each other.

    :param current: the batch to check, path or ``s3://`` URI (templated).
    :param reference: the trusted reference data (templated); or ``profile``.
    :param profile: a reference profile written by ``mlsec-gates drift-profile`` (templated).
    :param label_column: the label column; runs the poisoning detectors (templated).
    :param suspects_out: where to write the suspects CSV (templated); default: next to the
        reports.
    :param engine: ``local``, ``spark`` (``current``/``reference`` are Parquet/CSV datasets)
        or ``sql`` (table names in ``sql_url``); default: the policy's (docs/scale.md).
    :param sql_url: SQLAlchemy URL of the ``sql`` engine's database (templated).
    """

    xcom_keys: ClassVar[dict[str, str]] = {
        SUSPECTS_KEY: "where the suspects CSV is (``row,reason,score,detector``)",
        EVIDENTLY_KEY: "where Evidently's drift page is, when it was written",
    }
    gate_name = "drift"
    template_fields: Sequence[str] = (
        "current",
        "reference",
        "profile",
        "label_column",
        "suspects_out",
        "engine",
        "sql_url",
        *GateOperator.template_fields,
    )
    ui_color = "#e6dcf4"

    def __init__(
        self,
        *,
        current: str,
        reference: str | None = None,
        profile: str | None = None,
        label_column: str | None = None,
        suspects_out: str | None = None,
        engine: str | None = None,
        sql_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.sql_url = sql_url
        self.current = current
        self.reference = reference
        self.profile = profile
        self.label_column = label_column
        self.suspects_out = suspects_out

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Check the batch with :func:`mlsec_gates.gates.drift.drift_gate`."""
        from mlsec_gates.gates.drift import drift_gate

        return drift_gate(
            self.current,
            reference=self.reference or None,
            profile=self.profile or None,
            label_column=self.label_column or None,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
            suspects_out=self.suspects_out or None,
            run_context=run_context,
            **{"engine": self.engine or None, "sql_url": self.sql_url or None},
        )

    def _push_locations(self, context: Context, result: GateResult) -> dict[str, str]:
        """Also push where the suspects CSV and the Evidently page are."""
        locations = super()._push_locations(context, result)
        extra = {
            SUSPECTS_KEY: _browsable(result.details.get("suspects_uri") or ""),
            EVIDENTLY_KEY: _browsable(result.details.get("evidently_report") or ""),
        }
        for key, value in extra.items():
            context["ti"].xcom_push(key=key, value=value)
        return {**locations, **extra}
