"""Per-column drift: each column summarised once, tested once, decided by Evidently's rule.

The reference is summarised into :class:`~.stattests.NumericValues` (sorted values) and
:class:`~.stattests.CategoryCounts` (value counts), either from the reference data or from
a stored profile; each current column is summarised the same way and compared with the test
the policy names (``auto``: Evidently's default choice). Evidently 0.7 computes each
column's drift three times in ``DataDriftPreset`` and re-derives unique counts each time;
here one pass gives the same statistics.

Example:
    >>> import pandas as pd
    >>> from mlsec_gates.gates.drift.engine import DriftSettings, check_columns, summarise
    >>> ref = pd.DataFrame({"x": range(100)})
    >>> checks = check_columns(summarise(ref, {"x": "numeric"}), {"x": "numeric"},
    ...                        pd.DataFrame({"x": range(50, 150)}), DriftSettings())
    >>> checks[0].method, checks[0].drifted
    ('ks', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates.drift.data import NUMERIC
from mlsec_gates.gates.drift.engines.summary import compute as summary_compute
from mlsec_gates.gates.drift.engines.summary import is_summary
from mlsec_gates.gates.drift.stattests import (
    BY_NAME,
    CategoryCounts,
    NumericValues,
    Values,
    auto_method,
    is_finite,
)

LARGE_SAMPLE_ROWS = 10_000
"""Above this many current values, a p-value test flags shifts too small to matter."""


@dataclass(frozen=True)
class ColumnSetting:
    """A per-column override of method and threshold (``gates.drift.per_column``)."""

    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftSettings:
    """The policy's drift options, as the engine needs them."""

    method: str = "auto"
    threshold: float | None = None
    per_column: Mapping[str, ColumnSetting] = field(default_factory=dict)
    min_effect_size: float | None = None

    @classmethod
    def from_policy(cls, section: Any) -> DriftSettings:
        """From a :class:`~mlsec_gates.policy.DriftPolicy`."""
        return cls(
            method=section.method,
            threshold=section.threshold,
            per_column={
                name: ColumnSetting(method=c.method, threshold=c.threshold)
                for name, c in section.per_column.items()
            },
            min_effect_size=section.min_effect_size,
        )


@dataclass(frozen=True)
class ColumnCheck:
    """One column's drift check: the test, its statistic, threshold and decision."""

    column: str
    kind: str
    method: str
    statistic: float | None
    threshold: float | None
    drifted: bool
    p_value: bool = False
    """True when the statistic is a p-value (drift when small)."""
    effect_size: float | None = None
    """p-value tests: K-S distance (``ks``) or total variation distance (``chisquare``, ``z``)."""
    reference_values: int = 0
    current_values: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite statistics become strings)."""
        return {
            "check": "column_drift",
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "statistic": _json_number(self.statistic),
            "statistic_kind": "p_value" if self.p_value else "distance",
            "threshold": self.threshold,
            "drifted": self.drifted,
            "decision": "drift" if self.drifted else "no drift",
            "effect_size": _json_number(self.effect_size),
            "reference_values": self.reference_values,
            "current_values": self.current_values,
            "note": self.note,
        }


def summarise(frame: Any, kinds: Mapping[str, str]) -> dict[str, Values]:
    """Each named column of ``frame`` summarised for the tests (sorted values or counts)."""
    return {name: summarise_column(frame[name], kind) for name, kind in kinds.items()}


def summarise_column(series: Any, kind: str) -> Values:
    """One column as :class:`NumericValues` or :class:`CategoryCounts`."""
    if kind == NUMERIC:
        return NumericValues.from_array(series.to_numpy())
    return CategoryCounts.from_series(series)


def check_columns(
    reference: Mapping[str, Values],
    kinds: Mapping[str, str],
    current: Any,
    settings: DriftSettings,
    *,
    current_values: Mapping[str, Values] | None = None,
) -> list[ColumnCheck]:
    """Test every column of ``kinds``: the reference summaries against the current frame.

    ``current_values``: the current batch already summarised (then ``current`` is not read);
    a 1M-row batch need not be held as a frame when only its summaries are needed.

    Raises:
        ConfigError: a per-column method does not apply to the column's kind.
    """
    for name, setting in settings.per_column.items():
        method = setting.method
        if name in kinds and method not in (None, "auto") and kinds[name] not in _kinds(method):
            raise ConfigError(
                f"gates.drift.per_column.{name}.method: {method} does not apply to "
                f"{kinds[name]} column {name!r}"
            )
    return [
        check_column(
            name,
            kind,
            reference[name],
            current_values[name]
            if current_values is not None
            else summarise_column(current[name], kind),
            settings,
        )
        for name, kind in kinds.items()
    ]


def check_column(
    name: str, kind: str, ref: Values, cur: Values, settings: DriftSettings
) -> ColumnCheck:
    """Test one column (see :func:`check_columns`)."""
    if ref.n == 0:
        return ColumnCheck(
            name, kind, "-", None, None, False, note="no values in the reference: not compared"
        )
    if cur.n == 0:
        return ColumnCheck(
            name,
            kind,
            "-",
            None,
            None,
            True,
            reference_values=ref.n,
            note="no values in the current batch (every value is missing)",
        )
    override = settings.per_column.get(name, ColumnSetting())
    method = override.method or settings.method
    if method == "auto" or kind not in _kinds(method):
        method = auto_method(kind, ref, cur)
    test = BY_NAME[method]
    threshold = override.threshold or settings.threshold or test.default_threshold
    if is_summary(ref) or is_summary(cur):  # Spark / SQL engines (drift/engines/)
        outcome = summary_compute(test, ref, cur, threshold)
    else:
        outcome = test.compute(ref, cur)
    drifted = test.drifted(outcome.statistic, threshold)
    note = getattr(outcome, "note", "")
    floor = settings.min_effect_size
    if test.p_value and floor is not None and outcome.effect_size is not None:
        if drifted and outcome.effect_size < floor:
            note = f"significant (p={outcome.statistic:.3g}) but effect size below {floor}"
        drifted = drifted and outcome.effect_size >= floor
    elif test.p_value and cur.n > LARGE_SAMPLE_ROWS:
        note = (
            f"p-values measure significance, not size: with {cur.n} values tiny shifts are "
            "significant; set min_effect_size or use a distance method"
        )
    return ColumnCheck(
        name,
        kind,
        method,
        outcome.statistic,
        threshold,
        bool(drifted),
        p_value=test.p_value,
        effect_size=outcome.effect_size,
        reference_values=ref.n,
        current_values=cur.n,
        note=note,
    )


def dataset_drift(checks: list[ColumnCheck], drift_share: float) -> tuple[int, float, bool]:
    """Drifted columns, their share, and Evidently's dataset-drift rule (share >= limit)."""
    compared = [c for c in checks if c.statistic is not None or c.drifted]
    drifted = sum(1 for c in compared if c.drifted)
    share = drifted / len(compared) if compared else 0.0
    return drifted, share, bool(compared) and share >= drift_share


def _kinds(method: str) -> frozenset[str]:
    test = BY_NAME.get(method)
    return test.kinds if test else frozenset()


def _json_number(value: float | None) -> float | str | None:
    if value is None or is_finite(value):
        return value
    return str(value)
