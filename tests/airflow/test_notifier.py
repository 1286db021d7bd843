"""GateReportNotifier as a real ``on_failure_callback`` in a ``dag.test()`` run.

The delivering notifier is a real ``BaseNotifier`` subclass defined here that appends what
it would send to a file (the callback runs inside the task runner). It is wrapped two ways:
as an instance whose template field reads ``{{ gate_report.text }}``, and as a class with
``message_field``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import BaseNotifier

from tests.fixtures import pickles as fx
from tests.fixtures.airflow_dags import sync_dag_to_db

pytestmark = pytest.mark.airflow


class RecordingNotifier(BaseNotifier):
    """Delivers by appending ``{"text": ..., "channel": ...}`` to a JSON-lines file."""

    template_fields = ("text", "channel")

    def __init__(self, *, outbox: str, text: str = "", channel: str = "#ml-oncall") -> None:
        super().__init__()
        self.outbox = outbox
        self.text = text
        self.channel = channel

    def notify(self, context: Any) -> None:
        with open(self.outbox, "a") as out:
            out.write(json.dumps({"text": self.text, "channel": self.channel}) + "\n")


@pytest.fixture(scope="module")
def notified(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run: two failing scan gates (one per wrapping style) and one passing."""
    from airflow.sdk import DAG

    from mlsec_gates.operators import ArtifactScanGateOperator, GateReportNotifier

    folder = tmp_path_factory.mktemp("notifier")
    outbox = folder / "outbox.jsonl"
    (folder / "bad.pkl").write_bytes(fx.payload_after_benign())
    (folder / "good.pkl").write_bytes(fx.benign_dict_pickle())
    by_instance = GateReportNotifier(
        notifier=RecordingNotifier(outbox=str(outbox), text="{{ gate_report.text }}")
    )
    by_class = GateReportNotifier(
        notifier=RecordingNotifier,
        message_field="text",
        outbox=str(outbox),
        channel="#security",
        title="Gate failed in {{ dag.dag_id }}",
    )
    with DAG(dag_id="notifier_gates", schedule=None) as dag:
        for task_id, model, callback in (
            ("scan_instance", "bad.pkl", by_instance),
            ("scan_class", "bad.pkl", by_class),
            ("scan_clean", "good.pkl", by_instance),
        ):
            ArtifactScanGateOperator(
                task_id=task_id,
                targets=str(folder / model),
                report_dir=str(folder / "reports" / task_id),
                on_failure_callback=callback,
            )
    sync_dag_to_db(dag)
    dag_run = dag.test()
    messages = [json.loads(line) for line in outbox.read_text().splitlines()]
    return {"run": dag_run, "messages": messages, "folder": folder}


def test_one_message_per_failed_gate(notified: dict[str, Any]) -> None:
    assert len(notified["messages"]) == 2  # the clean gate did not call its callback
    assert {m["channel"] for m in notified["messages"]} == {"#ml-oncall", "#security"}


def test_message_has_summary_findings_and_report_link(notified: dict[str, Any]) -> None:
    [message] = [m for m in notified["messages"] if m["channel"] == "#ml-oncall"]
    text = message["text"]
    run_id = notified["run"].run_id
    assert text.splitlines()[0] == f"mlsec-gates: notifier_gates / {run_id}"
    assert "scan (scan_instance): FAIL" in text
    assert "1 file(s) scanned: 1 blocked" in text
    assert "os.system" in text
    report = notified["folder"] / "reports" / "scan_instance" / "scan-report.html"
    assert f"Report: {report.as_uri()}" in text


def test_class_mode_renders_its_own_title(notified: dict[str, Any]) -> None:
    [message] = [m for m in notified["messages"] if m["channel"] == "#security"]
    assert message["text"].splitlines()[0] == "Gate failed in notifier_gates"
    assert "scan (scan_class): FAIL" in message["text"]


def test_a_class_without_message_field_is_refused() -> None:
    from mlsec_gates.operators import GateReportNotifier

    with pytest.raises(ValueError, match="message_field"):
        GateReportNotifier(notifier=RecordingNotifier)


def test_unreadable_report_is_named_and_the_message_still_goes_out() -> None:
    from mlsec_gates.operators.notifier import _read_report

    report, problem = _read_report("file:///nonexistent/scan-report.json")
    assert report == {}
    assert problem.startswith("report unreadable (file:///nonexistent/scan-report.json)")
