"""The demo behind ``bash scripts/demo.sh``.

Quick (the default, well under 2 minutes): one gate chain -- validate -> drift -> train ->
scan -> sign, from one policy, with ``mlsec-gates run``'s engine -- run twice: on clean data
with a clean model (every gate passes, the model is signed), then with a training job that
slips an ``os.system`` call into the model (the scan gate stops the chain before signing).
Each step is printed as it finishes; each run ends with its combined report.

Full (``--full``): a clean run (the model is scanned, gets a BOM and is signed), a run on
corrupted training data (stopped by the data validation gate), a run on poisoned training
data (labels flipped: stopped by the poisoning-drift gate) and a run with a tampered model
(stopped by the scan gate) go through real Airflow (SQLite, ``dag.test()``) and a local
Kubeflow pipeline run. Then the clean run's signed model is deployed with a change made
after signing, which the verify gate stops (the deploy DAG and the deploy pipeline); then the
demo prints where the reports are. Each scenario runs in its own child process with its
chatter sent to a log file under ``demo-output/logs/``, so this screen shows only what a
person needs: verdicts and report paths.
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
    "airflow-clean": "Airflow DAG example_scan_model, clean data and model",
    "airflow-corrupt": "Airflow DAG example_scan_model, training data with nulls/out of range",
    "airflow-tampered": "Airflow DAG example_scan_model, model with injected os.system",
    "airflow-poisoned": "Airflow DAG example_scan_model, training labels flipped (10 %)",
    "kfp-clean": "KFP pipeline scan-model, clean data and model",
    "kfp-corrupt": "KFP pipeline scan-model, training data with nulls/out of range",
    "kfp-tampered": "KFP pipeline scan-model, model with injected os.system",
    "kfp-poisoned": "KFP pipeline scan-model, training labels flipped (10 %)",
    "airflow-deploy-tampered": "Airflow DAG example_deploy_model, model changed after signing",
    "kfp-deploy-tampered": "KFP pipeline deploy-model, model changed after signing",
}


def main() -> int:
    """Run every scenario in a child process and print a table of outcomes and reports."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="every scenario in Airflow and KFP (5-12 min)"
    )
    parser.add_argument(
        "--stage", choices=[*SCENARIOS, "airflow-db", CHAIN_STAGE], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.stage:
        return _run_stage(args.stage)
    if not args.full:
        return _quick()

    shutil.rmtree(OUT, ignore_errors=True)
    LOGS.mkdir(parents=True)
    print("mlsec-gates demo: validate, drift, scan, sbom, sign, verify gates in Airflow and KFP\n")
    _child("airflow-db", "Preparing the Airflow metadata DB (SQLite)")
    rows = []
    for stage, title in SCENARIOS.items():
        code, seconds = _child(stage, title)
        report = _collect_report(stage)
        outcome = "pipeline succeeded" if code == 0 else "pipeline FAILED at the gate"
        rows.append((title, outcome, seconds, report))
    print("\nOutcome")
    for title, outcome, seconds, _ in rows:
        print(f"  {title:<70} {outcome:<28} {seconds:5.1f} s")
    print("\nHTML reports (open in a browser):")
    for title, _, _, report in rows:
        print(f"  {title}:\n    {report or 'no report found: see the log'}")
    print(f"\nLogs of each run: {LOGS}")
    missing = [title for title, _, _, report in rows if report is None]
    combined = _combined_report()
    return 1 if missing or combined is None else 0


CHAIN_STAGE = "chain-tampered"


def _combined_report() -> Path | None:
    """Run the whole chain with ``mlsec-gates run`` on a tampered model; print its report.

    The chain (validate -> drift -> train -> scan -> sbom -> sign, from one policy) stops at the
    scan gate; the combined report gathers every step of that failed run on one page.
    """
    code, seconds = _child(CHAIN_STAGE, "mlsec-gates run: the whole chain, tampered model")
    marker = "Combined report: "
    lines = (LOGS / f"{CHAIN_STAGE}.log").read_text(errors="replace").splitlines()
    found = [line.split(marker, 1)[1].strip() for line in lines if line.startswith(marker)]
    outcome = "chain FAILED at the gate" if code == 1 else f"unexpected exit status {code}"
    print(
        f"  {'mlsec-gates run, model with injected os.system':<70} {outcome:<28} {seconds:5.1f} s"
    )
    if not found or not Path(found[-1]).is_file():
        print(f"\nNo combined report: see {LOGS / (CHAIN_STAGE + '.log')}")
        return None
    print(f"\nCombined report of the failed run (open in a browser):\n  {found[-1]}")
    return Path(found[-1])


def _quick() -> int:
    """One chain, twice: clean, then a tampered model; each step printed as it finishes."""
    clock, cpu = time.monotonic(), time.process_time()
    print("mlsec-gates quick demo: one gate chain, validate -> drift -> train -> scan -> sign")
    print("(first the libraries load: Great Expectations, scikit-learn; about 10-20 s)\n")
    from mlsec_gates.chain import run_chain

    def step_line(step: object, result: object) -> None:
        seconds = (result.finished_at - result.started_at).total_seconds()
        status = result.status.value.upper()
        print(f"    {step.task_id:<9} {status:<5} {seconds:5.1f} s  {result.summary}"[:150])

    outcomes = []
    runs = (("clean data, clean model", False), ("training slips os.system into the model", True))
    for number, (label, tamper) in enumerate(runs, 1):
        work = OUT / "quick" / ("tampered" if tamper else "clean")
        shutil.rmtree(work, ignore_errors=True)
        policy = _chain_files(work, tamper=tamper, sbom=False)
        print(f"- run {number}: {label}", flush=True)
        outcome = run_chain(str(policy), report_dir=str(work / "reports"), on_step=step_line)
        where = f" at {outcome.stopped_at}" if outcome.stopped_at else ""
        verdict = f"{outcome.status.value.upper()}{where}"
        not_run = f" (not run: {', '.join(outcome.not_run)})" if outcome.not_run else ""
        print(f"  => chain {verdict}{not_run}")
        print(f"     combined report: {outcome.reports['html']}\n", flush=True)
        outcomes.append(outcome)
    seconds, cpu_seconds = time.monotonic() - clock, time.process_time() - cpu
    print(f"Quick demo done in {seconds:.0f} s (CPU {cpu_seconds:.0f} s).")
    print("The full demo (Airflow and KFP, every gate and failure): bash scripts/demo.sh --full")
    clean, tampered = outcomes
    return 0 if clean.passed and tampered.stopped_at == "scan" else 1


def _chain_run() -> int:
    """``mlsec-gates run`` on a policy whose train hook writes a tampered model."""
    from mlsec_gates.cli import main as cli_main

    work = OUT / "chain"
    policy = _chain_files(work, tamper=True, sbom=True)
    return cli_main(["run", "--policy", str(policy), "--report-dir", str(work / "reports")])


def _chain_files(work: Path, *, tamper: bool, sbom: bool) -> Path:
    """Data, a throwaway key and the chain policy in ``work``; returns the policy's path."""
    import csv

    import numpy as np
    from sklearn.datasets import load_iris

    sys.path.insert(0, str(ROOT / "pipelines"))
    from scan_model_pipeline import demo_signing_key

    (work / "data").mkdir(parents=True, exist_ok=True)
    iris = load_iris()
    # The trusted reference for the drift gate: the same flowers measured again (0.2 cm noise).
    remeasured = np.clip(
        iris.data + np.random.default_rng(42).normal(0, 0.2, iris.data.shape), 0.1, None
    )
    for name, data in (("train.csv", iris.data), ("reference.csv", remeasured)):
        with open(work / "data" / name, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
            )
            for values, target in zip(data, iris.target, strict=True):
                writer.writerow([*(f"{v:.1f}" for v in values), iris.target_names[target]])
    key = demo_signing_key(work / "keys")  # a throwaway key: demo only
    policy = work / "gates.yaml"
    quick = "" if sbom else "gates:\n  drift: {evidently_report: false}\n"  # no Evidently page
    policy.write_text(
        quick + "chain:\n"
        f"  validate: {{data: {work / 'data' / 'train.csv'}, "
        f"suite: {ROOT / 'dags' / 'suites' / 'iris.yaml'}}}\n"
        f"  drift: {{reference: {work / 'data' / 'reference.csv'}, "
        f"current: {work / 'data' / 'train.csv'}, label_column: species}}\n"
        "  train:\n"
        f"    command: [{sys.executable}, {ROOT / 'dags' / 'scripts' / 'train_iris.py'}, "
        f"--data, {work / 'data' / 'train.csv'}, --out, '{{model_dir}}', "
        f"--tamper, '{str(tamper).lower()}']\n"
        f"    model_dir: {work / 'model'}\n"
        "  scan: {}\n"
        + ("  sbom: {environment: true}\n" if sbom else "")
        + f"  sign: {{key: {key}}}\n"
    )
    return policy


def _collect_report(stage: str) -> Path | None:
    """Copy the scenario's last HTML report to ``demo-output/reports/<stage>-gate-report.html``.

    That is the report of the gate that stopped the run, or of the scan on a clean run. KFP
    names the artifact file ``report_html``, with no extension a browser would recognise.
    """
    marker = "MLSEC_REPORT "
    lines = (LOGS / f"{stage}.log").read_text(errors="replace").splitlines()
    found = [line.split(marker, 1)[1].strip() for line in lines if marker in line]
    if not found or not Path(found[-1]).is_file():
        return None
    target = OUT / "reports" / f"{stage}-gate-report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found[-1], target)
    return target


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
    if stage == "airflow-deploy-tampered":
        return _airflow_deploy()
    if stage == "kfp-deploy-tampered":
        return _kfp_deploy()
    if stage == CHAIN_STAGE:
        return _chain_run()
    tamper = stage.endswith("tampered")
    corrupt = stage.endswith("corrupt")
    poison = stage.endswith("poisoned")
    if stage.startswith("airflow"):
        return _airflow(tamper, corrupt, poison)
    return _kfp(tamper, corrupt, poison)


def _airflow(tamper: bool, corrupt: bool, poison: bool = False) -> int:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "example_scan_model.py")).get_dag(
        "example_scan_model"
    )
    name = "airflow-tampered" if tamper else "airflow-corrupt" if corrupt else "airflow-clean"
    name = "airflow-poisoned" if poison else name
    model_dir = OUT / "models" / name
    run = dag.test(
        run_conf={
            "tamper": tamper,
            "corrupt_data": corrupt,
            "poison_data": poison,  # labels flipped: the poisoning-drift gate stops the run
            "model_dir": str(model_dir),
        }
    )
    print(f"DagRun state: {run.state}")
    reports = sorted(AIRFLOW_HOME.glob("mlsec-gate-reports/**/*-report.html"), key=os.path.getmtime)
    if reports:
        print(f"MLSEC_REPORT {reports[-1]}")
    return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


def _airflow_deploy() -> int:
    """The clean run's signed model through example_deploy_model, changed after signing."""
    from airflow.dag_processing.dagbag import DagBag

    signatures = sorted((OUT / "models" / "airflow-clean").glob("*/model.sig"))
    if not signatures:
        print("no signed model: the airflow-clean scenario did not get to signing")
        return 1
    dag = DagBag(dag_folder=str(ROOT / "dags" / "example_deploy_model.py")).get_dag(
        "example_deploy_model"
    )
    run_dir = signatures[-1].parent
    conf = {
        "model": str(run_dir / "model" / "model.pkl"),
        "signature": str(signatures[-1]),
        "public_key": str(run_dir / "keys" / "signing-key.pub.pem"),
        "tamper": True,
        "deploy_dir": str(OUT / "deployments"),
    }
    run = dag.test(run_conf=conf)
    print(f"DagRun state: {run.state}")
    reports = sorted(AIRFLOW_HOME.glob("mlsec-gate-reports/**/*-report.html"), key=os.path.getmtime)
    if reports:
        print(f"MLSEC_REPORT {reports[-1]}")
    return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


def _kfp_deploy() -> int:
    """The clean KFP run's signed model through the deploy pipeline, changed after signing."""
    from kfp import local

    sys.path.insert(0, str(ROOT / "pipelines"))
    from deploy_model_pipeline import deploy_model_pipeline

    clean = KFP_ROOT / "clean"
    signatures = sorted(clean.glob("*/model-signing/signature"))
    if not signatures:
        print("no signed model: the kfp-clean scenario did not get to signing")
        return 1
    root = KFP_ROOT / "deploy-tampered"
    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True
    )
    try:
        deploy_model_pipeline(
            model_uri=str(signatures[-1].parents[1] / "train-iris" / "model"),
            signature_uri=str(signatures[-1]),
            public_key=str(clean / "demo-keys" / "signing-key.pub.pem"),
            tamper=True,
        )
        code = 0
    except RuntimeError as exc:
        print(f"pipeline failed: {exc}")
        code = 1
    for report in root.glob("*/signature-verification/report_html"):
        print(f"MLSEC_REPORT {report}")
    return code


def _kfp(tamper: bool, corrupt: bool, poison: bool = False) -> int:
    from kfp import local

    sys.path.insert(0, str(ROOT / "pipelines"))
    from scan_model_pipeline import demo_signing_key, scan_model_pipeline

    root = KFP_ROOT / ("tampered" if tamper else "corrupt" if corrupt else "clean")
    root = KFP_ROOT / "poisoned" if poison else root
    key = demo_signing_key(root / "demo-keys")  # a throwaway key: demo only
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        raise_on_error=True,
    )
    try:
        scan_model_pipeline(
            tamper=tamper, corrupt_data=corrupt, poison_data=poison, signing_key=str(key)
        )
        code = 0
    except RuntimeError as exc:
        print(f"pipeline failed: {exc}")
        code = 1
    gates = ("data-validation", "poison-drift", "artifact-scan", "model-sbom", "model-signing")
    for gate in gates:  # in run order: the last one counts
        for report in root.glob(f"*/{gate}/report_html"):
            print(f"MLSEC_REPORT {report}")
    return code


if __name__ == "__main__":
    sys.exit(main())
