"""Run the whole chain locally (``mlsec-gates run``) and write its combined report.

Example:
    >>> from mlsec_gates.chain import run_chain
    >>> outcome = run_chain("gates.yaml", report_dir="reports/run-1")  # doctest: +SKIP
    >>> outcome.status, outcome.stopped_at, outcome.reports["html"]  # doctest: +SKIP
    (<Status.FAIL: 'fail'>, 'scan', '/.../reports/run-1/combined-report.html')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlsec_gates.chain.plan import ChainStep, plan_chain
from mlsec_gates.errors import Error
from mlsec_gates.policy import Policy
from mlsec_gates.result import GateResult, Location, Status
from mlsec_gates.storage import S3Options, Storage, join

#: Worst first: the chain's status is the worst of its steps'.
_RANK = {Status.ERROR: 3, Status.FAIL: 2, Status.WARN: 1, Status.PASS: 0}


@dataclass(frozen=True)
class ChainResult:
    """What a chain run decided: each step's result, the steps not run, the combined report."""

    results: tuple[GateResult, ...]
    not_run: tuple[str, ...]
    """Task ids of the steps after the one that stopped the chain."""
    reports: dict[str, str] = field(default_factory=dict)
    """The combined report: ``json``, ``markdown``, ``html`` -> path or URI."""

    @property
    def status(self) -> Status:
        """The worst status of the steps that ran (``error`` > ``fail`` > ``warn`` > ``pass``)."""
        return max((r.status for r in self.results), key=_RANK.__getitem__, default=Status.ERROR)

    @property
    def passed(self) -> bool:
        """True when every step that ran passed or warned (and so every step ran)."""
        return self.status in (Status.PASS, Status.WARN)

    @property
    def stopped_at(self) -> str | None:
        """The gate whose failure stopped the chain, or None when it ran to the end."""
        return next((r.gate for r in self.results if not r.passed), None)

    @property
    def exit_code(self) -> int:
        """0 passed (or warned), 1 a gate failed, 2 a gate could not check (error)."""
        return {Status.ERROR: 2, Status.FAIL: 1}.get(self.status, 0)


StepCallback = Callable[[ChainStep, GateResult], None]
"""Called after each step with its result (the CLI prints one line per step)."""


def run_chain(
    policy: Policy | str,
    *,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    run_context: Mapping[str, str] | None = None,
    on_step: StepCallback | None = None,
) -> ChainResult:
    """Run the policy's chain step by step; stop at the first failing gate; report.

    Each step writes its reports into ``<report_dir>/<task_id>/``; the combined report
    (``combined-report.{html,md,json}``) goes into ``report_dir`` itself and is always
    written, whether the chain passed, stopped at a failing gate or at a step that could not
    run (that step is reported as ``error`` with the message). ``warn`` goes on.

    Returns:
        The results of the steps that ran, the ones that did not, and the combined report.

    Raises:
        ConfigError: the policy is invalid or has no ``chain`` step.
        InputError: the policy file does not exist.
        StorageError: a report could not be written.
    """
    from mlsec_gates.gates._common import default_report_dir, gate_storage, load_policy
    from mlsec_gates.reports.combined import write_combined_report

    bootstrap = Storage(s3) if s3 else Storage()
    loaded = load_policy(policy, storage=bootstrap, gate="validate")
    steps = plan_chain(loaded, s3=s3)
    storage = gate_storage(loaded, s3)
    report_dir = report_dir or default_report_dir("chain")
    results: list[GateResult] = []
    for index, step in enumerate(steps):
        step_dir = join(report_dir, step.task_id)
        earlier = [r.reports["json"] for r in results if "json" in r.reports]
        try:
            result = step.call(step_dir, step_context(run_context, step), gate_reports=earlier)
        except Error as exc:
            result = _step_error(step, exc, step_dir, storage, loaded)
        results.append(result)
        if on_step:
            on_step(step, result)
        if not result.passed:
            not_run = tuple(s.task_id for s in steps[index + 1 :])
            break
    else:
        not_run = ()
    reports = write_combined_report(
        results,
        report_dir,
        run_context=run_context,
        storage=storage,
        not_run=not_run,
        policy=loaded,
    )
    return ChainResult(results=tuple(results), not_run=not_run, reports=reports)


def step_context(run_context: Mapping[str, str] | None, step: ChainStep) -> dict[str, str]:
    """The run context of one step: the chain's, with the step's task id appended.

    Every step then has its own ledger idempotency key (retries of one step share it).
    """
    context = dict(run_context or {})
    if not context:
        return context
    for key in ("task_id", "idempotency_key"):
        if context.get(key):
            context[key] = f"{context[key]}.{step.task_id}"
    context.setdefault("task_id", step.task_id)
    return context


def _step_error(
    step: ChainStep, exc: Error, step_dir: str, storage: Storage, policy: Policy
) -> GateResult:
    """An ``error`` result for a step that could not run, with its reports written."""
    from mlsec_gates.chain.rules import StepError
    from mlsec_gates.gates._common import now
    from mlsec_gates.reports import write_reports

    message = exc.diagnostics()
    started = now()
    result = GateResult(
        gate=step.gate,
        status=Status.ERROR,
        summary=f"{step.gate} could not run: {message}",
        findings=(
            StepError.finding(
                f"{step.gate} could not run: {message}",
                Location(uri=step.task_id, detail=type(exc).__name__),
                {"error": message, "arguments": dict(step.kwargs)},
                identity=type(exc).__name__,
            ),
        ),
        subjects=(),
        started_at=started,
        finished_at=started,
        policy={
            "source": policy.source,
            "sources": list(policy.sources or (policy.source,)),
            "gate": step.gate,
        },
    )
    return write_reports(result, step_dir, storage=storage)
