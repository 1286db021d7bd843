"""Example DAG: the whole gate chain around a training job, from one policy file.

``prepare_data`` writes a trusted reference and a new training batch (iris-like) into
``work_dir``, and ``demo_signing_key`` a throwaway signing key. ``security_gates`` (built
from ``policies/gated-training.yaml``) then runs validate -> drift -> train -> scan -> sbom
-> sign: the training command (``scripts/train_iris.py``) is the chain's train step, so the
model is only trained on data that passed, and only signed when it passed the scan. The
group's ``report`` task writes the run's combined report in every case; ``release`` runs
only when every gate passed.

Assets: the validate and drift tasks emit ``gated_training_data`` and the sign task
``gated_training_model`` when they pass; a deploy DAG scheduled on the model Asset runs
only after a model was signed (its event names the model and the signature).

Params: ``poison`` relabels and shifts part of the new batch, with values still in range:
the data validation passes and the drift gate stops the run. ``tamper`` makes the training
command append an ``os.system`` pickle stream to the model: the scan gate stops the run.
``work_dir`` is shared by the runs (``max_active_runs=1``); the reports of each run are
kept under ``$AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/``.
"""

from __future__ import annotations

import os
import sys

from airflow.sdk import DAG, Asset, Param, task

from mlsec_gates.operators import security_gates

DAG_ID = "example_gated_training"
HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "policies", "gated-training.yaml")
HOME = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))

GATED_DATA = Asset(name="gated_training_data", uri="mlsec-example://datasets/iris/gated")
SIGNED_MODEL = Asset(name="gated_training_model", uri="mlsec-example://models/iris/gated")
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")


@task
def prepare_data(params: dict | None = None) -> str:
    """Write ``data/reference.csv`` and ``data/train.csv``: two iris-like samples.

    Each is drawn from the same per-species normal distributions (different seeds), as two
    batches of one feed would be; with ``poison``, 40 versicolor rows of the new batch are
    relabelled setosa and given large petals (still within the suite's ranges).
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
    data = Path(params["work_dir"]) / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, content in (("reference", sample(1)), ("train", batch)):
        with (data / f"{name}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows(content)
    return str(data / "train.csv")


@task
def demo_signing_key(params: dict | None = None) -> str:
    """Write a throwaway P-256 key to ``keys/signing-key.pem`` (demo only; use KMS)."""
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = Path((params or {})["work_dir"]) / "keys" / "signing-key.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return str(path)


@task
def release(params: dict | None = None) -> str:
    """Stand-in for publishing the signed model (registry upload, deployment)."""
    model = os.path.join((params or {})["work_dir"], "model")
    print(f"released {model}: every gate passed")
    return model


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,  # the runs share work_dir
    tags=["example", "mlsec-gates"],
    params={
        "work_dir": Param(os.path.join(HOME, "mlsec-example-gated-training"), type="string"),
        "poison": Param(False, type="boolean", description="Poison the new training batch."),
        "tamper": Param(False, type="boolean", description="Append a malicious pickle."),
        "python": Param(sys.executable, type="string", description="Runs the train script."),
    },
    doc_md=__doc__,
) as dag:
    # [START howto_security_gates]
    gates = security_gates(
        policy=POLICY,
        dataset_asset=GATED_DATA,  # outlet of the validate and drift tasks
        model_asset=SIGNED_MODEL,  # outlet of the sign task
    )
    [prepare_data(), demo_signing_key()] >> gates >> release()
    # [END howto_security_gates]


if __name__ == "__main__":
    dag.test()
