"""The settings a gate's Spark session starts with: memory defaults for local mode only.

A ``local[N]`` driver runs every task in its own JVM, so its heap, collector and read buffers
are the whole footprint (docs/scale.md, "Memory of a local session"); on a cluster the
platform's settings apply, and the policy's ``spark.conf`` always wins.
"""

from __future__ import annotations

from mlsec_gates.policy import parse_policy
from mlsec_gates.scale.spark import session_conf

LOCAL_KEYS = (
    "spark.driver.memory",
    "spark.driver.defaultJavaOptions",
    "spark.hadoop.parquet.hadoop.vectored.io.enabled",
)


def _policy(spark: str):  # type: ignore[no-untyped-def]
    return parse_policy(f"spark: {spark}\n")


def test_local_master_gets_the_memory_defaults() -> None:
    conf = session_conf(_policy("{master: 'local[2]'}"))
    assert conf["spark.driver.memory"] == "1g"
    assert "-XX:+UseSerialGC" in conf["spark.driver.defaultJavaOptions"].split()
    assert conf["spark.hadoop.parquet.hadoop.vectored.io.enabled"] == "false"


def test_cluster_master_gets_none_of_them() -> None:
    conf = session_conf(_policy("{master: 'spark://head:7077', conf: {spark.executor.memory: 4g}}"))
    assert not set(LOCAL_KEYS) & set(conf)
    assert conf["spark.executor.memory"] == "4g"


def test_the_policy_conf_wins_over_the_defaults() -> None:
    conf = session_conf(
        _policy(
            "{master: 'local[4]', conf: {spark.driver.memory: 3g,"
            " spark.hadoop.parquet.hadoop.vectored.io.enabled: 'true'}}"
        )
    )
    assert conf["spark.driver.memory"] == "3g"
    assert conf["spark.hadoop.parquet.hadoop.vectored.io.enabled"] == "true"
    assert "-XX:+UseSerialGC" in conf["spark.driver.defaultJavaOptions"]


def test_a_collector_of_the_user_replaces_ours() -> None:
    """Two collectors stop the JVM at start ("Multiple garbage collectors selected")."""
    conf = session_conf(_policy("{conf: {spark.driver.extraJavaOptions: '-XX:+UseG1GC -Dapp=x'}}"))
    options = conf["spark.driver.defaultJavaOptions"]
    assert "GC" not in options and "-Djdk.nio.maxCachedBufferSize" in options
    assert conf["spark.driver.extraJavaOptions"] == "-XX:+UseG1GC -Dapp=x"


def test_the_local_jvm_runs_with_them(spark) -> None:  # type: ignore[no-untyped-def]
    """The options reach the JVM that pyspark launches (spark-submit reads them)."""
    jvm = spark.sparkContext._jvm
    args = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert "-XX:+UseSerialGC" in args and "-Xmx1g" in args
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert hadoop.get("parquet.hadoop.vectored.io.enabled") == "false"
