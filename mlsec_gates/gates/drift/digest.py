"""What the drift gate's own report says first: one plain sentence, two short tables, one fix.

The on-call person reading a drift report wants to know what happened in words ("14 of 150
rows look mislabeled"), which rows and columns, and what to do, once. Test statistics,
thresholds and p-values stay in the findings' evidence and in ``details``; here numbers are
rounded to what matters. The digest is plain data (``details.digest``) that the Markdown and
HTML writers render at the top of the report:

- ``headline``: one sentence, also the result's summary;
- ``sections``: tables (title, columns, rows, note): the suspect rows with their values,
  the label they carry and the label the reference model expects; the drifted columns;
- ``what_to_do``: one paragraph for the whole gate, picked by what was found;
- ``signal``: how far the label checks can be trusted on this data (weak-signal wording).

Example:
    >>> headline_for(rows=150, drifted=[], columns=4, suspects=0, kinds={})
    'No drift in 4 columns of 150 rows.'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Suspect rows and drifted columns shown in the report (the CSV has every suspect).
TABLE_ROWS = 10
#: Feature values shown per suspect row.
VALUE_COLUMNS = 6

_KIND_WORDS = {
    "label_consistency": "carry a label the reference model rejects",
    "value_label_spike": "carry a value planted with one label (a trigger pattern)",
    "duplicates": "repeat earlier rows",
}

WHAT_TO_DO = {
    "poison": (
        "Do not train on this batch. Send the suspect rows (suspects CSV) to the data owner: "
        "check their labels against the source, and find where they entered (source, account, "
        "pipeline step). Drop or fix them, then run the gate again."
    ),
    "dataset": (
        "Do not train on this batch until the cause is known: compare the drifted columns' "
        "histograms, then look for a wrong file or date range, a unit or encoding change, or a "
        "new population. If the change is real and vetted, rebuild the reference from it."
    ),
    "warn": (
        "The batch may be used, but look at the drifted columns first: a unit or encoding "
        "change or a broken upstream feed shows up as one or two columns moving. Set "
        "gates.drift.fail_on: column to stop on this, or warn_on: none to silence it."
    ),
    "error": (
        "The gate could not check everything, so it did not pass: fix what the first finding "
        "names (usually the drift extra is not installed), then run it again."
    ),
}


def fmt(value: float | None, digits: int = 3) -> str:
    """A number rounded to what matters: 3 significant digits, ``12,346``, ``1.2e-05``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    if abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def fmt_p(p: float) -> str:
    """A p-value as people read it: ``p = 0.03``, ``p < 0.001``."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}"


def _names(columns: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def headline_for(
    *,
    rows: int,
    drifted: Sequence[str],
    columns: int,
    suspects: int,
    kinds: Mapping[str, int],
    alarm: bool = False,
    dataset: bool = False,
    share: float = 0.5,
    incomplete: bool = False,
    sampled: int | None = None,
) -> str:
    """One sentence: the poisoning verdict first (rows), then drift (columns).

    ``sampled``: how many rows the detectors scored when they saw a sample of the batch
    (the Spark and SQL engines on big batches); None when they saw every row.
    """
    parts = []
    seen = f"{rows:,} rows" if sampled is None else f"{sampled:,} sampled rows (of {rows:,})"
    if alarm and suspects:
        main = max(kinds, key=lambda k: kinds[k]) if kinds else ""
        if main == "label_consistency" and kinds[main] == suspects:
            parts.append(f"{suspects:,} of {seen} look mislabeled")
        else:
            detail = ", ".join(
                f"{n:,} {_KIND_WORDS.get(k, k)}" for k, n in sorted(kinds.items()) if n
            )
            parts.append(f"{suspects:,} of {seen} look poisoned ({detail})")
    elif alarm:
        parts.append(f"the labels of these {seen} do not look like the reference's")
    elif suspects:
        parts.append(f"no poisoning alarm; {suspects:,} of {seen} listed for review")
    if drifted:
        rule = (
            f"dataset drift (at least {share:.0%} of the columns)"
            if dataset
            else f"under the {share:.0%} dataset-drift share"
        )
        parts.append(f"{len(drifted)} of {columns} columns drifted ({_names(drifted)}), {rule}")
    if incomplete:
        parts.append("the poisoning detectors did not run, so the gate could not pass")
    if not parts:
        return f"No drift in {columns} columns of {rows:,} rows."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def suspects_section(
    suspects: Sequence[Any],
    frame: Any,
    label: str,
    features: Sequence[str],
    total: int,
    *,
    positions: Any = None,
) -> dict[str, Any]:
    """The top suspect rows with their values, label and the reference model's expectation.

    ``frame`` is what the detectors scored (``suspect.row`` is a position in it); when it is
    a sample, ``positions`` gives each of its rows' position in the batch, the row shown.
    """
    shown = list(features[:VALUE_COLUMNS])
    rows = []
    for s in suspects[:TABLE_ROWS]:
        values = [_value(frame[c].iloc[s.row]) for c in shown]
        expected = "-" if s.expected is None else f"{s.expected} ({fmt(s.expected_p, 2)})"
        row = s.row if positions is None else int(positions[s.row])
        rows.append([row, s.label if s.label is not None else "-", expected, _why(s), *values])
    more = total - len(rows)
    note = "Row numbers count from 0, data rows only." + (
        f" {more:,} more in the suspects CSV." if more > 0 else ""
    )
    return {
        "title": "Suspect rows",
        "columns": ["row", label, "model expects (probability)", "why", *shown],
        "rows": rows,
        "note": note,
    }


def drift_section(checks: Sequence[Any]) -> dict[str, Any]:
    """The drifted columns: test, rounded statistic, threshold and effect size."""
    rows = []
    drifted = [c for c in checks if c.drifted]
    for c in drifted[:TABLE_ROWS]:
        stat = (
            "-" if c.statistic is None else (fmt_p(c.statistic) if c.p_value else fmt(c.statistic))
        )
        rows.append([c.column, c.method, stat, fmt(c.threshold), c.note or ""])
    more = len(drifted) - len(rows)
    return {
        "title": "Drifted columns",
        "columns": ["column", "test", "statistic", "threshold", "note"],
        "rows": rows,
        "note": f"{more} more in the findings." if more > 0 else "",
    }


def signal_text(detectability: Mapping[str, Any]) -> str:
    """How far the row-level label checks can be trusted here (one consistent wording)."""
    accuracy = float(detectability.get("reference_balanced_accuracy", 0.0))
    recall = float(detectability.get("expected_flip_recall", 0.0))
    if not detectability.get("weak_signal"):
        return (
            f"Label checks are reliable on this data: the reference model predicts the label "
            f"with balanced accuracy {accuracy:.2f}, and about {recall:.0%} of flipped labels "
            "stand out."
        )
    reasons = []
    if accuracy < 0.8:
        reasons.append(
            f"the reference model predicts the label with balanced accuracy only "
            f"{accuracy:.2f} (0.80 needed)"
        )
    if recall < 0.5:
        reasons.append(f"only about {recall:.0%} of flipped labels would stand out (50 % needed)")
    return (
        "Label checks are weak on this data: "
        + "; ".join(reasons or ["too little signal"])
        + ". A quiet label check is not evidence of clean labels; large or one-sided flips "
        "still show in the label-distribution test."
    )


def what_to_do(*, alarm: bool, dataset: bool, warned: bool, incomplete: bool) -> str:
    """The one fix of the gate, by the most serious thing found ("" when nothing was)."""
    if incomplete:
        return WHAT_TO_DO["error"]
    if alarm:
        return WHAT_TO_DO["poison"]
    if dataset:
        return WHAT_TO_DO["dataset"]
    if warned:
        return WHAT_TO_DO["warn"]
    return ""


def _why(suspect: Any) -> str:
    """The first reason of a suspect, short."""
    reason = suspect.reason.split(" | ")[0]
    return reason if len(reason) <= 90 else reason[:87] + "..."


def _value(value: Any) -> Any:
    """A cell as JSON-safe, rounded text or number."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        value = item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return fmt(value, 4)
    return value if isinstance(value, (int, str, bool)) else str(value)
