"""The plots of the combined report: every image a gate report holds, as safe ``<img>`` sources.

The drift gate's per-column chart is drawn here from the numbers the gate decided on
(``details.checks``), at the width of the page: one bar per column, readable labels. The
histograms of the drifted columns are drawn with the drift gate's own
:func:`~mlsec_gates.gates.drift.plots.histogram_svg`; any other image kept in a report's
details or evidence is shown as it is (SVG base64-encoded, so no script in it ever runs).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape as xml_escape

__all__ = ["MAX_IMAGES", "drift_chart", "gate_images", "images"]

MAX_IMAGES = 24
"""Plots shown per gate (the gate's own report has them all)."""
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+")
#: Columns drawn in the per-column drift chart.
_MAX_COLUMNS = 40
#: Chart geometry (pixels): one row per column, a label column, the bar area.
_ROW, _LABEL_W, _BAR_W, _FONT = 28, 260, 620, 14
#: Bars span log10(score) from _LO to _HI: 1000x under the threshold to 10^6 over it.
_LO, _HI = -3.0, 6.0


def images(value: Any, label: str, depth: int = 0) -> list[dict[str, str]]:
    """Plots kept in a report's details or evidence, as ``data:`` URIs safe for ``<img>``.

    PNG/JPEG/GIF/WebP data URIs are kept as they are; SVG text is base64-encoded into a data
    URI, so it is shown as an image and any script in it never runs.
    """
    if depth > 5:
        return []
    if isinstance(value, str):
        text = value.strip()
        if _DATA_IMAGE.fullmatch(text):
            return [{"label": label, "src": re.sub(r"\s", "", text)}]
        if text.startswith("<svg") or (text.startswith("<?xml") and "<svg" in text[:500]):
            return [{"label": label, "src": _svg_src(text)}]
        return []
    out: list[dict[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            out += images(item, f"{label}.{key}" if depth else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value[:200]):
            out += images(item, f"{label}[{index}]", depth + 1)
    return out


def gate_images(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every plot a gate report holds, as ``<img>`` sources, the drift chart first.

    Each entry has ``label``, ``src`` and ``wide`` (``"1"`` for a chart drawn at page width).
    """
    found = drift_chart(details) + _histograms(details) + images(details, "details")
    return found[:MAX_IMAGES]


def _histograms(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """The drift gate's reference-vs-current histograms (``details.histograms``)."""
    histograms = details.get("histograms")
    if not isinstance(histograms, Mapping) or not histograms:
        return []
    from mlsec_gates.gates.drift.plots import histogram_svg

    out = []
    for column, data in histograms.items():
        svg = histogram_svg(data) if isinstance(data, dict) else ""
        if svg:
            label = f"{column}: reference (grey) vs current (orange)"
            out.append({"label": label, "src": _svg_src(svg)})
    return out


def drift_chart(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """A bar chart of the drift gate's per-column checks, as an SVG ``data:`` URI.

    Each bar is how far the column is past its threshold, on a log scale: ``threshold / p``
    for p-value tests, ``statistic / threshold`` for distances; a bar that crosses the
    line drifted. The statistic and threshold are printed at the end of each bar (rounded
    to 3 significant digits). Column names are XML-escaped, and the chart is shown through
    ``<img>``.
    """
    checks = [
        c
        for c in details.get("checks", [])
        if isinstance(c, Mapping)
        and "column" in c  # per-column checks (the model-eval gate's checks have none)
        and isinstance(c.get("statistic"), (int, float))
        and isinstance(c.get("threshold"), (int, float))
        and c.get("threshold", 0) > 0
    ][:_MAX_COLUMNS]
    if not checks:
        return []
    width = _LABEL_W + _BAR_W + 190
    height = _ROW * len(checks) + 40

    def x(score: float) -> float:
        return _LABEL_W + _BAR_W * (min(max(score, _LO), _HI) - _LO) / (_HI - _LO)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{_FONT}">',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for i, check in enumerate(checks):
        stat, threshold = float(check["statistic"]), float(check["threshold"])
        p_value = check.get("statistic_kind") == "p_value"
        if p_value:
            score = math.log10(threshold / max(stat, 1e-12))
        else:
            score = math.log10(max(stat, 1e-12) / threshold)
        y = 26 + i * _ROW
        color = "#b3261e" if check.get("drifted") else "#8a96a3"
        name = xml_escape(str(check.get("column", "?"))[:34])
        parts.append(f'<text x="{_LABEL_W - 8}" y="{y + 15}" text-anchor="end">{name}</text>')
        left, right = sorted((x(0.0), x(score)))
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 2}" width="{max(right - left, 1):.1f}" height="18" '
            f'fill="{color}"/>'
        )
        relation = "p" if p_value else "stat"
        label = f"{relation} {stat:.3g} / {threshold:.3g}"
        parts.append(
            f'<text x="{_LABEL_W + _BAR_W + 8}" y="{y + 15}" fill="#55606b">{label}</text>'
        )
    parts.append(
        f'<line x1="{x(0.0):.1f}" y1="18" x2="{x(0.0):.1f}" y2="{height - 6}" '
        'stroke="#1d232a" stroke-dasharray="4,3"/>'
    )
    parts.append(
        f'<text x="{x(0.0) + 5:.1f}" y="14">threshold (bars to the right drifted)</text></svg>'
    )
    src = _svg_src("".join(parts))
    return [{"label": "drift per column", "src": src, "wide": "1"}]


def _svg_src(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
