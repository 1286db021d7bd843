"""Evidently's drift page, for people: rendered on a bounded sample, never deciding.

The gate's decision comes from :mod:`.engine`. Evidently's ``DataDriftPreset`` page is what
many teams already know how to read, so it is written next to our report and linked from
it, computed with the same method and thresholds on at most ``report_sample_rows`` rows per
side (Evidently needs ~2 minutes and 1.6 GB for 1M x 20). When it is sampled, the page says
so in a banner at the top. A failure to render is a low-severity finding, not a failure.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

EVIDENTLY_PAGE = "evidently-drift.html"


def render_evidently_page(
    reference: Any,
    current: Any,
    kinds: Mapping[str, str],
    *,
    method: str,
    threshold: float | None,
    per_column: Mapping[str, Any],
    drift_share: float,
    sample_rows: int,
    reference_rows: int,
    current_rows: int | None = None,
) -> str:
    """The standalone HTML of Evidently's drift preset on (samples of) both frames.

    ``reference_rows`` and ``current_rows`` are the full row counts (either frame may
    already be a sample: the one stored in a profile, or the current batch's when only
    its summaries were kept). Evidently is imported here, lazily.
    """
    from mlsec_gates.gates.drift.evidently_inputs import neutralise_frames
    from mlsec_gates.gates.drift.profile import sample_frame

    logging.getLogger("evidently").setLevel(logging.WARNING)
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(kinds)
    ref = sample_frame(reference[columns], sample_rows)
    cur = sample_frame(current[columns], sample_rows)
    # Untrusted names and values must not become markup in Evidently's page.
    ref, cur, kinds, per_column = neutralise_frames(ref, cur, kinds, per_column)
    columns = list(kinds)
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    categorical = [c for c, k in kinds.items() if k != "numeric"]
    ref, cur = _as_strings(ref, categorical), _as_strings(cur, categorical)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    preset = DataDriftPreset(
        columns=columns,
        method=None if method == "auto" else method,
        threshold=threshold,
        per_column_method={
            c: s.method for c, s in per_column.items() if s.method not in (None, "auto")
        }
        or None,
        per_column_threshold={c: s.threshold for c, s in per_column.items() if s.threshold} or None,
        drift_share=drift_share,
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    page = snapshot.get_html_str(as_iframe=False)
    note = _banner(len(ref), reference_rows, len(cur), current_rows or len(current))
    head, sep, tail = page.partition("<body>")
    return head + sep + note + tail if sep else note + page


def _as_strings(frame: Any, columns: list[str]) -> Any:
    """Categorical columns as strings (missing values kept), as the engine compares them."""
    if not columns:
        return frame
    out = frame.copy()
    for name in columns:
        out[name] = out[name].where(out[name].isna(), out[name].astype(str))
    return out


def _banner(ref_used: int, ref_total: int, cur_used: int, cur_total: int) -> str:
    sampled = ref_used < ref_total or cur_used < cur_total
    text = (
        "Produced by mlsec-gates for people reviewing the batch. The gate's pass/fail comes "
        "from its own engine (same methods and thresholds), not from this page. "
    )
    if sampled:
        text += (
            f"This page is computed on a random sample: {ref_used} of {ref_total} reference "
            f"rows and {cur_used} of {cur_total} current rows, so its numbers can differ "
            "from the gate's."
        )
    else:
        text += "Computed on every row."
    style = (
        "font-family:sans-serif;padding:10px 16px;background:#fff4ce;"
        "border-bottom:1px solid #e0c060;font-size:14px"
    )
    return f'<div style="{style}">{html.escape(text)}</div>'
