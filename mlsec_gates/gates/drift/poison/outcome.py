"""What the poisoning detectors return: per-detector outcomes, row suspects, the assessment.

Plain frozen dataclasses, so the drift gate can put them in its result and reports without
knowing how each detector works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.result import Finding


@dataclass(frozen=True)
class Suspect:
    """One row of the current batch that a detector thinks is poisoned.

    ``row`` is the 0-based position in the current batch (not its index label); ``score`` is
    in [0, 1], higher meaning more likely poisoned, comparable across detectors for ranking.
    Detectors return *candidates*; :func:`.assess.assess` keeps those that survive the
    batch-wide false-discovery control.
    """

    row: int
    score: float
    reason: str
    detector: str
    p: float = 1.0
    """Estimated share of clean rows among rows with this much evidence (a q-value or a
    local false-discovery rate); rows at most ``suspect_fdr`` are suspects."""
    label: str | None = None
    """The row's label as written in the batch (filled in by :func:`.assess.assess`)."""
    expected: str | None = None
    """The label the reference model expects for the row's features."""
    expected_p: float | None = None
    """The reference model's probability of ``expected``."""


@dataclass(frozen=True)
class DetectorOutcome:
    """One detector's batch-level decision and its row suspects.

    ``statistic`` is the detector's batch p-value and ``threshold`` its share of the batch
    false-alarm budget: the detector alarms when ``statistic <= threshold``.
    """

    name: str
    statistic: float
    threshold: float
    alarm: bool
    summary: str
    suspects: tuple[Suspect, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PoisonAssessment:
    """Everything the detectors concluded about one batch.

    ``suspects`` has one entry per row, ranked by score (highest first); when several
    detectors flag a row, their reasons are joined with ``" | "``. ``detectability`` says how
    well label flips can be detected on this data at all (the reference model's strength).
    """

    outcomes: tuple[DetectorOutcome, ...]
    alarm: bool
    suspects: tuple[Suspect, ...]
    detectability: dict[str, Any]
    findings: tuple[Finding, ...]
