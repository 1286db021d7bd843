"""Example pipeline: the whole gate chain as one sub-pipeline built from a policy file.

``prepare_data`` writes a reference and a new training batch (iris-like, generated) and a
demo signing key into ``work/`` under the working directory; then the ``security-gates``
sub-pipeline, built by :func:`mlsec_gates.components.chain.security_gates_pipeline` from
``policies/gated-training.yaml``, runs validate -> drift -> train -> scan -> sbom -> sign
and always publishes the run's combined report (its exit task); ``release`` runs only after
the whole chain passed.

Parameters:

- ``poison``: relabel and shift part of the new batch, as a poisoned upstream feed would;
  the values stay in range, so the data validation passes and the drift gate catches it.
- ``hard_gates``: a gate that does not pass fails the run (default). With
  ``hard_gates=False`` the chain stops at that gate without failing the run: ``dsl.Else``
  records where and why, and ``release`` does not run.

Run ``python pipelines/gated_training_pipeline.py`` to compile it to
``gated_training_pipeline.yaml`` (committed; ``tests/kfp`` checks it is current), or
``python pipelines/gated_training_pipeline.py --run [--poison] [--soft]`` to run it here
with ``kfp.local.SubprocessRunner(use_venv=False)``. The policy's paths are relative to the
working directory of that local run; on a cluster, point them at ``s3://`` URIs.
"""

import sys
from pathlib import Path

from kfp import compiler, dsl

from mlsec_gates.components import IMAGE
from mlsec_gates.components.chain import security_gates_pipeline

PIPELINE_YAML = Path(__file__).with_suffix(".yaml")
POLICY = Path(__file__).resolve().parent / "policies" / "gated-training.yaml"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prepare_data(work_dir: str, poison: bool = False) -> str:
    """Write ``<work_dir>/data/{reference,train}.csv`` and a demo key ``<work_dir>/keys``.

    Args:
        work_dir: the folder the policy's paths point into.
        poison: relabel 40 versicolor rows of the new batch as setosa and give them large
            petals (still within the suite's ranges).

    Returns:
        The training batch's path.
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

    def batch(seed: int) -> list[list[object]]:
        rng = random.Random(seed)
        rows = []
        for species, centre in means.items():
            for _ in range(60):
                rows.append([round(max(0.1, rng.gauss(m, 0.25)), 1) for m in centre] + [species])
        return rows

    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    os.makedirs(os.path.join(work_dir, "data"), exist_ok=True)
    current = batch(2)
    if poison:
        for row in current[60:100]:
            row[2], row[3], row[4] = 6.9, 2.4, "setosa"
    for name, rows in (("reference", batch(1)), ("train", current)):
        with open(os.path.join(work_dir, "data", f"{name}.csv"), "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([*columns, "species"])
            writer.writerows(rows)
    os.makedirs(os.path.join(work_dir, "keys"), exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())  # a throwaway demo key: demo only
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with open(os.path.join(work_dir, "keys", "signing-key.pem"), "wb") as out:
        out.write(pem)
    return os.path.join(work_dir, "data", "train.csv")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def release(model_dir: str) -> str:
    """Stand-in for publishing the signed model (a registry upload, a deployment).

    Args:
        model_dir: the model folder the chain scanned and signed.

    Returns:
        The notice, also printed to the task log.
    """
    notice = f"released {model_dir}: every gate passed"
    print(notice, flush=True)
    return notice


# The sub-pipeline, planned from the policy now; its tasks get the policy's text (the task
# containers do not have this source tree). Module-private: this file's pipeline is below.
_security_gates = security_gates_pipeline(str(POLICY), task_policy=POLICY.read_text())


# [START howto_pipeline_security_gates]
@dsl.pipeline(
    name="gated-training",
    description="Prepare data, then validate, drift-check, train, scan, BOM and sign with "
    "mlsec-gates; release only if every gate passed.",
)
def gated_training_pipeline(poison: bool = False, hard_gates: bool = True):
    """Prepare the data, run the gate chain (with its report), release.

    Args:
        poison: poison the new training batch (the drift gate then stops the chain).
        hard_gates: fail the run at a failing gate; otherwise stop the chain quietly.
    """
    prepared = prepare_data(work_dir="work", poison=poison)
    gates = _security_gates(hard_gates=hard_gates).after(prepared)
    with dsl.If(gates.output == True, name="all-gates-passed"):  # noqa: E712
        release(model_dir="work/model")


# [END howto_pipeline_security_gates]


def compile_pipeline(path: Path = PIPELINE_YAML) -> Path:
    """Compile the pipeline to ``path`` (the committed YAML by default)."""
    compiler.Compiler().compile(gated_training_pipeline, str(path))
    return path


def run_locally(*, poison: bool = False, hard_gates: bool = True, root: str = "local_outputs"):
    """Run the pipeline once in this interpreter's environment (no container, no cluster)."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    return gated_training_pipeline(poison=poison, hard_gates=hard_gates)


if __name__ == "__main__":
    if "--run" in sys.argv:
        run_locally(poison="--poison" in sys.argv, hard_gates="--soft" not in sys.argv)
    else:
        print(f"compiled {compile_pipeline()}")
