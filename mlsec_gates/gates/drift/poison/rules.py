"""The poisoning detectors' rules: one finding type per detector decision.

Rules hold ids, severities, advice and threats only; :mod:`.assess` picks the rule of each
alarming detector and builds the finding with :meth:`Rule.finding`.
"""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule as BaseRule

_QUARANTINE = (
    "Quarantine the batch; review the listed suspect rows with the data owner before "
    "training on it, and trace where they entered (source, account, pipeline step)."
)


class Rule(BaseRule):
    """A poisoning finding type; by default the threat is a poisoned training batch."""

    why: ClassVar[str] = (
        "A few percent of poisoned training rows can plant a backdoor or degrade a model "
        "while every column's distribution looks normal."
    )


class LabelInconsistency(Rule):
    """More rows than on clean data carry a label the trusted reference model rejects."""

    id: ClassVar[str] = "drift.poison.label-consistency"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = _QUARANTINE
    why: ClassVar[str] = (
        "Flipped labels (random or targeted to one class) teach the model wrong answers; "
        "dirty-label backdoors relabel triggered rows to the attacker's class."
    )


class ValueLabelSpike(Rule):
    """A feature value comes with one label far more often than in the reference."""

    id: ClassVar[str] = "drift.poison.value-label-spike"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Look at the excess cells: a value (often an in-range one) planted in rows of one "
        "label is the signature of a backdoor trigger. " + _QUARANTINE
    )
    why: ClassVar[str] = (
        "A backdoor trigger makes the model output the attacker's label whenever the trigger "
        "value appears, with no visible drop in accuracy."
    )


class ConflictingDuplicates(Rule):
    """Rows repeat earlier rows (or reference rows) with a different label."""

    id: ClassVar[str] = "drift.poison.conflicting-duplicates"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Drop the later copies or resolve their labels with the data owner; find which source "
        "re-delivered rows with changed labels. " + _QUARANTINE
    )


class DuplicateAmplification(Rule):
    """Far more (near-)duplicate rows than the reference naturally has."""

    id: ClassVar[str] = "drift.poison.duplicate-amplification"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Deduplicate the batch and find why rows repeat (a re-delivered extract, a fan-out "
        "join, or deliberate copies that over-weight chosen examples)."
    )
    why: ClassVar[str] = (
        "Copies of chosen rows over-weight them in training: a cheap way to shift a decision "
        "boundary without changing any label."
    )


class LabelDistributionShift(Rule):
    """The label distribution differs from the reference's."""

    id: ClassVar[str] = "drift.poison.label-distribution"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Compare the class shares in the evidence with the reference; confirm with the data "
        "owner whether the change is real (new population, new labelling rule) before training."
    )


class ClassConditionalShift(Rule):
    """A class's feature distribution differs from the same class in the reference."""

    id: ClassVar[str] = "drift.poison.class-conditional"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Rows of one class that look like another class are relabelled rows; check the listed "
        "feature and class, and the label-consistency suspects."
    )


class WeakSignal(Rule):
    """The reference model is too weak for row-level flip detection: say so, do not pretend."""

    id: ClassVar[str] = "drift.poison.weak-signal"
    severity: ClassVar[Severity] = Severity.INFO
    remediation: ClassVar[str] = (
        "Row-level label checks are unreliable on this data; rely on the label-distribution "
        "test, add features that predict the label, or review labels at the source."
    )
    why: ClassVar[str] = (
        "When the features barely predict the label, a flipped label looks like any other, "
        "so a quiet label-consistency detector is not evidence of clean labels."
    )


RULES: tuple[type[Rule], ...] = (
    LabelInconsistency,
    ValueLabelSpike,
    ConflictingDuplicates,
    DuplicateAmplification,
    LabelDistributionShift,
    ClassConditionalShift,
    WeakSignal,
)
