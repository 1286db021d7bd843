"""Drift summaries computed by Spark: the driver receives counts, extremes and sketches.

Per batch, whatever its size, Spark runs: one aggregation over every numeric column (finite
count, min, max, population standard deviation, nulls, approximate distinct count), one
``approxQuantile`` over the columns that need a sketch (Greenwald-Khanna, rank error
``gates.drift.quantile_error``), one ``groupBy`` per categorical column or numeric column
with few values, and later exact follow-ups on the bins a test needs (:class:`SparkLive`).
A batch of at most :data:`~.summary.EXACT_VALUES` rows is collected whole instead: then the
in-memory engine's own summaries are used.

Poisoning detectors and Evidently's page need rows: :func:`sample_rows` pulls a sample
stratified by label (the same rate in every label stratum, so the label shares are those of
the batch) of at most ``gates.drift.sample_rows`` rows, with each row's position in the
batch, so suspects name real rows.
"""

from __future__ import annotations

from typing import Any

from mlsec_gates.gates.drift.data import CATEGORICAL, NUMERIC
from mlsec_gates.gates.drift.engines.summary import EXACT_VALUES, GRID, Live, NumericSummary
from mlsec_gates.gates.drift.stattests import BIN_VALUES, CategoryCounts, Values

ROW_COLUMN = "__mlsec_row"
"""The row's 0-based position in the batch, added to samples (never a feature)."""

_NUMERIC_TYPES = (
    "ByteType",
    "ShortType",
    "IntegerType",
    "LongType",
    "FloatType",
    "DoubleType",
    "DecimalType",
)
_INTEGER_TYPES = ("ByteType", "ShortType", "IntegerType", "LongType")
_DATE_TYPES = ("DateType", "TimestampType", "TimestampNTZType", "DayTimeIntervalType")
_FEW_EXACT = 100
"""Columns whose approximate distinct count is at most this get an exact distinct count."""


def column_kinds(frame: Any) -> dict[str, str | None]:
    """``numeric`` / ``categorical`` / None per column, as the in-memory engine would say."""
    kinds: dict[str, str | None] = {}
    for field in frame.schema.fields:
        name = type(field.dataType).__name__
        if name in _NUMERIC_TYPES:
            kinds[field.name] = NUMERIC
        elif name in _DATE_TYPES:
            kinds[field.name] = None
        else:
            kinds[field.name] = CATEGORICAL
    return kinds


def summarise(
    frame: Any, kinds: dict[str, str | None], *, rank_error: float, rows: int | None = None
) -> tuple[int, dict[str, Values]]:
    """Row count and a summary of every supported column of a Spark DataFrame."""
    from pyspark.sql import functions as F

    from mlsec_gates.gates.drift.engine import summarise as summarise_frame

    supported = {name: kind for name, kind in kinds.items() if kind is not None}
    rows = frame.count() if rows is None else rows
    if rows <= EXACT_VALUES:  # small: the in-memory engine's exact summaries
        pdf = frame.select(*(F.col(_q(c)) for c in supported)).toPandas()
        return rows, summarise_frame(pdf, supported)
    numeric = [c for c, k in supported.items() if k == NUMERIC]
    out: dict[str, Values] = {}
    integral = {f.name for f in frame.schema.fields if type(f.dataType).__name__ in _INTEGER_TYPES}
    if numeric:
        out.update(_numeric(frame, numeric, integral, rank_error))
    for name in (c for c, k in supported.items() if k == CATEGORICAL):
        out[name] = _category_counts(frame, name)
    return rows, {name: out[name] for name in supported}


def _finite(name: str) -> Any:
    from pyspark.sql import functions as F

    col = F.col(_q(name)).cast("double")
    ok = col.isNotNull() & ~F.isnan(col) & (F.abs(col) != float("inf"))
    return F.when(ok, col)


def _numeric(
    frame: Any, names: list[str], integral: set[str], rank_error: float
) -> dict[str, NumericSummary]:
    from pyspark.sql import functions as F

    aggs = []
    for i, name in enumerate(names):
        v = _finite(name)
        aggs += [
            F.count(v).alias(f"n{i}"),
            F.min(v).alias(f"lo{i}"),
            F.max(v).alias(f"hi{i}"),
            F.stddev_pop(v).alias(f"sd{i}"),
            F.count(F.when(F.col(_q(name)).isNull(), 1)).alias(f"null{i}"),
            F.approx_count_distinct(v).alias(f"nd{i}"),
        ]
    stats = frame.agg(*aggs).collect()[0].asDict()
    summaries: dict[str, NumericSummary] = {}
    need_sketch: list[str] = []
    for i, name in enumerate(names):
        n = int(stats[f"n{i}"])
        summary = NumericSummary(
            n=n,
            nunique=BIN_VALUES + 1,
            minimum=float(stats[f"lo{i}"]) if n else 0.0,
            maximum=float(stats[f"hi{i}"]) if n else 0.0,
            std=float(stats[f"sd{i}"] or 0.0),
            # pandas reads an integer column with nulls as float64 (and numpy then bins it
            # without widening): integer only when the column is integral and has no nulls.
            integer=name in integral and int(stats[f"null{i}"]) == 0,
            live=SparkLive(frame, name),
        )
        if n and int(stats[f"nd{i}"]) <= _FEW_EXACT:
            counts = _value_counts(frame, name, limit=BIN_VALUES + 1)
            if counts is not None:
                summary.counts = counts
                summary.nunique = counts.nunique
        if n and summary.counts is None:
            need_sketch.append(name)
        summaries[name] = summary
    if need_sketch:
        _sketch(frame, need_sketch, summaries, rank_error)
    return summaries


def _sketch(
    frame: Any, names: list[str], summaries: dict[str, NumericSummary], rank_error: float
) -> None:
    """Quantiles at the grid's probabilities for several columns in one Spark job."""
    import numpy as np

    probs = (np.arange(GRID + 1) / GRID).tolist()
    finite = frame.select(*(_finite(n).alias(f"c{i}") for i, n in enumerate(names)))
    quantiles = finite.approxQuantile([f"c{i}" for i in range(len(names))], probs, rank_error)
    for name, values in zip(names, quantiles, strict=True):
        summary = summaries[name]
        sketch = np.maximum.accumulate(np.asarray(values, dtype=np.float64))
        sketch[0], sketch[-1] = summary.minimum, summary.maximum  # exact ends
        summary.sketch = np.clip(sketch, summary.minimum, summary.maximum)
        summary.rank_error = rank_error


def _value_counts(frame: Any, name: str, *, limit: int) -> CategoryCounts | None:
    """Exact counts per finite value when there are at most ``limit - 1`` values."""
    import numpy as np

    rows = (
        frame.select(_finite(name).alias("v"))
        .where("v IS NOT NULL")
        .groupBy("v")
        .count()
        .limit(limit)
        .collect()
    )
    if len(rows) >= limit:
        return None
    rows.sort(key=lambda r: r["v"])
    return CategoryCounts(
        np.array([float(r["v"]) for r in rows], dtype=np.float64),
        np.array([int(r["count"]) for r in rows], dtype=np.int64),
    )


def _category_counts(frame: Any, name: str) -> CategoryCounts:
    """Value counts as strings, the way pandas' ``astype(str)`` writes them."""
    import numpy as np
    from pyspark.sql import functions as F

    col = F.col(_q(name))
    field = frame.schema[name]
    if type(field.dataType).__name__ == "BooleanType":
        text = F.when(col, F.lit("True")).when(~col, F.lit("False"))
    else:
        text = col.cast("string")
    rows = frame.select(text.alias("v")).where("v IS NOT NULL").groupBy("v").count().collect()
    return CategoryCounts(
        np.asarray([r["v"] for r in rows], dtype=str),
        np.asarray([int(r["count"]) for r in rows], dtype=np.int64),
    )


class SparkLive(Live):
    """Exact follow-up queries on one numeric column of a Spark DataFrame."""

    def __init__(self, frame: Any, column: str) -> None:
        self.frame = frame
        self.column = column

    def _values(self) -> Any:
        return self.frame.select(_finite(self.column).alias("v")).where("v IS NOT NULL")

    def _bucket_counts(self, splits: list[float]) -> Any:
        import numpy as np
        from pyspark.ml.feature import Bucketizer

        bucketizer = Bucketizer(splits=splits, inputCol="v", outputCol="b", handleInvalid="skip")
        rows = bucketizer.transform(self._values()).groupBy("b").count().collect()
        counts = np.zeros(len(splits) - 1, dtype=np.int64)
        for row in rows:
            counts[int(row["b"])] = int(row["count"])
        return counts

    def histogram(self, edges: Any) -> Any:
        """``np.histogram`` counts: bins ``[e_i, e_i+1)``, the last one closed.

        Bucketizer has the same rule, and compares the same float64 values.
        """
        import numpy as np

        edges = [float(e) for e in edges]
        if len(edges) < 3:  # one bin: every value
            return np.array([self._values().count()], dtype=np.int64)
        return self._bucket_counts(edges)

    def below(self, points: Any) -> tuple[Any, Any]:
        """How many values are ``< p`` and ``<= p`` for each (sorted, distinct) point."""
        import numpy as np
        from pyspark.sql import functions as F

        splits = [float("-inf"), *(float(p) for p in points), float("inf")]
        per_bucket = self._bucket_counts(splits)
        lt = np.cumsum(per_bucket)[:-1]  # values before each point
        equal = dict(
            (float(r["v"]), int(r["count"]))
            for r in self._values()
            .where(F.col("v").isin([float(p) for p in points]))
            .groupBy("v")
            .count()
            .collect()
        )
        eq = np.array([equal.get(float(p), 0) for p in points], dtype=np.int64)
        return lt, lt + eq

    def merged(self, other: Live) -> tuple[float, float] | None:
        """Exact K-S D and Wasserstein-1 from both sides' merged CDFs (one sorted pass)."""
        if not isinstance(other, SparkLive):
            return None
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        left = self._values().select("v", F.lit(1).alias("r"), F.lit(0).alias("c"))
        right = other._values().select("v", F.lit(0).alias("r"), F.lit(1).alias("c"))
        grouped = (
            left.unionByName(right).groupBy("v").agg(F.sum("r").alias("r"), F.sum("c").alias("c"))
        )
        order = Window.orderBy("v")
        running = Window.orderBy("v").rowsBetween(Window.unboundedPreceding, Window.currentRow)
        totals = grouped.agg(F.sum("r").alias("nr"), F.sum("c").alias("nc")).collect()[0]
        nr, nc = float(totals["nr"]), float(totals["nc"])
        steps = grouped.select(
            F.abs(F.sum("r").over(running) / nr - F.sum("c").over(running) / nc).alias("gap"),
            (F.lead("v").over(order) - F.col("v")).alias("width"),
        )
        out = steps.agg(
            F.max("gap").alias("d"), F.sum(F.col("gap") * F.col("width")).alias("w")
        ).collect()[0]
        return float(out["d"] or 0.0), float(out["w"] or 0.0)


def sample_rows(frame: Any, *, rows: int, total: int, label: str | None, seed: int = 0) -> Any:
    """At most about ``rows`` rows as pandas, each with its batch position in ``__mlsec_row``.

    The rate is the same in every label stratum (``sampleBy``), so label shares are kept.
    Positions come from Spark's partition ids and per-partition offsets: for a file read in
    order, the row's index in pandas.
    """
    from pyspark.sql import functions as F

    tagged = frame.select(
        "*",
        F.spark_partition_id().alias("__pid"),
        F.monotonically_increasing_id().alias("__mid"),
    )
    sizes = {int(r["__pid"]): int(r["count"]) for r in tagged.groupBy("__pid").count().collect()}
    offsets, start = {}, 0
    for pid in sorted(sizes):
        offsets[pid] = start
        start += sizes[pid]
    fraction = min(1.0, rows / max(total, 1))
    if fraction < 1.0:
        if label:
            strata = [r[0] for r in frame.select(label).distinct().collect()]
            tagged = tagged.sampleBy(label, {s: fraction for s in strata}, seed=seed)
        else:
            tagged = tagged.sample(fraction=fraction, seed=seed)
    pdf = tagged.toPandas()
    pid = pdf.pop("__pid").to_numpy()
    mid = pdf.pop("__mid").to_numpy()
    import numpy as np

    base = np.array([offsets.get(int(p), 0) for p in pid], dtype=np.int64)
    pdf[ROW_COLUMN] = base + (mid - (pid.astype(np.int64) << 33))
    return pdf.sort_values(ROW_COLUMN).reset_index(drop=True)


def _q(name: str) -> str:
    """A column name quoted for ``F.col`` (dots and spaces are literal)."""
    return "`" + name.replace("`", "``") + "`"
