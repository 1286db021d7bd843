"""Reading the data to validate: CSV, Parquet or JSON lines (local or S3), or a SQL table.

Small inputs become one pandas DataFrame. Inputs with more rows than the policy's
``max_in_memory_rows`` (Parquet: from its metadata; CSV/JSONL: estimated from the file size
and the first MiB) are streamed ``chunk_rows`` at a time into a temporary SQLite database,
which Great Expectations then validates in SQL, so memory does not grow with the row count.

Example:
    >>> from mlsec_gates.gates.validate.data import ReadSettings, open_data
    >>> with open_data("train.csv", settings=ReadSettings()) as table:  # doctest: +SKIP
    ...     table.rows, table.engine
    (150, 'pandas')
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.result import Subject
from mlsec_gates.storage import Storage, sha256_of

SPILL_TABLE = "data"
"""Name of the table the data are streamed into when spilled to SQLite."""
_SNIFF_BYTES = 1024 * 1024
_PROBE_ROWS = 1000
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class ReadSettings:
    """How to read (from the policy's ``gates.validate`` section)."""

    max_in_memory_rows: int = 2_000_000
    chunk_rows: int = 100_000


@dataclass
class Table:
    """Data ready for Great Expectations: a DataFrame, or a table in a SQL database."""

    subject: Subject
    rows: int
    columns: tuple[str, ...]
    engine: str
    """``pandas`` (in memory), ``sqlite-spill`` (streamed to a temporary SQLite) or ``sql``."""
    frame: Any = None
    """The pandas DataFrame (``pandas`` engine only)."""
    sql_url: str | None = None
    table: str | None = None
    type_probe: Any = None
    """Spill only: the first rows with the dtypes pandas gives the whole file, for dtype
    expectations, which are engine-specific (``float64`` in pandas, ``REAL`` in SQLite)."""
    dtypes: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def open_data(
    data: str | None,
    *,
    sql_url: str | None = None,
    table: str | None = None,
    storage: Storage | None = None,
    settings: ReadSettings | None = None,
) -> Iterator[Table]:
    """The data as a :class:`Table`; a spilled SQLite database is deleted on exit.

    Raises:
        ConfigError: not exactly one of ``data`` or ``sql_url`` + ``table``.
        InputError: missing, unreadable or corrupt file, unknown format, missing table.
        StorageError: S3 refused access.
    """
    settings = settings or ReadSettings()
    if data and (sql_url or table):
        raise ConfigError("give either a data file or --sql-url with --table, not both")
    if not data:
        if not (sql_url and table):
            raise ConfigError("nothing to validate: give a data file, or --sql-url and --table")
        yield _sql_table(sql_url, table)
        return
    storage = storage or Storage()
    with storage.open_read(data) as fh:
        digest, size = sha256_of(fh)
        kind = detect_kind(data, fh)
        subject = Subject(path=data, sha256=digest, size=size, kind=kind)
        estimate = _estimate_rows(fh, kind, size, data)
        if estimate <= settings.max_in_memory_rows:
            frame = _read_whole(fh, kind, data)
            yield Table(
                subject=subject,
                rows=len(frame),
                columns=tuple(str(c) for c in frame.columns),
                engine="pandas",
                frame=frame,
                dtypes={str(c): str(t) for c, t in frame.dtypes.items()},
            )
            return
        with tempfile.TemporaryDirectory(prefix="mlsec-validate-") as tmp:
            db = Path(tmp) / "spill.db"
            rows, columns, probe = _spill(fh, kind, data, db, settings.chunk_rows)
            yield Table(
                subject=subject,
                rows=rows,
                columns=columns,
                engine="sqlite-spill",
                sql_url=f"sqlite:///{db}",
                table=SPILL_TABLE,
                type_probe=probe,
                dtypes={str(c): str(t) for c, t in probe.dtypes.items()},
            )


def detect_kind(path: str, fh: IO[bytes]) -> str:
    """``csv``, ``parquet`` or ``jsonl``, by extension, else by content.

    Raises:
        InputError: a ``.parquet`` file without the Parquet magic bytes.
    """
    head = fh.read(4)
    fh.seek(0)
    name = PurePosixPath(path.split("?")[0]).name.lower()
    kind = next((k for ext, k in _EXTENSIONS.items() if name.endswith(ext)), None)
    if kind == "parquet" and head != b"PAR1":
        raise InputError(f"{path}: not a Parquet file (no PAR1 magic bytes)")
    if kind:
        return kind
    if head == b"PAR1":
        return "parquet"
    return "jsonl" if fh.read(_SNIFF_BYTES).lstrip().startswith(b"{") else "csv"


def _estimate_rows(fh: IO[bytes], kind: str, size: int, path: str) -> int:
    """Row count from Parquet metadata, or estimated from the newlines in the first MiB."""
    if kind == "parquet":
        return int(_parquet_file(fh, path).metadata.num_rows)
    sample = fh.read(_SNIFF_BYTES)
    fh.seek(0)
    lines = sample.count(b"\n")
    if len(sample) >= size:
        return lines
    return int(size * max(lines, 1) / max(len(sample), 1))


def _parquet_file(fh: IO[bytes], path: str, *, streaming: bool = False) -> Any:
    """Open a Parquet file, or raise a one-line InputError.

    ``streaming`` turns off pyarrow's pre-buffering, which would otherwise hold about the
    whole compressed file in memory while batches are read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(fh, pre_buffer=not streaming)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read Parquet: {_one_line(exc)}") from None


def _read_whole(fh: IO[bytes], kind: str, path: str) -> Any:
    import pandas as pd

    with _read_errors(path, kind):
        if kind == "parquet":
            frame = _parquet_file(fh, path).read().to_pandas()
        elif kind == "jsonl":
            frame = pd.read_json(fh, lines=True)
        else:
            try:
                frame = pd.read_csv(fh, sep="\t" if path.lower().endswith(".tsv") else ",")
            except pd.errors.EmptyDataError:
                frame = pd.DataFrame()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _chunks(fh: IO[bytes], kind: str, path: str, chunk_rows: int) -> Iterator[Any]:
    import pandas as pd

    with _read_errors(path, kind):
        if kind == "parquet":
            for batch in _parquet_file(fh, path, streaming=True).iter_batches(
                batch_size=chunk_rows
            ):
                yield batch.to_pandas()
        elif kind == "jsonl":
            yield from pd.read_json(fh, lines=True, chunksize=chunk_rows)
        else:
            sep = "\t" if path.lower().endswith(".tsv") else ","
            try:
                yield from pd.read_csv(fh, chunksize=chunk_rows, sep=sep)
            except pd.errors.EmptyDataError:
                return


def _spill(
    fh: IO[bytes], kind: str, path: str, db: Path, chunk_rows: int
) -> tuple[int, tuple[str, ...], Any]:
    """Stream the data into ``db``; returns rows, columns and the dtype probe frame."""
    import pandas as pd

    rows = 0
    columns: list[str] = []
    dtypes: dict[str, set[str]] = {}
    probe = None
    con = sqlite3.connect(db)
    try:
        for chunk in _chunks(fh, kind, path, chunk_rows):
            chunk.columns = [str(c) for c in chunk.columns]
            new = [c for c in chunk.columns if c not in columns]
            if columns and new:  # JSON lines may add keys later on
                for name in new:
                    con.execute(f"ALTER TABLE {SPILL_TABLE} ADD COLUMN {_quote(name)}")
            columns += new
            chunk = chunk.reindex(columns=columns)
            chunk.to_sql(SPILL_TABLE, con, index=False, if_exists="append", chunksize=10_000)
            rows += len(chunk)
            for name, dtype in chunk.dtypes.items():
                if chunk[name].notna().any() or name not in dtypes:
                    dtypes.setdefault(str(name), set()).add(str(dtype))
            if probe is None or len(probe) < _PROBE_ROWS:
                head = chunk.head(_PROBE_ROWS)
                probe = head if probe is None else pd.concat([probe, head], ignore_index=True)
        con.commit()
    finally:
        con.close()
    if probe is None:
        probe = pd.DataFrame()
    return rows, tuple(columns), _with_dtypes(probe.reindex(columns=columns), dtypes)


def _with_dtypes(probe: Any, seen: dict[str, set[str]]) -> Any:
    """The probe with the dtype pandas would give each column when reading the whole file."""
    import numpy as np

    out = probe.copy()
    for name, kinds in seen.items():
        if len(kinds) == 1:
            target = next(iter(kinds))
        elif kinds <= {"int64", "float64", "int32", "float32"}:
            target = str(np.result_type(*kinds))
        else:
            target = "object"
        with contextlib.suppress(TypeError, ValueError):
            out[name] = out[name].astype(target)
    return out


def _sql_table(sql_url: str, table: str) -> Table:
    """A table in a SQL database, validated in place (no copy)."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(sql_url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"--sql-url: not a usable SQLAlchemy URL: {_one_line(exc)}") from None
    safe = safe_url(sql_url)
    database = engine.url.database  # as SQLAlchemy decodes it (%2F and friends)
    # sqlite3 would silently create an empty database for a mistyped path.
    in_file = engine.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    if in_file and not Path(str(database)).is_file():
        raise InputError(f"{safe}: no such SQLite database file")
    try:
        with engine.connect() as con:
            inspector = sa.inspect(con)
            if not inspector.has_table(table):
                raise InputError(f"{safe}: no such table {table!r}")
            cols = list(inspector.get_columns(table))
            tbl = sa.table(table, *(sa.column(c["name"]) for c in cols))
            rows = con.execute(sa.select(sa.func.count()).select_from(tbl)).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        raise InputError(f"{safe}: cannot read table {table!r}: {_one_line(exc)}") from None
    finally:
        engine.dispose()
    return Table(
        subject=Subject(path=f"{safe}#{table}", sha256=None, kind="sql"),
        rows=int(rows),
        columns=tuple(str(c["name"]) for c in cols),
        engine="sql",
        sql_url=sql_url,
        table=table,
        dtypes={str(c["name"]): str(c["type"]) for c in cols},
    )


def sample_sql_rows(
    sql_url: str, table: str, column: str, values: list[Any], limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of ``table`` whose ``column`` holds one of ``values`` (or NULL)."""
    import sqlalchemy as sa

    if limit <= 0 or not values:
        return []
    engine = sa.create_engine(sql_url)
    try:
        with engine.connect() as con:
            tbl = sa.Table(table, sa.MetaData(), autoload_with=con)
            col = tbl.c[column]
            plain = [v for v in values if v is not None and v == v]  # NaN != NaN
            cond = [col.in_(plain)] if plain else []
            if len(plain) < len(values):
                cond.append(col.is_(None))
            query = sa.select(tbl).where(sa.or_(*cond)).limit(limit)
            return [dict(row._mapping) for row in con.execute(query)]
    except (sa.exc.SQLAlchemyError, KeyError):
        return []  # samples are illustration only; the verdict does not depend on them
    finally:
        engine.dispose()


def safe_url(url: str) -> str:
    """A SQLAlchemy URL without its password, for reports."""
    import sqlalchemy as sa

    try:
        return str(sa.engine.make_url(url).render_as_string(hide_password=True))
    except sa.exc.ArgumentError:  # a URL we cannot parse is shown without anything before '@'
        return url.split("@")[-1]


@contextlib.contextmanager
def _read_errors(path: str, kind: str) -> Iterator[None]:
    """Parser errors become one-line InputErrors that name the file and the format."""
    import pyarrow as pa

    try:
        yield
    except InputError:
        raise
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read {kind.upper()}: not UTF-8 text") from None
    except (ValueError, OSError, pa.ArrowException) as exc:  # pandas ParserError is a ValueError
        raise InputError(f"{path}: cannot read {kind.upper()}: {_one_line(exc)}") from None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
