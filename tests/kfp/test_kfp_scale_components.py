"""The scale components under kfp.local: drift pushed down to a database (SQLite file here;
PostgreSQL is covered by tests/scale), and the Spark validation component compiled.

No ``from __future__ import annotations``: KFP reads the pipelines' annotations as objects.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.kfp


def _tables(path: Path) -> str:
    import sqlalchemy as sa

    rng = np.random.default_rng(0)
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    for name, shift in (("ref", 0.0), ("cur", 1.0)):
        pd.DataFrame({"x": rng.normal(shift, 1, 3000), "k": rng.choice(["a", "b"], 3000)}).to_sql(
            name, engine, index=False
        )
    engine.dispose()
    return url


def test_drift_at_scale_sql_engine_runs_and_fails_on_drift(
    local_root: Path, tmp_path: Path
) -> None:
    from kfp import dsl

    from mlsec_gates.components.scale import drift_at_scale

    url = _tables(tmp_path / "w.db")

    @dsl.pipeline(name="drift-at-scale")
    def pipeline():
        drift_at_scale(
            current="cur",
            reference="ref",
            engine="sql",
            sql_url=url,
            policy="gates: {drift: {evidently_report: false, fail_on: column}}",
            fail_on_violation=False,
        )

    pipeline()
    report = json.loads(next(local_root.rglob("drift-at-scale/report_json")).read_text())
    assert report["status"] == "fail"
    assert report["details"]["engine"] == "sql"
    drifted = {c["column"]: c["drifted"] for c in report["details"]["checks"]}
    assert drifted == {"x": True, "k": False}


def test_scale_components_compile(tmp_path: Path) -> None:
    from kfp import compiler, dsl

    from mlsec_gates.components.scale import data_validation_at_scale, drift_at_scale

    @dsl.pipeline(name="gate-the-lake")
    def pipeline(day: str):
        data_validation_at_scale(data_uri=day, suite="suite.yaml", engine="spark")
        drift_at_scale(current=day, reference="s3://lake/trusted/", engine="spark")

    compiler.Compiler().compile(pipeline, str(tmp_path / "p.yaml"))
    assert "drift-at-scale" in (tmp_path / "p.yaml").read_text()
