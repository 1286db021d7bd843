"""The poison_drift component: ``python_func`` against the real gate, and one kfp.local run.

No ``from __future__ import annotations``: KFP reads the test pipeline's annotations.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from kfp import dsl
from kfp_helpers import gate_outputs

from mlsec_gates.components import poison_drift
from mlsec_gates.components._runtime import GateFailed

pytestmark = pytest.mark.kfp

QUIET = "gates: {drift: {evidently_report: false}}"


def _iris_halves(tmp_path: Path, *, flips: int = 0, shift: float = 0.0) -> tuple[Any, Any]:
    """Trusted and current halves of iris as extension-less CSV artifacts (as KFP names them)."""
    import numpy as np
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["target"] = iris.target_names[iris.target]
    ref = frame.iloc[::2].reset_index(drop=True)
    cur = frame.iloc[1::2].reset_index(drop=True)
    numeric = cur.columns[:4]
    cur[numeric] = cur[numeric] + shift * cur[numeric].std()
    rng = np.random.default_rng(0)
    for row in rng.choice(len(cur), flips, replace=False):
        cur.loc[row, "target"] = "virginica" if cur.loc[row, "target"] != "virginica" else "setosa"
    artifacts = []
    for name, data in (("reference", ref), ("current", cur)):
        path = tmp_path / name / "dataset"
        path.parent.mkdir(parents=True, exist_ok=True)
        data.to_csv(path, index=False)
        artifacts.append(dsl.Dataset(uri=str(path)))
    return artifacts[0], artifacts[1]


def _outputs(tmp_path: Path) -> dict[str, Any]:
    outs = gate_outputs(tmp_path)
    outs["suspects"] = dsl.Dataset(uri=str(tmp_path / "outputs" / "suspects"))
    outs["evidently_html"] = dsl.HTML(uri=str(tmp_path / "outputs" / "evidently_html"))
    return outs


def test_clean_batch_passes_with_every_output(tmp_path: Path) -> None:
    ref, cur = _iris_halves(tmp_path)
    outs = _outputs(tmp_path)
    passed, status, _ = poison_drift.python_func(
        current=cur, reference=ref, label_column="target", policy=QUIET, **outs
    )
    assert (passed, status) == (True, "pass")
    body = json.loads(Path(outs["report_json"].path).read_text())
    assert body["reports"]["suspects"] == outs["suspects"].uri
    assert len(body["details"]["checks"]) == 4
    assert Path(outs["suspects"].path).read_text().startswith("row,reason,score,detector\n")
    assert outs["suspects"].metadata["passed"] is True
    assert outs["metrics"].metadata["columns_checked"] == 4


def test_drifted_batch_fails_the_task_after_writing_outputs(tmp_path: Path) -> None:
    ref, cur = _iris_halves(tmp_path, shift=1.5)
    outs = _outputs(tmp_path)
    with pytest.raises(GateFailed, match="drift gate fail"):
        poison_drift.python_func(current=cur, reference=ref, policy=QUIET, **outs)
    body = json.loads(Path(outs["report_json"].path).read_text())
    assert body["status"] == "fail"
    assert Path(outs["suspects"].path).read_text() == "row,reason,score,detector\n"


def test_soft_gate_returns_passed_false(tmp_path: Path) -> None:
    ref, cur = _iris_halves(tmp_path, shift=1.5)
    outs = _outputs(tmp_path)
    passed, status, _ = poison_drift.python_func(
        current=cur, reference=ref, policy=QUIET, fail_on_violation=False, **outs
    )
    assert (passed, status) == (False, "fail")


def test_runs_under_kfp_local_with_the_evidently_page(tmp_path: Path, local_root: Path) -> None:
    ref, cur = _iris_halves(tmp_path, flips=8)

    @dsl.pipeline(name="drift-check")
    def drift_check(current_uri: str, reference_uri: str) -> None:
        current = dsl.importer(artifact_uri=current_uri, artifact_class=dsl.Dataset)
        reference = dsl.importer(artifact_uri=reference_uri, artifact_class=dsl.Dataset)
        poison_drift(
            current=current.output,
            reference=reference.output,
            label_column="target",
            fail_on_violation=False,
        )

    drift_check(current_uri=cur.uri, reference_uri=ref.uri)
    (task,) = local_root.glob("drift-check-*/poison-drift")
    body = json.loads((task / "report_json").read_text())
    assert (body["status"], body["passed"]) == ("fail", False)  # the flips were found
    flagged = (task / "suspects").read_text().splitlines()[1:]
    assert flagged
    assert "Produced by mlsec-gates" in (task / "evidently_html").read_text()
