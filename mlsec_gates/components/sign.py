"""KFP component that signs a model; ``signature_verification`` checks it before deployment.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import model_signing, signature_verification
    >>> @dsl.pipeline(name="sign-then-verify")
    ... def sign_then_verify(model_uri: str):
    ...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    ...     signed = model_signing(model=model.output, key="/var/run/secrets/signing/key.pem")
    ...     signature_verification(
    ...         model=model.output,
    ...         signature=signed.outputs["signature"],
    ...         public_key="/etc/mlsec/signing.pub.pem",
    ...     )

The signature is the ``signature`` output artifact, a folder: ``model.sig`` is a Sigstore
bundle v0.3 in the OpenSSF model-signing format (the stock ``model_signing verify key``
accepts it) and each attachment (the BOM) is a DSSE envelope beside it, which the bundle
lists with its hash.

**Key material.** Keys never travel as pipeline parameters or artifacts (both are stored in
the pipeline root and ML Metadata). Pass one of:

- ``key``: the path of an EC private key PEM *inside the task container*. On a cluster, mount
  a Kubernetes Secret there with kfp-kubernetes::

      from kfp import kubernetes
      task = model_signing(model=..., key="/var/run/secrets/signing/key.pem")
      kubernetes.use_secret_as_volume(
          task, secret_name="model-signing-key", mount_path="/var/run/secrets/signing"
      )

- ``kms_key_id``: an AWS KMS key id or ARN (``ECC_NIST_P256``, ``SIGN_VERIFY``); the task's
  AWS credentials (IRSA, the usual ``AWS_*`` variables) must allow ``kms:Sign`` and
  ``kms:GetPublicKey``. The private key never leaves KMS.

:mod:`mlsec_gates.components.verify` takes the trusted public key the same way. The
component is a hard gate by default (see :mod:`mlsec_gates.components.scan` for the shared
outputs and ``fail_on_violation``). This module has no ``from __future__ import
annotations``: KFP reads the annotations as objects.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Model, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["model_signing"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def model_signing(
    model: Input[Model],
    signature: Output[Artifact],
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    bom: Optional[Input[Artifact]] = None,  # noqa: UP045 - KFP cannot parse `X | None`
    key: Optional[str] = None,  # noqa: UP045
    kms_key_id: Optional[str] = None,  # noqa: UP045
    policy: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("SignOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Sign a model artifact with an EC key file or an AWS KMS key.

    Args:
        model: the model artifact to sign (a file or a directory).
        signature: a folder with the bundle (``model.sig``) and the signed attachments
            (``model.sig.<label>.dsse.json``); its metadata holds ``passed`` and ``status``.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: the gate's metrics and ``passed``.
        bom: the model's BOM (``model_sbom``'s ``bom``), signed along with the model.
        key: path of the EC private key PEM in the task container (a mounted Secret).
        kms_key_id: AWS KMS key id or ARN to sign with instead of ``key``.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate).

    Returns:
        ``passed``, ``status`` and the one-line ``summary``. A hard gate that did not pass
        raises a ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components import _runtime as rt
    from mlsec_gates.gates.sign import sign_gate

    with rt.scratch_dir() as scratch:
        result = sign_gate(
            model.path,
            key=key or None,
            kms_key_id=kms_key_id or None,
            out=rt.signature_file(signature),
            attach=rt.local_paths(bom),
            policy=policy,
            run_context=rt.kfp_run_context(run_id, task_name),
            report_dir=scratch,
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    outputs.update(metrics=metrics, artifacts={"signature": signature})
    return rt.finish(result, fail_on_violation=fail_on_violation, **outputs)
