"""The "Gate report" button on every gate task in the Airflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

REPORT_URL_KEY = "report_url"
"""XCom key holding the browsable URL of the HTML report (pushed before any failure)."""


class GateReportLink(BaseOperatorLink):
    """Links a gate task to its HTML report, on success and on failure alike."""

    name = "Gate report"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The report URL the task pushed, or an empty string when it pushed none."""
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=REPORT_URL_KEY) or ""
