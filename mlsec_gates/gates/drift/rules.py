"""The drift gate's own finding types: one class each, with a stable id and severity.

Row-level poisoning findings (label flips, triggers, duplicates) come from the detectors'
own rules in :mod:`mlsec_gates.gates.drift.poison`; this module holds distribution drift,
schema notes and the gate's own problems.
"""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule

_DRIFT_WHY = (
    "A model trained or scored on data whose distribution moved away from the data it was "
    "validated on degrades silently; a sudden shift in one feature is also how a broken "
    "feed or a poisoned batch shows up."
)


class ColumnDrift(Rule):
    """One column's distribution moved past its test's threshold."""

    id: ClassVar[str] = "drift.column"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Compare the column's histograms (reference vs current) in the report. A unit or "
        "encoding change, a new source or a filter upstream is a data bug: fix it there. A "
        "real-world change means the reference is stale: refresh it from vetted data, then "
        "retrain. Tune the column's method or threshold under gates.drift.per_column."
    )
    why: ClassVar[str] = _DRIFT_WHY


class DatasetDrift(Rule):
    """At least ``drift_share`` of the compared columns drifted (Evidently's dataset rule)."""

    id: ClassVar[str] = "drift.dataset"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Most of the batch no longer looks like the reference: do not train on it until the "
        "cause is known (a wrong file or date range, a pipeline bug, a new population). If "
        "the change is legitimate, build a new reference profile from vetted data."
    )
    why: ClassVar[str] = _DRIFT_WHY


class EmptyColumn(Rule):
    """A compared column has no value at all in the current batch."""

    id: ClassVar[str] = "drift.empty-column"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Every value of the column is missing: a renamed source field or a failed join. Fix "
        "the producer; the column counts as drifted."
    )
    why: ClassVar[str] = _DRIFT_WHY


class SchemaDifference(Rule):
    """Columns present on one side only; they are not compared (not a failure here)."""

    id: ClassVar[str] = "drift.schema"
    severity: ClassVar[Severity] = Severity.INFO
    remediation: ClassVar[str] = (
        "Enforce the column set with the validation gate (expect_table_columns_to_match_set); "
        "rebuild the reference when the schema change is intended."
    )
    why: ClassVar[str] = "A column that is not compared can drift unnoticed."


class LargeSampleSignificance(Rule):
    """A p-value test on a large batch: significance is not size (Evidently issue #50)."""

    id: ClassVar[str] = "drift.large-sample-pvalue"
    severity: ClassVar[Severity] = Severity.INFO
    remediation: ClassVar[str] = (
        "On large batches K-S and chi-squared flag shifts too small to matter. Use a "
        "distance (wasserstein, psi, jensenshannon; Evidently's default above 1000 reference "
        "rows) or set gates.drift.min_effect_size."
    )
    why: ClassVar[str] = (
        "Alarms that fire on every large batch get ignored, and with them the real ones."
    )


class PoisonDetectorsUnavailable(Rule):
    """A label column was given but the poisoning detectors could not run."""

    id: ClassVar[str] = "drift.poison-unavailable"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Install the drift extra (pip install 'mlsec-gates[drift]') or set "
        "gates.drift.poison.enabled: false to run the distribution checks alone."
    )
    why: ClassVar[str] = (
        "Label flips and backdoor triggers do not move feature distributions; without the "
        "row-level detectors they pass unseen, so the gate does not pass."
    )


class EvidentlyReportFailed(Rule):
    """Evidently's HTML page could not be rendered; the decision does not depend on it."""

    id: ClassVar[str] = "drift.evidently-report"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Check that evidently 0.7 is installed with pandas < 3; or set "
        "gates.drift.evidently_report: false."
    )
    why: ClassVar[str] = "The Evidently page is for people reviewing the batch."


RULES: tuple[type[Rule], ...] = (
    ColumnDrift,
    DatasetDrift,
    EmptyColumn,
    SchemaDifference,
    LargeSampleSignificance,
    PoisonDetectorsUnavailable,
    EvidentlyReportFailed,
)
