"""The per-feature importance chart of the explainability check, as standalone SVG text.

Kept in ``details.plots`` of the report; the HTML reports show it through ``<img>`` as a
``data:`` URI (feature names are XML-escaped, and an image never runs script).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

#: Bars drawn at most (the rest are in the JSON).
MAX_BARS = 25


def importance_svg(rows: list[dict[str, Any]], *, flagged: set[str]) -> str:
    """Horizontal bars of permutation importance (accuracy drop), flagged features in red."""
    rows = [r for r in rows if isinstance(r.get("importance"), (int, float))][:MAX_BARS]
    if not rows:
        return ""
    label_w, bar_w, row_h = 220, 360, 20
    top = max(max(r["importance"] for r in rows), 1e-9)
    height = 34 + row_h * len(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        '<text x="4" y="14">permutation importance (accuracy lost when shuffled)</text>',
    ]
    for i, row in enumerate(rows):
        y = 24 + i * row_h
        value = float(row["importance"])
        width = bar_w * max(value, 0.0) / top
        color = "#b3261e" if row["feature"] in flagged else "#4a6fa5"
        name = escape(str(row["feature"])[:30])
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{name}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{max(width, 1):.1f}" height="13" '
            f'fill="{color}"/>'
        )
        parts.append(f'<text x="{label_w + width + 4:.1f}" y="{y + 12}">{value:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)
