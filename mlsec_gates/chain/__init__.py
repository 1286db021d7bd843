"""The standard gate chain: validate -> drift -> train -> scan -> model_eval -> sbom -> sign.

Example:
    >>> from mlsec_gates.chain import plan_chain, run_chain
    >>> [step.task_id for step in plan_chain("gates.yaml")]  # doctest: +SKIP
    ['validate', 'drift', 'train', 'scan', 'sbom', 'sign']
    >>> run_chain("gates.yaml", report_dir="reports/run-1").exit_code  # doctest: +SKIP
    0

The policy's ``chain`` section lists the steps and their inputs (docs/policy.md).
:func:`plan_chain` turns it into :class:`ChainStep` objects, which ``mlsec-gates run``, the
Airflow task group and the KFP sub-pipeline all execute; :func:`run_chain` runs them locally,
stops at the first failing gate and writes the combined report
(:func:`mlsec_gates.reports.combined.write_combined_report`).
"""

from __future__ import annotations

from mlsec_gates.chain.plan import (
    STAGES,
    STEP_KINDS,
    STEP_ORDER,
    ChainStep,
    StepKind,
    plan_chain,
    stage_of,
)
from mlsec_gates.chain.run import ChainResult, run_chain, step_context

__all__ = [
    "STAGES",
    "STEP_KINDS",
    "STEP_ORDER",
    "ChainResult",
    "ChainStep",
    "StepKind",
    "plan_chain",
    "run_chain",
    "stage_of",
    "step_context",
]
