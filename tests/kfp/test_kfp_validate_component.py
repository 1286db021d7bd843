"""The validation components called through ``.python_func`` against the real gate.

The first test pays for importing Great Expectations (4-7 s); the others take well under a
second each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl
from kfp_helpers import REPO, gate_outputs, iris_like_csv, report_locations

from mlsec_gates.components import data_validation, data_validation_uri
from mlsec_gates.components._runtime import GateFailed

pytestmark = pytest.mark.kfp

SUITE_FILE = REPO / "dags" / "suites" / "iris.yaml"


@pytest.fixture()
def dataset(tmp_path: Path) -> dsl.Dataset:
    """A clean CSV under an extension-less path, as KFP names artifact files."""
    path = tmp_path / "prepare-iris" / "dataset"
    path.parent.mkdir()
    path.write_text(iris_like_csv())
    return dsl.Dataset(uri=str(path))


@pytest.fixture()
def broken_csv(tmp_path: Path) -> Path:
    path = tmp_path / "broken.csv"
    path.write_text(iris_like_csv(broken=True))
    return path


def report(outs: dict[str, Any]) -> dict[str, Any]:
    return json.loads(Path(outs["report_json"].path).read_text())


def assert_written(outs: dict[str, Any]) -> None:
    assert "<html" in Path(outs["report_html"].path).read_text().lower()
    assert Path(outs["report_md"].path).read_text().startswith("# mlsec-gates validate:")
    body = report(outs)
    assert body["reports"] == report_locations(outs, "validate")
    assert outs["report_json"].metadata["gate"] == "validate"
    assert outs["report_json"].metadata["passed"] is body["passed"]
    assert outs["metrics"].metadata["passed"] == int(body["passed"])


def test_clean_dataset_passes(dataset: dsl.Dataset, tmp_path: Path) -> None:
    # The suite of the example pipeline, inline, as the pipeline passes it.
    outs = gate_outputs(tmp_path)
    passed, status, _ = data_validation.python_func(
        data=dataset, suite=SUITE_FILE.read_text(), **outs
    )
    assert (passed, status) == (True, "pass")
    assert_written(outs)
    assert report(outs)["subjects"][0]["kind"] == "csv"  # recognised without an extension


def test_broken_data_fails_the_task_after_writing_outputs(broken_csv: Path, tmp_path: Path) -> None:
    outs = gate_outputs(tmp_path)
    with pytest.raises(GateFailed, match=r"^validate gate fail\n") as info:
        data_validation_uri.python_func(data_uri=str(broken_csv), suite=str(SUITE_FILE), **outs)
    assert "expect_column_values_to_not_be_null" in str(info.value)
    assert_written(outs)
    assert (report(outs)["passed"], report(outs)["status"]) == (False, "fail")
    html = Path(outs["report_html"].path).read_text()
    assert "expect_column_values_to_be_between" in html


def test_soft_gate_returns_instead_of_raising(broken_csv: Path, tmp_path: Path) -> None:
    outs = gate_outputs(tmp_path)
    passed, status, summary = data_validation.python_func(
        data=dsl.Dataset(uri=str(broken_csv)),
        suite=str(SUITE_FILE),
        fail_on_violation=False,
        **outs,
    )
    assert (passed, status) == (False, "fail")
    assert summary == report(outs)["summary"]
    assert_written(outs)
