"""Airflow operator that signs a model (OpenSSF model-signing compatible bundle)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator, as_list, from_browsable

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class SignArtifactsOperator(GateOperator):
    """Sign a model with an EC key or AWS KMS; on success, emit the "signed model" Asset.

    .. code-block:: python

        from airflow.sdk import Asset

        SIGNED_MODEL = Asset(name="signed_model", uri="s3://models/iris/signed")

        sign = SignArtifactsOperator(
            task_id="sign_model",
            model="s3://models/{{ ds }}/model.pkl",
            kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/...",
            attach=["{{ ti.xcom_pull(task_ids='sbom_model', key='bom') }}"],
            outlets=[SIGNED_MODEL],  # a deploy DAG with schedule=[SIGNED_MODEL] follows
        )

    The bundle is a Sigstore bundle v0.3 in the OpenSSF model-signing format, so the stock
    ``model_signing verify key`` accepts it. Its location goes to XCom under ``signature``.

    **Assets.** Pass the Asset(s) standing for the signed model as ``outlets`` (the usual
    Airflow way: an Asset is declared when the DAG is parsed, before any path is rendered).
    Airflow emits their events only when the task succeeds, i.e. only for a model that was
    signed; each event's ``extra`` says which model and signature: ``model``, ``signature``,
    ``model_root_sha256`` (the digest ``mlsec-gates lineage`` looks up), ``gate``, ``status``,
    ``summary``. A consumer DAG reads them from ``triggering_asset_events``.

    :param model: the model file or directory, or its ``s3://`` URI (templated).
    :param key: EC private key (PEM; P-256/384/521), a path (templated). For demos and
        development: in production use ``kms_key_id``.
    :param kms_key_id: AWS KMS key id or ARN (``ECC_NIST_P256``, ``SIGN_VERIFY``) (templated);
        credentials come from ``aws_conn_id`` or the worker's AWS environment.
    :param out: where to write the bundle (templated); default next to the reports.
    :param attach: files signed along with the model, e.g. its BOM (the ``bom`` XCom of
        :class:`~mlsec_gates.operators.SbomGateOperator`) (templated).
    """

    gate_name = "sign"
    artifacts = ("signature",)
    template_fields: Sequence[str] = (
        "model",
        "key",
        "kms_key_id",
        "out",
        "attach",
        *GateOperator.template_fields,
    )
    ui_color = "#e6dcf2"

    def __init__(
        self,
        *,
        model: str,
        key: str | None = None,
        kms_key_id: str | None = None,
        out: str | None = None,
        attach: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.key = key
        self.kms_key_id = kms_key_id
        self.out = out
        self.attach = attach

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Sign with :func:`mlsec_gates.gates.sign.sign_gate`."""
        from mlsec_gates.gates.sign import sign_gate

        return sign_gate(
            from_browsable(self.model),
            key=self.key or None,
            kms_key_id=self.kms_key_id or None,
            out=self.out or None,
            attach=[from_browsable(a) for a in as_list(self.attach)],
            run_context=run_context,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
        )

    def outlet_extra(self, result: GateResult) -> dict[str, Any]:
        """The verdict, plus which model was signed and where its signature is."""
        return {
            **super().outlet_extra(result),
            "model": from_browsable(self.model),
            "signature": result.reports.get("signature", ""),
            "model_root_sha256": result.details.get("root_digest", ""),
        }
