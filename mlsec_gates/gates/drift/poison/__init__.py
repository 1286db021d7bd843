"""Row-level poisoning detectors of the drift gate (used when a label column is given).

Example:
    >>> from mlsec_gates.gates.drift.poison import assess, fit_reference  # doctest: +SKIP
    >>> ref = fit_reference(train_df, label="y", numeric=["a", "b"], categorical=["c"],
    ...                     settings=policy.gates.drift.poison)  # doctest: +SKIP
    >>> result = assess(ref, batch_df, uri="batch.parquet",
    ...                 settings=policy.gates.drift.poison)  # doctest: +SKIP

Every detector compares the current batch with a *trusted* reference, never with itself: a
model or a statistic learnt on a poisoned batch learns the poison. Detectors (one module
each): label consistency against a model trained on the reference (cleanlab scores),
value x label spikes (backdoor triggers), exact and near duplicates with conflicting labels,
the label distribution, and class-conditional feature distributions. Each gives a batch
p-value within a share of ``false_alarm_rate`` and ranked row suspects.
"""

from __future__ import annotations

from mlsec_gates.gates.drift.poison.assess import DETECTORS, assess
from mlsec_gates.gates.drift.poison.outcome import DetectorOutcome, PoisonAssessment, Suspect
from mlsec_gates.gates.drift.poison.reference import PoisonReference, fit_reference
from mlsec_gates.gates.drift.poison.rules import RULES

__all__ = [
    "DETECTORS",
    "RULES",
    "DetectorOutcome",
    "PoisonAssessment",
    "PoisonReference",
    "Suspect",
    "assess",
    "fit_reference",
]
