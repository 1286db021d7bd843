"""Example DAG: a team's own extract -> train -> deploy DAG, gated on both sides of training.

Everything but the two ``security_gates(...)`` lines is what the team had: ``extract`` writes
this month's batch of iris measurements and keeps last month's trusted batch as the
reference, ``train`` fits a scikit-learn model on the batch and pickles it, ``deploy`` copies
the model to a serving folder. The added lines put the gates of
``policies/existing-dag-gates.yaml`` around the team's own ``train`` task:

- ``stage="data"`` before it: validate the batch against the data contract, and check it
  for drift and poisoning against the reference; bad data is never trained on;
- ``stage="model"`` after it: scan the model file (never loaded), write its CycloneDX ML-BOM,
  sign model and BOM; a model that fails is never deployed.

A failing gate fails its task (``AirflowFailException``): what follows does not run. One
``gate_report`` task writes the run's combined report in every case, listing each gate as
passed, failed, could not run or not run, even when a stage never started, and locally when
the report folder cannot be written (e.g. no S3 credentials).

Params: ``corrupt`` blanks and breaks values (the validate gate stops the run before
training), ``poison`` relabels part of the batch with in-range values (the drift gate stops
it), ``tamper`` appends an ``os.system`` pickle stream to the trained model (the scan gate
stops the deploy). ``reports`` is where the reports go (a folder or ``s3://`` prefix; the
run id is appended), ``s3_endpoint_url`` an S3-compatible endpoint (MinIO), ``signing_key``
an EC private key PEM (in production a mounted secret, or ``kms_key_id`` in the policy).
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Param, task

from mlsec_gates.operators import security_gates

DAG_ID = "example_existing_dag_with_gates"
HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "policies", "existing-dag-gates.yaml")
HOME = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")


@task
def extract(params: dict | None = None) -> str:
    """Write ``data/batch.csv`` (this month) and ``data/reference.csv`` (last month, trusted).

    Both are drawn from the same per-species distributions (stands in for the team's
    extraction). ``corrupt`` blanks a value and puts one out of range; ``poison`` relabels
    40 versicolor rows as setosa with large petals, all values still in range.
    """
    import csv
    import random
    from pathlib import Path

    params = params or {}
    means = {
        "setosa": (5.0, 3.4, 1.5, 0.2),
        "versicolor": (5.9, 2.8, 4.3, 1.3),
        "virginica": (6.6, 3.0, 5.6, 2.0),
    }

    def sample(seed: int) -> list[list[object]]:
        rng = random.Random(seed)
        return [
            [round(max(0.1, rng.gauss(m, 0.25)), 1) for m in centre] + [species]
            for species, centre in means.items()
            for _ in range(60)
        ]

    batch = sample(2)
    if params.get("poison"):
        for row in batch[60:100]:
            row[2], row[3], row[4] = 6.9, 2.4, "setosa"
    if params.get("corrupt"):
        batch[0][0], batch[1][3] = "", -4.0
    data = Path(params["work_dir"]) / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, rows in (("reference", sample(1)), ("batch", batch)):
        with (data / f"{name}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
    return str(data / "batch.csv")


@task
def train(data_path: str, params: dict | None = None) -> str:
    """Fit a logistic regression and pickle it into ``<work_dir>/model/``."""
    import csv
    import pickle
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

    params = params or {}
    with open(data_path, newline="") as data:
        rows = list(csv.DictReader(data))
    features = [[float(row[c]) for c in COLUMNS[:4]] for row in rows]
    model = LogisticRegression(max_iter=500).fit(features, [row["species"] for row in rows])
    path = Path(params["work_dir"]) / "model" / "model.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(model, protocol=4)
    if params.get("tamper"):  # PROTO 2, GLOBAL os.system, BINUNICODE, TUPLE1, REDUCE, STOP
        payload += b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R."
    path.write_bytes(payload)
    return str(path)


@task
def deploy(params: dict | None = None) -> str:
    """Copy the model to the serving folder (stands in for the team's rollout)."""
    import shutil
    from pathlib import Path

    work = Path((params or {})["work_dir"])
    (work / "serving").mkdir(exist_ok=True)
    return str(shutil.copy2(work / "model" / "model.pkl", work / "serving" / "model.pkl"))


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,  # the runs share work_dir
    tags=["example", "mlsec-gates"],
    params={
        "work_dir": Param(os.path.join(HOME, "mlsec-example-existing"), type="string"),
        "signing_key": Param(os.path.join(HOME, "keys", "model-signing.pem"), type="string"),
        "reports": Param(os.path.join(HOME, "mlsec-gate-reports", DAG_ID), type="string"),
        "s3_endpoint_url": Param("", type="string", description="S3-compatible endpoint."),
        "corrupt": Param(False, type="boolean", description="Break values in the batch."),
        "poison": Param(False, type="boolean", description="Relabel part of the batch."),
        "tamper": Param(False, type="boolean", description="Append a malicious pickle."),
    },
    doc_md=__doc__,
) as dag:
    # [START howto_security_gates_existing_dag]
    gated = {
        "policy": POLICY,
        "report_dir": "{{ params.reports }}/{{ run_id | replace(':', '_') }}",
        "s3_endpoint_url": "{{ params.s3_endpoint_url }}",
    }
    batch = extract()
    model = train(batch)
    batch >> security_gates(stage="data", **gated) >> model  # data gates before training
    model >> security_gates(stage="model", **gated) >> deploy()  # model gates after it
    # [END howto_security_gates_existing_dag]


if __name__ == "__main__":
    dag.test()
