"""Real servers for the scale-engine tests: a local Spark (pyspark, local[2]) and PostgreSQL.

``.ci/run`` installs Java and PostgreSQL from Debian's packages and starts a throw-away
cluster (``scripts/pg_test_server.sh``), exporting ``MLSEC_TEST_PG_URL``. Run by hand, the
fixture starts that cluster itself when the binaries are there. Without a server or Java the
tests are skipped on a developer machine and FAIL under ``CI`` (a missing server must never
look like a pass).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must run the scale-engine tests on real servers)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a real PostgreSQL server's empty-ish test database."""
    url = os.environ.get("MLSEC_TEST_PG_URL")
    if not url:
        started = subprocess.run(
            ["bash", str(REPO / "scripts" / "pg_test_server.sh"), "start"],
            capture_output=True,
            text=True,
            check=False,
        )
        line = next((x for x in started.stdout.splitlines() if "MLSEC_TEST_PG_URL=" in x), "")
        url = line.split("=", 1)[1] if line else ""
        if not url:
            _missing(f"no PostgreSQL server: {started.stderr.strip()[-300:]}")
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        _missing(f"PostgreSQL at {url} does not answer: {exc}")
    return url


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local[2] Spark session for the whole test run (the gates reuse it)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _missing("pyspark is not installed (pip install 'mlsec-gates[spark]')")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        _missing("no Java runtime (apt-get install openjdk-17-jre-headless)")
    from mlsec_gates.policy import Policy
    from mlsec_gates.scale.spark import spark_session

    session = spark_session(Policy())
    yield session
    session.stop()


def to_sql(frame, url: str, table: str) -> None:  # type: ignore[no-untyped-def]
    """Replace ``table`` in the database at ``url`` with ``frame``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        frame.to_sql(table, engine, if_exists="replace", index=False)
    finally:
        engine.dispose()
