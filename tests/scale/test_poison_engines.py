"""Poisoning detectors on the Spark and SQL engines: rows sampled by label, positions kept.

With a batch no larger than ``gates.drift.sample_rows`` the sample is the whole batch, so the
detectors must see what the in-memory gate sees: the same alarm everywhere, and on Spark
(rows numbered in file order) the very same suspect rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from mlsec_gates.gates.drift import run_drift
from mlsec_gates.policy import parse_policy
from mlsec_gates.scale import with_engine


def _labelled(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 4))
    label = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2", "f3"])
    frame["label"] = label
    return frame


def _policy(engine: str, url: str | None = None, sample_rows: int = 200_000) -> Any:
    text = f"gates: {{drift: {{evidently_report: false, sample_rows: {sample_rows}}}}}"
    return with_engine(parse_policy(text, source="<test>"), "drift", engine, sql_url=url)


def _suspects(result: Any) -> set[int]:
    path = Path(result.details["suspects_uri"])
    return set(pd.read_csv(path)["row"].tolist())


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("poison")
    ref, cur = _labelled(3000, 1), _labelled(2500, 2)
    flipped = cur.sample(n=60, random_state=3).index.to_numpy()
    cur.loc[flipped, "label"] = 1 - cur.loc[flipped, "label"]
    paths = {"ref": root / "ref.parquet", "cur": root / "cur.parquet"}
    ref.to_parquet(paths["ref"], index=False)
    cur.to_parquet(paths["cur"], index=False)
    return {"ref": ref, "cur": cur, "flipped": set(flipped.tolist()), "paths": paths, "root": root}


def test_whole_batch_sample_gives_the_in_memory_suspects(
    batches: dict[str, Any], spark: Any, pg_url: str
) -> None:
    engine = sa.create_engine(pg_url)
    batches["ref"].to_sql("poison_ref", engine, if_exists="replace", index=False)
    batches["cur"].to_sql("poison_cur", engine, if_exists="replace", index=False)
    engine.dispose()
    reports = str(batches["root"] / "reports")
    paths = batches["paths"]
    runs = {
        "local": run_drift(
            str(paths["cur"]),
            reference=str(paths["ref"]),
            label_column="label",
            policy=_policy("local"),
            report_dir=reports + "/l",
        ),
        "spark": run_drift(
            str(paths["cur"]),
            reference=str(paths["ref"]),
            label_column="label",
            policy=_policy("spark"),
            report_dir=reports + "/s",
        ),
        "postgresql": run_drift(
            "poison_cur",
            reference="poison_ref",
            label_column="label",
            policy=_policy("sql", pg_url),
            report_dir=reports + "/p",
        ),
    }
    local = runs["local"]
    assert local.details["poison"]["alarm"] is True
    found = _suspects(local)
    assert len(found & batches["flipped"]) >= 0.8 * len(batches["flipped"])
    for name, result in runs.items():
        assert result.status == local.status, name
        assert result.details["poison"]["alarm"] is True, name
    # Spark numbers rows in file order, as pandas does: the very same suspect rows. The SQL
    # engine numbers rows in primary-key order (all columns here: no key), so its positions
    # are not file positions and the detectors see the rows in another order.
    assert _suspects(runs["spark"]) == found
    # one result assembly: the same summary and suspects table on Spark; on PostgreSQL the
    # same words (the count may differ: other row order, other suspects)
    assert runs["spark"].summary == local.summary
    assert runs["spark"].details["digest"] == local.details["digest"]
    assert runs["postgresql"].summary.split(" ", 1)[1] == local.summary.split(" ", 1)[1]
    for name in ("spark", "postgresql"):
        assert runs[name].details["poison"]["sample"]["rows_current"] == len(batches["cur"])
        assert set(runs[name].details) == set(local.details), name
