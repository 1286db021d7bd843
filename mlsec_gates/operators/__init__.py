"""Airflow 3 operators for the gates (``pip install 'mlsec-gates[airflow]'``).

Importing this package loads ``airflow.sdk`` and the standard library only; each gate's
libraries are imported when its task runs, so DAG files parse fast.
"""

from mlsec_gates.operators.base import GateOperator
from mlsec_gates.operators.links import GateReportLink
from mlsec_gates.operators.scan import ArtifactScanGateOperator
from mlsec_gates.operators.validate import DataValidationGateOperator

__all__ = [
    "ArtifactScanGateOperator",
    "DataValidationGateOperator",
    "GateOperator",
    "GateReportLink",
]
