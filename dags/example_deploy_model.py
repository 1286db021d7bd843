"""Example DAG: verify a signed model's signature, then deploy it; nothing else deploys.

Scheduled on the ``example_signed_model`` Asset: ``example_scan_model`` emits an event for
it each time ``sign_model`` succeeds, and the event's extra names the model file and its
signature. Triggered by hand, the ``model`` and ``signature`` params say what to deploy.

``stage_model`` copies the model to a staging folder (as a deployment would download it);
``simulate_tampering`` appends bytes to the staged copy when the run is triggered with
``{"tamper": true}``, as an attacker with write access to the model store would after
signing; ``verify_model`` (the verify gate) checks the staged bytes against the signature,
offline; ``deploy`` copies them to ``serving/`` and runs only when they verified.

Trusted key: the ``public_key`` param. When it is empty the DAG falls back to the demo key
that ``example_scan_model`` generated next to the signature (``keys/signing-key.pub.pem``).
That is for the demo only: a deploy side must pin the key it trusts (or a KMS key id), never
take it from the pipeline that produced the model.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, Asset, Param, chain, task

from mlsec_gates.operators import VerifySignatureGateOperator

DAG_ID = "example_deploy_model"

# The Asset example_scan_model's sign task emits (same name and URI).
SIGNED_MODEL = Asset(name="example_signed_model", uri="mlsec-example://models/iris/signed")

RUN_DIR = "{{ params.deploy_dir }}/{{ run_id | replace(':', '_') | replace('+', '_') }}"


@task(multiple_outputs=True)
def stage_model(
    run_dir: str, params: dict | None = None, triggering_asset_events: dict | None = None
) -> dict[str, str]:
    """Copy the model to deploy into ``<run_dir>/staging``; say which signature and key."""
    import shutil
    from pathlib import Path

    params = params or {}
    model, signature = params.get("model") or "", params.get("signature") or ""
    if not model:  # scheduled: the latest event of the signed-model Asset says what to deploy
        events = (triggering_asset_events or {}).get(SIGNED_MODEL) or []
        if not events:
            raise ValueError("nothing to deploy: set the 'model' and 'signature' params")
        model, signature = events[-1].extra["model"], events[-1].extra["signature"]
    public_key = params.get("public_key") or str(
        Path(signature).parent / "keys" / "signing-key.pub.pem"  # the demo key: demo only
    )
    staged = Path(run_dir) / "staging" / Path(model).name
    staged.parent.mkdir(parents=True, exist_ok=True)
    if Path(model).is_dir():
        shutil.copytree(model, staged)
    else:
        shutil.copy2(model, staged)
    return {"model": str(staged), "signature": signature, "public_key": public_key}


@task
def simulate_tampering(model_path: str, params: dict | None = None) -> str:
    """With ``tamper`` set, append bytes to the staged model (after it was signed)."""
    if not (params or {}).get("tamper"):
        print(f"tamper is off: {model_path} left as signed")
        return model_path
    with open(model_path, "ab") as out:
        out.write(b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R.")
    print(f"tamper is on: appended an os.system payload to {model_path} after signing")
    return model_path


@task
def deploy(model_path: str, run_dir: str) -> str:
    """Copy the verified model to the serving folder (stands in for a real rollout)."""
    import shutil

    serving = os.path.join(run_dir, "serving")
    os.makedirs(serving, exist_ok=True)
    return shutil.copy2(model_path, serving)


with DAG(
    dag_id=DAG_ID,
    schedule=[SIGNED_MODEL],
    catchup=False,
    tags=["example", "mlsec-gates"],
    params={
        "model": Param("", type="string", description="Model to deploy (default: the Asset's)."),
        "signature": Param("", type="string", description="Its signature bundle."),
        "public_key": Param(
            "", type="string", description="Trusted public key PEM; empty: the demo key."
        ),
        "tamper": Param(False, type="boolean", description="Change the model after signing."),
        "deploy_dir": Param(
            os.path.join(
                os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")),
                "mlsec-example-deployments",
            ),
            type="string",
            description="Folder for staging and serving (one subfolder per run).",
        ),
    },
    doc_md=__doc__,
) as dag:
    staged = stage_model(run_dir=RUN_DIR)
    model_path = simulate_tampering(staged["model"])

    # [START howto_gate_verify]
    verify_model = VerifySignatureGateOperator(
        task_id="verify_model",
        model=model_path,  # the staged bytes that will be served
        signature=staged["signature"],
        public_key=staged["public_key"],  # pin it in production (or kms_key_id=...)
    )
    # [END howto_gate_verify]

    deployed = deploy(model_path, run_dir=RUN_DIR)
    chain(verify_model, deployed)


if __name__ == "__main__":
    dag.test()
