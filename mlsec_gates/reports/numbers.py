"""Numbers as people read them: floats rounded for display, never in the JSON reports.

The JSON reports keep every digit the gate computed (machines compare them); the HTML and
Markdown renderings show 4 significant digits (``0.0001234``, ``12.35``, ``1.235e+06``), so
a p-value or a statistic reads at a glance.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["rounded", "shown"]

SIGNIFICANT = 4


def shown(value: Any) -> str:
    """One value as text: a float rounded to :data:`SIGNIFICANT` digits, else ``str``."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.{SIGNIFICANT}g}"
    return "null" if value is None else str(value)


def rounded(value: Any, depth: int = 0) -> Any:
    """``value`` with every finite float inside (dicts, lists, tuples) rounded for display."""
    if isinstance(value, bool) or depth > 20:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{SIGNIFICANT}g}")
    if isinstance(value, dict):
        return {k: rounded(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, depth + 1) for v in value]
    return value
