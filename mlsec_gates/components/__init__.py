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

from __future__ import annotations

import importlib
from typing import Any

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

#: Public name -> the module declaring it. Imported on first use (PEP 562): a task container
#: importing ``mlsec_gates.components._runtime`` must not declare components (see there).
_WHERE = {
    "IMAGE": "_image",
    "with_base_image": "_image",
    "artifact_scan": "scan",
    "artifact_scan_uri": "scan",
    "data_validation": "validate",
    "data_validation_uri": "validate",
    "model_eval": "model_eval",
    "model_sbom": "sbom",
    "model_signing": "sign",
    "poison_drift": "drift",
    "signature_verification": "verify",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
