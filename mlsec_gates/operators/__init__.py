"""Airflow 3 operators for the gates (``pip install 'mlsec-gates[airflow]'``).

Importing this package loads ``airflow.sdk`` and the standard library only; each gate's
libraries are imported when its task runs, so DAG files parse fast.
"""

from mlsec_gates.operators.base import GateOperator
from mlsec_gates.operators.chain import ChainReportOperator, security_gates
from mlsec_gates.operators.drift import PoisonDriftGateOperator
from mlsec_gates.operators.links import GateReportLink
from mlsec_gates.operators.model_eval import ModelEvalGateOperator
from mlsec_gates.operators.notifier import GateReportNotifier
from mlsec_gates.operators.sbom import SbomGateOperator
from mlsec_gates.operators.scan import ArtifactScanGateOperator
from mlsec_gates.operators.scan_fanout import (
    ScanMergeGateOperator,
    ScanShardPlanOperator,
    scan_fan_out,
)
from mlsec_gates.operators.sign import SignArtifactsOperator
from mlsec_gates.operators.train import TrainHookOperator
from mlsec_gates.operators.validate import DataValidationGateOperator
from mlsec_gates.operators.verify import VerifySignatureGateOperator

__all__ = [
    "ArtifactScanGateOperator",
    "ChainReportOperator",
    "DataValidationGateOperator",
    "GateOperator",
    "GateReportLink",
    "GateReportNotifier",
    "ModelEvalGateOperator",
    "PoisonDriftGateOperator",
    "SbomGateOperator",
    "ScanMergeGateOperator",
    "ScanShardPlanOperator",
    "SignArtifactsOperator",
    "TrainHookOperator",
    "VerifySignatureGateOperator",
    "scan_fan_out",
    "security_gates",
]
