"""The validate gate on every engine, with the same suite and the same (real) data.

scikit-learn's bundled data sets, split into a reference half (profiled into a suite) and a
held-out half, are damaged one way at a time (tests/datasets.py ``BREAKS``) and validated
with pandas (Parquet), Spark (GX's Spark datasource, Parquet and CSV), PostgreSQL and SQLite
(GX's SQL datasource, in place). Status and failed expectations must be the same everywhere;
clean held-out halves must pass everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.gates.validate import run_validate
from mlsec_gates.gates.validate.profile import profile_suite
from mlsec_gates.policy import Policy
from mlsec_gates.result import GateResult
from mlsec_gates.scale import with_engine
from tests import datasets as ds

SPARK = with_engine(Policy(), "validate", "spark")


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("suites")
    out = {}
    for name, load in ds.DATASETS.items():
        reference, _ = ds.split(load())
        ref = ds.write(reference, root / f"{name}-reference.parquet")
        out[name] = profile_suite(str(ref), out=str(root / f"{name}.yaml"))
    return out


def _failed(result: GateResult) -> set[tuple[str, str]]:
    return {(f.rule_id, f.message.split("): ")[0]) for f in result.findings}


def _everywhere(frame: Any, suite: str, root: Path, pg_url: str, *, csv: bool) -> dict[str, Any]:
    import sqlalchemy as sa

    parquet = ds.write(frame, root / "batch.parquet")
    out = {
        "pandas": run_validate(str(parquet), suite=suite),
        "spark": run_validate(str(parquet), suite=suite, policy=SPARK),
    }
    if csv:
        out["spark-csv"] = run_validate(
            str(ds.write(frame, root / "batch.csv")), suite=suite, policy=SPARK
        )
    engine = sa.create_engine(pg_url)
    frame.to_sql("batch", engine, if_exists="replace", index=False)
    engine.dispose()
    out["postgresql"] = run_validate(None, sql_url=pg_url, table="batch", suite=suite)
    sqlite_url = ds.write_sqlite(frame, root / "batch.db")
    out["sqlite"] = run_validate(None, sql_url=sqlite_url, table="batch", suite=suite)
    return out


@pytest.mark.parametrize("brk", ds.BREAKS, ids=[b.name for b in ds.BREAKS])
def test_break_gives_the_same_verdict_on_every_engine(
    brk: ds.Break, suites: dict[str, str], spark: Any, pg_url: str, tmp_path: Path
) -> None:
    _, held_out = ds.split(ds.DATASETS[brk.dataset]())
    results = _everywhere(
        brk.apply(held_out),
        suites[brk.dataset],
        tmp_path,
        pg_url,
        csv=brk.name in ("nulls", "new-category-species"),
    )
    want = results["pandas"]
    assert want.status.value == "fail"
    assert any(brk.expectation in f.message for f in want.findings)
    for engine, got in results.items():
        assert got.status == want.status, (engine, got.summary)
        assert _failed(got) == _failed(want), engine


@pytest.mark.parametrize("name", list(ds.DATASETS))
def test_clean_held_out_half_passes_on_every_engine(
    name: str, suites: dict[str, str], spark: Any, pg_url: str, tmp_path: Path
) -> None:
    _, held_out = ds.split(ds.DATASETS[name]())
    results = _everywhere(held_out, suites[name], tmp_path, pg_url, csv=name == "iris")
    for engine, got in results.items():
        assert got.status.value == "pass", (engine, [f.message for f in got.findings])


def test_spark_engine_keeps_rows_in_spark(
    spark: Any, suites: dict[str, str], tmp_path: Path
) -> None:
    _, held_out = ds.split(ds.iris())
    broken = ds.out_of_range(held_out, "sepal length (cm)")
    result = run_validate(
        str(ds.write(broken, tmp_path / "b.parquet")), suite=suites["iris"], policy=SPARK
    )
    assert result.details["engine"] == "spark"
    finding = next(f for f in result.findings if f.rule_id == "validate.out-of-range")
    assert finding.evidence["unexpected_count"] == 3
    assert len(finding.evidence["sample_rows"]) == 3  # fetched by one filtered Spark query


def test_validate_profile_from_a_postgresql_table(pg_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from mlsec_gates.gates.validate.profile import profile_suite

    reference, held_out = ds.split(ds.wine())
    engine = sa.create_engine(pg_url)
    reference.to_sql("wine_ref", engine, if_exists="replace", index=False)
    held_out.to_sql("wine_new", engine, if_exists="replace", index=False)
    ds.new_category(held_out, "target", 3).to_sql(
        "wine_bad", engine, if_exists="replace", index=False
    )
    engine.dispose()
    suite = profile_suite(None, sql_url=pg_url, table="wine_ref", out=str(tmp_path / "wine.yaml"))
    assert run_validate(None, sql_url=pg_url, table="wine_new", suite=suite).status.value == "pass"
    bad = run_validate(None, sql_url=pg_url, table="wine_bad", suite=suite)
    assert bad.status.value == "fail"
    assert any("expect_column_values_to_be_in_set" in f.message for f in bad.findings)
    # the same suite holds for the file the table came from
    assert (
        run_validate(str(ds.write(held_out, tmp_path / "w.parquet")), suite=suite).status.value
        == "pass"
    )


def test_shape_check_gives_the_same_verdict_on_every_engine(
    spark: Any, pg_url: str, tmp_path: Path
) -> None:
    """A profiled shape regex (``[0-9]+``, letter runs, escaped punctuation) means the same on
    pandas, Spark (``rlike``), PostgreSQL (``~``) and SQLite (REGEXP)."""
    import pandas as pd

    stamps = pd.date_range("2024-01-01", periods=400, freq="37min").strftime("%Y-%m-%d %H:%M")
    codes = [f"{a}{b}-{n}" for a in "ABCDEFGHIJ" for b in "KLMNOPQRST" for n in (7, 81)]
    reference = pd.DataFrame({"at": list(stamps[:200]), "code": codes[:200]})
    suite = profile_suite(
        str(ds.write(reference, tmp_path / "ref.parquet")), out=str(tmp_path / "s.yaml")
    )
    assert Path(suite).read_text().count("expect_column_values_to_match_regex") == 2
    clean = pd.DataFrame({"at": list(stamps[200:]), "code": codes[:100] + codes[100:][::-1]})
    for engine, got in _everywhere(clean, suite, tmp_path, pg_url, csv=True).items():
        assert got.status.value == "pass", (engine, [f.message for f in got.findings])
    broken = clean.copy()
    broken.loc[:2, "at"] = ["__never_seen__", "2024/01/01 10:00", "yesterday"]
    broken.loc[:1, "code"] = ["AB_7", "AB-7-1"]
    # The same paths, rewritten: Spark must not answer from the clean batch's cached read.
    results = _everywhere(broken, suite, tmp_path, pg_url, csv=True)
    want = results["pandas"]
    assert want.status.value == "fail"
    regex_failed = {m for _, m in _failed(want) if "match_regex" in m}
    assert {m.split("column=")[1].split(",")[0] for m in regex_failed} == {"at", "code"}
    for engine, got in results.items():
        assert got.status == want.status, (engine, got.summary)
        assert _failed(got) == _failed(want), engine
