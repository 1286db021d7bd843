"""Drift summaries pushed down to a SQL database: PostgreSQL (and SQLite, for tests).

Both batches are tables of one database. Everything is computed by the database with
portable SQL (``CASE``, ``GROUP BY``, window functions; PostgreSQL 9.6+ and SQLite 3.25+), and
only aggregates come back:

- per numeric column: finite count, min, max, mean, then the population standard deviation
  around that mean (two passes, as numpy); value counts when there are <= 20 distinct
  values; all values when the table has at most :data:`~.summary.EXACT_VALUES` rows;
- per categorical column: value counts;
- exact follow-ups (:class:`SqlLive`): histogram counts below each bin edge, and the merged
  CDFs of the two tables (one ``ORDER BY`` window over both), which give the exact K-S D and
  Wasserstein-1 distance.

So every statistic of the SQL engine is exact: it equals the in-memory engine's up to the
order of floating-point additions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsec_gates.errors import InputError
from mlsec_gates.gates.drift.data import CATEGORICAL, NUMERIC
from mlsec_gates.gates.drift.engines.summary import EXACT_VALUES, Live, NumericSummary
from mlsec_gates.gates.drift.stattests import BIN_VALUES, CategoryCounts, Values

_FINITE = "{c} IS NOT NULL AND {c} >= -1.7976931348623157e308 AND {c} <= 1.7976931348623157e308"
_MAX_CASES = 700
"""``CASE`` sums per query (PostgreSQL allows 1664 result columns)."""


@dataclass
class SqlTable:
    """One table of the database, as the engine queries it."""

    engine: Any
    """A SQLAlchemy engine."""
    name: str
    rows: int
    kinds: dict[str, str | None]
    integral: frozenset[str]

    def q(self, column: str) -> str:
        """A quoted identifier."""
        return str(self.engine.dialect.identifier_preparer.quote(column))

    @property
    def from_(self) -> str:
        """The quoted table name."""
        return self.q(self.name)

    def value(self, column: str) -> str:
        """The column as a double, NULL unless finite."""
        c = self.q(column)
        return f"CASE WHEN {_FINITE.format(c=c)} THEN CAST({c} AS DOUBLE PRECISION) END"

    def where_finite(self, column: str) -> str:
        """A WHERE condition keeping the finite values."""
        return _FINITE.format(c=self.q(column))

    def fetch(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one query; rows as tuples."""
        import sqlalchemy as sa

        with self.engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql), params or {})]


def open_table(engine: Any, name: str, *, url: str) -> SqlTable:
    """Reflect a table: its columns, their drift kinds, and its row count.

    Raises:
        InputError: no such table, or the database refuses.
    """
    import sqlalchemy as sa

    from mlsec_gates.gates.validate.data import safe_url

    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(name):
            raise InputError(f"{safe_url(url)}: no such table {name!r}")
        columns = inspector.get_columns(name)
    except sa.exc.SQLAlchemyError as exc:
        raise InputError(f"{safe_url(url)}: cannot read table {name!r}: {exc}") from None
    kinds: dict[str, str | None] = {}
    integral: set[str] = set()
    for col in columns:
        kind = col["type"]
        if isinstance(kind, sa.Boolean):
            kinds[col["name"]] = CATEGORICAL
        elif isinstance(kind, (sa.Integer, sa.Numeric, sa.Float)):
            kinds[col["name"]] = NUMERIC
            if isinstance(kind, sa.Integer):
                integral.add(col["name"])
        elif isinstance(kind, (sa.Date, sa.DateTime, sa.Time, sa.Interval)):
            kinds[col["name"]] = None
        else:
            kinds[col["name"]] = CATEGORICAL
    table = SqlTable(engine, name, 0, kinds, frozenset(integral))
    table.rows = int(table.fetch(f"SELECT COUNT(*) FROM {table.from_}")[0][0])
    return table


def summarise(table: SqlTable) -> dict[str, Values]:
    """A summary of every supported column of the table, computed by the database."""
    supported = {n: k for n, k in table.kinds.items() if k is not None}
    numeric = [n for n, k in supported.items() if k == NUMERIC]
    out: dict[str, Values] = {}
    if table.rows <= EXACT_VALUES:  # small: every value, the in-memory engine's summaries
        from mlsec_gates.gates.drift.stattests import NumericValues

        for name in numeric:
            values = _all_values(table, name)
            out[name] = NumericValues.from_array(values)
            out[name].integer = name in table.integral and _nulls(table, name) == 0
    elif numeric:
        out.update(_numeric(table, numeric))
    for name in (n for n, k in supported.items() if k == CATEGORICAL):
        out[name] = _category_counts(table, name)
    return {name: out[name] for name in supported}


def _all_values(table: SqlTable, name: str) -> Any:
    import numpy as np

    rows = table.fetch(
        f"SELECT {table.value(name)} FROM {table.from_} WHERE {table.where_finite(name)}"
    )
    return np.asarray([r[0] for r in rows], dtype=np.float64)


def _nulls(table: SqlTable, name: str) -> int:
    sql = f"SELECT COUNT(*) FROM {table.from_} WHERE {table.q(name)} IS NULL"
    return int(table.fetch(sql)[0][0])


def _numeric(table: SqlTable, names: list[str]) -> dict[str, NumericSummary]:
    parts = []
    for name in names:
        v, c = table.value(name), table.q(name)
        parts += [
            f"COUNT({v})",
            f"MIN({v})",
            f"MAX({v})",
            f"AVG({v})",
            f"SUM(CASE WHEN {c} IS NULL THEN 1 ELSE 0 END)",
        ]
    first = table.fetch(f"SELECT {', '.join(parts)} FROM {table.from_}")[0]
    means = {name: first[5 * i + 3] for i, name in enumerate(names)}
    spread = ", ".join(
        f"AVG(({table.value(n)} - :m{i}) * ({table.value(n)} - :m{i}))" for i, n in enumerate(names)
    )
    params = {f"m{i}": float(means[n] or 0.0) for i, n in enumerate(names)}
    second = table.fetch(f"SELECT {spread} FROM {table.from_}", params)[0]
    out = {}
    for i, name in enumerate(names):
        n = int(first[5 * i])
        summary = NumericSummary(
            n=n,
            nunique=BIN_VALUES + 1,
            minimum=float(first[5 * i + 1] or 0.0),
            maximum=float(first[5 * i + 2] or 0.0),
            std=float(second[i] or 0.0) ** 0.5,
            integer=name in table.integral and int(first[5 * i + 4]) == 0,
            live=SqlLive(table, name),
        )
        if n:
            summary.counts = _value_counts(table, name)
            if summary.counts is not None:
                summary.nunique = summary.counts.nunique
        out[name] = summary
    return out


def _value_counts(table: SqlTable, name: str) -> CategoryCounts | None:
    import numpy as np

    v = table.value(name)
    rows = table.fetch(
        f"SELECT {v} AS v, COUNT(*) FROM {table.from_} WHERE {table.where_finite(name)} "
        f"GROUP BY {v} ORDER BY 1 LIMIT {BIN_VALUES + 1}"
    )
    if len(rows) > BIN_VALUES:
        return None
    return CategoryCounts(
        np.array([float(r[0]) for r in rows], dtype=np.float64),
        np.array([int(r[1]) for r in rows], dtype=np.int64),
    )


def _category_counts(table: SqlTable, name: str) -> CategoryCounts:
    """Value counts, with values written as pandas' ``astype(str)`` writes them."""
    import numpy as np

    c = table.q(name)
    rows = table.fetch(
        f"SELECT {c}, COUNT(*) FROM {table.from_} WHERE {c} IS NOT NULL GROUP BY {c}"
    )
    counts: dict[str, int] = {}
    for value, count in rows:
        key = str(bool(value)) if isinstance(value, bool) else str(value)
        counts[key] = counts.get(key, 0) + int(count)
    return CategoryCounts(
        np.asarray(list(counts), dtype=str), np.asarray(list(counts.values()), dtype=np.int64)
    )


class SqlLive(Live):
    """Exact follow-up queries on one numeric column of a table."""

    def __init__(self, table: SqlTable, column: str) -> None:
        self.table = table
        self.column = column

    def _pg_buckets(self, points: list[float]) -> tuple[Any, Any]:
        """PostgreSQL: counts ``< p`` (``width_bucket``: a binary search per row), ``<= p``."""
        import numpy as np

        t, v = self.table, self.table.value(self.column)
        where = t.where_finite(self.column)
        pts = {"pts": points}
        buckets = np.zeros(len(points) + 1, dtype=np.int64)
        for bucket, count in t.fetch(
            f"SELECT width_bucket({v}, CAST(:pts AS DOUBLE PRECISION[])) AS b, COUNT(*) "
            f"FROM {t.from_} WHERE {where} GROUP BY 1",
            pts,
        ):
            buckets[int(bucket)] = int(count)
        equal = dict(
            t.fetch(
                f"SELECT {v}, COUNT(*) FROM {t.from_} WHERE {where} AND "
                f"{v} = ANY(CAST(:pts AS DOUBLE PRECISION[])) GROUP BY 1",
                pts,
            )
        )
        lt = np.cumsum(buckets)[:-1]
        eq = np.array([int(equal.get(p, 0)) for p in points], dtype=np.int64)
        return lt, lt + eq

    def _count_below(self, points: list[float], *, inclusive: bool) -> Any:
        import numpy as np

        t, v = self.table, self.table.value(self.column)
        if t.engine.dialect.name == "postgresql":
            return self._pg_buckets(points)[1 if inclusive else 0]
        op = "<=" if inclusive else "<"
        out: list[int] = []
        for start in range(0, len(points), _MAX_CASES):
            chunk = points[start : start + _MAX_CASES]
            sums = ", ".join(
                f"SUM(CASE WHEN {v} {op} :p{i} THEN 1 ELSE 0 END)" for i in range(len(chunk))
            )
            row = t.fetch(
                f"SELECT {sums} FROM {t.from_} WHERE {t.where_finite(self.column)}",
                {f"p{i}": float(p) for i, p in enumerate(chunk)},
            )[0]
            out += [int(x or 0) for x in row]
        return np.asarray(out, dtype=np.int64)

    def histogram(self, edges: Any) -> Any:
        """``np.histogram`` counts from the counts below each inner edge."""
        import numpy as np

        t = self.table
        total = int(
            t.fetch(f"SELECT COUNT(*) FROM {t.from_} WHERE {t.where_finite(self.column)}")[0][0]
        )
        inner = [float(e) for e in edges[1:-1]]
        below = self._count_below(inner, inclusive=False) if inner else np.array([], np.int64)
        cumulative = np.concatenate(([0], below, [total]))
        return np.diff(cumulative)

    def below(self, points: Any) -> tuple[Any, Any]:
        """How many values are ``< p`` and ``<= p`` for each point."""
        plain = [float(p) for p in points]
        if self.table.engine.dialect.name == "postgresql":
            return self._pg_buckets(plain)
        return (
            self._count_below(plain, inclusive=False),
            self._count_below(plain, inclusive=True),
        )

    def merged(self, other: Live) -> tuple[float, float] | None:
        """Exact K-S D and Wasserstein-1 from both tables' merged CDFs (one window query)."""
        if not isinstance(other, SqlLive) or other.table.engine.url != self.table.engine.url:
            return None
        a, b = self.table, other.table
        sql = f"""
            WITH u AS (
                SELECT {a.value(self.column)} AS v, 1 AS r, 0 AS c FROM {a.from_}
                WHERE {a.where_finite(self.column)}
                UNION ALL
                SELECT {b.value(other.column)} AS v, 0 AS r, 1 AS c FROM {b.from_}
                WHERE {b.where_finite(other.column)}
            ),
            g AS (SELECT v, SUM(r) AS r, SUM(c) AS c FROM u GROUP BY v),
            s AS (
                SELECT v,
                    CAST(SUM(r) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS DOUBLE PRECISION)
                        / :nr AS fr,
                    CAST(SUM(c) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS DOUBLE PRECISION)
                        / :nc AS fc,
                    LEAD(v) OVER (ORDER BY v) AS nv
                FROM g
            )
            SELECT MAX(ABS(fr - fc)), SUM(ABS(fr - fc) * (nv - v)) FROM s
        """
        nr = self._finite_count()
        nc = other._finite_count()
        d, w = a.fetch(sql, {"nr": float(nr), "nc": float(nc)})[0]
        return float(d or 0.0), float(w or 0.0)

    def _finite_count(self) -> int:
        t = self.table
        sql = f"SELECT COUNT(*) FROM {t.from_} WHERE {t.where_finite(self.column)}"
        return int(t.fetch(sql)[0][0])


def sample_rows(table: SqlTable, *, rows: int, label: str | None, order: str) -> Any:
    """At most about ``rows`` rows as pandas, with each row's position in ``__mlsec_row``.

    A systematic sample: every k-th row of each label stratum (same k everywhere, so label
    shares are kept), positions counted in ``order`` (the table's key columns). Deterministic,
    and the same SQL on PostgreSQL and SQLite (no ``random()``).
    """
    import pandas as pd
    import sqlalchemy as sa

    from mlsec_gates.gates.drift.engines.spark import ROW_COLUMN

    fraction = min(1.0, rows / max(table.rows, 1))
    step = max(1, round(1 / fraction)) if fraction < 1.0 else 1
    within = f"PARTITION BY {table.q(label)} " if label else ""
    numbered = (
        f"SELECT t.*, ROW_NUMBER() OVER (ORDER BY {order}) - 1 AS {ROW_COLUMN}, "
        f"ROW_NUMBER() OVER ({within}ORDER BY {order}) - 1 AS mlsec_k FROM {table.from_} t"
    )
    sql = f"SELECT * FROM ({numbered}) n WHERE mlsec_k % {step} = 0"
    with table.engine.connect() as con:
        frame = pd.read_sql(sa.text(sql), con)
    frame = frame.drop(columns=["mlsec_k"])
    return frame.sort_values(ROW_COLUMN).reset_index(drop=True)
