"""The trusted reference, fitted once and storable without pickle.

A fitted model cannot be stored safely (pickle runs code when loaded, and this is a security
tool), so the profile keeps what the detectors need as plain arrays: a bounded, stratified
training sample of the reference (at most ``max_training_rows`` rows, default 50 000), the
label-consistency calibration, the spike test's cell counts, every reference row hash with
its label, the duplicate tolerances and natural rates, and the label counts. The model is
refitted from the sample on first use, with the same seed, so a loaded profile gives the
same decisions as the reference it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlsec_gates.errors import InputError
from mlsec_gates.gates.drift.poison import duplicates, label_consistency, model, spike
from mlsec_gates.gates.drift.poison.encoding import Encoded, Encoder

if TYPE_CHECKING:
    import pandas as pd

    from mlsec_gates.policy import PoisonPolicy

#: Layout version of :meth:`PoisonReference.to_state`.
STATE_VERSION = 2
_SAMPLE_KEYS = ("sample_x_num", "sample_x_cat", "sample_y", "sample_hashes")


class PoisonReference:
    """Everything the detectors know about the trusted reference batch."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.meta = meta
        self.arrays = arrays
        self.encoder = Encoder.from_meta(meta["encoder"])
        self.sample = Encoded(
            arrays["sample_x_num"],
            arrays["sample_x_cat"],
            arrays["sample_y"],
            arrays["sample_hashes"],
            (),
        )
        self._model: Any = None

    @property
    def n_rows(self) -> int:
        """Labelled rows of the full reference."""
        return int(self.meta["rows"])

    @property
    def seed(self) -> int:
        """Seed of the sample, the folds and the model."""
        return int(self.meta["seed"])

    @property
    def label_cdf(self) -> np.ndarray:
        """Clean label-consistency score tail on the fixed logit grid."""
        return self.arrays["label_cdf"]

    @property
    def label_meta(self) -> dict[str, Any]:
        """Label-consistency calibration facts."""
        return self.meta["label_consistency"]

    @property
    def dup_meta(self) -> dict[str, Any]:
        """Natural duplicate and conflict counts of the sample."""
        return self.meta["duplicates"]

    @property
    def detectability(self) -> dict[str, Any]:
        """How well label flips can be detected on this data."""
        return dict(self.label_meta["detectability"])

    def model(self) -> Any:
        """The reference model, fitted on the sample on first use (deterministic)."""
        if self._model is None:
            self._model = model.fit_model(
                self.sample.model_matrix,
                self.sample.y,
                self.sample.x_cat.shape[1],
                self.seed,
            )
        return self._model

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-safe metadata and plain numeric arrays (no object dtype) to store."""
        return dict(self.meta), dict(self.arrays)

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> PoisonReference:
        """Rebuild from :meth:`to_state` output (e.g. read back with ``allow_pickle=False``).

        Raises:
            InputError: the state is from another layout version or misses an array.
        """
        if meta.get("version") != STATE_VERSION:
            raise InputError(
                f"poisoning profile has layout version {meta.get('version')!r}; this "
                f"mlsec-gates reads version {STATE_VERSION}: rebuild the profile"
            )
        missing = sorted(set(_REQUIRED) - set(arrays))
        if missing:
            raise InputError(f"poisoning profile lacks the array(s) {', '.join(missing)}")
        bad = sorted(k for k in _REQUIRED if arrays[k].dtype == object)
        if bad:
            raise InputError(f"poisoning profile array(s) {', '.join(bad)} have object dtype")
        return cls(dict(meta), {k: np.asarray(arrays[k]) for k in _REQUIRED})


_REQUIRED = (
    *_SAMPLE_KEYS,
    "label_cdf",
    "label_counts",
    "spike_edges",
    "spike_bin_counts",
    "spike_values",
    "spike_value_counts",
    "spike_value_offsets",
    "spike_value_bound",
    "dup_ref_hashes",
    "dup_ref_labels",
    "dup_ref_counts",
    "dup_tolerances",
)


def fit_reference(
    reference: pd.DataFrame,
    *,
    label: str,
    numeric: list[str],
    categorical: list[str],
    settings: PoisonPolicy,
    seed: int = 0,
) -> PoisonReference:
    """Profile a trusted, labelled reference batch for the poisoning detectors.

    Raises:
        InputError: a column is missing or not numeric, the label has fewer than two classes,
            or fewer than ``settings.min_reference_rows`` rows have a label.
    """
    from threadpoolctl import threadpool_limits

    encoder = Encoder.fit(reference, label=label, numeric=numeric, categorical=categorical)
    full = encoder.encode(reference, what="reference")
    labelled = np.nonzero(full.y >= 0)[0]
    if labelled.shape[0] < settings.min_reference_rows:
        raise InputError(
            f"reference has {labelled.shape[0]} labelled rows; the poisoning detectors need at "
            f"least {settings.min_reference_rows} (gates.drift.poison.min_reference_rows)"
        )
    full = full.take(labelled)
    n_classes = len(encoder.classes)
    rows = _stratified_sample(full.y, settings.max_training_rows, seed)
    sample = full.take(rows)
    with threadpool_limits(limits=settings.threads):
        oof = model.out_of_fold_proba(
            sample.model_matrix, sample.y, n_classes, sample.x_cat.shape[1], seed
        )
    label_meta, cdf = label_consistency.calibrate(sample.y, oof, seed)
    tol = duplicates.tolerances(full.x_num, settings.near_duplicate_tolerance)
    dup_meta = duplicates.natural_rates(sample.x_num, sample.x_cat, sample.y, sample.hashes, tol)
    arrays = {
        "sample_x_num": sample.x_num,
        "sample_x_cat": sample.x_cat,
        "sample_y": sample.y,
        "sample_hashes": sample.hashes,
        "label_cdf": cdf,
        "label_counts": np.bincount(full.y, minlength=n_classes).astype(np.int64),
        "dup_tolerances": tol,
        **spike.profile(full.x_num, full.x_cat, full.y, n_classes),
        **duplicates.reference_labels(full.hashes, full.y, n_classes),
    }
    dup_meta["exact_conflicting_rows"] = duplicates.exact_conflicts(arrays)
    meta = {
        "version": STATE_VERSION,
        "seed": int(seed),
        "rows": int(full.y.shape[0]),
        "sample_rows": int(sample.y.shape[0]),
        "max_training_rows": settings.max_training_rows,
        "near_duplicate_tolerance": settings.near_duplicate_tolerance,
        "encoder": encoder.to_meta(),
        "label_consistency": label_meta,
        "duplicates": dup_meta,
    }
    return PoisonReference(meta, arrays)


def _stratified_sample(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` row positions, each class in proportion (every class kept), in order."""
    if y.shape[0] <= limit:
        return np.arange(y.shape[0])
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(y):
        members = np.nonzero(y == c)[0]
        take = min(members.shape[0], max(50, round(limit * members.shape[0] / y.shape[0])))
        picked.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(picked))
