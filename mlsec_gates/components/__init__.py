"""Kubeflow Pipelines (KFP 2) components of the mlsec-gates gates.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import artifact_scan
    >>> @dsl.pipeline(name="train-scan-publish")
    ... def train_scan_publish(model_uri: str):
    ...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    ...     scan = artifact_scan(model=model.output, fail_on_violation=False)
    ...     with dsl.If(scan.outputs["passed"] == True):  # noqa: E712
    ...         ...  # publish the model

Each component is a lightweight Python component whose image (:data:`IMAGE`, tagged with the
package version) has mlsec-gates preinstalled; :func:`with_base_image` rebuilds one for
another image. Importing this package loads ``kfp`` and the light result types only: the
gates and their libraries (fickling, Great Expectations, pandas) are imported inside the
component bodies, at run time.
"""

from mlsec_gates.components._image import IMAGE, with_base_image
from mlsec_gates.components.drift import poison_drift
from mlsec_gates.components.model_eval import model_eval
from mlsec_gates.components.sbom import model_sbom
from mlsec_gates.components.scan import artifact_scan, artifact_scan_uri
from mlsec_gates.components.sign import model_signing
from mlsec_gates.components.validate import data_validation, data_validation_uri
from mlsec_gates.components.verify import signature_verification

__all__ = [
    "IMAGE",
    "artifact_scan",
    "artifact_scan_uri",
    "data_validation",
    "data_validation_uri",
    "model_eval",
    "model_sbom",
    "model_signing",
    "poison_drift",
    "signature_verification",
    "with_base_image",
]
