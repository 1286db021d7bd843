"""The KFP scan fan-out (ParallelFor + Collected), compiled and run for real with kfp.local."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp_helpers import clean_pickle, os_system_pickle

pytestmark = pytest.mark.kfp

POLICY = "gates: {scan: {cache: false, workers: 2}}"


def _zoo(root: Path, *, bad: bool) -> Path:
    zoo = root / "zoo"
    zoo.mkdir()
    for i in range(6):
        (zoo / f"m{i}.pkl").write_bytes(clean_pickle())
    if bad:
        (zoo / "m4.pkl").write_bytes(clean_pickle() + os_system_pickle())
    return zoo


def test_pipeline_compiles_with_a_parallel_for(tmp_path: Path) -> None:
    import yaml
    from kfp import compiler

    from mlsec_gates.components.scan_fanout import scan_fan_out_pipeline

    out = tmp_path / "fan.yaml"
    compiler.Compiler().compile(scan_fan_out_pipeline, str(out))
    spec = yaml.safe_load(out.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    loop = next(t for t in tasks.values() if "parameterIterator" in t)
    assert loop["iteratorPolicy"]["parallelismLimit"] == 8
    assert {"scan-plan", "scan-merge"} <= set(tasks)


def _merged(local_root: Path) -> dict:
    found = sorted(local_root.rglob("scan-merge/report_json"))
    assert found, list(local_root.rglob("*"))
    return json.loads(found[-1].read_text())


def test_clean_zoo_three_shards_pass(local_root: Path, tmp_path: Path) -> None:
    from mlsec_gates.components.scan_fanout import scan_fan_out_pipeline

    zoo = _zoo(tmp_path, bad=False)
    scan_fan_out_pipeline(targets=[str(zoo)], shards=3, policy=POLICY)
    report = _merged(local_root)
    assert report["status"] == "pass"
    assert report["metrics"]["shards"] == 3
    assert sorted(Path(s["path"]).name for s in report["subjects"]) == [
        f"m{i}.pkl" for i in range(6)
    ]


def test_planted_file_fails_the_merged_gate(local_root: Path, tmp_path: Path) -> None:
    from mlsec_gates.components.scan_fanout import scan_fan_out_pipeline

    zoo = _zoo(tmp_path, bad=True)
    with pytest.raises(RuntimeError):
        scan_fan_out_pipeline(targets=[str(zoo)], shards=3, policy=POLICY)
    report = _merged(local_root)
    assert report["status"] == "fail"
    assert [Path(s["path"]).name for s in report["subjects"] if s["verdict"] == "block"] == [
        "m4.pkl"
    ]
