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
from typing import Any

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.policy import Policy
from mlsec_gates.storage import S3Options

_LOCAL_DEFAULTS = {
    # Gate jobs are small DAGs of aggregations: Spark's 200 shuffle partitions are mostly
    # empty tasks on a laptop or a 2-core worker.
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Local mode runs the executors in the driver's JVM: 1 GB of heap runs out reading
    # Parquet files with 1M-row groups (two tasks, each holding a ~150 MB row group);
    # 1400 MB reads 20M x 20 within a 2 GB budget for the whole process tree.
    "spark.driver.memory": "1400m",
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
        conf = dict(_LOCAL_DEFAULTS) if settings.master.startswith("local") else {}
        conf.update(s3a_conf(s3))
        conf.update(settings.conf)
        for key, value in conf.items():
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
    header row and Spark infers the column types (as pandas does).

    Raises:
        InputError: the path does not exist or cannot be read as Parquet/CSV.
    """
    path = spark_path(uri)
    kind = dataset_kind(uri)
    try:
        reader = spark.read
        if kind == "csv":
            frame = reader.options(header=True, inferSchema=True).csv(path)
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
