"""Example pipeline: validate the data, check it for poisoning, train, scan, BOM and sign the
model, publish it.

Run ``python pipelines/scan_model_pipeline.py`` to compile it to ``scan_model_pipeline.yaml``
next to this file (the committed YAML; ``tests/kfp`` checks it is up to date), or
``python pipelines/scan_model_pipeline.py --run`` to run it once here with
``kfp.local.SubprocessRunner(use_venv=False)`` (add ``--tamper``, ``--corrupt-data``,
``--soft``); the local run signs with a throwaway demo key it generates under
``local_outputs/demo-keys/``. ``--poison-data`` flips labels.

Parameters:

- ``corrupt_data``: blank some measurements of the iris CSV and put others out of range, as a
  broken or poisoned upstream feed would. The data validation gate then fails the run before
  anything is trained on them.
- ``poison_data``: flip the species of 15 of the 150 rows, as an attacker with write access to
  the labelling feed would. The data still meet their contract (validation passes); the
  poisoning-drift gate, comparing them with the trusted reference (``prepare_iris`` writes
  it: the same flowers measured again, vetted earlier), finds the flipped rows and fails the
  run before anything is trained.
- ``tamper``: append a second pickle stream that imports ``os.system`` to the trained model,
  as an attacker with write access to the model store would. The bytes are written with
  pickle opcodes; nothing ever loads them.
- ``hard_gate``: the scan fails the run when the model is unsafe (the default). With
  ``hard_gate=False`` the scan is a soft gate: the run succeeds, ``dsl.If`` skips the BOM,
  signing and publish steps and ``dsl.Else`` records why the model was held back.
- ``signing_key``: path of the EC private key PEM *in the task container* (on a cluster, a
  Kubernetes Secret mounted with kfp-kubernetes), or ``kms_key_id``: an AWS KMS key. Keys are
  never pipeline parameters or artifacts themselves (see :mod:`mlsec_gates.components.sign`).

Clean run: prepare data -> validate (pass) -> poison-drift (pass) -> train -> scan (pass) ->
sbom (the CycloneDX ML-BOM: model, training data, packages, the validation and scan reports)
-> sign (model + BOM) -> publish. Corrupt data: validate (fail) -> the run fails, nothing is
trained. Poisoned labels: poison-drift (fail; its ``suspects`` output lists the rows) -> the
run fails. Tampered model: scan (fail) -> the run fails, or with the soft gate, -> hold. Each
gate writes its HTML, Markdown and JSON reports before the decision.
``deploy_model_pipeline.py`` is the other side: it verifies the signature before deploying.

The expectation suite is ``dags/suites/iris.yaml``, the one the Airflow example uses; it is
read when this file is compiled and passed to the gate as text (the task container does not
have this source tree).
"""

import sys
from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from mlsec_gates.components import (
    IMAGE,
    artifact_scan,
    data_validation,
    model_sbom,
    model_signing,
    poison_drift,
)

PIPELINE_YAML = Path(__file__).with_suffix(".yaml")
IRIS_SUITE = (Path(__file__).resolve().parents[1] / "dags" / "suites" / "iris.yaml").read_text()
"""The expectation suite of the training data, as text."""

TRAIN_IMAGE = "python:3.11-slim"
"""Any Python image; scikit-learn is installed at task start."""
TRAIN_PACKAGES = ["scikit-learn>=1.3"]


# Every gate gets the run and task ids: the ledger's idempotency key and the BOM's formulation.
RUN = {"run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER, "task_name": dsl.PIPELINE_TASK_NAME_PLACEHOLDER}


@dsl.component(base_image=TRAIN_IMAGE, packages_to_install=TRAIN_PACKAGES)
def prepare_iris(
    dataset: Output[Dataset],
    reference: Output[Dataset],
    corrupt_data: bool = False,
    poison_data: bool = False,
):
    """Write the iris training data as CSV, and the trusted reference data.

    Args:
        dataset: the CSV (header ``sepal_length, sepal_width, petal_length, petal_width,
            species``).
        reference: the trusted reference, same header: the same flowers measured again
            (noise 0.2 cm), vetted earlier.
        corrupt_data: blank 5 sepal lengths and make 3 petal widths negative.
        poison_data: flip the species of 15 rows (each to the next species).
    """
    import csv

    import numpy as np
    from sklearn.datasets import load_iris

    iris = load_iris()
    header = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    rng = np.random.default_rng(42)
    remeasured = np.clip(iris.data + rng.normal(0, 0.2, iris.data.shape), 0.1, None)
    for measured, out in ((iris.data, dataset), (remeasured, reference)):
        rows = [
            [*(f"{value:.1f}" for value in features), iris.target_names[label]]
            for features, label in zip(measured, iris.target, strict=True)
        ]
        if out is dataset and corrupt_data:
            for row in rows[:5]:
                row[0] = ""  # sepal_length missing
            for row in rows[50:53]:
                row[3] = "-4.0"  # petal_width below zero
        if out is dataset and poison_data:
            following = dict(zip(iris.target_names, np.roll(iris.target_names, -1), strict=True))
            for index in np.random.default_rng(7).choice(len(rows), 15, replace=False):
                rows[index][4] = following[rows[index][4]]
        with open(out.path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    dataset.metadata.update(
        {"format": "csv", "rows": 150, "corrupted": corrupt_data, "poisoned": poison_data}
    )
    reference.metadata.update({"format": "csv", "rows": 150, "trusted": True})


@dsl.component(base_image=TRAIN_IMAGE, packages_to_install=TRAIN_PACKAGES)
def train_iris(data: Input[Dataset], model: Output[Model], tamper: bool = False):
    """Train a small classifier on the validated iris CSV and save it with pickle.

    Args:
        data: the training data, as written by ``prepare_iris``.
        model: the pickled classifier.
        tamper: append a second pickle stream that calls ``os.system`` (never loaded here).
    """
    import csv
    import pickle

    from sklearn.linear_model import LogisticRegression

    with open(data.path, newline="") as source:
        rows = list(csv.DictReader(source))
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    features = [[float(row[column]) for column in columns] for row in rows]
    labels = [row["species"] for row in rows]
    classifier = LogisticRegression(max_iter=500).fit(features, labels)
    payload = pickle.dumps(classifier, protocol=4)
    if tamper:
        # PROTO 2, GLOBAL os.system, BINUNICODE command, TUPLE1, REDUCE, STOP: a second stream
        # that a loader reading stacked pickles (or a swapped file) would execute.
        command = b"echo tampered"
        payload += b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command
        payload += b"\x85R."
    with open(model.path, "wb") as out:
        out.write(payload)
    model.metadata.update({"framework": "scikit-learn", "tampered": tamper})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def publish_model(
    model: Input[Model],
    scan_report: Input[Artifact],
    bom: Input[Artifact],
    signature: Input[Artifact],
    published: Output[Model],
):
    """Publish a scanned, signed model: copy it to the release location, record its evidence.

    Args:
        model: the model that passed the scan and was signed.
        scan_report: the scan's JSON report.
        bom: the model's CycloneDX ML-BOM.
        signature: the signature folder (``model.sig`` and the signed BOM envelope).
        published: the released copy; its metadata points at the evidence.
    """
    import shutil

    shutil.copyfile(model.path, published.path)
    published.metadata.update(
        {
            "source_uri": model.uri,
            "scan_report_uri": scan_report.uri,
            "bom_uri": bom.uri,
            "signature_uri": signature.uri,
        }
    )
    print(f"published {model.uri} -> {published.uri} (signature {signature.uri})")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def hold_model(model: Input[Model], reason: str) -> str:
    """Record that a model was held back by the scan (the soft gate's other branch).

    Args:
        model: the model that did not pass.
        reason: the scan's one-line summary.

    Returns:
        The notice, also printed to the task log.
    """
    notice = f"held back {model.uri}: {reason}"
    print(notice)
    return notice


# [START howto_pipeline_scan]
@dsl.pipeline(
    name="scan-model",
    description="Validate the iris data, train on it, scan the model with mlsec-gates, "
    "publish it only if it passed.",
)
def scan_model_pipeline(
    tamper: bool = False,
    hard_gate: bool = True,
    corrupt_data: bool = False,
    signing_key: str = "",
    kms_key_id: str = "",
    poison_data: bool = False,
):
    """Prepare, validate and check the data, train, scan, then BOM, sign and publish.

    Args:
        tamper: append a malicious pickle stream to the trained model.
        hard_gate: fail the run when the scan does not pass; otherwise skip publishing.
        corrupt_data: break the training data (the validation gate then fails the run).
        poison_data: flip 10 % of the labels (the poisoning-drift gate then fails the run).
        signing_key: EC private key PEM path in the task container (a mounted Secret).
        kms_key_id: AWS KMS key id or ARN to sign with instead.
    """
    prepare = prepare_iris(corrupt_data=corrupt_data, poison_data=poison_data)
    validation = data_validation(data=prepare.outputs["dataset"], suite=IRIS_SUITE, **RUN)
    # [START howto_pipeline_drift]
    drift = poison_drift(
        current=prepare.outputs["dataset"],  # the batch about to be trained on
        reference=prepare.outputs["reference"],  # trusted data
        label_column="species",  # runs the label-flip / trigger / duplicate detectors
        **RUN,
    ).after(validation)
    # [END howto_pipeline_drift]
    train = train_iris(data=prepare.outputs["dataset"], tamper=tamper).after(drift)
    scan = artifact_scan(model=train.outputs["model"], fail_on_violation=hard_gate, **RUN)
    with dsl.If(scan.outputs["passed"] == True, name="scan-passed"):  # noqa: E712
        sbom = model_sbom(
            model=train.outputs["model"],
            dataset=prepare.outputs["dataset"],
            validation_report=validation.outputs["report_json"],
            scan_report=scan.outputs["report_json"],
            environment=True,  # the packages of the gate's image, each with a hash
            **RUN,
        )
        signed = model_signing(
            model=train.outputs["model"],
            bom=sbom.outputs["bom"],
            key=signing_key,
            kms_key_id=kms_key_id,
            **RUN,
        )
        publish_model(
            model=train.outputs["model"],
            scan_report=scan.outputs["report_json"],
            bom=sbom.outputs["bom"],
            signature=signed.outputs["signature"],
        )
    with dsl.Else(name="scan-failed"):
        hold_model(model=train.outputs["model"], reason=scan.outputs["summary"])


# [END howto_pipeline_scan]


def compile_pipeline(path: Path = PIPELINE_YAML) -> Path:
    """Compile the pipeline to ``path`` (the committed YAML by default)."""
    compiler.Compiler().compile(scan_model_pipeline, str(path))
    return path


def demo_signing_key(folder: Path) -> Path:
    """Write a throwaway P-256 key pair (``signing-key.pem``, ``.pub.pem``): demo only.

    A generated key proves nothing about who signed; sign real models with a KMS key or a
    key kept in a secret store.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / "signing-key.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    (folder / "signing-key.pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private


def run_locally(
    *,
    tamper: bool = False,
    hard_gate: bool = True,
    corrupt_data: bool = False,
    poison_data: bool = False,
    signing_key: str = "",
    root: str = "local_outputs",
):
    """Run the pipeline once in this interpreter's environment (no container, no cluster).

    Without ``signing_key`` it signs with a demo key generated under ``<root>/demo-keys``.
    """
    from kfp import local

    if not signing_key:
        signing_key = str(demo_signing_key(Path(root) / "demo-keys"))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    return scan_model_pipeline(
        tamper=tamper,
        hard_gate=hard_gate,
        corrupt_data=corrupt_data,
        poison_data=poison_data,
        signing_key=signing_key,
    )


if __name__ == "__main__":
    if "--run" in sys.argv:
        run_locally(
            tamper="--tamper" in sys.argv,
            hard_gate="--soft" not in sys.argv,
            corrupt_data="--corrupt-data" in sys.argv,
            poison_data="--poison-data" in sys.argv,
        )
    else:
        print(f"compiled {compile_pipeline()}")
