"""Example DAG: validate the training data, check it for drift and poisoning, train, scan, BOM
and sign the model, publish it.

``write_training_data`` writes iris as CSV, and next to it the trusted reference data
(``reference.csv``: an earlier, vetted collection of the same flowers, iris with measurement
noise); run with ``{"corrupt_data": true}`` it also blanks some measurements and puts others
out of range, with ``{"poison_data": true}`` it flips the species of 15 rows (10 %), as an
attacker with write access to the labelling feed would. ``validate_data`` (the data
validation gate) checks the CSV against the expectation suite in ``suites/iris.yaml`` next to
this file; ``poison_drift`` (the poisoning-drift gate) compares it with the trusted reference:
drift per column, and label flips found by a model trained on the reference. ``train_model``
fits a small scikit-learn model on the CSV and pickles it, and runs only when both gates
passed. ``simulate_tampering`` appends a second pickle stream that would call
``os.system`` when the run is triggered with ``{"tamper": true}``; ``scan_model`` (the scan
gate) inspects the file without loading it. ``sbom_model`` (the SBOM gate) writes the
model's CycloneDX ML-BOM: the model file and the training CSV with their hashes, the Python
packages of this environment and the validation and scan verdicts (their JSON reports, from
the ``report_json_url`` XComs). ``sign_model`` signs the model and its BOM (an OpenSSF
model-signing bundle) and, on success, emits the ``example_signed_model`` Asset that
``example_deploy_model`` is scheduled on; ``publish`` copies the model, its signature and its
BOM to ``published/``. A failed gate leaves its HTML report behind, linked from the task as
"Gate report", and stops everything downstream.

Signing key: the ``signing_key`` param (an EC private key PEM path). When it is empty,
``demo_signing_key`` generates a fresh P-256 key pair into the run folder (``keys/``). That
is for this demo only: a generated key proves nothing about who signed. In production sign
with a KMS key (``kms_key_id=``) or a key from a secrets backend, and let the deploy side pin
the public key.

Nothing here does I/O or imports scikit-learn when the file is parsed: the tasks import what
they use, and the suite is read by the gate when ``validate_data`` runs.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Asset, Param, chain, task

from mlsec_gates.operators import (
    ArtifactScanGateOperator,
    DataValidationGateOperator,
    PoisonDriftGateOperator,
    SbomGateOperator,
    SignArtifactsOperator,
)

DAG_ID = "example_scan_model"

# Each run writes into its own folder under the ``model_dir`` param.
RUN_DIR = "{{ params.model_dir }}/{{ run_id | replace(':', '_') | replace('+', '_') }}"

# The expectation suite the training data must meet; a path, so parsing reads nothing.
IRIS_SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "suites", "iris.yaml")

# The signed model, as a logical Asset: the sign task emits an event for it when it succeeds
# (the event's extra says which model file and signature); example_deploy_model runs on it.
SIGNED_MODEL = Asset(name="example_signed_model", uri="mlsec-example://models/iris/signed")

IRIS_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")

# Where write_training_data puts the trusted reference, for the poisoning-drift gate.
REFERENCE_DATA = RUN_DIR + "/data/reference.csv"


def os_system_pickle(command: str) -> bytes:
    """A pickle stream that would run ``os.system(command)`` if loaded. It is never loaded.

    Written opcode by opcode (protocol 2), as an attacker would append it to a model file.
    """
    arg = command.encode()
    return b"".join(
        [
            b"\x80\x02",  # PROTO 2
            b"cos\nsystem\n",  # GLOBAL os.system
            b"X" + len(arg).to_bytes(4, "little") + arg,  # BINUNICODE command
            b"\x85",  # TUPLE1 -> (command,)
            b"R",  # REDUCE -> os.system(command)
            b".",  # STOP
        ]
    )


def write_csv(path: str, rows: list[list[str]]) -> None:
    """Write rows under the iris header, creating the folder."""
    import csv
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(IRIS_COLUMNS)
        writer.writerows(rows)


@task
def write_training_data(run_dir: str, params: dict | None = None) -> str:
    """Write iris as CSV and the trusted reference next to it.

    With ``corrupt_data``, blank some cells and break some ranges; with ``poison_data``,
    flip the species of 15 rows (each to the next species, so the class balance holds).
    """
    from pathlib import Path

    import numpy as np
    from sklearn.datasets import load_iris

    iris = load_iris()
    rows = [
        [*(f"{value:.1f}" for value in features), iris.target_names[label]]
        for features, label in zip(iris.data, iris.target, strict=True)
    ]
    # The trusted reference: the same flowers measured again (noise 0.2 cm), vetted earlier.
    rng = np.random.default_rng(42)
    remeasured = np.clip(iris.data + rng.normal(0, 0.2, iris.data.shape), 0.1, None)
    write_csv(
        str(Path(run_dir) / "data" / "reference.csv"),
        [
            [*(f"{value:.1f}" for value in features), iris.target_names[label]]
            for features, label in zip(remeasured, iris.target, strict=True)
        ],
    )
    if (params or {}).get("corrupt_data"):
        for row in rows[:5]:
            row[0] = ""  # sepal_length missing
        for row in rows[50:53]:
            row[3] = "-4.0"  # petal_width below zero
        print("corrupt_data is on: 5 missing sepal lengths, 3 negative petal widths")
    if (params or {}).get("poison_data"):
        following = dict(zip(iris.target_names, np.roll(iris.target_names, -1), strict=True))
        for index in np.random.default_rng(7).choice(len(rows), 15, replace=False):
            rows[index][4] = following[rows[index][4]]
        print("poison_data is on: the species of 15 rows flipped")
    path = Path(run_dir) / "data" / "iris.csv"
    write_csv(str(path), rows)
    return str(path)


@task
def train_model(data_path: str, run_dir: str) -> str:
    """Fit a logistic regression on the validated CSV and pickle it; returns the model path."""
    import csv
    import pickle
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

    with open(data_path, newline="") as data:
        rows = list(csv.DictReader(data))
    features = [[float(row[column]) for column in IRIS_COLUMNS[:4]] for row in rows]
    labels = [row["species"] for row in rows]
    model = LogisticRegression(max_iter=500).fit(features, labels)
    path = Path(run_dir) / "model" / "model.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(model, protocol=4))
    return str(path)


@task
def simulate_tampering(model_path: str, params: dict | None = None) -> str:
    """With ``tamper`` set, append a pickle stream that calls ``os.system``; returns the path."""
    if not (params or {}).get("tamper"):
        print(f"tamper is off: {model_path} left as trained")
        return model_path
    with open(model_path, "ab") as out:
        out.write(os_system_pickle("echo pwned"))
    print(f"tamper is on: appended an os.system payload to {model_path}")
    return model_path


@task(multiple_outputs=True)
def demo_signing_key(run_dir: str, params: dict | None = None) -> dict[str, str]:
    """The signing key pair: the ``signing_key`` param, or a new P-256 key (demo only).

    Writes the public key next to it in ``<run_dir>/keys/``, where the example deploy DAG
    looks for it when it is not told which key to trust.
    """
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = Path(run_dir) / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    private_path = (params or {}).get("signing_key") or ""
    if private_path:
        key = serialization.load_pem_private_key(Path(private_path).read_bytes(), None)
    else:
        print("signing_key is empty: generating a throwaway P-256 key (demo only)")
        key = ec.generate_private_key(ec.SECP256R1())
        private_path = str(keys / "signing-key.pem")
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        Path(private_path).write_bytes(pem)
        os.chmod(private_path, 0o600)
    public_path = keys / "signing-key.pub.pem"
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {"private_key": private_path, "public_key": str(public_path)}


@task
def publish(model_path: str, signature: str, bom: str, published_dir: str) -> str:
    """Copy the model, its signature and its BOM to the published folder (a registry upload)."""
    import shutil

    os.makedirs(published_dir, exist_ok=True)
    shutil.copy2(signature, os.path.join(published_dir, "model.sig"))
    shutil.copy2(bom, os.path.join(published_dir, "model.cdx.json"))
    return shutil.copy2(model_path, published_dir)


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["example", "mlsec-gates"],
    params={
        "tamper": Param(False, type="boolean", description="Append a malicious pickle."),
        "corrupt_data": Param(
            False, type="boolean", description="Blank and break values in the training data."
        ),
        "poison_data": Param(
            False, type="boolean", description="Flip the labels of 10 % of the training rows."
        ),
        "signing_key": Param(
            "",
            type="string",
            description="EC private key PEM to sign with; empty: a throwaway demo key.",
        ),
        "model_dir": Param(
            os.path.join(
                os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")),
                "mlsec-example-models",
            ),
            type="string",
            description="Folder for the data and models (one subfolder per run).",
        ),
    },
    doc_md=__doc__,
) as dag:
    training_data = write_training_data(run_dir=RUN_DIR)

    # [START howto_gate_validate]
    validate_data = DataValidationGateOperator(
        task_id="validate_data",
        data=training_data,  # the CSV path the previous task returned (read at run time)
        suite=IRIS_SUITE,
    )
    # [END howto_gate_validate]

    # [START howto_gate_drift]
    poison_drift = PoisonDriftGateOperator(
        task_id="poison_drift",
        current=training_data,  # the batch about to be trained on
        reference=REFERENCE_DATA,  # trusted data (or profile= a stored drift-profile)
        label_column="species",  # runs the label-flip / trigger / duplicate detectors
    )
    # [END howto_gate_drift]

    trained = train_model(training_data, run_dir=RUN_DIR)
    model_path = simulate_tampering(trained)

    # [START howto_gate_scan]
    scan_model = ArtifactScanGateOperator(
        task_id="scan_model",
        targets=[model_path],
        # report_dir defaults to $AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>;
        # on_fail="warn" would let the run go on with a warning instead.
    )
    # [END howto_gate_scan]

    # [START howto_gate_sbom]
    sbom_model = SbomGateOperator(
        task_id="sbom_model",
        model=model_path,
        datasets=[training_data],
        environment=True,  # the Python packages of the worker, each with a hash
        gate_reports=[
            validate_data.output["report_json_url"],
            poison_drift.output["report_json_url"],
            scan_model.output["report_json_url"],
        ],
        out=RUN_DIR + "/model.cdx.json",
    )
    # [END howto_gate_sbom]

    signing_key = demo_signing_key(run_dir=RUN_DIR)

    # [START howto_gate_sign]
    sign_model = SignArtifactsOperator(
        task_id="sign_model",
        model=model_path,
        key=signing_key["private_key"],  # or kms_key_id="arn:aws:kms:..."
        attach=[sbom_model.output["bom"]],  # the BOM is signed along with the model
        out=RUN_DIR + "/model.sig",
        outlets=[SIGNED_MODEL],  # emitted only when the model was signed
    )
    # [END howto_gate_sign]

    published = publish(
        model_path,
        signature=sign_model.output["signature"],
        bom=sbom_model.output["bom"],
        published_dir=RUN_DIR + "/published",
    )

    chain(validate_data, poison_drift, trained)
    chain(model_path, scan_model, sbom_model, sign_model, published)


if __name__ == "__main__":
    dag.test()
