"""Example pipeline: verify a signed model's signature, then deploy it; nothing else deploys.

The other side of ``scan_model_pipeline.py``: it takes the model and the signature that
pipeline produced (their URIs), stages a copy of the model as a deployment would download it,
verifies the staged bytes against the signature (the verify gate, offline) and deploys them
only when they verified.

Run ``python pipelines/deploy_model_pipeline.py`` to compile it to
``deploy_model_pipeline.yaml`` next to this file, or ``python pipelines/deploy_model_pipeline.py
--run MODEL_URI SIGNATURE_URI PUBLIC_KEY [--tamper]`` to run it once here with
``kfp.local.SubprocessRunner(use_venv=False)``.

Parameters:

- ``model_uri``, ``signature_uri``: the model and its signature (the signing component's
  ``signature`` folder, or a bundle file); any URI ``dsl.importer`` accepts.
- ``public_key``: path of the trusted public key PEM in the task container (bake it into the
  image or mount a ConfigMap), or ``kms_key_id``: the AWS KMS key whose public key is trusted.
  Pin it here, on the deploy side: never take it from the pipeline that produced the model.
- ``tamper``: append bytes to the staged copy, as someone with write access to the model store
  would after signing. The verify gate then fails the run and nothing is deployed.
"""

import sys
from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Artifact, Input, Model, Output

from mlsec_gates.components import IMAGE, signature_verification

PIPELINE_YAML = Path(__file__).with_suffix(".yaml")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def stage_model(model: Input[Model], staged: Output[Model], tamper: bool = False):
    """Copy the model to be deployed (a download, in a real deployment).

    Args:
        model: the signed model (a file or a directory).
        staged: the copy that will be verified and served.
        tamper: append an ``os.system`` pickle stream to the copy (after signing).
    """
    import os
    import shutil

    if os.path.isdir(model.path):
        shutil.copytree(model.path, staged.path)
    else:
        shutil.copyfile(model.path, staged.path)
    if tamper:
        # PROTO 2, GLOBAL os.system, BINUNICODE command, TUPLE1, REDUCE, STOP (never loaded)
        with open(staged.path, "ab") as out:
            out.write(b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R.")
    staged.metadata.update({"source_uri": model.uri, "tampered": tamper})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def deploy_model(model: Input[Model], verification: Input[Artifact], served: Output[Model]):
    """Deploy a verified model: copy it to the serving location (a real rollout, elsewhere).

    Args:
        model: the staged model that passed verification.
        verification: the verify gate's JSON report, recorded with the deployment.
        served: the deployed copy.
    """
    import os
    import shutil

    if os.path.isdir(model.path):
        shutil.copytree(model.path, served.path)
    else:
        shutil.copyfile(model.path, served.path)
    served.metadata.update({"source_uri": model.uri, "verification_uri": verification.uri})
    print(f"deployed {model.uri} -> {served.uri}")


# [START howto_pipeline_verify]
@dsl.pipeline(
    name="deploy-model",
    description="Verify a signed model with mlsec-gates, deploy it only if it verified.",
)
def deploy_model_pipeline(
    model_uri: str,
    signature_uri: str,
    public_key: str = "",
    kms_key_id: str = "",
    tamper: bool = False,
):
    """Import the model and its signature, stage, verify, deploy.

    Args:
        model_uri: the signed model.
        signature_uri: its signature (folder or bundle file).
        public_key: trusted public key PEM path in the task container.
        kms_key_id: or the AWS KMS key whose public key is trusted.
        tamper: change the staged model after signing (the run then fails at verify).
    """
    model = dsl.importer(artifact_uri=model_uri, artifact_class=Model)
    signature = dsl.importer(artifact_uri=signature_uri, artifact_class=Artifact)
    staged = stage_model(model=model.output, tamper=tamper)
    verify = signature_verification(
        model=staged.outputs["staged"],
        signature=signature.output,
        public_key=public_key,
        kms_key_id=kms_key_id,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
    )
    deploy_model(model=staged.outputs["staged"], verification=verify.outputs["report_json"])


# [END howto_pipeline_verify]


def compile_pipeline(path: Path = PIPELINE_YAML) -> Path:
    """Compile the pipeline to ``path`` (the committed YAML by default)."""
    compiler.Compiler().compile(deploy_model_pipeline, str(path))
    return path


def run_locally(
    model_uri: str,
    signature_uri: str,
    public_key: str,
    *,
    tamper: bool = False,
    root: str = "local_outputs",
):
    """Run the pipeline once in this interpreter's environment (no container, no cluster)."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    return deploy_model_pipeline(
        model_uri=model_uri, signature_uri=signature_uri, public_key=public_key, tamper=tamper
    )


if __name__ == "__main__":
    if "--run" in sys.argv:
        args = [a for a in sys.argv[1:] if not a.startswith("--")]
        run_locally(*args[:3], tamper="--tamper" in sys.argv)
    else:
        print(f"compiled {compile_pipeline()}")
