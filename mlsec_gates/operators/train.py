"""Airflow operator for the chain's train hook: run a training command, record its model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlsec_gates.operators.base import GateOperator

if TYPE_CHECKING:
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import S3Options


class TrainHookOperator(GateOperator):
    """Run a training command (no shell) and record every file it wrote, with its SHA-256.

    .. code-block:: python

        train = TrainHookOperator(
            task_id="train",
            command=["python", "/opt/train.py", "--out", "{model_dir}"],
            model_dir="/data/models/{{ ds }}",
        )

    The step of the gate chain between the data gates and the model gates (``chain.train``
    in the policy; :func:`~mlsec_gates.operators.security_gates` creates it from there). A
    command that fails, times out or writes nothing fails the task (status ``error``); its
    report shows the command's output.

    :param command: the command and its arguments; ``{model_dir}`` is replaced (templated).
    :param model_dir: local directory the command writes the model to; the command also gets
        it as ``MLSEC_MODEL_DIR`` (templated).
    :param timeout_seconds: stop the command after this long.
    :param env: extra environment variables for the command (templated).
    """

    gate_name = "train"
    template_fields: Sequence[str] = ("command", "model_dir", "env", *GateOperator.template_fields)
    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        command: Sequence[str],
        model_dir: str,
        timeout_seconds: int = 3600,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.model_dir = model_dir
        self.timeout_seconds = timeout_seconds
        self.env = env

    def run_gate(
        self, *, report_dir: str, s3: S3Options, run_context: dict[str, str]
    ) -> GateResult:
        """Train with :func:`mlsec_gates.chain.train.train_gate`."""
        from mlsec_gates.chain.train import train_gate

        return train_gate(
            list(self.command),
            model_dir=self.model_dir,
            timeout_seconds=self.timeout_seconds,
            env=dict(self.env or {}),
            policy=self.policy,
            report_dir=report_dir,
            s3=s3,
            run_context=run_context,
        )
