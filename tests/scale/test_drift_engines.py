"""The drift gate on four engines over the same batches: pandas, Spark, PostgreSQL, SQLite.

Every per-column decision must be equal on every engine. Statistics must agree to 1e-7
(relative) where the engine is exact; where the Spark engine used its quantile sketch
(Wasserstein on large columns), the in-memory statistic must lie inside the interval the
Spark check reports (docs/scale.md states the bound).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlsec_gates.gates.drift import drift_profile, run_drift
from mlsec_gates.policy import parse_policy
from mlsec_gates.scale import with_engine

INTERVAL = re.compile(r"distance is in \[([^,]+), ([^\]]+)\]")


def _batch(n: int, *, seed: int, shift: float = 0.0, mix: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(shift, 1.0, n),
            "b": rng.exponential(1.0, n),
            "i": rng.integers(0, 1000, n),
            "few": rng.integers(0, 4, n),
            "cat": rng.choice(["x", "y", "z"], n, p=[1 - 2 * mix / 3, mix / 3, mix / 3]),
            "flag": rng.random(n) < 0.3,
        }
    )
    frame.loc[frame.sample(frac=0.01, random_state=seed).index, "b"] = np.nan
    frame.loc[frame.sample(n=3, random_state=seed + 1).index, "b"] = np.inf
    return frame


CASES: dict[str, tuple[pd.DataFrame, pd.DataFrame, str]] = {
    # > 1000 reference rows: Wasserstein / Jensen-Shannon; sketches on Spark
    "large": (_batch(15_000, seed=1), _batch(12_000, seed=2, shift=0.3, mix=0.5), ""),
    # <= 1000 reference rows: K-S / chi-squared / z, current larger than 10,000 rows
    "small-reference": (_batch(400, seed=3), _batch(12_000, seed=4, shift=0.15), ""),
    # column a's threshold is set a hair above its in-memory Wasserstein distance (below):
    # inside the sketch's interval, so the Spark engine must compute the exact distance
    "near-threshold": (_batch(15_000, seed=5), _batch(12_000, seed=6, shift=0.1), "near"),
    "psi": (_batch(12_000, seed=7), _batch(11_000, seed=8, shift=0.2), "method: psi"),
    # dataset drift (2 of 6 columns >= a 30 % share): the gate fails, so Evidently's page
    # is drawn (evidently_report: auto) on every engine
    "dataset-drift": (
        _batch(1_500, seed=9),
        _batch(1_200, seed=10, shift=0.6, mix=0.7),
        "drift_share: 0.3, evidently_report: auto",
    ),
}


def _policy(engine: str, extra: str, sql_url: str | None = None) -> Any:
    if "evidently_report" not in extra:
        extra = ", ".join(x for x in ("evidently_report: false", extra) if x)
    text = "gates: {drift: {%s}}" % (extra or "threads: 1")
    return with_engine(parse_policy(text, source="<test>"), "drift", engine, sql_url=sql_url)


def _checks(result: Any) -> dict[str, dict[str, Any]]:
    return {c["column"]: c for c in result.details["checks"]}


@pytest.fixture(scope="module")
def results(
    spark: Any, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    import sqlalchemy as sa

    root = tmp_path_factory.mktemp("drift-engines")
    sqlite_url = f"sqlite:///{root / 'batches.db'}"
    out: dict[str, dict[str, Any]] = {}
    for name, (ref, cur, extra) in CASES.items():
        files = {}
        for side, frame in (("ref", ref), ("cur", cur)):
            files[side] = str(root / f"{name}-{side}.parquet")
            frame.to_parquet(files[side], index=False)
            for url in (pg_url, sqlite_url):
                engine = sa.create_engine(url)
                frame.to_sql(
                    f"{name}_{side}".replace("-", "_"), engine, if_exists="replace", index=False
                )
                engine.dispose()
        tables = {s: f"{name}_{s}".replace("-", "_") for s in ("ref", "cur")}
        reports = str(root / "reports")
        if extra == "near":
            first = run_drift(
                files["cur"],
                reference=files["ref"],
                policy=_policy("local", ""),
                report_dir=reports,
            )
            distance = _checks(first)["a"]["statistic"]
            extra = f"per_column: {{a: {{threshold: {distance * (1 + 1e-6)!r}}}}}"
        out[name] = {
            "local": run_drift(
                files["cur"],
                reference=files["ref"],
                policy=_policy("local", extra),
                report_dir=reports,
            ),
            "spark": run_drift(
                files["cur"],
                reference=files["ref"],
                policy=_policy("spark", extra),
                report_dir=reports,
            ),
            "postgresql": run_drift(
                tables["cur"],
                reference=tables["ref"],
                policy=_policy("sql", extra, pg_url),
                report_dir=reports,
            ),
            "sqlite": run_drift(
                tables["cur"],
                reference=tables["ref"],
                policy=_policy("sql", extra, sqlite_url),
                report_dir=reports,
            ),
        }
    return out


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("engine", ["spark", "postgresql", "sqlite"])
def test_decisions_and_statistics_agree(results: dict[str, Any], case: str, engine: str) -> None:
    local, other = _checks(results[case]["local"]), _checks(results[case][engine])
    assert results[case]["local"].status == results[case][engine].status
    assert set(local) == set(other)
    for column, want in local.items():
        got = other[column]
        where = f"{case}/{engine}/{column}"
        assert got["method"] == want["method"], where
        assert got["drifted"] == want["drifted"], (where, want, got)
        interval = INTERVAL.search(got["note"])
        if interval and "exact" not in got["note"]:
            low, high = (float(x) for x in interval.groups())
            assert low * (1 - 1e-3) <= want["statistic"] <= high * (1 + 1e-3), (where, got)
        else:
            assert math.isclose(got["statistic"], want["statistic"], rel_tol=1e-7, abs_tol=1e-12), (
                where,
                want["statistic"],
                got["statistic"],
            )


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("engine", ["spark", "postgresql", "sqlite"])
def test_one_result_on_every_engine(results: dict[str, Any], case: str, engine: str) -> None:
    """Status (warn included), summary, digest, reports and details' shape: the same."""
    local, other = results[case]["local"], results[case][engine]
    assert other.status == local.status
    assert other.summary == local.summary
    assert other.details["engine"] == ("sql" if engine != "spark" else "spark")
    assert local.details["engine"] == "local"
    want, got = local.details["digest"], other.details["digest"]
    assert got["headline"] == want["headline"] == local.summary
    assert got["what_to_do"] == want["what_to_do"]
    assert [(x["title"], x["columns"], [r[0] for r in x["rows"]]) for x in got["sections"]] == [
        (x["title"], x["columns"], [r[0] for r in x["rows"]]) for x in want["sections"]
    ]
    for key in ("decision", "drifted_columns", "columns", "drifted"):
        assert other.details["dataset_drift"][key] == local.details["dataset_drift"][key], key
    assert set(other.reports) == set(local.reports)
    assert bool(other.details["evidently_report"]) == bool(local.details["evidently_report"])
    assert other.details.get("evidently_note") == local.details.get("evidently_note")
    assert set(other.details["histograms"]) == set(local.details["histograms"])
    assert sorted(f.rule_id for f in other.findings) == sorted(f.rule_id for f in local.findings)
    assert set(other.details) == set(local.details)
    assert other.metrics == local.metrics


def test_the_cases_cover_warn_fail_and_pass(results: dict[str, Any]) -> None:
    """Drifted columns under the dataset share warn; dataset drift fails (and draws the page)."""
    statuses = {case: r["local"].status.value for case, r in results.items()}
    assert statuses["large"] == "warn", statuses
    assert statuses["dataset-drift"] == "fail", statuses
    assert results["dataset-drift"]["local"].reports.get("evidently")


def test_the_cases_cover_every_method_and_the_exact_fallback(results: dict[str, Any]) -> None:
    methods = {c["method"] for r in results.values() for c in r["local"].details["checks"]}
    assert methods >= {"wasserstein", "jensenshannon", "ks", "chisquare", "z", "psi"}
    assert any(c["drifted"] for c in results["large"]["local"].details["checks"])
    near = _checks(results["near-threshold"]["spark"])["a"]
    assert "exact (the sketch interval" in near["note"], near
    sketched = _checks(results["large"]["spark"])["b"]
    assert "from quantile sketches" in sketched["note"], sketched


def test_spark_profile_is_read_by_the_in_memory_gate_and_back(spark: Any, tmp_path: Path) -> None:
    ref, cur, _ = CASES["large"]
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    ref.to_parquet(ref_path, index=False)
    cur.to_parquet(cur_path, index=False)
    reports = str(tmp_path / "reports")
    spark_made = drift_profile(
        str(ref_path), out=str(tmp_path / "spark.npz"), policy=_policy("spark", "")
    )
    local_made = drift_profile(
        str(ref_path), out=str(tmp_path / "local.npz"), policy=_policy("local", "")
    )
    direct = _checks(
        run_drift(
            str(cur_path), reference=str(ref_path), policy=_policy("local", ""), report_dir=reports
        )
    )
    for profile, engine in ((spark_made, "local"), (local_made, "spark"), (spark_made, "spark")):
        got = _checks(
            run_drift(
                str(cur_path), profile=profile, policy=_policy(engine, ""), report_dir=reports
            )
        )
        for column, want in direct.items():
            assert got[column]["drifted"] == want["drifted"], (profile, engine, column)
            interval = INTERVAL.search(got[column]["note"])
            if interval:
                low, high = (float(x) for x in interval.groups())
                assert low * (1 - 1e-3) <= want["statistic"] <= high * (1 + 1e-3)
