"""Findings of the chain's own steps (the train hook) and of steps that could not run."""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule


class TrainCommandFailed(Rule):
    """The training command exited with a non-zero status, timed out or could not start."""

    id: ClassVar[str] = "train.command-failed"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Read the command's output in the evidence, fix the training job and run the chain again."
    )
    why: ClassVar[str] = "Without a finished model the later gates would check nothing."


class TrainNoModel(Rule):
    """The training command succeeded but left no file in its model directory."""

    id: ClassVar[str] = "train.no-model"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Make the command write the model into the directory it gets as {model_dir} "
        "(or the MLSEC_MODEL_DIR environment variable)."
    )
    why: ClassVar[str] = (
        "A model that is not where the chain expects it is neither scanned nor signed."
    )


class StepError(Rule):
    """A step of the chain could not run at all (bad input, policy or storage)."""

    id: ClassVar[str] = "chain.step-error"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Fix the input or policy named in the message and run again."
    why: ClassVar[str] = "A check that did not run proves nothing; the chain stops here."


RULES: tuple[type[Rule], ...] = (TrainCommandFailed, TrainNoModel, StepError)
