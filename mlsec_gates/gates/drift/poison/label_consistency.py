"""Label consistency: does the trusted reference model believe each row's label?

Each current row is scored with cleanlab's self-confidence (the probability the reference
model gives to the row's own label). The model is trained on the reference only: a model
trained on the poisoned batch learns the backdoor and vouches for it. A score becomes a
p-value against the reference's own out-of-fold scores (a smoothed, kernel-density tail, so
small references still give small p-values); those p-values go into the batch-wide
Benjamini-Hochberg at ``suspect_fdr`` (:mod:`.assess`), which keeps the suspects' precision
near ``1 - suspect_fdr`` whatever the poison rate.
The batch test compares how many rows fall below the reference's 1 % tail with how many
reference rows do (one-sided Fisher exact test).

The same calibration says how detectable flips are at all: flipping each reference row's
label to another class, what share of them would fall in that 1 % tail (``expected flip
recall``). A model barely better than chance gives a low figure, and the report says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from mlsec_gates.gates.drift.poison.encoding import MISSING_LABEL, UNSEEN_LABEL
from mlsec_gates.gates.drift.poison.outcome import DetectorOutcome, Suspect
from mlsec_gates.gates.drift.poison.stats import bh_qvalues

NAME = "label_consistency"
#: Row p-value below which a row counts in the batch test (the reference's ~1 % tail).
TAIL = 0.01
#: Rows with a q-value above this are never candidates (keeps the lists short).
CANDIDATE_Q = 0.5
#: Balanced accuracy and expected flip recall below which the data are "weak signal".
WEAK_ACCURACY = 0.8
WEAK_RECALL = 0.5
_CLIP = 1e-6
_GRID = np.linspace(-15.0, 15.0, 3001)


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _CLIP, 1 - _CLIP)
    return np.log(p) - np.log1p(-p)


def self_confidence(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Cleanlab's self-confidence label quality score (0 for unseen or missing labels)."""
    from cleanlab.rank import get_label_quality_scores

    scores = np.zeros(labels.shape[0], dtype=np.float64)
    known = labels >= 0
    if known.any():
        scores[known] = get_label_quality_scores(
            labels[known], proba[known], method="self_confidence", adjust_pred_probs=False
        )
    return scores


def calibrate(y: np.ndarray, oof: np.ndarray, seed: int) -> tuple[dict[str, Any], np.ndarray]:
    """Clean-score tail and detectability from the reference's out-of-fold probabilities.

    Returns JSON-safe facts and the tail CDF on a fixed logit grid (a plain float array).
    """
    logits = _logit(self_confidence(y, oof))
    sd = float(np.std(logits))
    iqr = float(np.subtract(*np.percentile(logits, [75, 25])))
    spread = min(sd, iqr / 1.349) if iqr > 0 else sd
    bandwidth = max(0.9 * spread * logits.shape[0] ** -0.2, 0.25)
    hist, edges = np.histogram(logits, bins=_GRID.shape[0], range=(-15.1, 15.1))
    centres = (edges[:-1] + edges[1:]) / 2
    weights = hist / hist.sum()
    cdf = special.ndtr((_GRID[:, None] - centres[None, hist > 0]) / bandwidth) @ weights[hist > 0]
    ref_p = np.interp(logits, _GRID, cdf)
    in_tail = int(np.sum(ref_p <= TAIL))
    rng = np.random.default_rng(seed)
    n_classes = oof.shape[1]
    flipped = (y + rng.integers(1, n_classes, size=y.shape[0])) % n_classes
    flip_p = np.interp(_logit(oof[np.arange(y.shape[0]), flipped]), _GRID, cdf)
    accuracy = float(np.mean([np.mean(oof[y == c].argmax(1) == c) for c in np.unique(y)]))
    recall = float(np.mean(flip_p <= TAIL))
    weak = accuracy < WEAK_ACCURACY or recall < WEAK_RECALL
    note = _signal_note(accuracy, recall, weak)
    meta = {
        "bandwidth": bandwidth,
        "tail_rows": in_tail,
        "rows": int(y.shape[0]),
        "detectability": {
            "reference_balanced_accuracy": round(accuracy, 4),
            "expected_flip_recall": round(recall, 4),
            "clean_tail_rate": round(in_tail / max(1, y.shape[0]), 4),
            "weak_signal": bool(weak),
            "note": note,
        },
    }
    return meta, cdf


def _signal_note(accuracy: float, recall: float, weak: bool) -> str:
    """One wording for how far flip detection can be trusted (see the drift digest)."""
    if not weak:
        return (
            f"Label checks are reliable on this data: the reference model predicts the label "
            f"with balanced accuracy {accuracy:.2f}, and about {recall:.0%} of flipped labels "
            "stand out."
        )
    reasons = []
    if accuracy < WEAK_ACCURACY:
        reasons.append(
            f"the reference model predicts the label with balanced accuracy only {accuracy:.2f} "
            f"({WEAK_ACCURACY:.2f} needed)"
        )
    if recall < WEAK_RECALL:
        reasons.append(
            f"only about {recall:.0%} of flipped labels would stand out ({WEAK_RECALL:.0%} needed)"
        )
    return (
        "Label checks are weak on this data: "
        + "; ".join(reasons)
        + ". A quiet label check is not evidence of clean labels; large or one-sided flips "
        "still show in the label-distribution test."
    )


def row_pvalues(ref: Any, labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per row, the share of clean reference rows whose label looks at least as wrong.

    0 for a label the reference never had; 1 for a missing label (nothing to judge).
    """
    pvalues = np.interp(_logit(self_confidence(labels, proba)), _GRID, ref.label_cdf)
    pvalues[labels == UNSEEN_LABEL] = 0.0
    pvalues[labels == MISSING_LABEL] = 1.0
    return pvalues


class LabelConsistency:
    """Rows whose label the reference model confidently disagrees with."""

    name = NAME
    weight = 2

    def run(self, ctx: Any, alpha: float) -> DetectorOutcome:
        """Score the current batch; suspects by Benjamini-Hochberg, alarm by Fisher."""
        ref, cur, settings = ctx.ref, ctx.current, ctx.settings
        scores = self_confidence(cur.y, ctx.proba)
        pvalues = ctx.label_p
        unseen = cur.y == UNSEEN_LABEL
        usable = cur.y != MISSING_LABEL
        # Candidates only, with Benjamini-Hochberg q-values over the batch's labelled rows;
        # assess() keeps those at most suspect_fdr.
        qvalues = np.ones(len(cur))
        qvalues[usable] = bh_qvalues(pvalues[usable])
        flagged = usable & (qvalues <= CANDIDATE_Q)
        in_tail = int(np.sum(pvalues[usable] <= TAIL))
        meta = ref.label_meta
        table = [
            [in_tail, int(usable.sum()) - in_tail],
            [meta["tail_rows"], meta["rows"] - meta["tail_rows"]],
        ]
        p_batch = (
            float(stats.fisher_exact(table, alternative="greater").pvalue) if usable.any() else 1.0
        )
        classes = ref.encoder.classes
        suspects = []
        for row in np.nonzero(flagged)[0]:
            if unseen[row]:
                reason = f"label {cur.raw_labels[row]!r} never seen in the reference"
            else:
                predicted = int(ctx.proba[row].argmax())
                reason = (
                    f"label {classes[cur.y[row]]!r} unlikely ({scores[row]:.2f}); the reference "
                    f"model expects {classes[predicted]!r} ({ctx.proba[row, predicted]:.2f})"
                )
            suspects.append(
                Suspect(int(row), float(1.0 - scores[row]), reason, NAME, p=float(qvalues[row]))
            )
        alarm = p_batch <= alpha
        expected = meta["tail_rows"] / max(1, meta["rows"]) * int(usable.sum())
        summary = (
            f"{in_tail} of {int(usable.sum())} rows carry a label the reference model strongly "
            f"doubts (about {expected:.0f} expected on clean data, {_p(p_batch)}); "
            f"{len(suspects)} listed as suspects"
        )
        details = {
            "rows_in_tail": in_tail,
            "reference_rows_in_tail": meta["tail_rows"],
            "unseen_labels": int(unseen.sum()),
            "missing_labels": int((cur.y == MISSING_LABEL).sum()),
            "suspect_fdr": settings.suspect_fdr,
        }
        return DetectorOutcome(NAME, p_batch, alpha, alarm, summary, tuple(suspects), details)
