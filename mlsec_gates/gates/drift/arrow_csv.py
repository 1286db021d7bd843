"""A CSV batch summarised from Arrow's CSV reader, with the numbers the pandas path gives.

Without a label column the drift gate needs only per-column summaries; importing pandas is
most of a small batch's CPU. Drift reads CSV with pandas' correctly rounded float parser
(``float_precision="round_trip"``), which gives the same doubles as Arrow's, but Arrow infers
types by other rules. So the file is read twice: once with type inference (pandas' missing
and boolean spellings), then streamed block by block as text, and each column is taken only
where pandas would make the same column of its text:

- Arrow integers whose every field is plain decimal digits (pandas: int64, or float64 with
  NaN when there are nulls; Arrow also reads hexadecimal);
- Arrow floats with a field that is not an integer (pandas makes all-integer text int64 or
  uint64), every field a number pandas reads (not ``NAN``) and no overflow (``1e400`` is
  infinite to Arrow, text to pandas);
- booleans (only pandas' spellings are booleans);
- text, dates and times (pandas keeps them as text: counted as their raw text), unless every
  field looks like a number or a boolean (pandas might convert them) or a field holds a NUL
  character (pandas' parser cuts the field there).

Anything else (duplicate, empty or NUL-holding column names, invalid UTF-8, a parse error,
no rows, a column of another type) returns None and the pandas path decides, errors included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.gates.drift.data import csv_separator
from mlsec_gates.result import Subject

INTEGER = r"^\s*[+-]?[0-9]+\s*$"
"""A field pandas' CSV parser reads as an integer."""
INFINITY = r"^\s*[+-]?inf(inity)?\s*$"
FLOAT = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?\s*$|" + INFINITY
"""A field pandas' CSV parser reads as a float (matched ignoring case; not ``NAN``)."""
BOOLEANS = ("True", "TRUE", "true", "False", "FALSE", "false")
"""The fields pandas' CSV parser reads as booleans (its defaults; Arrow's include 1 and 0)."""
PANDAS_NULLS = [
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
    *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
]
"""pandas' default missing-value fields (``pandas._libs.parsers.STR_NA_VALUES``)."""
_MAYBE_CONVERTED = rf"{FLOAT}|^\s*[+-]?nan\s*$|^({'|'.join(BOOLEANS)})$"
BLOCK_BYTES = 1 << 24
"""Bytes of text held at once while the raw text is checked."""
MAX_BYTES = 64 << 20
"""Larger files go to pandas: here the typed table, the text of text columns and the
summaries are held at once (a 78 MB file of 200,000 x 20 floats peaked at 336 MB, against
188 MB through pandas), and on large files the pandas import no longer dominates the CPU."""


@dataclass
class _Text:
    """What a column's raw text says, gathered block by block (only what its type needs)."""

    role: str
    """``integer``, ``float``, ``boolean``, ``text`` or ``null``: how Arrow typed it."""
    integer: bool = True
    floating: bool = True
    maybe_converted: bool = True
    infinities: int = 0
    nul: bool = False
    """A field holds a NUL character (pandas' parser drops it and what follows)."""
    chunks: list[Any] = field(default_factory=list)

    def add(self, raw: Any) -> None:
        import pyarrow.compute as pc

        valid = raw.drop_null()

        def matched(pattern: str) -> Any:
            return pc.match_substring_regex(valid, pattern, ignore_case=True)

        if self.role in ("integer", "float"):
            self.integer = self.integer and bool(pc.all(matched(INTEGER)).as_py())
        if self.role == "float":
            self.floating = self.floating and bool(pc.all(matched(FLOAT)).as_py())
            self.infinities += int(pc.sum(matched(INFINITY)).as_py() or 0)
        if self.role == "text":
            self.maybe_converted = self.maybe_converted and bool(
                pc.all(matched(_MAYBE_CONVERTED)).as_py()
            )
            self.nul = self.nul or bool(pc.any(pc.match_substring(valid, "\0")).as_py())
            self.chunks.append(raw)


def _role(kind: Any) -> str | None:
    import pyarrow as pa

    is_ = pa.types
    if is_.is_null(kind):
        return "null"
    if is_.is_integer(kind):
        return "integer"
    if is_.is_floating(kind):
        return "float"
    if is_.is_boolean(kind):
        return "boolean"
    if is_.is_string(kind) or is_.is_large_string(kind) or is_.is_temporal(kind):
        return "text"
    return None


def summarise_csv(fh: Any, subject: Subject, sample_rows: int, uri: str) -> Any:
    """The :class:`~.profile.ReferenceProfile` of a CSV file (no sample), or None.

    None: the file has a column Arrow would read differently from pandas, or Arrow cannot
    read it; the caller then reads it with pandas.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from mlsec_gates.gates.drift.profile import ArrowSummaries, arrow_numbers, sample_positions

    parse = pcsv.ParseOptions(delimiter=csv_separator(uri))
    nulls = {"null_values": PANDAS_NULLS, "strings_can_be_null": True}
    typed = pcsv.ConvertOptions(
        **nulls, true_values=list(BOOLEANS[:3]), false_values=list(BOOLEANS[3:])
    )
    try:
        table = pcsv.read_csv(fh, parse_options=parse, convert_options=typed)
        names = table.column_names
        roles = [_role(kind) for kind in table.schema.types]
        plain = all(name and "\0" not in name for name in names) and None not in roles
        if not table.num_rows or not plain or len(set(names)) != len(names):
            return None
        texts = [_Text(str(role)) for role in roles]
        fh.seek(0)
        as_text = pcsv.ConvertOptions(**nulls, column_types=dict.fromkeys(names, pa.string()))
        blocks = pcsv.ReadOptions(block_size=BLOCK_BYTES)
        rows = 0
        for batch in pcsv.open_csv(
            fh, read_options=blocks, parse_options=parse, convert_options=as_text
        ):
            rows += batch.num_rows
            for text, raw in zip(texts, batch.columns, strict=True):
                text.add(raw)
    except (pa.ArrowException, OSError, ValueError):
        return None
    if rows != table.num_rows:
        return None
    summaries = ArrowSummaries(sample_positions(rows, sample_rows))
    for name, column, text in zip(names, table.columns, texts, strict=True):
        if text.role == "null":
            summaries.numeric(name, np.full(rows, np.nan))
        elif text.role == "integer" and text.integer:
            summaries.numeric(name, arrow_numbers(column))
        elif text.role == "float" and text.floating and not text.integer:
            array = arrow_numbers(column)
            if int(np.isinf(array).sum()) != text.infinities:
                return None
            summaries.numeric(name, array)
        elif text.role == "boolean":
            summaries.categories(name, column.to_pylist())
        elif text.role == "text" and not text.maybe_converted and not text.nul:
            summaries.categories(name, pa.chunked_array(text.chunks, pa.string()).to_pylist())
        else:
            return None
    return summaries.profile(subject, rows)
