"""Airflow operator that verifies a model's signature before it is deployed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator, from_browsable

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class VerifySignatureGateOperator(GateOperator):
    """Verify the exact model bytes about to be deployed; fail the task if anything changed.

    .. code-block:: python

        verify = VerifySignatureGateOperator(
            task_id="verify_model",
            model="/srv/staging/model.pkl",
            signature="/srv/staging/model.sig",
            public_key="/opt/airflow/keys/model-signing.pub.pem",
        )

    The verification is offline: a public key PEM (or the public key of a KMS key, fetched
    once) and the bundle are all it needs. Any changed, added, removed or renamed file, a
    signature made with another key, or a refused path (``.git``, empty directories; see the
    policy) fails the task with ``AirflowFailException``, so nothing downstream deploys.

    Verify the copy you are going to serve, not the original: the point is that the bytes
    that reach production are the bytes that were signed.

    :param model: the model file or directory, or its ``s3://`` URI (templated).
    :param signature: the signature bundle, a path or ``s3://`` URI (templated).
    :param public_key: the trusted public key (PEM), a path (templated). Pin it on the
        deploy side; never take it from the producer of the model.
    :param kms_key_id: AWS KMS key id or ARN whose public key is trusted (templated).
    """

    gate_name = "verify"
    template_fields: Sequence[str] = (
        "model",
        "signature",
        "public_key",
        "kms_key_id",
        *GateOperator.template_fields,
    )
    ui_color = "#dcecf2"

    def __init__(
        self,
        *,
        model: str,
        signature: str,
        public_key: str | None = None,
        kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.signature = signature
        self.public_key = public_key
        self.kms_key_id = kms_key_id

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Verify with :func:`mlsec_gates.gates.sign.verify_gate`."""
        from mlsec_gates.gates.sign import verify_gate

        return verify_gate(
            from_browsable(self.model),
            signature=from_browsable(self.signature),
            public_key=self.public_key or None,
            kms_key_id=self.kms_key_id or None,
            run_context=run_context,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
        )
