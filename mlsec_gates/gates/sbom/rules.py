"""The SBOM gate's rules: one class per finding type, with a stable id and severity.

Only :class:`ValidationFailed` stops the gate (the BOM is not written and the status is
``error``); the others record gaps in what the BOM can prove, so a reviewer sees them.
"""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule as BaseRule


class Rule(BaseRule):
    """An SBOM finding type."""

    why: ClassVar[str] = (
        "An ML-BOM is only useful as evidence when every component is pinned by a hash; a "
        "gap is where a swapped model, dataset or library would go unnoticed."
    )


class ValidationFailed(Rule):
    """The assembled BOM breaks the CycloneDX 1.6 JSON schema or one of its own references.

    Besides the strict schema, the gate checks what the schema does not: every ``ref`` (model
    card datasets, dependencies, formulation inputs and outputs) names a ``bom-ref`` of the
    BOM, and ``data`` only appears on ``data`` components.
    """

    id: ClassVar[str] = "sbom.validation-failed"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "This is a bug in the BOM assembly or an input it does not expect: report it with the "
        "validator message in the evidence. The invalid BOM was not written."
    )


class UnhashedLibrary(Rule):
    """An installed distribution has no RECORD with hashes, or a lock-file line no ``--hash``.

    Editable installs (``pip install -e``) and ``egg-info`` distributions have no RECORD; the
    library is listed by name and version only.
    """

    id: ClassVar[str] = "sbom.unhashed-library"
    severity: ClassVar[Severity] = Severity.INFO
    remediation: ClassVar[str] = (
        "Install from wheels (not editable) in the image, or give a lock file written with "
        "`pip-compile --generate-hashes` / `uv pip compile --generate-hashes` (--requirements)."
    )


class UnpinnedRequirement(Rule):
    """A requirements line does not pin one version (``==``), so it names no exact artifact."""

    id: ClassVar[str] = "sbom.unpinned-requirement"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Give a lock file (every line `name==version --hash=sha256:...`), not a loose "
        "requirements file."
    )


class DatasetUnversioned(Rule):
    """An S3 dataset object has no VersionId (the bucket is not versioned).

    The hash pins the bytes read today, but the object can be overwritten in place and the
    exact training data can then not be fetched again.
    """

    id: ClassVar[str] = "sbom.dataset-unversioned"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Enable versioning on the bucket (and Object Lock for training data that must be "
        "kept), then rebuild the BOM so it records each object's VersionId."
    )


class GateReportNotPassed(Rule):
    """An attached gate report did not pass (status ``fail`` or ``error``).

    The BOM records the result as it is; this finding makes sure nobody reads the attached
    report as an approval.
    """

    id: ClassVar[str] = "sbom.gate-report-not-passed"
    severity: ClassVar[Severity] = Severity.INFO
    remediation: ClassVar[str] = (
        "Fix what the earlier gate found and run it again before releasing the model."
    )


RULES: tuple[type[Rule], ...] = (
    ValidationFailed,
    UnhashedLibrary,
    UnpinnedRequirement,
    DatasetUnversioned,
    GateReportNotPassed,
)
"""Every SBOM rule, in report order."""
