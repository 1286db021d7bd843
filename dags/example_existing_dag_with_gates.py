"""Example DAG: a team's own extract -> train -> deploy DAG, gated with one added line.

Everything but the ``security_gates(...)`` line is what the team had: ``extract`` writes the
iris data as CSV, ``train`` fits a scikit-learn model on it and pickles it, ``deploy``
copies the model to a serving folder. The added line puts the gates of
``policies/existing-dag-gates.yaml`` between ``train`` and ``deploy``: scan the model (no
load), write its CycloneDX ML-BOM, sign model and BOM. A model that fails a gate is never
deployed: the gate task fails with ``AirflowFailException`` and ``deploy`` does not run.
The group's ``report`` task writes the combined report of the run either way.

Run with ``{"tamper": true}`` to append an ``os.system`` pickle stream to the trained model,
as an attacker with write access to the model store would: the scan gate stops the run.

Signing key: the ``signing_key`` param (an EC private key PEM; in production a mounted
secret, or ``kms_key_id`` in the policy).
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Param, task

from mlsec_gates.operators import security_gates

DAG_ID = "example_existing_dag_with_gates"
HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "policies", "existing-dag-gates.yaml")
HOME = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))


@task
def extract(params: dict | None = None) -> str:
    """Write the iris data as CSV (stands in for the team's extraction)."""
    import csv
    from pathlib import Path

    from sklearn.datasets import load_iris

    iris = load_iris()
    path = Path((params or {})["work_dir"]) / "extract" / "iris.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
        for features, label in zip(iris.data, iris.target, strict=True):
            writer.writerow([*(f"{v:.1f}" for v in features), iris.target_names[label]])
    return str(path)


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
    features = [[float(row[c]) for c in list(row)[:4]] for row in rows]
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
        "tamper": Param(False, type="boolean", description="Append a malicious pickle."),
    },
    doc_md=__doc__,
) as dag:
    model = train(extract())
    # [START howto_security_gates_existing_dag]
    model >> security_gates(policy=POLICY) >> deploy()  # was: model >> deploy()
    # [END howto_security_gates_existing_dag]


if __name__ == "__main__":
    dag.test()
