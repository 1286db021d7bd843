"""The validation gate's rules: one class per finding family, with a stable id and severity.

Rules do not look at data; the engine picks the rule of each failed expectation with
:func:`rule_for` (by the expectation's family: nulls, ranges, sets, uniqueness, schema, row
count) and calls :meth:`Rule.finding`. Ids, severities, advice and threats live here only.
"""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule as BaseRule

_POISON_WHY = (
    "Training or scoring on data that breaks its contract silently degrades the model; a "
    "sudden break is also how poisoned or tampered batches show up first."
)


class Rule(BaseRule):
    """A validation finding type; by default the threat is a broken or poisoned batch."""

    why: ClassVar[str] = _POISON_WHY


class Nulls(Rule):
    """Missing values where the suite expects none (or values where it expects nulls)."""

    id: ClassVar[str] = "validate.nulls"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Find where the nulls enter (a failed join, a renamed source field, an upstream "
        "default); fix the producer or drop/impute the rows explicitly before this gate. If "
        "some nulls are acceptable, set `mostly` on the expectation."
    )


class OutOfRange(Rule):
    """Values, lengths or a column statistic (min, max, mean, median...) outside bounds."""

    id: ClassVar[str] = "validate.out-of-range"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Look at the sample rows: a unit or scale change (cents vs euros, ms vs s), a sentinel "
        "value (-1, 999) or corrupted records. Fix the source; widen the bounds in the suite "
        "only if the new range is legitimate."
    )


class UnexpectedValue(Rule):
    """Values outside the expected set: a new category, a typo, a forbidden value."""

    id: ClassVar[str] = "validate.unexpected-value"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "A new category appeared or an old one changed spelling. Confirm with the data owner; "
        "map it to a known value upstream, or add it to `value_set` once the model and its "
        "encoders are ready for it."
    )


class Duplicates(Rule):
    """Repeated values or rows where the suite expects them unique."""

    id: ClassVar[str] = "validate.duplicates"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Duplicated keys usually mean a fan-out join or a re-delivered batch. Deduplicate "
        "upstream; duplicated training rows also overweight (or inject) examples."
    )


class RowCount(Rule):
    """The number of rows is outside what the suite expects."""

    id: ClassVar[str] = "validate.row-count"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Check that the extract is complete (a partial load, a wrong partition or date "
        "filter) or not duplicated; adjust the bounds only if the volume legitimately changed."
    )


class Schema(Rule):
    """The columns or their types differ from the contract (set, order, count, dtype)."""

    id: ClassVar[str] = "validate.schema"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "The data no longer has the agreed shape: a column was added, dropped, renamed or "
        "changed type. Fix the producer or cast explicitly; update the suite only together "
        "with the feature code that reads these columns."
    )
    why: ClassVar[str] = (
        "Schema breaks make feature code read the wrong column or coerce values silently "
        "(strings to NaN, floats truncated to ints), corrupting every row."
    )


class MissingColumn(Rule):
    """An expectation names a column the data does not have."""

    id: ClassVar[str] = "validate.missing-column"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "The column was dropped or renamed upstream, or the suite has a typo. Restore the "
        "column or fix the name in the suite."
    )
    why: ClassVar[str] = Schema.why


class ExpectationFailed(Rule):
    """Any other failed expectation (patterns, formats, ordering, distributions...)."""

    id: ClassVar[str] = "validate.expectation-failed"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Inspect the sample rows and the observed value, fix the data at its source, or "
        "correct the expectation if the contract changed."
    )


class ExpectationError(Rule):
    """Great Expectations could not evaluate an expectation (unsupported here, bad type...).

    Nothing was checked for it, so the gate cannot pass.
    """

    id: ClassVar[str] = "validate.expectation-error"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Read the error: the expectation may not be supported by this backend (SQL vs "
        "pandas), or its arguments do not fit the column's type. Fix the suite."
    )
    why: ClassVar[str] = "An expectation that was not evaluated proves nothing about the data."


class EmptyData(Rule):
    """The data have no rows, so no expectation about them means anything."""

    id: ClassVar[str] = "validate.empty-data"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Check the upstream extract (an empty partition, a filter that matched nothing, a "
        "failed export). The gate never passes on empty data."
    )
    why: ClassVar[str] = "Every expectation holds vacuously on zero rows: nothing was checked."


RULES: tuple[type[Rule], ...] = (
    Nulls,
    OutOfRange,
    UnexpectedValue,
    Duplicates,
    RowCount,
    Schema,
    MissingColumn,
    ExpectationFailed,
    ExpectationError,
    EmptyData,
)

_SCHEMA_TYPES = frozenset(
    {
        "expect_column_to_exist",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_columns_to_match_set",
        "expect_table_column_count_to_equal",
        "expect_table_column_count_to_be_between",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
    }
)
TYPE_EXPECTATIONS = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
)
"""Expectations about dtypes, which depend on the engine (pandas dtype vs SQL type)."""


def rule_for(expectation_type: str) -> type[Rule]:
    """The rule (finding family) of a failed expectation, from its GX type name."""
    name = expectation_type
    if name in _SCHEMA_TYPES:
        return Schema
    if name.startswith("expect_table_row_count"):
        return RowCount
    if "null" in name:
        return Nulls
    if "unique" in name:
        return Duplicates
    if name.endswith(("_in_set", "_equal_set", "_contain_set")):
        return UnexpectedValue
    if name.endswith("_be_between") or "z_scores" in name:
        return OutOfRange
    return ExpectationFailed


def is_schema(expectation_type: str) -> bool:
    """True for expectations about columns and types rather than values."""
    return expectation_type in _SCHEMA_TYPES
