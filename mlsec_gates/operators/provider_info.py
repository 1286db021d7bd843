"""Airflow provider metadata, found through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from mlsec_gates import __version__


def get_provider_info() -> dict[str, Any]:
    """What Airflow lists under Admin > Providers: package, operators and the report link."""
    return {
        "package-name": "mlsec-gates",
        "name": "mlsec-gates",
        "description": "Security gates for ML pipelines: model scanning, data validation, "
        "drift and poisoning checks, SBOM and signing.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "mlsec-gates",
                "external-doc-url": "https://pypi.org/project/mlsec-gates/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "mlsec-gates",
                "python-modules": [
                    "mlsec_gates.operators.scan",
                    "mlsec_gates.operators.validate",
                    "mlsec_gates.operators.drift",
                    "mlsec_gates.operators.model_eval",
                    "mlsec_gates.operators.sbom",
                    "mlsec_gates.operators.sign",
                    "mlsec_gates.operators.verify",
                    "mlsec_gates.operators.train",
                    "mlsec_gates.operators.chain",
                ],
            }
        ],
        "extra-links": ["mlsec_gates.operators.links.GateReportLink"],
        "notifications": ["mlsec_gates.operators.notifier.GateReportNotifier"],
        "plugins": [
            {"name": "mlsec_gates", "plugin-class": "mlsec_gates.airflow_plugin.MLSecGatesPlugin"}
        ],
    }
