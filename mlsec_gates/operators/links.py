"""The "Gate report" button on every gate task in the Airflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

REPORT_URL_KEY = "report_url"
"""XCom key holding the location of the HTML report (``file://`` URL or ``s3://`` URI)."""
REPORT_LINK_KEY = "report_link"
"""XCom key of a browsable or pre-signed URL of an ``s3://`` report, when the policy's
``storage.report_links`` gives one (the button then opens it)."""


class GateReportLink(BaseOperatorLink):
    """Links a gate task to its HTML report, on success and on failure alike."""

    name = "Gate report"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The report link the task pushed (clickable first), or "" when it pushed none."""
        from airflow.sdk.execution_time.xcom import XCom

        for key in (REPORT_LINK_KEY, REPORT_URL_KEY):
            value = XCom.get_value(ti_key=ti_key, key=key)
            if value:
                return str(value)
        return ""
