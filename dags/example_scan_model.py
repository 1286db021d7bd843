"""Example DAG: scan a freshly trained model before publishing it.

``train_model`` fits a small scikit-learn model and pickles it; ``simulate_tampering``
appends a second pickle stream that would call ``os.system`` when the run is triggered
with ``{"tamper": true}``; ``scan_model`` (the gate) inspects the file without loading it;
``publish`` copies it to ``published/`` and runs only when the gate passed. A failed gate
leaves its HTML report behind, linked from the task as "Gate report".

Nothing here does I/O or imports scikit-learn when the file is parsed: the tasks import what
they use.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Param, chain, task

from mlsec_gates.operators import ArtifactScanGateOperator

DAG_ID = "example_scan_model"

# Each run writes into its own folder under the ``model_dir`` param.
RUN_DIR = "{{ params.model_dir }}/{{ run_id | replace(':', '_') | replace('+', '_') }}"


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


@task
def train_model(run_dir: str) -> str:
    """Fit a logistic regression on iris and pickle it; returns the model path."""
    import pickle
    from pathlib import Path

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
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


@task
def publish(model_path: str, published_dir: str) -> str:
    """Copy the model to the published folder (stands in for a registry upload)."""
    import shutil

    os.makedirs(published_dir, exist_ok=True)
    return shutil.copy2(model_path, published_dir)


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["example", "mlsec-gates"],
    params={
        "tamper": Param(False, type="boolean", description="Append a malicious pickle."),
        "model_dir": Param(
            os.path.join(
                os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")),
                "mlsec-example-models",
            ),
            type="string",
            description="Folder for the trained and published models (one subfolder per run).",
        ),
    },
    doc_md=__doc__,
) as dag:
    model_path = simulate_tampering(train_model(run_dir=RUN_DIR))

    # [START howto_gate_scan]
    scan_model = ArtifactScanGateOperator(
        task_id="scan_model",
        targets=[model_path],
        # report_dir defaults to $AIRFLOW_HOME/mlsec-gate-reports/<dag>/<run>/<task>;
        # on_fail="warn" would let the run go on with a warning instead.
    )
    # [END howto_gate_scan]

    published = publish(model_path, published_dir=RUN_DIR + "/published")

    chain(model_path, scan_model, published)


if __name__ == "__main__":
    dag.test()
