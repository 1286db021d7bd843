"""Example pipeline: train a model, scan it, publish it only if the scan passed.

Run ``python pipelines/scan_model_pipeline.py`` to compile it to ``scan_model_pipeline.yaml``
next to this file (the committed YAML; ``tests/kfp`` checks it is up to date), or
``python pipelines/scan_model_pipeline.py --run`` to run it once here with
``kfp.local.SubprocessRunner(use_venv=False)``.

Parameters:

- ``tamper``: append a second pickle stream that imports ``os.system`` to the trained model,
  as an attacker with write access to the model store would. The bytes are written with
  pickle opcodes; nothing ever loads them.
- ``hard_gate``: the scan fails the run when the model is unsafe (the default). With
  ``hard_gate=False`` the scan is a soft gate: the run succeeds, ``dsl.If`` skips the publish
  step and ``dsl.Else`` records why the model was held back.

Clean model: train -> scan (pass) -> publish. Tampered model: train -> scan (fail) -> the run
fails, or with the soft gate, -> hold. Either way the scan's HTML, Markdown and JSON reports
are written before the decision.
"""

import sys
from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Artifact, Input, Model, Output

from mlsec_gates.components import IMAGE, artifact_scan

PIPELINE_YAML = Path(__file__).with_suffix(".yaml")

TRAIN_IMAGE = "python:3.11-slim"
"""Any Python image; scikit-learn is installed at task start."""
TRAIN_PACKAGES = ["scikit-learn>=1.3"]


@dsl.component(base_image=TRAIN_IMAGE, packages_to_install=TRAIN_PACKAGES)
def train_iris(model: Output[Model], tamper: bool = False):
    """Train a small classifier on iris and save it with pickle.

    Args:
        model: the pickled classifier.
        tamper: append a second pickle stream that calls ``os.system`` (never loaded here).
    """
    import pickle

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
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
def publish_model(model: Input[Model], scan_report: Input[Artifact], published: Output[Model]):
    """Publish a scanned model: copy it to the release location and record its scan report.

    Args:
        model: the model that passed the scan.
        scan_report: the scan's JSON report, recorded next to the published model.
        published: the released copy.
    """
    import shutil

    shutil.copyfile(model.path, published.path)
    published.metadata.update({"source_uri": model.uri, "scan_report_uri": scan_report.uri})
    print(f"published {model.uri} -> {published.uri}")


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
    description="Train on iris, scan the model with mlsec-gates, publish it only if it passed.",
)
def scan_model_pipeline(tamper: bool = False, hard_gate: bool = True):
    """Train, scan, then publish under ``dsl.If``.

    Args:
        tamper: append a malicious pickle stream to the trained model.
        hard_gate: fail the run when the scan does not pass; otherwise skip publishing.
    """
    train = train_iris(tamper=tamper)
    scan = artifact_scan(model=train.outputs["model"], fail_on_violation=hard_gate)
    with dsl.If(scan.outputs["passed"] == True, name="scan-passed"):  # noqa: E712
        publish_model(model=train.outputs["model"], scan_report=scan.outputs["report_json"])
    with dsl.Else(name="scan-failed"):
        hold_model(model=train.outputs["model"], reason=scan.outputs["summary"])


# [END howto_pipeline_scan]


def compile_pipeline(path: Path = PIPELINE_YAML) -> Path:
    """Compile the pipeline to ``path`` (the committed YAML by default)."""
    compiler.Compiler().compile(scan_model_pipeline, str(path))
    return path


def run_locally(*, tamper: bool = False, hard_gate: bool = True, root: str = "local_outputs"):
    """Run the pipeline once in this interpreter's environment (no container, no cluster)."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    return scan_model_pipeline(tamper=tamper, hard_gate=hard_gate)


if __name__ == "__main__":
    if "--run" in sys.argv:
        run_locally(tamper="--tamper" in sys.argv, hard_gate="--soft" not in sys.argv)
    else:
        print(f"compiled {compile_pipeline()}")
