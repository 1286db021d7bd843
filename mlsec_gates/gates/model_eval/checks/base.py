"""What every model-eval check gets (the context) and gives back (its outcome).

The checks run in the child process that loaded the model (:mod:`.._worker`); their outcomes
are plain JSON, which the gate turns into findings (:mod:`..findings`) in its own process.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from mlsec_gates.gates.model_eval.model import LoadedModel

Decision = Literal["pass", "fail", "inconclusive", "skipped"]


@dataclass
class EvalContext:
    """The evaluation data, the model and its predictions, shared by the checks."""

    model: LoadedModel
    frame: Any
    """The whole evaluation DataFrame (features, label, sensitive columns)."""
    y: np.ndarray
    """True labels, as text."""
    y_pred: np.ndarray
    """The model's labels for every row, as text."""
    sensitive: list[str]
    numeric: list[str]
    """Numeric feature columns (the ones perturbations and attacks change)."""
    settings: dict[str, Any]
    """The policy's ``gates.model_eval`` section, as JSON."""
    budget_seconds: float
    seed: int = 0

    @property
    def features(self) -> list[str]:
        """The model's input columns."""
        return self.model.features

    @property
    def accuracy(self) -> float:
        """Accuracy on the whole evaluation set."""
        return float(np.mean(self.y == self.y_pred))

    def rng(self, salt: int) -> np.random.Generator:
        """A generator per check: each check's sample is the same whatever runs before it."""
        return np.random.default_rng([self.seed, salt])


@dataclass
class Flag:
    """A problem a check found; the gate turns it into a finding of rule ``rule``."""

    rule: str
    """Key of the rule in :data:`mlsec_gates.gates.model_eval.rules.BY_KEY`."""
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    identity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "message": self.message,
            "evidence": self.evidence,
            "identity": self.identity,
        }


@dataclass
class Outcome:
    """One check's result: the number it decided on, against what, and what it found."""

    check: str
    decision: Decision
    statistic: float | None
    statistic_name: str
    threshold: float | None
    summary: str
    flags: list[Flag] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    """Wall-clock seconds the check took."""
    cpu_seconds: float = 0.0
    """CPU seconds the check used (what its budget counts; set by the worker)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``details.checks`` entry of the JSON report."""
        return {
            "check": self.check,
            "statistic": _round(self.statistic),
            "statistic_name": self.statistic_name,
            "threshold": self.threshold,
            "decision": self.decision,
            "summary": self.summary,
            "flags": [f.to_dict() for f in self.flags],
            "details": self.details,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
        }


class Check:
    """One check. Subclasses set ``name`` and ``share`` and implement :meth:`run`."""

    name: ClassVar[str]
    share: ClassVar[float]
    """Share of the gate's CPU-time budget this check may use."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def run(self, ctx: EvalContext, deadline: float) -> Outcome:
        """Run on the context; start no new work once :func:`budget_clock` is past ``deadline``."""
        raise NotImplementedError


def budget_clock() -> float:
    """CPU seconds (user + system) this process has used: all its threads and reaped children.

    The checks' budget is counted on this clock, not the wall clock, so a verdict does not
    depend on how busy the machine is: on a loaded worker the attack reaches as many rows as on
    an idle one, it just takes longer. Time spent waiting (sleeping, blocked on I/O, not
    scheduled) is not counted; the gate's wall-clock timeout covers a model that hangs.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_left(deadline: float) -> float:
    """CPU seconds until ``deadline`` (a :func:`budget_clock` value), never negative."""
    return max(0.0, deadline - budget_clock())


def _round(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None  # JSON has no infinity
    return float(round(value, 6))
