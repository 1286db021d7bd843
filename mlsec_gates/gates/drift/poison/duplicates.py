"""Exact and near duplicates: repeated rows, and repeated rows whose label changed.

Two rows are near duplicates when every numeric feature differs by at most
``near_duplicate_tolerance`` reference standard deviations and every category is equal;
exact duplicates (equal raw features, by row hash) are a special case and are also matched
against *every* reference row, near ones against the stored reference sample. A per-feature
box (Chebyshev distance in tolerance units) does not collapse on integer or discrete data the
way one Euclidean distance threshold does: equal values are always within it.

Rows are grouped by linking near pairs; in each group the earliest row (reference rows come
first, then the current batch in order) is the original and only *later* rows are repeats. A
repeat *conflicts* when its label differs from the group's established one (the reference
majority, else the earliest row's). Both counts are judged against the reference's natural
rates (its own duplicates and conflicts, scaled by the number of earlier rows each current row
can repeat) with an exact two-sample test, so data that naturally repeat do not alarm.
Repeats are row suspects when their test rejects, or when the reference has none at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlsec_gates.gates.drift.poison.outcome import DetectorOutcome, Suspect
from mlsec_gates.gates.drift.poison.stats import two_sample_count_p

NAME = "duplicates"
#: Neighbour pairs per row above which the near-duplicate search gives up (exact only).
MAX_PAIRS_PER_ROW = 20
#: Features the candidate search indexes (the rest are checked on the candidates).
SEARCH_DIMS = 4
_CONFLICT_SCORE = {True: 0.95, False: 0.9}  # exact / near
_REPEAT_SCORE = 0.6


def tolerances(x_num: np.ndarray, tolerance: float) -> np.ndarray:
    """Per numeric feature, the largest difference still "near" (in the feature's units)."""
    if not x_num.shape[1]:
        return np.zeros(0)
    sd = np.nanstd(x_num, axis=0)
    return np.where(np.isfinite(sd) & (sd > 0), tolerance * sd, 1.0)


def _points(x_num: np.ndarray, x_cat: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Rows in tolerance units: near duplicates are within Chebyshev distance 1."""
    scaled = np.where(np.isnan(x_num), -1e12, x_num / tol) if x_num.shape[1] else x_num
    return np.hstack([scaled, 4.0 * x_cat.astype(np.float64)])


def groups(points: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, bool]:
    """Group id of each row (equal hash or chain of near pairs), and whether the near search ran.

    Candidates come from a KD-tree on at most :data:`SEARCH_DIMS` features (those with the
    most distinct values: being near on all features implies being near on these), then are
    checked on every feature. The search gives up (exact duplicates only) when rows crowd
    into the same cells (more than :data:`MAX_PAIRS_PER_ROW` candidate pairs per row), which
    bounds time and memory on dense data.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    reps = points[first]
    n = reps.shape[0]
    if n < 2 or not reps.shape[1]:
        return inverse, False
    distinct = [np.unique(reps[:, j]).shape[0] for j in range(reps.shape[1])]
    dims = np.sort(np.argsort(distinct, kind="stable")[::-1][:SEARCH_DIMS])
    # Rows sharing a unit cell of the indexed features are all candidate pairs: a cheap lower
    # bound of the pair count, checked before the search can allocate them.
    cells = np.floor(np.clip(reps[:, dims], -1e15, 1e15)).astype(np.int64)
    _, per_cell = np.unique(_row_keys(cells), return_counts=True)
    if int(np.sum(per_cell * (per_cell - 1) // 2)) > MAX_PAIRS_PER_ROW * n:
        return inverse, False
    tree = cKDTree(reps[:, dims])
    pairs = tree.query_pairs(1.0, p=np.inf, output_type="ndarray")
    near = np.abs(reps[pairs[:, 0]] - reps[pairs[:, 1]]).max(axis=1) <= 1.0
    src, dst = pairs[near, 0], pairs[near, 1]
    graph = coo_matrix((np.ones(src.shape[0]), (src, dst)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels[inverse], True


def _row_keys(cells: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of integer cells (collisions only make the bound larger)."""
    import pandas as pd

    return pd.util.hash_pandas_object(pd.DataFrame(cells), index=False).to_numpy()


def natural_rates(
    x_num: np.ndarray, x_cat: np.ndarray, y: np.ndarray, hashes: np.ndarray, tol: np.ndarray
) -> dict[str, Any]:
    """How often reference rows have a (near) duplicate, and one with another label."""
    group, near = groups(_points(x_num, x_cat, tol), hashes)
    size = np.bincount(group)
    labels_per_group = np.zeros((size.shape[0], int(y.max()) + 1), dtype=np.int64)
    np.add.at(labels_per_group, (group, y), 1)
    repeated = size[group] >= 2
    conflicting = (size[group] - labels_per_group[group, y]) > 0
    return {
        "rows": int(y.shape[0]),
        "repeated_rows": int(repeated.sum()),
        "conflicting_rows": int(conflicting.sum()),
        "near_search": near,
    }


def reference_labels(hashes: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Every distinct reference row hash: its label (-1 if the reference conflicts), row count."""
    uniq, inverse = np.unique(hashes, return_inverse=True)
    counts = np.zeros((uniq.shape[0], n_classes), dtype=np.int64)
    np.add.at(counts, (inverse.ravel(), y), 1)
    label = np.where((counts > 0).sum(axis=1) > 1, -1, counts.argmax(axis=1)).astype(np.int32)
    return {
        "dup_ref_hashes": uniq.astype(np.uint64),
        "dup_ref_labels": label,
        "dup_ref_counts": counts.sum(axis=1).astype(np.int64),
    }


def exact_conflicts(arrays: dict[str, np.ndarray]) -> int:
    """Reference rows whose exact copies in the reference carry another label."""
    return int(arrays["dup_ref_counts"][arrays["dup_ref_labels"] < 0].sum())


class Duplicates:
    """Repeats and label-conflicting repeats, judged against the reference's natural rates."""

    name = NAME
    weight = 1

    def run(self, ctx: Any, alpha: float) -> DetectorOutcome:
        """Group the sample and the batch; count later repeats and conflicts; test both."""
        ref, cur = ctx.ref, ctx.current
        arrays, sample = ref.arrays, ref.sample
        n_s, n_cur = len(sample), len(cur)
        tol = arrays["dup_tolerances"]
        points = np.vstack(
            [_points(sample.x_num, sample.x_cat, tol), _points(cur.x_num, cur.x_cat, tol)]
        )
        group, near = groups(points, np.concatenate([sample.hashes, cur.hashes]))
        n_groups = int(group.max()) + 1 if group.size else 0
        node = np.arange(n_s + n_cur)
        first = np.full(n_groups, n_s + n_cur)
        np.minimum.at(first, group, node)
        ref_votes = np.zeros((n_groups, len(ref.encoder.classes)), dtype=np.int64)
        np.add.at(ref_votes, (group[:n_s], sample.y), 1)
        y_all = np.concatenate([sample.y, cur.y])
        established = np.where(ref_votes.sum(axis=1) > 0, ref_votes.argmax(axis=1), y_all[first])
        g_cur = group[n_s:]
        repeat = first[g_cur] != node[n_s:]
        label_of = established[g_cur]
        hashes = arrays["dup_ref_hashes"]
        pos = np.minimum(np.searchsorted(hashes, cur.hashes), max(0, hashes.shape[0] - 1))
        in_ref = hashes[pos] == cur.hashes if hashes.shape[0] else np.zeros(n_cur, dtype=bool)
        repeat |= in_ref
        label_of = np.where(in_ref, arrays["dup_ref_labels"][pos], label_of)
        exact = in_ref | _seen_before(cur.hashes)
        conflict = repeat & (label_of >= 0) & (cur.y >= 0) & (cur.y != label_of)
        plain = repeat & ~conflict
        meta = ref.dup_meta
        e_ref = meta["rows"] * max(1, meta["rows"] - 1)
        e_cur = n_cur * ref.n_rows + n_cur * (n_cur - 1) / 2
        share = e_cur / (e_cur + e_ref)
        p_conflict = float(two_sample_count_p(conflict.sum(), meta["conflicting_rows"], share))
        p_repeat = float(two_sample_count_p(plain.sum(), meta["repeated_rows"], share))
        p_batch = min(1.0, 2 * min(p_conflict, p_repeat))
        conflict_alarm = 2 * p_conflict <= alpha
        repeat_alarm = 2 * p_repeat <= alpha
        # Per kind of repeat, the share of such rows a clean batch would have: expected (the
        # reference's natural rate times the batch) over observed. An exact copy of a
        # trusted reference row under another label contradicts the reference unless the
        # reference itself has such conflicts: with none there, every such copy is a suspect.
        stretch = (ref.n_rows + n_cur / 2) / max(1, ref.n_rows)
        exact_conflict = conflict & in_ref
        other_conflict = conflict & ~in_ref
        rates = (
            (exact_conflict, meta.get("exact_conflicting_rows", 0) / max(1, ref.n_rows)),
            (other_conflict, meta["conflicting_rows"] / max(1, meta["rows"])),
            (plain, meta["repeated_rows"] / max(1, meta["rows"])),
        )
        lfdr = np.ones(n_cur)
        for kind, rate in rates:
            if kind.any():
                lfdr[kind] = min(1.0, rate * stretch * n_cur / int(kind.sum()))
        # Per group too: a flood of copies of a few rows swells their groups far beyond what
        # the reference's share of that group predicts (expected over observed batch rows).
        in_sample = np.bincount(group[:n_s], minlength=n_groups)
        in_batch = np.bincount(g_cur, minlength=n_groups)
        expected = (in_sample[g_cur] + 0.5) * n_cur / max(1, n_s)
        lfdr = np.where(repeat, np.minimum(lfdr, expected / in_batch[g_cur]), lfdr)
        suspects = []
        classes = ref.encoder.classes
        for row in np.nonzero(conflict)[0]:
            suspects.append(
                Suspect(
                    int(row),
                    _CONFLICT_SCORE[bool(exact[row])],
                    f"{'exact' if exact[row] else 'near'} copy of "
                    f"{_origin(row, in_ref, first, g_cur, n_s)} labelled "
                    f"{classes[label_of[row]]!r}, here {classes[cur.y[row]]!r}",
                    NAME,
                    p=float(lfdr[row]),
                )
            )
        for row in np.nonzero(plain)[0]:
            suspects.append(
                Suspect(
                    int(row),
                    _REPEAT_SCORE,
                    f"{'exact' if exact[row] else 'near'} copy of "
                    f"{_origin(row, in_ref, first, g_cur, n_s)} (the reference "
                    f"{'has no copies' if meta['repeated_rows'] == 0 else 'has fewer'})",
                    NAME,
                    p=float(lfdr[row]),
                )
            )
        summary = (
            f"{int(conflict.sum())} rows repeat earlier or reference rows with another label, "
            f"{int(plain.sum())} repeat them with the same label (reference: "
            f"{meta['conflicting_rows']} and {meta['repeated_rows']} of {meta['rows']} rows)"
        )
        details = {
            "conflicting_rows": int(conflict.sum()),
            "repeated_rows": int(plain.sum()),
            "p_conflict": p_conflict,
            "p_repeat": p_repeat,
            "conflict_alarm": conflict_alarm,
            "repeat_alarm": repeat_alarm,
            "near_search": near,
        }
        return DetectorOutcome(
            NAME, p_batch, alpha, conflict_alarm or repeat_alarm, summary, tuple(suspects), details
        )


def _seen_before(hashes: np.ndarray) -> np.ndarray:
    """True for rows whose exact hash already occurred earlier in the batch."""
    _, first = np.unique(hashes, return_index=True)
    seen = np.ones(hashes.shape[0], dtype=bool)
    seen[first] = False
    return seen


def _origin(row: int, in_ref: np.ndarray, first: np.ndarray, g_cur: np.ndarray, n_s: int) -> str:
    """Which earlier row this one repeats, for the reason text."""
    origin = int(first[g_cur[row]])
    if in_ref[row] or origin < n_s:
        return "a reference row"
    return f"row {origin - n_s}"
