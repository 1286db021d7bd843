"""PoisonDriftGateOperator against the real drift gate, with a fake task instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators import PoisonDriftGateOperator

pytestmark = pytest.mark.airflow

QUIET = "gates: {drift: {evidently_report: false}}"


def _path_of(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


@pytest.fixture()
def wine(tmp_path: Path) -> dict[str, str]:
    """Wine split in a trusted half and a current half; a shifted copy; a label-flipped copy."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    ref = frame.sample(frac=0.5, random_state=0)
    cur = frame.drop(ref.index).reset_index(drop=True)
    shifted = cur.copy()
    for column in ("alcohol", "proline", "hue", "ash", "magnesium", "flavanoids", "malic_acid"):
        shifted[column] = shifted[column] * 1.5 + shifted[column].std() * 2
    out = {}
    for name, data in (("ref", ref), ("cur", cur), ("shifted", shifted)):
        path = tmp_path / f"{name}.csv"
        data.to_csv(path, index=False)
        out[name] = str(path)
    return out


def test_constructor_stores_only(tmp_path: Path) -> None:
    op = PoisonDriftGateOperator(
        task_id="drift", current="s3://nowhere/{{ ds }}.csv", reference=str(tmp_path / "none")
    )
    assert {"current", "reference", "profile", "label_column", "suspects_out"} <= set(
        op.template_fields
    )
    assert op.current.endswith("{{ ds }}.csv")


def test_clean_batch_with_label_passes_and_pushes_locations(
    wine: dict[str, str], tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = PoisonDriftGateOperator(
        task_id="drift",
        current=wine["cur"],
        reference=wine["ref"],
        label_column="target",
        policy=QUIET,
        report_dir=str(tmp_path / "out"),
    )
    summary = op.execute(fake_context)
    assert (summary["gate"], summary["status"], summary["passed"]) == ("drift", "pass", True)
    json.dumps(summary)
    xcoms = fake_context["ti"].xcoms
    report = json.loads(_path_of(xcoms["report_json_url"]).read_text())
    assert report["details"]["label_column"] == "target"
    assert report["details"]["poison"]["alarm"] is False
    suspects = _path_of(xcoms["suspects_url"])
    assert suspects.read_text().startswith("row,reason,score,detector\n")
    assert xcoms["evidently_report_url"] == ""  # turned off by the policy


def test_drifted_batch_fails_the_task_after_pushing_the_report(
    wine: dict[str, str], tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = PoisonDriftGateOperator(
        task_id="drift",
        current=wine["shifted"],
        reference=wine["ref"],
        policy=QUIET,
        report_dir=str(tmp_path / "out"),
    )
    with pytest.raises(AirflowFailException) as info:
        op.execute(fake_context)
    assert "drift gate fail" in str(info.value)
    assert "drift.dataset" in str(info.value)
    xcoms = fake_context["ti"].xcoms
    report = json.loads(_path_of(xcoms["report_json_url"]).read_text())
    assert report["status"] == "fail"
    assert xcoms["suspects_url"] == ""  # no label: no detectors, no suspects file


def test_warn_lets_the_task_succeed(
    wine: dict[str, str], tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = PoisonDriftGateOperator(
        task_id="drift",
        current=wine["shifted"],
        reference=wine["ref"],
        policy=QUIET,
        on_fail="warn",
        report_dir=str(tmp_path / "out"),
    )
    summary = op.execute(fake_context)
    assert (summary["status"], summary["passed"]) == ("warn", True)
