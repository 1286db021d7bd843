"""Storing a :class:`~.summary.NumericSummary` in a drift profile, and reading it back.

A profile column is either the in-memory engine's sorted values (``num/<i>``) or, for a
large column summarised by Spark, a sketch: ``sum/<i>/sketch`` (values at probabilities
``k / GRID``), ``sum/<i>/values`` + ``sum/<i>/counts`` when the column has few values, and
the scalars (count, distinct count, min, max, standard deviation, rank error) in the JSON
header. Plain float and integer arrays only: the profile is still loaded without pickle.
"""

from __future__ import annotations

from typing import Any

from mlsec_gates.gates.drift.engines.summary import GRID, NumericSummary
from mlsec_gates.gates.drift.stattests import CategoryCounts


def summary_arrays(i: int, summary: NumericSummary) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header fields and arrays of column ``i``."""
    import numpy as np

    entry = {
        "summary": True,
        "integer": summary.integer,
        "n": summary.n,
        "nunique": summary.nunique,
        "min": summary.minimum,
        "max": summary.maximum,
        "std": summary.std,
        "rank_error": summary.rank_error,
        "grid": GRID,
    }
    arrays: dict[str, Any] = {}
    if summary.sketch is not None:
        arrays[f"sum/{i}/sketch"] = np.asarray(summary.sketch, dtype=np.float64)
    if summary.counts is not None:
        arrays[f"sum/{i}/values"] = np.asarray(summary.counts.values, dtype=np.float64)
        arrays[f"sum/{i}/counts"] = np.asarray(summary.counts.counts, dtype=np.int64)
    return entry, arrays


def summary_from_arrays(i: int, entry: dict[str, Any], arrays: dict[str, Any]) -> NumericSummary:
    """Column ``i`` back from the header entry and the arrays.

    Raises:
        ValueError: a sketch of another grid size, or inconsistent arrays.
    """
    import numpy as np

    if int(entry.get("grid", GRID)) != GRID:
        raise ValueError(f"column {entry.get('name')!r}: sketch grid {entry['grid']} != {GRID}")
    counts = None
    if f"sum/{i}/values" in arrays:
        counts = CategoryCounts(
            np.asarray(arrays[f"sum/{i}/values"], dtype=np.float64),
            np.asarray(arrays[f"sum/{i}/counts"], dtype=np.int64),
        )
    sketch = arrays.get(f"sum/{i}/sketch")
    if sketch is not None:
        sketch = np.asarray(sketch, dtype=np.float64)
        if sketch.shape != (GRID + 1,) or np.any(np.diff(sketch) < 0):
            raise ValueError(f"column {entry.get('name')!r}: malformed sketch")
    if sketch is None and counts is None:
        raise ValueError(f"column {entry.get('name')!r}: summary without sketch or counts")
    return NumericSummary(
        n=int(entry["n"]),
        nunique=int(entry["nunique"]),
        minimum=float(entry["min"]),
        maximum=float(entry["max"]),
        std=float(entry["std"]),
        integer=bool(entry.get("integer")),
        counts=counts,
        sketch=sketch,
        rank_error=float(entry.get("rank_error", 0.0)),
    )
