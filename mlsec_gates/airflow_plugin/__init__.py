"""Airflow plugin: a gate-review page on the Airflow API server, behind Airflow's login.

Registered through the ``airflow.plugins`` entry point, so installing mlsec-gates with the
``airflow`` extra is all it takes (restart the API server). It adds:

- ``/mlsec-gates/``: the recent gate runs (DAG, run, task, gate, verdict, summary, report);
- ``/mlsec-gates/report?dag_id=&run_id=&task_id=``: one gate task's report, also shown as a
  "Gate report" tab on every task instance (an ``external_views`` entry);
- ``/mlsec-gates/waivers``: the waivers still in force under the policy named by
  ``[mlsec_gates] policy`` (``AIRFLOW__MLSEC_GATES__POLICY``);
- the same data as JSON under ``/mlsec-gates/api/``.

Every route requires an authenticated Airflow user allowed to read the DAG (Airflow's own
``requires_access_dag``); lists only show DAGs the user may read. See
:mod:`mlsec_gates.airflow_plugin.app` for where the data come from.

The "Gate report" extra link on the tasks works without this plugin; managed Airflow
services that restrict plugins lose only these pages.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/mlsec-gates"


def _fastapi_apps() -> list[dict[str, Any]]:
    """The FastAPI app, or none when this Airflow lacks the API server's auth helpers."""
    try:
        from mlsec_gates.airflow_plugin.app import create_app
    except ImportError as exc:  # airflow.api_fastapi.core_api is internal to Airflow 3.x
        log.warning("mlsec-gates plugin: no gate pages (%s)", exc)
        return []
    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "mlsec-gates"}]


class MLSecGatesPlugin(AirflowPlugin):
    """The gate-review pages (FastAPI app) and their entries in the Airflow UI."""

    name = "mlsec_gates"
    fastapi_apps = _fastapi_apps()
    external_views = [
        {
            "name": "Security gates",
            "href": "mlsec-gates/",
            "destination": "nav",
            "url_route": "mlsec-gates",
            "category": "browse",
        },
        {
            "name": "Gate report",
            "href": "mlsec-gates/report?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}"
            "&map_index={MAP_INDEX}",
            "destination": "task_instance",
            "url_route": "gate-report",
        },
    ]
