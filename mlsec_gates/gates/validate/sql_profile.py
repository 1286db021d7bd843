"""``validate-profile`` from a table of a SQL database (PostgreSQL, SQLite...).

Example:
    >>> from mlsec_gates.gates.validate.sql_profile import profile_table
    >>> profile_table("postgresql://db/features", "train_2024_06",
    ...               out="suites/train.yaml")  # doctest: +SKIP

The table is read through SQLAlchemy into pandas (as a file reference is: profiling needs the
values) and profiled by :func:`~mlsec_gates.gates.validate.profile.profile_frame`, so the
suite lists the pandas dtype and the SQL type names of each column and validates that same
table in place (``validate --sql-url URL --table NAME``) as well as exports of it.
"""

from __future__ import annotations

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import gate_storage, load_policy
from mlsec_gates.policy import Policy
from mlsec_gates.storage import S3Options, Storage


def profile_table(
    sql_url: str,
    table: str,
    *,
    out: str,
    s3: S3Options | None = None,
    policy: Policy | str | None = None,
    name: str | None = None,
) -> str:
    """Profile ``table`` of ``sql_url`` and write a starter suite; returns where it went.

    Raises:
        ConfigError: bad URL or policy.
        InputError: no such table, or it has no rows.
        StorageError: ``out`` cannot be written.
    """
    import pandas as pd
    import sqlalchemy as sa

    from mlsec_gates.gates.validate.data import _sql_table, safe_url
    from mlsec_gates.gates.validate.profile import _settings_from, profile_frame

    loaded = load_policy(policy, storage=Storage(s3) if s3 else Storage(), gate="validate")
    storage = gate_storage(loaded, s3)
    described = _sql_table(sql_url, table)  # one-line errors for a bad URL or table
    engine = sa.create_engine(sql_url)
    try:
        with engine.connect() as con:
            frame = pd.read_sql_table(table, con)
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise InputError(f"{safe_url(sql_url)}: cannot read table {table!r}: {exc}") from None
    finally:
        engine.dispose()
    text = profile_frame(
        frame,
        name=name or table,
        settings=_settings_from(loaded),
        source=f"{described.subject.path} ({described.rows} rows)",
    )
    return storage.write_bytes(out, text.encode("utf-8"), content_type="application/yaml")


def profile_reference(
    reference: str | None,
    *,
    sql_url: str | None,
    table: str | None,
    out: str,
    s3: S3Options | None = None,
    policy: Policy | str | None = None,
) -> str:
    """``validate-profile``: a reference file, or ``table`` of ``sql_url``; returns where.

    Raises:
        ConfigError: not exactly one of a file or ``sql_url`` + ``table``.
        InputError, StorageError: as :func:`profile_table` and
            :func:`~mlsec_gates.gates.validate.profile.profile_suite`.
    """
    from mlsec_gates.gates.validate.profile import profile_suite

    if bool(reference) == bool(sql_url or table) or bool(sql_url) != bool(table):
        raise ConfigError("give a reference file, or --sql-url with --table")
    if reference:
        return profile_suite(reference, out=out, s3=s3, policy=policy)
    assert sql_url and table
    return profile_table(sql_url, table, out=out, s3=s3, policy=policy)
