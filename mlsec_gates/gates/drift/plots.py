"""Small reference-vs-current histograms of the drifted columns, as inline SVG.

The gate stores each drifted column's histogram as plain numbers in the JSON report
(``details.histograms``: bin labels and the share of each side per bin); the HTML report
draws them with :func:`histogram_svg` (no JavaScript, no external assets), so a person sees
at a glance *how* a column moved. Numeric columns get 20 equal-width bins over both sides'
range; categorical columns their 12 most frequent values (both sides together).
"""

from __future__ import annotations

import html
from typing import Any

MAX_PLOTS = 12
"""Most drifted columns drawn, in the data's column order."""
NUMERIC_BINS = 20
TOP_VALUES = 12


def histogram(ref: Any, cur: Any) -> dict[str, Any] | None:
    """Bin labels and per-bin shares of both sides; None when a side has no values."""
    import numpy as np

    from mlsec_gates.gates.drift.stattests import NumericValues, histogram_counts

    if ref.n == 0 or cur.n == 0:
        return None
    if isinstance(ref, NumericValues) and isinstance(cur, NumericValues) and ref.nunique > 12:
        low = float(min(ref.sorted[0], cur.sorted[0]))
        high = float(max(ref.sorted[-1], cur.sorted[-1]))
        edges = np.linspace(low, high, NUMERIC_BINS + 1)
        ref_share = histogram_counts(ref.sorted, edges) / ref.n
        cur_share = histogram_counts(cur.sorted, edges) / cur.n
        labels = [f"{edges[i]:.4g}" for i in range(NUMERIC_BINS)]
        return {
            "labels": labels,
            "reference": [round(float(v), 5) for v in ref_share],
            "current": [round(float(v), 5) for v in cur_share],
            "range": [low, high],
        }
    r, c = ref.per_value().as_dict(), cur.per_value().as_dict()
    keys = sorted(set(r) | set(c), key=lambda k: -(r.get(k, 0) / ref.n + c.get(k, 0) / cur.n))
    keys = keys[:TOP_VALUES]
    return {
        "labels": [str(k) for k in keys],
        "reference": [round(r.get(k, 0) / ref.n, 5) for k in keys],
        "current": [round(c.get(k, 0) / cur.n, 5) for k in keys],
    }


def histogram_svg(data: dict[str, Any], *, width: int = 360, height: int = 120) -> str:
    """Side-by-side bars (reference grey, current orange) as one SVG element; text escaped."""
    labels = list(data.get("labels", []))
    ref = [float(v) for v in data.get("reference", [])]
    cur = [float(v) for v in data.get("current", [])]
    if not labels or len(ref) != len(labels) or len(cur) != len(labels):
        return ""
    top = max([*ref, *cur, 1e-12])
    plot_h = height - 22
    slot = width / len(labels)
    bar = max(slot / 2 - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="reference vs current histogram">'
    ]
    for i, (label, r, c) in enumerate(zip(labels, ref, cur, strict=True)):
        x = i * slot
        sides = ((0, r, "#9aa5b1", "reference"), (bar, c, "#e8833a", "current"))
        for offset, share, colour, side in sides:
            h = plot_h * share / top
            tip = html.escape(f"{label}: {side} {share:.1%}")
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{tip}</title></rect>'
            )
    first, last = html.escape(labels[0]), html.escape(labels[-1])
    if "range" in data:
        last = html.escape(f"{float(data['range'][1]):.4g}")
    parts.append(
        f'<text x="0" y="{height - 6}" font-size="10" fill="#55606b">{first}</text>'
        f'<text x="{width}" y="{height - 6}" font-size="10" fill="#55606b" '
        f'text-anchor="end">{last}</text></svg>'
    )
    return "".join(parts)
