"""OpenLineage facets of a gate task: the verdict travels with the lineage of the data it judged.

The OpenLineage provider calls ``get_openlineage_facets_on_complete`` /
``_on_failure`` of :class:`~mlsec_gates.operators.GateOperator`, which hand the task's
:class:`~mlsec_gates.result.GateResult` to :func:`gate_lineage`. It returns, in OpenLineage
terms:

- **inputs**: what the gate checked (its subjects: files, ``s3://`` objects), each with a
  ``dataQualityAssertions`` facet: one assertion for the subject's verdict and one per finding;
- **outputs**: the artifacts the gate wrote (BOM, signature) and the task's outlet Assets;
- **run facets**: ``mlsecGate`` (:data:`FACET_NAME`: gate, status, passed, summary, counts,
  report URLs, ledger entry) and the standard ``test`` facet (one test for the gate, one per
  finding), which lineage UIs such as Marquez show as test results.

``apache-airflow-providers-openlineage`` is optional: everything it needs is imported inside
:func:`gate_lineage`, which returns None when it is not installed (the provider is then not
there to ask either). Importing this module loads the standard library only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlsec_gates.result import Finding, GateResult

FACET_NAME = "mlsecGate"
"""Key of the custom run facet."""
FACET_SCHEMA_URL = (
    "https://github.com/mlsec-gates/mlsec-gates/blob/main/docs/airflow.md#openlineage"
)
"""Where the custom run facet is described (OpenLineage asks for a ``_schemaURL``)."""

_FAILING = ("fail", "error")


def gate_lineage(
    result: GateResult | None,
    *,
    report_url: str = "",
    report_json_url: str = "",
    artifacts: Iterable[str] = (),
    outlets: Iterable[Any] = (),
) -> Any:
    """The ``OperatorLineage`` of a gate task, or None without the OpenLineage provider.

    Args:
        result: the gate's result; None when the gate raised before deciding (the provider
            then reports the task's error on its own).
        report_url: browsable URL of the HTML report.
        report_json_url: URL of the JSON report.
        artifacts: keys of ``result.reports`` that are artifacts the gate wrote (outputs).
        outlets: the task's outlet Assets (outputs).
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
        from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
        from openlineage.client.facet_v2 import test_run
    except ImportError:
        return None
    if result is None:
        return None
    severity = "error" if result.status.value in _FAILING else "warn"
    inputs = []
    for subject in result.subjects:
        assertions = [
            dqa.Assertion(
                assertion=f"mlsec_gates.{result.gate}",
                success=subject.verdict == "pass",
                severity=severity,
                name=f"{result.gate} verdict",
                actual=subject.verdict,
                expected="pass",
            ),
            *(
                dqa.Assertion(
                    assertion=f.rule_id,
                    success=False,
                    severity=f.severity.label,
                    name=f.fingerprint,
                    description=f.message,
                )
                for f in result.findings
                if f.location.uri == subject.path
            ),
        ]
        facets = {"dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(assertions)}
        inputs.append(Dataset(*_namespace_and_name(subject.path), facets=facets))
    written = [result.reports[key] for key in artifacts if result.reports.get(key)]
    uris = [*written, *(getattr(a, "uri", "") for a in outlets)]
    outputs = [Dataset(*_namespace_and_name(uri)) for uri in uris if uri]
    tests = [
        test_run.TestExecution(
            name=f"mlsec_gates.{result.gate}",
            status="fail" if result.status.value in _FAILING else "pass",
            severity=severity,
            type=result.gate,
            description=result.summary,
        ),
        *(_finding_test(f, result.gate, severity) for f in result.findings),
    ]
    run_facets = {
        FACET_NAME: gate_run_facet(result, report_url=report_url, report_json_url=report_json_url),
        "test": test_run.TestRunFacet(tests=tests),
    }
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


def gate_run_facet(result: GateResult, *, report_url: str, report_json_url: str) -> Any:
    """The ``mlsecGate`` run facet: the verdict, counts and where the reports are."""
    return _facet_class()(
        gate=result.gate,
        status=result.status.value,
        passed=result.passed,
        summary=result.summary,
        counts=result.counts(),
        reportUrl=report_url,
        reportJsonUrl=report_json_url,
        ledgerEntry=result.metrics.get("ledger_entry"),
    )


@functools.cache
def _facet_class() -> type:
    """Define the facet class on first use: its base class comes from openlineage-python."""
    import attr
    from openlineage.client.generated.base import RunFacet

    @attr.define
    class MlsecGateRunFacet(RunFacet):
        """A security gate's decision on this run (mlsec-gates)."""

        gate: str
        status: str
        passed: bool
        summary: str
        counts: dict[str, int] = attr.field(factory=dict)
        reportUrl: str = ""  # OpenLineage facet fields are camelCase
        reportJsonUrl: str = ""
        ledgerEntry: int | None = None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA_URL

    return MlsecGateRunFacet


def _finding_test(finding: Finding, gate: str, severity: str) -> Any:
    from openlineage.client.facet_v2 import test_run

    return test_run.TestExecution(
        name=finding.rule_id,
        status="fail",
        severity=severity,
        type=gate,
        description=finding.message,
        params={"location": str(finding.location), "fingerprint": finding.fingerprint},
    )


def _namespace_and_name(uri: str) -> tuple[str, str]:
    """OpenLineage dataset naming: ``s3://bucket`` + key, ``file`` + absolute path."""
    if "://" not in uri:
        from pathlib import Path

        return "file", str(Path(uri).resolve())
    scheme, _, rest = uri.partition("://")
    if scheme == "file":
        from urllib.parse import unquote, urlparse

        return "file", unquote(urlparse(uri).path)
    authority, _, path = rest.partition("/")
    return f"{scheme}://{authority}", path or "/"
