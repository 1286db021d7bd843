"""One Spark session for the gates, built from the policy's ``spark`` section.

Example:
    >>> from mlsec_gates.policy import Policy
    >>> from mlsec_gates.scale.spark import spark_session
    >>> spark = spark_session(Policy())  # doctest: +SKIP
    >>> spark.conf.get("spark.master")  # doctest: +SKIP
    'local[2]'

``master`` is anything ``spark-submit --master`` takes (``local[2]``, ``spark://host:7077``,
``yarn``, ``k8s://https://...``); ``remote`` is a Spark Connect URL (``sc://...``, Databricks
Connect) and wins over ``master``. ``s3://`` and ``s3a://`` paths are read through Hadoop's
S3A connector, configured from the policy's ``storage.s3`` (endpoint, path-style access);
the ``hadoop-aws`` jar must be on the cluster's class path (``spark.jars.packages``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.policy import Policy
from mlsec_gates.storage import S3Options

_LOCAL_JAVA_OPTIONS = (
    # Local mode runs the executors' tasks in the driver's JVM, so the JVM is the whole
    # footprint. The serial collector grows the heap only as the live data need it and keeps
    # no remembered sets (G1 used ~75 MB for them and filled its whole heap), and never
    # fragments on the 8-16 MB buffers Parquet and Tungsten allocate (G1 "humongous"
    # objects, the out-of-heap errors seen with a 1 GB G1 heap). Two tasks, one collector
    # thread: its pauses cost little here.
    "-XX:+UseSerialGC",
    # The JDK caches a temporary direct buffer per thread as large as the largest read it
    # did (118 MB for a row group read in one call): keep only small ones.
    "-Djdk.nio.maxCachedBufferSize=1048576",
)

_LOCAL_DEFAULTS = {
    # Gate jobs are small DAGs of aggregations: Spark's 200 shuffle partitions are mostly
    # empty tasks on a laptop or a 2-core worker.
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Whole-process budget of 2 GB for the driver (JVM + Python) on 20M x 20 Parquet with
    # 1M-row groups (docs/scale.md, "Memory of a local session"). The live heap is ~450 MB:
    # two tasks each holding a row group's column chunks (~120 MB) plus the sketches.
    "spark.driver.memory": "1g",
    # Execution and storage memory share (heap - 300 MB) x this fraction. Great Expectations
    # persists the batch (MEMORY_AND_DISK): at 0.6 its cached blocks filled 434 MB of a 1 GB
    # heap next to the Parquet buffers (515 MB of live byte arrays, old generation full);
    # at 0.3 the rest of the cache goes to disk, as most of it does anyway at 20M rows.
    "spark.memory.fraction": "0.3",
    # Prepended to the user's spark.driver.extraJavaOptions (which win, flag by flag).
    "spark.driver.defaultJavaOptions": " ".join(_LOCAL_JAVA_OPTIONS),
    # Parquet 1.16's vectored reads fetch a row group's chunks in one call through a JDK
    # channel, which copies through a direct buffer of the same size (~120 MB per task,
    # outside the heap); plain reads go through 8 MB heap buffers.
    "spark.hadoop.parquet.hadoop.vectored.io.enabled": "false",
}


def spark_session(policy: Policy, s3: S3Options | None = None) -> Any:
    """The running session, or a new one as the policy says.

    A session that already runs in this process (a notebook, a Databricks job, a second gate
    in one task) is reused as it is: its master cannot change any more.

    Raises:
        ConfigError: pyspark is missing, or Spark (Java) cannot start.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the spark engine needs pyspark (and Java 17+): pip install 'mlsec-gates[spark]'"
        ) from None
    settings = policy.spark
    builder = SparkSession.builder.appName(settings.app_name)
    if settings.remote:
        builder = builder.remote(settings.remote)
    else:
        builder = builder.master(settings.master)
        for key, value in session_conf(policy, s3).items():
            builder = builder.config(key, value)
    os.environ.setdefault("PYSPARK_PYTHON", _python())
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J / PySparkRuntimeError: no Java, bad master...
        text = str(exc).strip().splitlines()
        raise ConfigError(
            f"Spark could not start ({settings.remote or settings.master}): "
            f"{text[0] if text else type(exc).__name__}; is Java 17+ installed (JAVA_HOME)?"
        ) from None
    if not settings.remote:  # Spark Connect sessions have no SparkContext
        session.sparkContext.setLogLevel("ERROR")
    return session


def session_conf(policy: Policy, s3: S3Options | None = None) -> dict[str, str]:
    """The settings a new (non-Connect) session is built with.

    A ``local[...]`` master gets :data:`_LOCAL_DEFAULTS` (the driver's JVM is the whole
    footprint there); other masters get only S3A and the policy's ``spark.conf``, which wins
    over everything. A collector chosen in the user's ``spark.driver.extraJavaOptions``
    replaces ours: the JVM refuses to start with two ("Multiple garbage collectors selected").
    """
    settings = policy.spark
    conf: dict[str, str] = {}
    if settings.master.startswith("local"):
        conf.update(_LOCAL_DEFAULTS)
        extra = str(settings.conf.get("spark.driver.extraJavaOptions", ""))
        if re.search(r"-XX:\+Use\w*GC\b", extra):
            options = (o for o in _LOCAL_JAVA_OPTIONS if not o.endswith("GC"))
            conf["spark.driver.defaultJavaOptions"] = " ".join(options)
    conf.update(s3a_conf(s3))
    conf.update(settings.conf)
    return conf


def s3a_conf(s3: S3Options | None) -> dict[str, str]:
    """Hadoop S3A settings for an S3-compatible endpoint (MinIO, moto, Ceph)."""
    if s3 is None:
        return {}
    conf: dict[str, str] = {}
    if s3.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint_url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        if s3.endpoint_url.startswith("http://"):
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "false"
    if s3.region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = s3.region
    return conf


def spark_path(uri: str) -> str:
    """``s3://`` as Hadoop's ``s3a://`` (``s3://`` is EMR's own scheme); others unchanged."""
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def read_dataset(spark: Any, uri: str) -> Any:
    """A Parquet or CSV dataset (a file, a directory of part files, or a glob) as a DataFrame.

    The format comes from the extension of the path or of its first part file; CSV has a
    header row and Spark infers the column types (as pandas does). Spark would also infer
    dates and timestamps, which pandas leaves as text: such columns are read back as text, so
    a suite or a profile gives the same verdict on both engines (a shape regex, a value set).

    Raises:
        InputError: the path does not exist or cannot be read as Parquet/CSV.
    """
    path = spark_path(uri)
    kind = dataset_kind(uri)
    try:
        # Data cached in this session for the path (a persisted earlier read) may be stale.
        spark.catalog.refreshByPath(path)
        reader = spark.read
        if kind == "csv":
            frame = reader.options(header=True, inferSchema=True).csv(path)
            frame = _dates_as_text(spark, frame, path)
        elif kind == "json":
            frame = reader.json(path)
        else:
            frame = reader.parquet(path)
        frame.schema  # noqa: B018 - resolves the files now: a missing path fails here
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise InputError(
            f"{uri}: Spark cannot read it as {kind}: {text[0] if text else type(exc).__name__}"
        ) from None
    return frame


def _dates_as_text(spark: Any, frame: Any, path: str) -> Any:
    """The CSV read again with the inferred schema, but text where Spark inferred a date/time."""
    from pyspark.sql.types import (
        DateType,
        StringType,
        StructField,
        StructType,
        TimestampNTZType,
        TimestampType,
    )

    dated = (DateType, TimestampType, TimestampNTZType)
    fields = frame.schema.fields
    if not any(isinstance(f.dataType, dated) for f in fields):
        return frame
    schema = StructType(
        [
            StructField(f.name, StringType(), True) if isinstance(f.dataType, dated) else f
            for f in fields
        ]
    )
    return spark.read.options(header=True).schema(schema).csv(path)


def dataset_kind(uri: str) -> str:
    """``parquet``, ``csv`` or ``json`` from the path (a directory: from its part files)."""
    name = uri.rstrip("/").lower()
    for ext, kind in ((".csv", "csv"), (".tsv", "csv"), (".jsonl", "json"), (".json", "json")):
        if name.endswith(ext):
            return kind
    if "://" not in uri and os.path.isdir(uri):
        names = sorted(os.listdir(uri))
        if any(n.endswith(".csv") for n in names) and not any(
            n.endswith(".parquet") for n in names
        ):
            return "csv"
    return "parquet"


def _python() -> str:
    import sys

    return sys.executable
