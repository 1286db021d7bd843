"""What every gate operator shares: credentials, report location, XCom, failing the task.

A gate operator subclasses :class:`GateOperator`, stores its own arguments in ``__init__``
and implements :meth:`GateOperator.run_gate` with one call to its gate function. This module
imports only ``airflow.sdk`` and the standard library: DAG files that use the operators
parse in milliseconds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators.links import REPORT_LINK_KEY, REPORT_URL_KEY, GateReportLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options

REPORT_JSON_KEY = "report_json_url"
VERDICT_KEY = "gate_verdict"
"""XCom key of ``{gate, status, summary}``, pushed before the task passes or fails."""
GATE_ERROR_KEY = "gate_error"
"""XCom key of the one-line reason a gate task could not run (pushed, then it fails)."""


class GateOperator(BaseOperator):
    """Base of the gate operators.

    The reports are written before the decision; their location goes to XCom
    (``report_url``, ``report_json_url``) and the task returns a small JSON summary. A failed
    gate raises ``AirflowFailException`` (no retry: the verdict would not change) carrying the
    one-screen summary; ``on_fail="warn"`` logs it and lets the task succeed.

    The gate is told which task try it runs in (``run_context``: orchestrator, DAG, run,
    task, map index, try number), which the provenance ledger records with the decision. When
    the task succeeds, Airflow emits an event for each Asset in ``outlets``; the operator
    attaches the verdict (and, for the sign operator, where the signed model and its
    signature are) to the event's ``extra``, so a DAG scheduled on the Asset knows what passed.

    :param policy: path or ``s3://`` URI of the policy YAML file (templated).
    :param report_dir: directory or ``s3://`` prefix for the reports (templated); default
        ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>``.
    :param on_fail: ``"fail"`` or ``"warn"``; overrides the policy (templated).
    :param aws_conn_id: Airflow connection with AWS credentials (login = access key id,
        password = secret, extras ``region_name``, ``endpoint_url``).
    :param s3_endpoint_url: S3-compatible endpoint (templated), beats the connection's.
    """

    gate_name: ClassVar[str]
    artifacts: ClassVar[tuple[str, ...]] = ()
    """Keys of ``result.reports`` that are artifacts (a BOM, a signature bundle), not reports:
    their locations (paths or URIs, as written) go to XCom under the same key."""
    xcom_keys: ClassVar[dict[str, str]] = {}
    """XCom keys this operator pushes besides the shared ones -> what they hold (the
    operator reference, docs/operators.md, is generated from this and the docstrings)."""
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

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Run this operator's gate (one call to the gate function) and return its result.

        ``run_context`` identifies the task try (see :func:`run_context`); the gate records
        it in the provenance ledger, where it is the idempotency key of the decision.
        """
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the gate, publish where the report is, then pass, warn or fail the task.

        A gate that cannot run (bad input, no credentials, storage down) pushes why under
        ``gate_error`` for the run's combined report, then raises as it was (retryable).
        """
        try:
            result = self.run_gate(
                report_dir=self._report_dir(context),
                s3=self._s3_options(),
                run_context=run_context(context),
            )
        except Exception as exc:
            _push_error(context, exc)
            raise
        locations = self._push_locations(context, result)
        self._gate_outcome = (result, locations)  # for the OpenLineage facets, pass or fail
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
        self.describe_outlet_events(context, result)
        return _xcom_summary(result, **locations)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: what the gate checked and wrote, its verdict and report links.

        Called by the OpenLineage provider after the task succeeded; None (no extra lineage)
        when the provider is not installed. See :mod:`mlsec_gates.operators.lineage`.
        """
        from mlsec_gates.operators.lineage import gate_lineage

        result, locations = getattr(self, "_gate_outcome", (None, {}))
        return gate_lineage(
            result,
            report_url=locations.get(REPORT_URL_KEY, ""),
            report_json_url=locations.get(REPORT_JSON_KEY, ""),
            artifacts=self.artifacts,
            outlets=self.outlets if result is not None and result.passed else (),
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """OpenLineage for a failed gate: the same facets, without outlets (none emitted)."""
        return self.get_openlineage_facets_on_complete(task_instance)

    def _push_locations(self, context: Context, result: GateResult) -> dict[str, str]:
        """Push the report and artifact locations and the verdict to XCom (before deciding)."""
        locations = {
            REPORT_URL_KEY: _browsable(result.reports.get("html", "")),
            REPORT_JSON_KEY: _browsable(result.reports.get("json", "")),
            **{name: result.reports.get(name, "") for name in self.artifacts},
        }
        link = self._clickable(locations[REPORT_URL_KEY])
        if link != locations[REPORT_URL_KEY]:
            locations[REPORT_LINK_KEY] = link
        for key, value in locations.items():
            context["ti"].xcom_push(key=key, value=value)
        verdict = {"gate": result.gate, "status": result.status.value, "summary": result.summary}
        context["ti"].xcom_push(key=VERDICT_KEY, value=verdict)
        return locations

    def _clickable(self, location: str) -> str:
        """The report's browsable or pre-signed URL (policy ``storage.report_links``)."""
        if not location.startswith("s3://"):
            return location
        try:
            from mlsec_gates.gates._common import load_policy
            from mlsec_gates.reports.links import policy_link
            from mlsec_gates.storage import Storage

            storage = Storage(self._s3_options())
            policy = load_policy(self.policy, storage=storage, gate=self.gate_name)
            return policy_link(location, policy, storage)
        except Exception as exc:  # observability never decides
            self.log.warning("no clickable link for %s: %s", location, exc)
            return location

    def outlet_extra(self, result: GateResult) -> dict[str, Any]:
        """What the asset events of this task's ``outlets`` carry (JSON); the verdict here."""
        return {"gate": result.gate, "status": result.status.value, "summary": result.summary}

    def describe_outlet_events(self, context: Context, result: GateResult) -> None:
        """Attach :meth:`outlet_extra` to the event of every outlet Asset of a passed task.

        Airflow emits the events only when the task succeeds, so a DAG scheduled on one of
        these Assets runs only after the gate passed; the extra tells it what passed.
        """
        if not self.outlets:
            return
        extra = self.outlet_extra(result)
        events = context["outlet_events"]
        for outlet in self.outlets:
            events[outlet].extra.update(extra)

    def _report_dir(self, context: Context) -> str:
        return self.report_dir or default_report_dir(context)

    def _s3_options(self) -> S3Options:
        return s3_options(self.aws_conn_id, self.s3_endpoint_url)


def default_report_dir(context: Context) -> str:
    """``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>[/<map index>]``."""
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    ti = context["ti"]
    parts = [ti.dag_id, context["run_id"], ti.task_id]
    if getattr(ti, "map_index", -1) not in (-1, None):
        parts.append(str(ti.map_index))
    safe = [p.replace("/", "_").replace(":", "_") for p in parts]
    return os.path.join(home, "mlsec-gate-reports", *safe)


def s3_options(aws_conn_id: str | None, endpoint_url: str | None) -> S3Options:
    """How a task reaches S3: an Airflow AWS connection, an endpoint, or the environment."""
    from mlsec_gates.storage import S3Options

    if not aws_conn_id:
        return S3Options(endpoint_url=endpoint_url or None)
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(aws_conn_id)
    extra = conn.extra_dejson
    return S3Options(
        endpoint_url=endpoint_url or extra.get("endpoint_url") or conn.host or None,
        region=extra.get("region_name"),
        access_key_id=conn.login or None,
        secret_access_key=conn.password or None,
        session_token=extra.get("aws_session_token"),
    )


def run_context(context: Context) -> dict[str, str]:
    """Which task try this is: the ledger's idempotency key for the gate's decision.

    ``orchestrator``, ``dag_id``, ``run_id``, ``task_id``, ``map_index`` (``-1`` when not
    mapped) and ``try_number``, all strings.
    """
    ti = context["ti"]
    return {
        "orchestrator": "airflow",
        "dag_id": str(ti.dag_id),
        "run_id": str(context["run_id"]),
        "task_id": str(ti.task_id),
        "map_index": str(getattr(ti, "map_index", -1)),
        "try_number": str(getattr(ti, "try_number", 1)),
    }


def _push_error(context: Context, exc: BaseException) -> None:
    """Push the one-line reason a gate could not run (best effort: never masks ``exc``)."""
    from mlsec_gates.errors import Error

    reason = exc.diagnostics() if isinstance(exc, Error) else f"{type(exc).__name__}: {exc}"
    with contextlib.suppress(Exception):  # observability never decides
        context["ti"].xcom_push(key=GATE_ERROR_KEY, value=reason.splitlines()[0][:500])


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


def from_browsable(location: str) -> str:
    """A local path for a ``file://`` URL (the report XComs); anything else unchanged."""
    if not location.startswith("file://"):
        return location
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(location).path)


def as_list(value: str | Sequence[str] | None) -> list[str]:
    """One templated string or a list of them, as a list (empty strings dropped)."""
    if not value:
        return []
    return [value] if isinstance(value, str) else [v for v in value if v]
