"""Make a batch safe to hand to Evidently's HTML page.

The batch is untrusted input. Evidently writes column names and category values into its
page as JSON inside a ``<script>`` element and into Plotly labels (which accept a little
HTML): a column named ``</script><script>alert(2)</script>`` closed the script and ran. Our
own reports escape everything; Evidently's page cannot be fixed from outside, so what goes
into it is neutralised instead: ``<``, ``>`` and ``&`` in column names and in text values
become look-alike characters (U+2039, U+203A, U+FF06), which no HTML or script parser
treats as markup.
Numbers are untouched, so the statistics Evidently shows are those of the batch.

Example:
    >>> neutralise_text("</script><b>") == "\u2039/script\u203a\u2039b\u203a"
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["neutralise_frames", "neutralise_text"]

_LOOK_ALIKES = str.maketrans({"<": "\u2039", ">": "\u203a", "&": "\uff06"})


def neutralise_text(text: str) -> str:
    """``text`` with ``<``, ``>`` and ``&`` replaced by look-alikes that are never markup."""
    return text.translate(_LOOK_ALIKES)


def neutralise_frames(
    reference: Any,
    current: Any,
    kinds: Mapping[str, str],
    per_column: Mapping[str, Any],
) -> tuple[Any, Any, dict[str, str], dict[str, Any]]:
    """Both frames, the column kinds and per-column settings with neutralised names and text.

    Column names that would collide once neutralised get a ``#n`` suffix. Only text values
    (object and string columns) are rewritten; missing values stay missing.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in kinds:
        safe = neutralise_text(str(column))
        candidate, n = safe, 1
        while candidate in taken:
            n += 1
            candidate = f"{safe}#{n}"
        names[column] = candidate
        taken.add(candidate)
    frames = [_rewrite(frame, names) for frame in (reference, current)]
    return (
        frames[0],
        frames[1],
        {names[c]: k for c, k in kinds.items()},
        {names[c]: s for c, s in per_column.items() if c in names},
    )


def _rewrite(frame: Any, names: Mapping[str, str]) -> Any:
    out = frame[list(names)].rename(columns=dict(names))
    for column in out.columns:
        series = out[column]
        if series.dtype == object or str(series.dtype) in ("string", "category"):
            text = series.astype(object)
            out[column] = text.where(
                text.isna(), text.map(lambda v: neutralise_text(v) if isinstance(v, str) else v)
            )
    return out
