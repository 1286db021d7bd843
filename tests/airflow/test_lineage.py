"""OpenLineage facets of the gate operators, built by the real OpenLineage provider classes.

The gates run for real (scan, sign); the provider's own ``DefaultExtractor`` asks the
operator for its facets, as the OpenLineage listener does after a task, and the event parts
are serialised with openlineage-python's ``Serde``, as a transport would send them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlsec_gates.operators import ArtifactScanGateOperator, SignArtifactsOperator
from mlsec_gates.operators.lineage import FACET_NAME

pytestmark = pytest.mark.airflow

pytest.importorskip("airflow.providers.openlineage")
REPO = Path(__file__).resolve().parents[2]


def _extract(op: Any, *, failed: bool) -> Any:
    from airflow.providers.openlineage.extractors.base import DefaultExtractor

    extractor = DefaultExtractor(op)
    return extractor.extract_on_failure(None) if failed else extractor.extract_on_complete(None)


def _as_json(obj: Any) -> Any:
    from openlineage.client.serde import Serde

    return json.loads(Serde.to_json(obj))


def test_failed_scan_reports_verdict_findings_and_report_link(
    malicious_model: Path, tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    op = ArtifactScanGateOperator(
        task_id="scan", targets=[str(malicious_model)], report_dir=str(tmp_path / "r")
    )
    with pytest.raises(AirflowFailException):
        op.execute(fake_context)

    lineage = _extract(op, failed=True)

    facet = _as_json(lineage.run_facets[FACET_NAME])
    xcoms = fake_context["ti"].xcoms
    assert facet["gate"] == "scan"
    assert facet["status"] == "fail"
    assert facet["passed"] is False
    assert facet["reportUrl"] == xcoms["report_url"]
    assert facet["reportJsonUrl"] == xcoms["report_json_url"]
    assert facet["counts"]["verdict_block"] == 1
    assert facet["_schemaURL"].endswith("docs/airflow.md#openlineage")

    tests = _as_json(lineage.run_facets["test"])["tests"]
    assert tests[0] == {
        **tests[0],
        "name": "mlsec_gates.scan",
        "status": "fail",
        "severity": "error",
    }
    assert any(t["name"].startswith("scan.") and "os.system" in t["description"] for t in tests)

    [dataset] = lineage.inputs
    assert (dataset.namespace, dataset.name) == ("file", str(malicious_model))
    assertions = _as_json(dataset.facets["dataQualityAssertions"])["assertions"]
    assert assertions[0]["assertion"] == "mlsec_gates.scan"
    assert assertions[0]["success"] is False
    assert assertions[0]["actual"] == "block"
    report = json.loads(Path(xcoms["report_json_url"].removeprefix("file://")).read_text())
    assert len(assertions) == 1 + len(report["findings"])
    assert {a["name"] for a in assertions[1:]} == {f["fingerprint"] for f in report["findings"]}
    assert lineage.outputs == []


def test_passed_sign_reports_signature_and_outlet_as_outputs(
    clean_model: Path, ec_keys: tuple[Path, Path], tmp_path: Path, fake_context: dict[str, Any]
) -> None:
    from airflow.sdk import Asset

    signed = Asset(name="signed_model", uri="s3://models/iris/signed")
    op = SignArtifactsOperator(
        task_id="sign",
        model=str(clean_model),
        key=str(ec_keys[0]),
        out=str(tmp_path / "model.sig"),
        report_dir=str(tmp_path / "r"),
        outlets=[signed],
    )
    fake_context["outlet_events"] = _OutletEvents()
    op.execute(fake_context)

    lineage = _extract(op, failed=False)

    facet = _as_json(lineage.run_facets[FACET_NAME])
    assert (facet["gate"], facet["status"], facet["passed"]) == ("sign", "pass", True)
    outputs = {(d.namespace, d.name) for d in lineage.outputs}
    assert outputs == {("file", str(tmp_path / "model.sig")), ("s3://models", "iris/signed")}
    assert _as_json(lineage.run_facets["test"])["tests"][0]["status"] == "pass"


def test_no_result_no_extra_lineage() -> None:
    # The gate raised before deciding (bad input): the provider reports the error itself.
    op = ArtifactScanGateOperator(task_id="scan", targets="missing.pkl")
    assert op.get_openlineage_facets_on_failure(None) is None


def test_without_the_provider_the_operator_gives_none() -> None:
    # A fresh interpreter where openlineage-python cannot be imported (as without the provider).
    script = (
        "import sys; sys.modules['openlineage'] = None\n"
        "from mlsec_gates.operators.lineage import gate_lineage\n"
        "print(gate_lineage(object()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "None"


class _OutletEvents(dict):
    """``context["outlet_events"]``: one accessor with an ``extra`` dict per Asset."""

    def __missing__(self, key: Any) -> Any:
        from types import SimpleNamespace

        self[key] = SimpleNamespace(extra={})
        return self[key]
