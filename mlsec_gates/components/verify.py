"""KFP component that verifies a model against its signature before it is deployed.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import signature_verification
    >>> @dsl.pipeline(name="verify-then-deploy")
    ... def verify_then_deploy(model_uri: str, signature_uri: str):
    ...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    ...     bundle = dsl.importer(artifact_uri=signature_uri, artifact_class=dsl.Artifact)
    ...     signature_verification(
    ...         model=model.output,
    ...         signature=bundle.output,
    ...         public_key="/etc/mlsec/signing.pub.pem",
    ...     )  # the run fails if the model is not the one that was signed

The verification is offline. The trusted key is ``public_key``, the path of a PEM file *inside
the task container* (bake it into the image or mount a ConfigMap with kfp-kubernetes'
``use_config_map_as_volume``), or ``kms_key_id`` (the public key of an AWS KMS key, fetched
with the task's AWS credentials). Pin it on the deploy side: never take the key from the
pipeline that produced the model.

A hard gate by default (see :mod:`mlsec_gates.components.scan` for the shared outputs and
``fail_on_violation``). This module has no ``from __future__ import annotations``: KFP reads
the annotations as objects.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Model, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["signature_verification"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def signature_verification(
    model: Input[Model],
    signature: Input[Artifact],
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    public_key: Optional[str] = None,  # noqa: UP045 - KFP cannot parse `X | None`
    kms_key_id: Optional[str] = None,  # noqa: UP045
    policy: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("VerifyOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Verify a model artifact against its signature bundle, offline.

    Any changed, added, removed or renamed file, a signature by another key, or a path the
    policy refuses (``.git``, empty directories) fails the gate. Verify the artifact that
    will be served, after it was copied to where it is served from.

    Args:
        model: the model artifact to verify (a file or a directory).
        signature: ``model_signing``'s ``signature`` (a folder with ``model.sig`` and the
            signed attachments), or a bundle file.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: the gate's metrics and ``passed``.
        public_key: path of the trusted public key PEM in the task container.
        kms_key_id: AWS KMS key id or ARN whose public key is trusted, instead.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate); when false,
            the task succeeds and ``passed`` feeds ``dsl.If``.

    Returns:
        ``passed``, ``status`` and the one-line ``summary``. A hard gate that did not pass
        raises a ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, scratch_dir, signature_file
    from mlsec_gates.gates.sign import verify_gate

    with scratch_dir() as scratch:
        result = verify_gate(
            model.path,
            signature=signature_file(signature),
            public_key=public_key or None,
            kms_key_id=kms_key_id or None,
            policy=policy,
            run_context=kfp_run_context(run_id, task_name),
            report_dir=scratch,
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    return finish(result, fail_on_violation=fail_on_violation, metrics=metrics, **outputs)
