"""Airflow operator for the model-eval gate (fairness, explanations, robustness, backdoors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator, as_list

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class ModelEvalGateOperator(GateOperator):
    """Evaluate a trained model on held-out data; fail the task when a check fails.

    .. code-block:: python

        evaluate = ModelEvalGateOperator(
            task_id="model_eval",
            model="s3://models/{{ ds }}/model.pkl",
            data="s3://datasets/{{ ds }}/holdout.parquet",
            label_column="approved",
            sensitive_columns=["sex", "race"],
        )

    Four checks (fairness, explainability, robustness, backdoor; see ``docs/model-eval.md``),
    each configured under ``gates.model_eval`` in the policy. The model file is scanned first
    and loaded only on a scan pass, in a child process with memory and time limits, so a
    model never runs inside the Airflow worker process. Nothing is read at DAG parse time.

    :param model: the model file, path or ``s3://`` URI (templated).
    :param data: the held-out evaluation data with the label (templated).
    :param label_column: the true label (templated); default: the policy's.
    :param sensitive_columns: columns fairness compares groups of (templated).
    :param budget: CPU seconds the checks share; default ``gates.model_eval.budget_seconds``.
    """

    gate_name = "model_eval"
    template_fields: Sequence[str] = (
        "model",
        "data",
        "label_column",
        "sensitive_columns",
        *GateOperator.template_fields,
    )
    ui_color = "#dce9f4"

    def __init__(
        self,
        *,
        model: str,
        data: str,
        label_column: str | None = None,
        sensitive_columns: str | Sequence[str] | None = None,
        budget: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.data = data
        self.label_column = label_column
        self.sensitive_columns = sensitive_columns
        self.budget = budget

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Evaluate with :func:`mlsec_gates.gates.model_eval.model_eval_gate`."""
        from mlsec_gates.gates.model_eval import model_eval_gate

        return model_eval_gate(
            self.model,
            data=self.data,
            label_column=self.label_column or None,
            sensitive_columns=as_list(self.sensitive_columns) or None,
            budget=self.budget,
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            on_fail=self.on_fail,
            run_context=run_context,
        )
