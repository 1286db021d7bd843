"""The stored reference: what the drift tests and the poisoning detectors need, computed once.

``mlsec-gates drift-profile REF --out ref.npz`` reads the trusted reference once and stores,
per column, exactly what Evidently's tests use: the sorted finite values of a numeric column
(K-S, Wasserstein, the Sturges histogram of PSI/Jensen-Shannon all follow from them, so
decisions stay identical to Evidently's) and the value counts of a categorical one; plus
the poisoning detectors' fitted state and a bounded row sample for the Evidently page. Later
batches are checked against the file without reloading the reference data.

The file is one ``.npz`` archive: a ``meta`` entry (UTF-8 JSON: format, version, the
reference's path and SHA-256, row count, column kinds, label) and plain numeric or
fixed-width string arrays. It is read with ``np.load(..., allow_pickle=False)``: a crafted
profile cannot run code, only fail to load (one-line error).

Example:
    >>> from mlsec_gates.gates.drift import drift_profile
    >>> drift_profile("ref.parquet", out="ref.npz", label_column="label")  # doctest: +SKIP
    'ref.npz'
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import InputError
from mlsec_gates.gates.drift.data import CATEGORICAL, NUMERIC, BatchColumns, one_line
from mlsec_gates.gates.drift.engines.stored import summary_arrays, summary_from_arrays
from mlsec_gates.gates.drift.engines.summary import is_summary
from mlsec_gates.gates.drift.stattests import CategoryCounts, NumericValues, Values
from mlsec_gates.result import Subject
from mlsec_gates.storage import Storage, sha256_of

FORMAT = "mlsec-gates-drift-profile"
VERSION = 1


@dataclass
class ReferenceProfile:
    """The reference as the gate needs it (built from data, or loaded from a file)."""

    subject: Subject
    """The reference data file this was built from (path and SHA-256)."""
    rows: int
    kinds: dict[str, str | None]
    """Every column of the reference, in order: ``numeric``, ``categorical`` or None."""
    values: dict[str, Values]
    """Summaries of the numeric and categorical columns (the label included)."""
    label: str | None = None
    poison_meta: dict[str, Any] | None = None
    poison_arrays: dict[str, Any] = field(default_factory=dict)
    sample: Any = None
    """A bounded random sample of reference rows (DataFrame), for the Evidently page."""
    file: Subject | None = None
    """The profile file itself, once loaded (path, SHA-256, size)."""
    columns: BatchColumns | None = None
    """Each column's kind and whether the sample has a value, when ``sample`` is deferred."""
    load_sample: Callable[[], Any] | None = None
    """Reads ``sample`` on first use (:meth:`rows_sample`) when it was not built up front."""

    def rows_sample(self) -> Any:
        """The row sample, read now if it was deferred (only Evidently's page needs it)."""
        if self.sample is None and self.load_sample is not None:
            self.sample = self.load_sample()
        return self.sample


def build_profile(
    frame: Any,
    subject: Subject,
    kinds: dict[str, str | None],
    *,
    label: str | None,
    sample_rows: int,
    poison_state: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> ReferenceProfile:
    """Summarise every supported column of the reference frame."""
    from mlsec_gates.gates.drift.engine import summarise

    supported = {name: kind for name, kind in kinds.items() if kind is not None}
    meta, arrays = poison_state if poison_state else (None, {})
    return ReferenceProfile(
        subject=subject,
        rows=len(frame),
        kinds=dict(kinds),
        values=summarise(frame, supported),
        label=label,
        poison_meta=meta,
        poison_arrays=dict(arrays),
        sample=sample_frame(frame, sample_rows)[list(supported)],  # sample first: no copy
    )


def sample_frame(frame: Any, rows: int, seed: int = 0) -> Any:
    """At most ``rows`` rows of ``frame``, drawn at random (same seed, same rows)."""
    if len(frame) <= rows:
        return frame
    return frame.iloc[sample_positions(len(frame), rows, seed)]


def sample_positions(total: int, rows: int, seed: int = 0) -> Any:
    """Sorted positions of at most ``rows`` of ``total`` rows, drawn at random."""
    import numpy as np

    if total <= rows:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=rows, replace=False))


def summarise_file(uri: str, storage: Storage, *, sample_rows: int) -> ReferenceProfile:
    """The profile (no label, no detectors) of a data file, read as little as possible.

    Used for the reference and, when no detector needs the rows, for the current batch.
    Its ``sample`` has every column (those drift is not computed on too).

    A Parquet file is read one column at a time, each column summarised and freed before
    the next: peak memory is the summaries plus one column, not the whole frame plus its
    summaries (1M x 20 floats: about 170 MB instead of 330). Other formats are read whole.
    When every Parquet column is a plain number, boolean or string, the summaries come
    straight from Arrow and pandas is not imported (on a small batch its import is most of
    the gate's CPU); so for a CSV file of at most 64 MB whose columns Arrow reads as pandas
    does (:mod:`.arrow_csv`). The row sample is then read on first use
    (:meth:`~ReferenceProfile.rows_sample`), with pandas, as the pandas path builds it.

    Raises:
        InputError: missing, unreadable or corrupt file, or no rows.
        StorageError: S3 refused access.
    """
    from mlsec_gates.gates.drift.arrow_csv import MAX_BYTES, summarise_csv
    from mlsec_gates.gates.drift.data import column_kind, frame_of, read_frame
    from mlsec_gates.gates.validate.data import detect_kind

    with storage.open_read(uri) as fh:
        kind = detect_kind(uri, fh)
        fh.seek(0)
        digest, size = sha256_of(fh)
        subject = Subject(uri, digest, size, kind)
        fh.seek(0)
        if kind == "parquet":
            summary = _summarise_parquet_arrow(fh, subject, sample_rows, uri)
            if summary is not None:
                summary.load_sample = lambda: _parquet_sample(uri, storage, sample_rows)
                return summary
            fh.seek(0)
            return _summarise_parquet(fh, subject, sample_rows, uri)
        if kind == "csv" and size <= MAX_BYTES:  # Arrow's reader, pandas not imported
            summary = summarise_csv(fh, subject, sample_rows, uri)
            if summary is not None:
                summary.load_sample = lambda: sample_frame(read_frame(uri, storage)[0], sample_rows)
                return summary
            fh.seek(0)
        frame = frame_of(fh, kind, uri)  # the bytes hashed above, read once more at most
    kinds = {name: column_kind(frame[name]) for name in frame.columns}
    built = build_profile(frame, subject, kinds, label=None, sample_rows=sample_rows)
    built.sample = sample_frame(frame, sample_rows)  # every column, as the Parquet path
    return built


def _summarise_parquet_arrow(
    fh: Any, subject: Subject, sample_rows: int, uri: str
) -> ReferenceProfile | None:
    """:func:`_summarise_parquet`'s summaries and column kinds from Arrow arrays, no pandas.

    Only for columns whose pandas conversion is plain: integers (float64 with NaN when they
    have nulls, as pandas makes them), floats, booleans and strings (categories, counted as
    their text in order of first appearance, as ``value_counts(sort=False)`` does). Any other
    type (dates, dictionaries, decimals...) returns None: the pandas path then decides.
    """
    import pyarrow as pa

    source, rows = _open_parquet(fh, uri)
    types, is_ = source.schema_arrow.types, pa.types
    numeric = [is_.is_integer(t) or t in (pa.float32(), pa.float64()) for t in types]
    text = [is_.is_boolean(t) or is_.is_string(t) or is_.is_large_string(t) for t in types]
    if not all(n or c for n, c in zip(numeric, text, strict=True)):
        return None
    summaries = ArrowSummaries(sample_positions(rows, sample_rows))

    def take(index: int, key: str, column: Any) -> None:
        if numeric[index]:
            summaries.numeric(key, arrow_numbers(column))
        else:
            summaries.categories(key, column.to_pylist())

    _by_column(source, uri, take)
    return summaries.profile(subject, rows)


class ArrowSummaries:
    """Column summaries, kinds and sample presence gathered without pandas, column by column.

    What the Arrow readers of Parquet (:func:`_summarise_parquet_arrow`) and CSV
    (:mod:`.arrow_csv`) produce: the same :class:`ReferenceProfile` the pandas path builds,
    with :class:`BatchColumns` standing in for the frame (the sample itself is deferred).
    """

    def __init__(self, positions: Any) -> None:
        self.positions = positions
        """The sampled rows: a column with a value at one of them counts as present."""
        self.kinds: dict[str, str | None] = {}
        self.values: dict[str, Values] = {}
        self.with_values: set[str] = set()

    def numeric(self, key: str, array: Any) -> None:
        """A numeric column, as the numpy array pandas would make (NaN for missing)."""
        import numpy as np

        self.kinds[key] = NUMERIC
        self.values[key] = NumericValues.from_array(array)
        seen = array[self.positions]
        if seen.size and not (seen.dtype.kind == "f" and np.isnan(seen).all()):
            self.with_values.add(key)

    def categories(self, key: str, items: list[Any]) -> None:
        """A categorical column, as its values (None for missing)."""
        self.kinds[key] = CATEGORICAL
        self.values[key] = CategoryCounts.from_values(items)
        if any(items[i] is not None for i in self.positions):
            self.with_values.add(key)

    def profile(self, subject: Subject, rows: int) -> ReferenceProfile:
        """The profile of the columns gathered (no sample: it is read on first use)."""
        facts = BatchColumns(kinds=dict(self.kinds), with_values=frozenset(self.with_values))
        return ReferenceProfile(subject, rows, self.kinds, self.values, columns=facts)


def _open_parquet(fh: Any, uri: str) -> tuple[Any, int]:
    """The Parquet file and its row count.

    Raises:
        InputError: not readable as Parquet, no rows, or duplicate column names.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(fh)
        rows = source.metadata.num_rows
        names = list(source.schema_arrow.names)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{uri}: cannot read PARQUET: {one_line(exc)}") from None
    if rows == 0:
        raise InputError(f"{uri}: the batch has no rows, so there is nothing to compare")
    if len(set(map(str, names))) != len(names):
        raise InputError(f"{uri}: duplicate column names")
    return source, rows


def _by_column(source: Any, uri: str, take: Callable[[int, str, Any], None]) -> None:
    """``take(index, name, column)`` for each column (an Arrow ChunkedArray), one at a time.

    Only one column is held at once; Arrow's pool keeps freed memory, so it is handed back
    every four columns (else the next file's read would peak again on top of it).

    Raises:
        InputError: a column cannot be read.
    """
    import pyarrow as pa

    for index, name in enumerate(source.schema_arrow.names):
        try:
            column = source.read(columns=[name]).column(0)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"{uri}: cannot read PARQUET: {one_line(exc)}") from None
        take(index, str(name), column)
        del column
        if index % 4 == 3:
            pa.default_memory_pool().release_unused()


def arrow_numbers(column: Any) -> Any:
    """An Arrow integer or float column as the numpy array pandas would make of it.

    Read from the Arrow buffers: pyarrow's own ``to_numpy`` imports pandas. Nulls become
    NaN, so an integer column with nulls becomes float64, as in pandas.
    """
    import numpy as np
    import pyarrow as pa

    kind = "f" if pa.types.is_floating(column.type) else "u"
    kind = "i" if pa.types.is_signed_integer(column.type) else kind
    dtype = np.dtype(f"{kind}{column.type.bit_width // 8}")
    nulls = column.null_count > 0
    parts = [np.empty(0, dtype=np.float64 if nulls else dtype)]
    for chunk in (c for c in column.chunks if len(c)):
        validity, data = chunk.buffers()
        end = chunk.offset + len(chunk)
        part = np.frombuffer(data, dtype=dtype, count=end)[chunk.offset :]
        if chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, np.uint8), count=end, bitorder="little")
            part = np.where(bits[chunk.offset :].astype(bool), part, np.nan)
        parts.append(part.astype(np.float64) if nulls else part)
    return np.concatenate(parts)


def _parquet_sample(uri: str, storage: Storage, sample_rows: int) -> Any:
    """The row sample of a Parquet file as :func:`_summarise_parquet` builds it.

    Only the sampled rows are converted: the summaries were already made from Arrow.
    """
    import pandas as pd

    sample: dict[str, Any] = {}
    with storage.open_read(uri) as fh:
        source, rows = _open_parquet(fh, uri)
        positions = sample_positions(rows, sample_rows)

        def take(_index: int, key: str, arrow: Any) -> None:
            sample[key] = _sampled(arrow.to_pandas(), positions)

        _by_column(source, uri, take)
    return pd.DataFrame(sample) if sample else None


def _sampled(column: Any, positions: Any) -> Any:
    """The rows of ``column`` (a pandas Series) at ``positions``, renumbered from 0."""
    return column.iloc[positions].reset_index(drop=True)


def _summarise_parquet(fh: Any, subject: Subject, sample_rows: int, uri: str) -> ReferenceProfile:
    import pandas as pd

    from mlsec_gates.gates.drift.data import column_kind
    from mlsec_gates.gates.drift.engine import summarise_column

    source, rows = _open_parquet(fh, uri)
    positions = sample_positions(rows, sample_rows)
    kinds: dict[str, str | None] = {}
    values: dict[str, Values] = {}
    sample: dict[str, Any] = {}

    def take(_index: int, key: str, arrow: Any) -> None:
        column = arrow.to_pandas()
        kinds[key] = kind = column_kind(column)
        if kind is not None:
            values[key] = summarise_column(column, kind)
        sample[key] = _sampled(column, positions)

    _by_column(source, uri, take)
    frame = pd.DataFrame(sample) if sample else None
    return ReferenceProfile(subject, rows, kinds, values, sample=frame)


def save_profile(profile: ReferenceProfile, uri: str, storage: Storage) -> str:
    """Write the profile to a path or ``s3://`` URI (atomically); returns where it went.

    Raises:
        InputError: a poisoning-detector array has an object dtype (not storable safely).
        StorageError: the destination cannot be written.
    """
    import numpy as np

    arrays: dict[str, Any] = {}
    columns = []
    sample = profile.rows_sample()
    for i, (name, kind) in enumerate(profile.kinds.items()):
        entry: dict[str, Any] = {"name": name, "kind": kind}
        summary = profile.values.get(name)
        if isinstance(summary, NumericValues):
            arrays[f"num/{i}"] = summary.sorted
            entry["integer"] = summary.integer
        elif is_summary(summary):  # a sketch from the Spark engine (drift/engines/stored.py)
            extra, sketch_arrays = summary_arrays(i, summary)
            entry.update(extra)
            arrays.update(sketch_arrays)
        elif isinstance(summary, CategoryCounts):
            arrays[f"cat/{i}/values"] = np.asarray(summary.values, dtype=str)
            arrays[f"cat/{i}/counts"] = summary.counts
        if sample is not None and name in sample:
            arrays.update(_sample_arrays(i, kind, sample[name]))
        columns.append(entry)
    for key, value in profile.poison_arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise InputError(f"poison state array {key!r} has an object dtype; cannot store it")
        arrays[f"poison/{key}"] = array
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "reference": profile.subject.to_dict(),
        "rows": profile.rows,
        "columns": columns,
        "label": profile.label,
        "sample_rows": 0 if sample is None else len(sample),
        "poison": profile.poison_meta,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return storage.write_bytes(uri, buffer.getvalue(), content_type="application/octet-stream")


def _sample_arrays(i: int, kind: str | None, column: Any) -> dict[str, Any]:
    import numpy as np

    missing = column.isna().to_numpy()
    if kind == NUMERIC:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(column.astype(str).to_numpy(), dtype=str)
    return {f"sample/{i}": values, f"sample_na/{i}": missing}


def load_profile(uri: str, storage: Storage) -> ReferenceProfile:
    """Read a profile written by :func:`save_profile` (never unpickles anything).

    Raises:
        InputError: not a profile, a newer version, or a corrupt file.
        StorageError: S3 refused access.
    """
    import numpy as np

    with storage.open_read(uri) as fh:
        digest, size = sha256_of(fh)
        data = fh.read()
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{uri}: not a drift profile ({one_line(exc)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"{uri}: not a drift profile (written by mlsec-gates drift-profile)")
    if meta.get("version") != VERSION:
        raise InputError(
            f"{uri}: drift profile version {meta.get('version')} is not supported "
            f"(this mlsec-gates reads version {VERSION}); rebuild it with drift-profile"
        )
    try:
        loaded = _from_arrays(meta, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{uri}: corrupt drift profile ({one_line(exc)})") from None
    loaded.file = Subject(path=uri, sha256=digest, size=size, kind="drift-profile")
    return loaded


def _from_arrays(meta: dict[str, Any], arrays: dict[str, Any]) -> ReferenceProfile:
    import numpy as np

    kinds: dict[str, str | None] = {}
    values: dict[str, Values] = {}
    sample: dict[str, tuple[str | None, Any, Any]] = {}
    for i, entry in enumerate(meta["columns"]):
        name, kind = str(entry["name"]), entry["kind"]
        if kind not in (NUMERIC, CATEGORICAL, None):
            raise ValueError(f"column {name!r}: unknown kind {kind!r}")
        kinds[name] = kind
        if kind == NUMERIC and entry.get("summary"):
            values[name] = summary_from_arrays(i, entry, arrays)
        elif kind == NUMERIC:
            sorted_values = np.asarray(arrays[f"num/{i}"], dtype=np.float64)
            values[name] = NumericValues(sorted_values, integer=bool(entry.get("integer")))
        elif kind == CATEGORICAL:
            values[name] = CategoryCounts(
                arrays[f"cat/{i}/values"].astype(str),
                np.asarray(arrays[f"cat/{i}/counts"], dtype=np.int64),
            )
        if f"sample/{i}" in arrays:
            sample[name] = (kind, arrays[f"sample/{i}"], arrays[f"sample_na/{i}"].astype(bool))
            if sample[name][1].shape != sample[name][2].shape:
                raise ValueError(f"column {name!r}: sample and its missing-value mask differ")
    reference = meta["reference"]
    subject = Subject(
        path=str(reference["path"]),
        sha256=reference.get("sha256"),
        size=reference.get("size"),
        kind=reference.get("kind"),
        verdict="reference",
    )
    poison = {k[len("poison/") :]: v for k, v in arrays.items() if k.startswith("poison/")}
    return ReferenceProfile(
        subject=subject,
        rows=int(meta["rows"]),
        kinds=kinds,
        values=values,
        label=meta.get("label"),
        poison_meta=meta.get("poison"),
        poison_arrays=poison,
        load_sample=lambda: _sample_from_arrays(sample),
    )


def _sample_from_arrays(columns: dict[str, tuple[str | None, Any, Any]]) -> Any:
    """The stored row sample as a DataFrame.

    Built on first use: it needs pandas, and only Evidently's page reads it.
    """
    import numpy as np
    import pandas as pd

    sample: dict[str, Any] = {}
    for name, (kind, values, missing) in columns.items():
        column = pd.Series(values)
        if kind == CATEGORICAL:
            column = column.astype(object)
        column[missing] = None if kind != NUMERIC else np.nan
        sample[name] = column
    return pd.DataFrame(sample) if sample else None
