"""Example pipeline: a team's own extract -> train -> deploy pipeline, gated around training.

The KFP twin of ``dags/example_existing_dag_with_gates.py``. ``extract``, ``train`` and
``deploy`` are the team's components; the gates of ``policies/existing-pipeline-gates.yaml``
run as two sub-pipelines built by
:func:`mlsec_gates.components.chain.security_gates_pipeline`:

- ``data-gates`` (validate, drift) before ``train``: bad data is never trained on;
- ``model-gates`` (scan, sbom, sign) after it: a bad model is never deployed;

all inside ``dsl.ExitHandler(run_report(...))``: the ``gate-report`` task publishes one
combined report of the run whatever happened, listing each gate as passed, failed or not
run. A failing gate fails the run at its ``<step>-verdict`` task with its summary.

Parameters: ``corrupt`` blanks and breaks values (the validate gate stops the run),
``poison`` relabels part of the batch (the drift gate stops it), ``tamper`` appends an
``os.system`` pickle stream to the model (the scan gate stops the deploy).

``python pipelines/existing_pipeline_with_gates.py`` compiles it to
``existing_pipeline_with_gates.yaml``; ``... --run [--corrupt|--poison|--tamper]`` runs it
here with ``kfp.local.SubprocessRunner(use_venv=False)`` (paths relative to the working
directory; on a cluster, point the policy at ``s3://`` URIs).
"""

import sys
from pathlib import Path

from kfp import compiler, dsl

from mlsec_gates.components import IMAGE
from mlsec_gates.components.chain import run_report, security_gates_pipeline

PIPELINE_YAML = Path(__file__).with_suffix(".yaml")
POLICY = Path(__file__).resolve().parent / "policies" / "existing-pipeline-gates.yaml"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def extract(work_dir: str, corrupt: bool = False, poison: bool = False) -> str:
    """Write this month's batch, last month's trusted reference and a demo signing key.

    Args:
        work_dir: the folder the policy's paths point into.
        corrupt: blank a value and put one out of range.
        poison: relabel 40 versicolor rows as setosa with large petals (values in range).

    Returns:
        The batch's path.
    """
    import csv
    import os
    import random

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    means = {
        "setosa": (5.0, 3.4, 1.5, 0.2),
        "versicolor": (5.9, 2.8, 4.3, 1.3),
        "virginica": (6.6, 3.0, 5.6, 2.0),
    }

    def sample(seed: int) -> list:
        rng = random.Random(seed)
        return [
            [round(max(0.1, rng.gauss(m, 0.25)), 1) for m in centre] + [species]
            for species, centre in means.items()
            for _ in range(60)
        ]

    batch = sample(2)
    if poison:
        for row in batch[60:100]:
            row[2], row[3], row[4] = 6.9, 2.4, "setosa"
    if corrupt:
        batch[0][0], batch[1][3] = "", -4.0
    os.makedirs(os.path.join(work_dir, "data"), exist_ok=True)
    for name, rows in (("reference", sample(1)), ("batch", batch)):
        with open(os.path.join(work_dir, "data", f"{name}.csv"), "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
            )
            writer.writerows(rows)
    os.makedirs(os.path.join(work_dir, "keys"), exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())  # a throwaway demo key: demo only
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with open(os.path.join(work_dir, "keys", "signing-key.pem"), "wb") as out:
        out.write(pem)
    return os.path.join(work_dir, "data", "batch.csv")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(work_dir: str, tamper: bool = False) -> str:
    """The team's training: class centroids of the batch, pickled into ``<work_dir>/model``.

    Args:
        work_dir: where the batch is and the model goes.
        tamper: append a pickle stream that would call ``os.system`` when loaded.

    Returns:
        The model's path.
    """
    import csv
    import os
    import pickle

    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    sums: dict = {}
    with open(os.path.join(work_dir, "data", "batch.csv"), newline="") as source:
        for row in csv.DictReader(source):
            total = sums.setdefault(row["species"], [0.0] * 5)
            for i, column in enumerate(columns):
                total[i] += float(row[column])
            total[4] += 1
    model = {k: [v / s[4] for v in s[:4]] for k, s in sums.items()}
    os.makedirs(os.path.join(work_dir, "model"), exist_ok=True)
    payload = pickle.dumps({"centroids": model, "features": columns}, protocol=4)
    if tamper:  # PROTO 2, GLOBAL os.system, BINUNICODE, TUPLE1, REDUCE, STOP
        payload += b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R."
    path = os.path.join(work_dir, "model", "model.pkl")
    with open(path, "wb") as out:
        out.write(payload)
    return path


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def deploy(work_dir: str) -> str:
    """Copy the model to the serving folder (stands in for the team's rollout).

    Args:
        work_dir: where the model is.

    Returns:
        The served copy's path.
    """
    import os
    import shutil

    os.makedirs(os.path.join(work_dir, "serving"), exist_ok=True)
    return shutil.copy2(
        os.path.join(work_dir, "model", "model.pkl"), os.path.join(work_dir, "serving")
    )


# The two stages, planned from the policy now; their tasks get the policy's text.
_data_gates = security_gates_pipeline(str(POLICY), stage="data", task_policy=POLICY.read_text())
_model_gates = security_gates_pipeline(str(POLICY), stage="model", task_policy=POLICY.read_text())


# [START howto_pipeline_staged_gates]
@dsl.pipeline(
    name="existing-pipeline-with-gates",
    description="The team's extract -> train -> deploy, with mlsec-gates data gates before "
    "training, model gates after it and one combined report.",
)
def existing_pipeline_with_gates(corrupt: bool = False, poison: bool = False, tamper: bool = False):
    """Extract, data gates, train, model gates, deploy; the run's gate report on exit.

    Args:
        corrupt: break values in the batch (the validate gate stops the run).
        poison: relabel part of the batch (the drift gate stops the run).
        tamper: append a malicious pickle to the model (the scan gate stops the deploy).
    """
    report = run_report(str(POLICY))  # publishes the run's combined report, always
    with dsl.ExitHandler(report, name="gated-run"):
        batch = extract(work_dir="work", corrupt=corrupt, poison=poison)
        data_gates = _data_gates().after(batch)  # before the team's own training
        model = train(work_dir="work", tamper=tamper).after(data_gates)
        model_gates = _model_gates().after(model)  # after it
        deploy(work_dir="work").after(model_gates)


# [END howto_pipeline_staged_gates]


def compile_pipeline(path: Path = PIPELINE_YAML) -> Path:
    """Compile the pipeline to ``path`` (the committed YAML by default)."""
    compiler.Compiler().compile(existing_pipeline_with_gates, str(path))
    return path


def run_locally(root: str = "local_outputs", **params: bool) -> dict:
    """Run the pipeline once in this interpreter's environment (no container, no cluster)."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    return existing_pipeline_with_gates(**params)


if __name__ == "__main__":
    if "--run" in sys.argv:
        flags = ("corrupt", "poison", "tamper")
        run_locally(**{flag: f"--{flag}" in sys.argv for flag in flags})
    else:
        print(f"compiled {compile_pipeline()}")
