"""Run the enabled detectors on a current batch and combine their decisions.

The batch false-alarm budget (``false_alarm_rate``) is split between the enabled detectors
(weighted Bonferroni: label consistency, the main detector, gets a double share), so on a
clean batch the chance that any of them alarms is at most the budget. Each detector names
candidate rows with a false-discovery estimate; rows whose estimate is at most
``suspect_fdr`` are the suspects, merged one per row, strongest evidence first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsec_gates.errors import InputError
from mlsec_gates.gates.drift.poison import rules
from mlsec_gates.gates.drift.poison.duplicates import Duplicates
from mlsec_gates.gates.drift.poison.encoding import Encoded
from mlsec_gates.gates.drift.poison.label_consistency import LabelConsistency, row_pvalues
from mlsec_gates.gates.drift.poison.label_drift import ClassConditional, LabelDistribution
from mlsec_gates.gates.drift.poison.model import predict_proba
from mlsec_gates.gates.drift.poison.outcome import DetectorOutcome, PoisonAssessment, Suspect
from mlsec_gates.gates.drift.poison.spike import ValueLabelSpike
from mlsec_gates.result import Finding, Location

if TYPE_CHECKING:
    import pandas as pd

    from mlsec_gates.gates.drift.poison.reference import PoisonReference
    from mlsec_gates.policy import PoisonPolicy

#: Every detector, in report order; ``gates.drift.poison.detectors`` picks among their names.
DETECTORS = (
    LabelConsistency(),
    ValueLabelSpike(),
    Duplicates(),
    LabelDistribution(),
    ClassConditional(),
)
_RULE_OF = {
    "label_consistency": rules.LabelInconsistency,
    "value_label_spike": rules.ValueLabelSpike,
    "label_distribution": rules.LabelDistributionShift,
    "class_conditional": rules.ClassConditionalShift,
}
_ROWS_QUOTED = 10


@dataclass(frozen=True)
class Context:
    """What every detector gets: the reference, the encoded batch, the model's view of it."""

    ref: PoisonReference
    current: Encoded
    settings: PoisonPolicy
    proba: np.ndarray
    label_p: np.ndarray
    """Per row, the label-consistency p-value (how unusual the label is for the model)."""


def assess(
    ref: PoisonReference, current: pd.DataFrame, *, uri: str, settings: PoisonPolicy
) -> PoisonAssessment:
    """Run the enabled detectors on ``current`` (rows are 0-based positions in it).

    Raises:
        InputError: the batch is empty, misses a column, or a numeric column is not numeric.
    """
    from threadpoolctl import threadpool_limits

    if len(current) == 0:
        raise InputError(f"{uri}: the current batch has no rows")
    encoded = ref.encoder.encode(current, what="current")
    enabled = [d for d in DETECTORS if d.name in settings.detectors]
    total_weight = sum(d.weight for d in enabled)
    with threadpool_limits(limits=settings.threads):
        proba = predict_proba(ref.model(), encoded.model_matrix, len(ref.encoder.classes))
        ctx = Context(ref, encoded, settings, proba, row_pvalues(ref, encoded.y, proba))
        outcomes = tuple(
            d.run(ctx, settings.false_alarm_rate * d.weight / total_weight) for d in enabled
        )
    chosen = _select([s for o in outcomes for s in o.suspects], settings.suspect_fdr)
    outcomes = tuple(
        dataclasses.replace(o, suspects=tuple(s for s in o.suspects if s.row in chosen))
        for o in outcomes
    )
    suspects = _merge([s for o in outcomes for s in o.suspects], settings.max_suspects, chosen)
    suspects = tuple(_with_labels(s, encoded, proba, ref.encoder.classes) for s in suspects)
    detectability = {**ref.detectability, "current_rows": len(encoded)}
    findings = tuple(_findings(outcomes, detectability, uri, enabled))
    return PoisonAssessment(
        outcomes=outcomes,
        alarm=any(o.alarm for o in outcomes),
        suspects=suspects,
        detectability=detectability,
        findings=findings,
    )


def _select(candidates: list[Suspect], fdr: float) -> dict[int, float]:
    """Rows whose evidence keeps the expected share of clean rows among suspects <= ``fdr``.

    Each candidate's ``p`` is a false-discovery estimate: a Benjamini-Hochberg q-value over
    the batch (label consistency), or the share of rows of its kind a clean batch would have
    (expected over observed: planted values, repeats). A row named by several detectors
    keeps its strongest evidence. Because the estimate is per row, the list grows with the
    poison, not with the alarm. Returns row -> its estimate.
    """
    best: dict[int, float] = {}
    for s in candidates:
        best[s.row] = min(s.p, best.get(s.row, 1.0))
    return {row: p for row, p in best.items() if p <= fdr}


def _merge(suspects: list[Suspect], limit: int, chosen: dict[int, float]) -> tuple[Suspect, ...]:
    """One suspect per row: every detector's reason; strongest evidence first."""
    by_row: dict[int, list[Suspect]] = {}
    for s in suspects:
        by_row.setdefault(s.row, []).append(s)
    merged = [
        Suspect(
            row,
            max(s.score for s in group),
            " | ".join(s.reason for s in group),
            "+".join(dict.fromkeys(s.detector for s in group)),
            p=chosen[row],
        )
        for row, group in by_row.items()
    ]
    merged.sort(key=lambda s: (s.p, -s.score, s.row))
    return tuple(merged[:limit])


def _with_labels(
    suspect: Suspect, encoded: Encoded, proba: np.ndarray, classes: tuple[str, ...]
) -> Suspect:
    """The suspect with its written label and the reference model's expected one."""
    expected = int(proba[suspect.row].argmax())
    return Suspect(
        suspect.row,
        suspect.score,
        suspect.reason,
        suspect.detector,
        p=suspect.p,
        label=encoded.raw_labels[suspect.row],
        expected=classes[expected],
        expected_p=float(proba[suspect.row, expected]),
    )


def _findings(
    outcomes: tuple[DetectorOutcome, ...],
    detectability: dict[str, Any],
    uri: str,
    enabled: list[Any],
) -> list[Finding]:
    """One finding per alarming detector decision, plus the weak-signal notice."""
    out = []
    for outcome in outcomes:
        chosen = _rules_for(outcome)
        for rule in chosen:
            rows = [s.row for s in sorted(outcome.suspects, key=lambda s: (-s.score, s.row))]
            shown = ", ".join(str(r) for r in rows[:5])
            more = ", ..." if len(rows) > 5 else ""
            evidence = {
                "detector": outcome.name,
                "p_value": outcome.statistic,
                "threshold": outcome.threshold,
                "suspect_rows": len(rows),
                "top_rows": rows[:_ROWS_QUOTED],
                **{k: v for k, v in outcome.details.items() if _small(v)},
            }
            out.append(
                rule.finding(
                    outcome.summary,
                    Location(
                        uri=uri,
                        detail=f"{len(rows)} rows: {shown}{more}" if rows else outcome.name,
                    ),
                    evidence,
                    identity=f"{rule.id}:{outcome.name}",
                )
            )
    if detectability.get("weak_signal") and any(d.name == "label_consistency" for d in enabled):
        out.append(
            rules.WeakSignal.finding(
                detectability["note"],
                Location(uri=uri, detail="label_consistency"),
                {k: v for k, v in detectability.items() if k != "note"},
                identity=rules.WeakSignal.id,
            )
        )
    return out


def _rules_for(outcome: DetectorOutcome) -> list[type[rules.Rule]]:
    """The rules an outcome raises (the duplicates detector has two decisions)."""
    if outcome.name == "duplicates":
        chosen: list[type[rules.Rule]] = []
        if outcome.details.get("conflict_alarm"):
            chosen.append(rules.ConflictingDuplicates)
        if outcome.details.get("repeat_alarm"):
            chosen.append(rules.DuplicateAmplification)
        return chosen
    return [_RULE_OF[outcome.name]] if outcome.alarm else []


def _small(value: Any) -> bool:
    """Keep scalar details (and short lists) in the evidence, not bulky tables."""
    return isinstance(value, bool | int | float | str) or (
        isinstance(value, list) and len(value) <= 5
    )
