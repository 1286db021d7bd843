"""The validate gate's Spark engine: Great Expectations' own Spark datasource, rows stay in Spark.

Example:
    >>> from mlsec_gates.gates.validate import validate_gate
    >>> validate_gate("s3://lake/train/", suite="contract.yaml",
    ...               engine="spark")  # doctest: +SKIP

The dataset (a Parquet or CSV file, a directory of part files, or a glob; local, ``s3://`` or
``s3a://``) is opened as a Spark DataFrame and handed to GX's Spark datasource
(``context.data_sources.add_spark``), which evaluates every expectation as Spark jobs: the
gate process receives GX's result (counts, observed values, a few unexpected values), never
the rows. Failing sample rows are fetched with one filtered ``limit`` query.

Type expectations name types per engine (``float64`` for pandas, ``DOUBLE_PRECISION`` for
PostgreSQL, ``DoubleType`` for Spark). A suite written for pandas or profiled by
``validate-profile`` lists the pandas and SQL names; here each numpy/pandas dtype name also
admits the Spark type that the same data get when Spark reads them (:data:`SPARK_TYPES`), so
one suite gives one verdict on every engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from mlsec_gates.gates.validate.data import Table
from mlsec_gates.gates.validate.suite import ExpectationSpec
from mlsec_gates.policy import Policy
from mlsec_gates.result import Subject
from mlsec_gates.storage import S3Options

SPARK_TYPES: dict[str, tuple[str, ...]] = {
    "float64": ("DoubleType",),
    "float32": ("FloatType",),
    "Float64": ("DoubleType",),
    # Spark's CSV inference gives IntegerType to integers that fit 32 bits; pandas gives int64.
    "int64": ("LongType", "IntegerType"),
    "Int64": ("LongType", "IntegerType"),
    "int32": ("IntegerType",),
    "int16": ("ShortType",),
    "int8": ("ByteType",),
    "bool": ("BooleanType",),
    "boolean": ("BooleanType",),
    "str": ("StringType",),
    "object": ("StringType",),
    "string": ("StringType",),
    "StringDtype": ("StringType",),
    "datetime64[ns]": ("TimestampType", "TimestampNTZType"),
    "datetime64[us]": ("TimestampType", "TimestampNTZType"),
}
"""numpy/pandas dtype name -> the Spark types the same column has when Spark reads it."""


@contextlib.contextmanager
def open_spark_data(uri: str, *, policy: Policy, s3: S3Options | None = None) -> Iterator[Table]:
    """The dataset as a :class:`Table` whose ``frame`` is a Spark DataFrame.

    Raises:
        ConfigError: pyspark or Java missing.
        InputError: the dataset cannot be read.
    """
    from mlsec_gates.scale.spark import dataset_kind, read_dataset, spark_session

    spark = spark_session(policy, s3)
    frame = read_dataset(spark, uri)
    rows = frame.count()
    try:
        yield Table(
            subject=Subject(path=uri, sha256=None, kind=f"spark-{dataset_kind(uri)}"),
            rows=int(rows),
            columns=tuple(frame.columns),
            engine="spark",
            frame=frame,
            dtypes={name: kind for name, kind in frame.dtypes},
        )
    finally:
        # GX persists the batch's DataFrame and never releases it: free it, or a long-lived
        # session holds every batch it validated (read_dataset refreshes a path before reading).
        frame.unpersist()


def is_spark_frame(frame: Any) -> bool:
    """True for a ``pyspark.sql.DataFrame`` (classic or Spark Connect), without importing it."""
    return type(frame).__module__.startswith("pyspark.")


def spark_batch(context: Any, frame: Any) -> tuple[Any, dict[str, Any]]:
    """GX's batch definition for a Spark DataFrame, and the batch parameters to run it with."""
    source = context.data_sources.add_spark("mlsec")
    batch = source.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all")
    return batch, {"dataframe": frame}


def with_spark_types(spec: ExpectationSpec) -> ExpectationSpec:
    """A type expectation that also admits the Spark names of its numpy/pandas types."""
    kwargs = dict(spec.kwargs)
    if spec.type == "expect_column_values_to_be_in_type_list" and kwargs.get("type_list"):
        listed = list(kwargs["type_list"])
        extra = [t for name in listed for t in SPARK_TYPES.get(str(name), ())]
        kwargs["type_list"] = list(dict.fromkeys([*listed, *extra]))
    elif spec.type == "expect_column_values_to_be_of_type" and kwargs.get("type_") in SPARK_TYPES:
        kwargs["type_"] = SPARK_TYPES[str(kwargs["type_"])][0]
    else:
        return spec
    return dataclasses.replace(spec, kwargs=kwargs)


def sample_spark_rows(frame: Any, column: str, values: list[Any], limit: int) -> list[dict]:
    """Up to ``limit`` rows whose ``column`` holds one of ``values`` (None: null)."""
    from pyspark.sql import functions as F

    if limit <= 0 or not values:
        return []
    col = F.col(f"`{column}`")
    plain = [v for v in values if v is not None and v == v]
    cond = col.isin(plain) if plain else F.lit(False)
    if len(plain) < len(values):
        cond = cond | col.isNull()
    try:
        return [row.asDict() for row in frame.filter(cond).limit(limit).collect()]
    except Exception:  # samples illustrate; the verdict never depends on them
        return []
