"""Reading the two batches and deciding which columns to compare, and as what.

The reference (trusted) and current batches are CSV, Parquet or JSON-lines files, local or
``s3://``, read whole into pandas. Only columns both batches have are compared; each is
*numeric* (a numeric pandas dtype, booleans excluded) or *categorical* (anything else, kept
as strings), the split Evidently's ``DataDefinition`` makes. A column that is numeric on one
side and text on the other is a usage error: comparing them would be meaningless.

Example:
    >>> from mlsec_gates.gates.drift.data import read_frame
    >>> frame, subject = read_frame("batch.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.result import Subject
from mlsec_gates.storage import Storage, sha256_of

NUMERIC, CATEGORICAL = "numeric", "categorical"


def read_frame(uri: str, storage: Storage | None = None) -> tuple[Any, Subject]:
    """The batch at ``uri`` as a DataFrame (column names as strings) and its subject.

    Raises:
        InputError: missing, unreadable or corrupt file, or no rows.
        StorageError: S3 refused access.
    """
    from mlsec_gates.gates.validate.data import detect_kind

    storage = storage or Storage()
    with storage.open_read(uri) as fh:
        digest, size = sha256_of(fh)
        kind = detect_kind(uri, fh)
        fh.seek(0)  # sniffing an extension-less file reads past the start
        frame = frame_of(fh, kind, uri)
    return frame, Subject(path=uri, sha256=digest, size=size, kind=kind)


def frame_of(fh: Any, kind: str, uri: str) -> Any:
    """An open file of a known kind as a DataFrame (column names as strings).

    Raises:
        InputError: unreadable or corrupt file, or no rows.
    """
    frame = _read(fh, kind, uri)
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise InputError(f"{uri}: the batch has no rows, so there is nothing to compare")
    return frame


def _read(fh: Any, kind: str, uri: str) -> Any:
    import pandas as pd

    with _read_errors(uri, kind):
        if kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            # Convert column by column, freeing each Arrow buffer as it goes, then hand the
            # freed memory back (Arrow's pool would keep it: a second peak with the next file).
            frame = pq.read_table(fh).to_pandas(split_blocks=True, self_destruct=True)
            pa.default_memory_pool().release_unused()
            return frame
        if kind == "jsonl":
            return pd.read_json(fh, lines=True)
        try:  # correctly rounded floats: the same doubles as Arrow's reader (profile.py)
            return pd.read_csv(fh, sep=csv_separator(uri), float_precision="round_trip")
        except pd.errors.EmptyDataError:
            return pd.DataFrame()


def csv_separator(uri: str) -> str:
    """The field separator of a CSV file: a tab for ``.tsv``, else a comma."""
    return "\t" if uri.lower().endswith(".tsv") else ","


@contextlib.contextmanager
def _read_errors(uri: str, kind: str) -> Iterator[None]:
    """Parser errors become one-line InputErrors naming the file and the format."""
    arrow: tuple[type[BaseException], ...] = ()
    if kind == "parquet":  # pyarrow is only imported (0.3 s) when a Parquet file is read
        import pyarrow as pa

        arrow = (pa.ArrowException,)
    try:
        yield
    except InputError:
        raise
    except UnicodeDecodeError:
        raise InputError(f"{uri}: cannot read {kind.upper()}: not UTF-8 text") from None
    except (ValueError, OSError, *arrow) as exc:
        raise InputError(f"{uri}: cannot read {kind.upper()}: {one_line(exc)}") from None


def column_kind(series: Any) -> str | None:
    """``numeric``, ``categorical``, or None for columns drift is not computed on (dates)."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return None
    return CATEGORICAL


@dataclass(frozen=True)
class BatchColumns:
    """What :func:`plan_columns` needs of the current batch, without holding it as a frame."""

    kinds: dict[str, str | None]
    """Every column, in order, to its kind (as :func:`column_kind` names it)."""
    with_values: frozenset[str]
    """The columns with at least one non-missing value in the rows at hand (the sample)."""

    @classmethod
    def of(cls, frame: Any) -> BatchColumns:
        """The facts of a DataFrame."""
        return cls(
            kinds={str(c): column_kind(frame[c]) for c in frame.columns},
            with_values=frozenset(str(c) for c in frame.columns if frame[c].notna().any()),
        )


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns are compared, as what, and what was left out (for the report)."""

    kinds: dict[str, str]
    """Compared feature columns (the label excluded) to ``numeric`` / ``categorical``."""
    only_reference: tuple[str, ...] = ()
    only_current: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    """Common columns not compared: ignored by the policy or of an unsupported type."""

    @property
    def numeric(self) -> list[str]:
        """The numeric feature columns, in order."""
        return [c for c, k in self.kinds.items() if k == NUMERIC]

    @property
    def categorical(self) -> list[str]:
        """The categorical feature columns, in order."""
        return [c for c, k in self.kinds.items() if k == CATEGORICAL]


def plan_columns(
    reference: dict[str, str | None],
    current: Any,
    *,
    label: str | None,
    compare_label: bool = False,
    columns: Sequence[str] = (),
    ignore: Sequence[str] = (),
    reference_name: str = "the reference",
    current_name: str = "the current batch",
) -> ColumnPlan:
    """Compare the reference's column kinds with the current batch's and plan the checks.

    Args:
        reference: the reference's columns, in order, to their kind (None: unsupported).
        current: the current batch (DataFrame), or its :class:`BatchColumns`.
        label: the label column, which must be in both; not a drift column unless
            ``compare_label``.
        compare_label: also test the label's drift (when no poisoning detector runs).
        columns: only these columns (the policy's ``columns``); empty: all common ones.
        ignore: columns never compared.
        reference_name: how errors name the reference (its path).
        current_name: how errors name the current batch (its path).

    Raises:
        InputError: the label is missing, a requested column is missing, no column is
            shared, or a column is numeric on one side and text on the other.
    """
    facts = current if isinstance(current, BatchColumns) else BatchColumns.of(current)
    cur_cols = list(facts.kinds)
    for name, where, have in ((label, reference_name, reference), (label, current_name, cur_cols)):
        if name and name not in have:
            raise InputError(f"{where}: no label column {name!r}")
    for name in columns:
        for where, have in ((reference_name, reference), (current_name, cur_cols)):
            if name not in have:
                raise InputError(f"{where}: no column {name!r} (named in gates.drift.columns)")
    common = [c for c in reference if c in set(cur_cols)]
    features = [c for c in common if c != label or compare_label]
    if not features:
        raise InputError(f"{reference_name} and {current_name} share no feature column to compare")
    wanted = set(columns) if columns else None
    kinds: dict[str, str] = {}
    skipped: list[str] = []
    for name in features:
        if (wanted is not None and name not in wanted) or name in ignore:
            skipped.append(name)
            continue
        ref_kind, cur_kind = reference[name], facts.kinds[name]
        if ref_kind != cur_kind and name in facts.with_values:
            raise InputError(
                f"column {name!r} is {ref_kind or 'a date'} in {reference_name} but "
                f"{cur_kind or 'a date'} in {current_name}"
            )
        if ref_kind is None:
            skipped.append(name)
            continue
        kinds[name] = ref_kind
    if not kinds:
        raise ConfigError("every shared column is ignored or unsupported: nothing to compare")
    return ColumnPlan(
        kinds=kinds,
        only_reference=tuple(c for c in reference if c not in set(cur_cols)),
        only_current=tuple(c for c in cur_cols if c not in reference),
        skipped=tuple(skipped),
    )


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
