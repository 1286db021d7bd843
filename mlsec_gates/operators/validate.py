"""Airflow operator for the data validation gate (Great Expectations 1.x)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class DataValidationGateOperator(GateOperator):
    """Validate a dataset against an expectation suite; fail the task when it does not pass.

    .. code-block:: python

        validate = DataValidationGateOperator(
            task_id="validate_data",
            data="s3://datasets/{{ ds }}/train.parquet",
            suite="/opt/airflow/dags/suites/train.yaml",
        )

    The data is read when the task runs, never when the DAG file is parsed.

    :param data: CSV, Parquet or JSON-lines file, or its ``s3://`` URI (templated). Leave it
        out to validate a SQL table instead.
    :param suite: the expectation suite: a path or ``s3://`` URI of a YAML/JSON file, or the
        YAML/JSON text itself (templated). Expectations use GX's snake_case names, e.g.
        ``expectations: [{expect_column_values_to_not_be_null: {column: age}}]``.
    :param sql_url: SQLAlchemy URL of the database holding ``table`` (templated).
    :param table: table to validate, with ``sql_url`` or ``sql_conn_id`` (templated).
    :param sql_conn_id: Airflow connection whose URI is the SQLAlchemy URL (define it in URI
        form, e.g. ``sqlite:////data/app.db`` or ``postgresql://user:pw@host/db``); looked up
        when the task runs. ``sql_url`` beats it.
    :param engine: ``local`` or ``spark`` (GX's Spark datasource on a Parquet/CSV dataset,
        with the policy's ``spark`` settings; see docs/scale.md); default: the policy's.
    """

    gate_name = "validate"
    template_fields: Sequence[str] = (
        "data",
        "suite",
        "sql_url",
        "table",
        "engine",
        *GateOperator.template_fields,
    )
    template_fields_renderers = {**GateOperator.template_fields_renderers, "suite": "yaml"}
    ui_color = "#d8e8f6"

    def __init__(
        self,
        *,
        suite: str,
        data: str | None = None,
        sql_url: str | None = None,
        table: str | None = None,
        sql_conn_id: str | None = None,
        engine: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.suite = suite
        self.data = data
        self.sql_url = sql_url
        self.table = table
        self.sql_conn_id = sql_conn_id

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Validate with :func:`mlsec_gates.gates.validate.validate_gate`."""
        from mlsec_gates.gates.validate import validate_gate

        return validate_gate(
            self.data,
            suite=self.suite,
            sql_url=self._sql_url(),
            table=self.table,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
            run_context=run_context,
            engine=self.engine or None,
        )

    def _sql_url(self) -> str | None:
        """``sql_url``, else the URI of the ``sql_conn_id`` connection (read at run time).

        Airflow percent-encodes the path of a connection URI (``sqlite:///%2Fdata%2Fapp.db``);
        it is rendered back the way SQLAlchemy writes it (``sqlite:////data/app.db``).
        """
        if self.sql_url or not self.sql_conn_id:
            return self.sql_url
        from airflow.sdk import BaseHook
        from sqlalchemy.engine import make_url

        uri = BaseHook.get_connection(self.sql_conn_id).get_uri()
        return make_url(uri).render_as_string(hide_password=False)
