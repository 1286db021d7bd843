"""What every gate operator shares: credentials, report location, XCom, failing the task.

A gate operator subclasses :class:`GateOperator`, stores its own arguments in ``__init__``
and implements :meth:`GateOperator.run_gate` with one call to its gate function. This module
imports only ``airflow.sdk`` and the standard library: DAG files that use the operators
parse in milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators.links import REPORT_URL_KEY, GateReportLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options

REPORT_JSON_KEY = "report_json_url"


class GateOperator(BaseOperator):
    """Base of the gate operators.

    The reports are written before the decision; their location goes to XCom
    (``report_url``, ``report_json_url``) and the task returns a small JSON summary. A failed
    gate raises ``AirflowFailException`` (no retry: the verdict would not change) carrying the
    one-screen summary; ``on_fail="warn"`` logs it and lets the task succeed.

    :param policy: path or ``s3://`` URI of the policy YAML file (templated).
    :param report_dir: directory or ``s3://`` prefix for the reports (templated); default
        ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>``.
    :param on_fail: ``"fail"`` or ``"warn"``; overrides the policy (templated).
    :param aws_conn_id: Airflow connection with AWS credentials (login = access key id,
        password = secret, extras ``region_name``, ``endpoint_url``).
    :param s3_endpoint_url: S3-compatible endpoint (templated), beats the connection's.
    """

    gate_name: ClassVar[str]
    template_fields: Sequence[str] = ("policy", "report_dir", "on_fail", "s3_endpoint_url")
    template_fields_renderers: ClassVar[dict[str, str]] = {"policy": "yaml"}
    operator_extra_links = (GateReportLink(),)
    ui_color = "#f6d6d2"

    def __init__(
        self,
        *,
        policy: str | None = None,
        report_dir: str | None = None,
        on_fail: str | None = None,
        aws_conn_id: str | None = None,
        s3_endpoint_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.report_dir = report_dir
        self.on_fail = on_fail
        self.aws_conn_id = aws_conn_id
        self.s3_endpoint_url = s3_endpoint_url

    def run_gate(self, *, report_dir: str, s3: S3Options) -> GateResult:
        """Run this operator's gate (one call to the gate function) and return its result."""
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the gate, publish where the report is, then pass, warn or fail the task."""
        result = self.run_gate(report_dir=self._report_dir(context), s3=self._s3_options())
        report_url = _browsable(result.reports.get("html", ""))
        report_json_url = _browsable(result.reports.get("json", ""))
        context["ti"].xcom_push(key=REPORT_URL_KEY, value=report_url)
        context["ti"].xcom_push(key=REPORT_JSON_KEY, value=report_json_url)
        from mlsec_gates.reports import render_markdown

        summary = render_markdown(result)
        if not result.passed:
            raise AirflowFailException(f"{self.gate_name} gate {result.status.value}\n{summary}")
        if result.status.value == "warn":
            self.log.warning(
                "%s gate failed; on_fail=warn lets the run go on:\n%s", self.gate_name, summary
            )
        else:
            self.log.info("%s", summary)
        return _xcom_summary(result, report_url=report_url, report_json_url=report_json_url)

    def _report_dir(self, context: Context) -> str:
        if self.report_dir:
            return self.report_dir
        home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
        ti = context["ti"]
        parts = [ti.dag_id, context["run_id"], ti.task_id]
        if getattr(ti, "map_index", -1) not in (-1, None):
            parts.append(str(ti.map_index))
        safe = [p.replace("/", "_").replace(":", "_") for p in parts]
        return os.path.join(home, "mlsec-gate-reports", *safe)

    def _s3_options(self) -> S3Options:
        from mlsec_gates.storage import S3Options

        if not self.aws_conn_id:
            return S3Options(endpoint_url=self.s3_endpoint_url)
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(self.aws_conn_id)
        extra = conn.extra_dejson
        return S3Options(
            endpoint_url=self.s3_endpoint_url or extra.get("endpoint_url") or conn.host or None,
            region=extra.get("region_name"),
            access_key_id=conn.login or None,
            secret_access_key=conn.password or None,
            session_token=extra.get("aws_session_token"),
        )


def _xcom_summary(result: GateResult, **urls: str) -> dict[str, Any]:
    """The task's return value: small enough for XCom, enough to branch or notify on."""
    return {
        "gate": result.gate,
        "status": result.status.value,
        "passed": result.passed,
        "summary": result.summary,
        "counts": result.counts(),
        **urls,
        "tool_versions": result.tool_versions,
    }


def _browsable(location: str) -> str:
    """A URL a browser can open for a report path (file:// for local paths)."""
    if not location or "://" in location:
        return location
    from pathlib import Path

    return Path(location).resolve().as_uri()
