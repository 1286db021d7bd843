"""The demo behind ``bash scripts/demo.sh``: one clean and one tampered model, through real
Airflow (SQLite, ``dag.test()``) and a local Kubeflow pipeline run, then where the reports are.

Each scenario runs in its own child process with its chatter sent to a log file under
``demo-output/logs/``, so this screen shows only what a person needs: verdicts and report paths.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo-output"
AIRFLOW_HOME = OUT / "airflow-home"
KFP_ROOT = OUT / "kfp-pipeline-root"
LOGS = OUT / "logs"

SCENARIOS = {
    "airflow-clean": "Airflow DAG example_scan_model, clean model",
    "airflow-tampered": "Airflow DAG example_scan_model, model with injected os.system",
    "kfp-clean": "KFP pipeline scan-model-pipeline, clean model",
    "kfp-tampered": "KFP pipeline scan-model-pipeline, model with injected os.system",
}


def main() -> int:
    """Run every scenario in a child process and print a table of outcomes and reports."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=[*SCENARIOS, "airflow-db"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        return _run_stage(args.stage)

    shutil.rmtree(OUT, ignore_errors=True)
    LOGS.mkdir(parents=True)
    print("mlsec-gates demo: the scan gate in Airflow and Kubeflow Pipelines\n")
    _child("airflow-db", "Preparing the Airflow metadata DB (SQLite)")
    rows = []
    for stage, title in SCENARIOS.items():
        code, seconds = _child(stage, title)
        rows.append((title, "succeeded" if code == 0 else "FAILED (gate stopped it)", seconds))
    print("\nOutcome")
    for title, outcome, seconds in rows:
        print(f"  {title:<66} {outcome:<26} {seconds:5.1f} s")
    print("\nHTML reports (open in a browser):")
    for report in sorted(OUT.rglob("scan-report.html")):
        print(f"  {report}")
    print(f"\nLogs of each run: {LOGS}")
    return 0


def _child(stage: str, title: str) -> tuple[int, float]:
    print(f"- {title} ...", flush=True)
    start = time.monotonic()
    with open(LOGS / f"{stage}.log", "w") as log:
        code = subprocess.call(
            [sys.executable, __file__, "--stage", stage],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=ROOT,
        )
    return code, time.monotonic() - start


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    )
    return env


def _run_stage(stage: str) -> int:
    if stage == "airflow-db":
        from airflow.utils import db

        db.resetdb()
        return 0
    tamper = stage.endswith("tampered")
    if stage.startswith("airflow"):
        return _airflow(tamper)
    return _kfp(tamper)


def _airflow(tamper: bool) -> int:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "example_scan_model.py")).get_dag(
        "example_scan_model"
    )
    model_dir = OUT / "models" / ("airflow-tampered" if tamper else "airflow-clean")
    run = dag.test(run_conf={"tamper": tamper, "model_dir": str(model_dir)})
    print(f"DagRun state: {run.state}")
    return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


def _kfp(tamper: bool) -> int:
    from kfp import local

    sys.path.insert(0, str(ROOT / "pipelines"))
    from scan_model_pipeline import scan_model_pipeline

    root = KFP_ROOT / ("tampered" if tamper else "clean")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        raise_on_error=True,
    )
    try:
        scan_model_pipeline(tamper=tamper)
    except RuntimeError as exc:
        print(f"pipeline failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
