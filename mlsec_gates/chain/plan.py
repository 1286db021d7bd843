"""The chain's steps, as planned from the policy's ``chain`` section (framework-neutral).

:func:`plan_chain` is the one place that turns ``chain:`` into gate calls; ``mlsec-gates run``
(:func:`~mlsec_gates.chain.run.run_chain`), the Airflow task group and the KFP sub-pipeline
all build their tasks from its :class:`ChainStep` list, so one policy drives all three.
Planning reads the policy only: it imports no gate and touches no data, so it is safe at DAG
parse time.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import ChainPolicy, Policy
from mlsec_gates.result import GateResult
from mlsec_gates.storage import S3Options, Storage

#: The order of the standard chain; a step the policy omits is skipped.
STEP_ORDER: tuple[str, ...] = (
    "validate",
    "drift",
    "train",
    "scan",
    "model_eval",
    "sbom",
    "sign",
)

#: Step -> (module, entry function, name of its first positional argument).
_ENTRY: dict[str, tuple[str, str, str]] = {
    "validate": ("mlsec_gates.gates.validate", "validate_gate", "data"),
    "drift": ("mlsec_gates.gates.drift", "drift_gate", "current"),
    "train": ("mlsec_gates.chain.train", "train_gate", "command"),
    "scan": ("mlsec_gates.gates.scan", "scan_gate", "targets"),
    "model_eval": ("mlsec_gates.gates.model_eval", "model_eval_gate", "model"),
    "sbom": ("mlsec_gates.gates.sbom", "sbom_gate", "model"),
    "sign": ("mlsec_gates.gates.sign", "sign_gate", "model"),
}


@dataclass(frozen=True)
class ChainStep:
    """One step of the chain: which gate, under which task id, with which arguments.

    ``kwargs`` holds only JSON-ready values (strings, lists, numbers, booleans), keyed by the
    gate function's parameter names, the first positional argument included; adapters may
    pass them on as task parameters.
    """

    gate: str
    """``validate``, ``drift``, ``train``, ``scan``, ``model_eval``, ``sbom`` or ``sign``."""
    task_id: str
    """Task id for orchestrators, and the step's report subfolder."""
    kwargs: Mapping[str, Any]
    """The gate call's arguments, except policy, report_dir, s3 and run_context."""
    policy: Policy | str | None = field(default=None, compare=False)
    """What the gate loads its policy from: the parsed policy, or its path/URI/text (a task
    then re-reads it when it runs)."""
    s3: S3Options | None = field(default=None, compare=False)

    @property
    def function(self) -> str:
        """The gate entry point, ``module:function`` (e.g. ``mlsec_gates.gates.scan:scan_gate``)."""
        module, name, _ = _ENTRY[self.gate]
        return f"{module}:{name}"

    def call(
        self,
        report_dir: str,
        run_context: Mapping[str, str] | None = None,
        *,
        gate_reports: Sequence[str] = (),
    ) -> GateResult:
        """Run the step's gate, writing its reports into ``report_dir``.

        ``gate_reports`` (JSON reports of earlier steps) are recorded by the sbom step in the
        BOM and ignored by the others.

        Returns:
            The gate's result (reports written, ledger appended when configured).

        Raises:
            Error: whatever the gate raises when it cannot run (see each gate).
        """
        module, name, primary = _ENTRY[self.gate]
        gate_function = getattr(importlib.import_module(module), name)
        kwargs = dict(self.kwargs)
        first = kwargs.pop(primary)
        if self.gate == "sbom" and gate_reports:
            kwargs["gate_reports"] = [*kwargs.get("gate_reports", ()), *gate_reports]
        result: GateResult = gate_function(
            first,
            **kwargs,
            policy=self.policy,
            report_dir=report_dir,
            s3=self.s3,
            run_context=run_context,
        )
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the policy), e.g. for a KFP task's parameters."""
        return {"gate": self.gate, "task_id": self.task_id, "kwargs": dict(self.kwargs)}


def plan_chain(
    policy: Policy | str,
    *,
    storage: Storage | None = None,
    s3: S3Options | None = None,
) -> list[ChainStep]:
    """The steps of the policy's ``chain`` section, in :data:`STEP_ORDER`.

    Args:
        policy: the parsed policy, or its path/``s3://`` URI/inline YAML; a string is kept
            in the steps, so each task re-reads the policy when it runs.
        storage: reads a policy given by path or URI (default: local files and S3 with
            ``s3``).
        s3: how each gate reaches S3 (overrides the policy's ``storage.s3``).

    Defaults between steps: ``scan.targets``, ``sbom.model_dir`` and ``sign.model_dir``
    default to ``train.model_dir``; ``sbom.datasets`` to the validated and drift-checked
    data; ``sbom.out`` to ``<model>.cdx.json``; ``sign.attach`` to the BOM when the chain
    writes one.

    Raises:
        ConfigError: the policy is invalid or its ``chain`` section has no step.
        InputError: the policy file does not exist.
    """
    from mlsec_gates.gates._common import load_policy

    loaded = load_policy(policy, storage=storage or Storage(s3), gate="validate")
    chain = loaded.chain
    steps = _kwargs(chain)
    if not steps:
        raise ConfigError(
            f"{loaded.source}: chain: no step configured (add chain.validate, chain.scan, ...)"
        )
    kept: Policy | str = policy if isinstance(policy, str) else loaded
    return [
        ChainStep(gate=gate, task_id=gate, kwargs=kwargs, policy=kept, s3=s3)
        for gate, kwargs in steps
    ]


def _kwargs(chain: ChainPolicy) -> list[tuple[str, dict[str, Any]]]:
    """Each configured step with its gate-call arguments, in chain order."""
    model = chain.train.model_dir if chain.train else None
    out: list[tuple[str, dict[str, Any]]] = []
    datasets: list[str] = []
    if chain.validate_:
        v = chain.validate_
        args = {"data": v.data, **_set(suite=v.suite, sql_url=v.sql_url, table=v.table)}
        out.append(("validate", args))
        datasets += [v.data] if v.data else []
    if chain.drift:
        d = chain.drift
        out.append(
            (
                "drift",
                _set(
                    current=d.current,
                    reference=d.reference,
                    profile=d.profile,
                    label_column=d.label_column,
                ),
            )
        )
        datasets += [d.current]
    if chain.train:
        t = chain.train
        out.append(
            (
                "train",
                {
                    "command": list(t.command),
                    "model_dir": t.model_dir,
                    "timeout_seconds": t.timeout_seconds,
                    "env": dict(t.env),
                },
            )
        )
    if chain.scan:
        out.append(("scan", {"targets": list(chain.scan.targets) or [str(model)]}))
    if chain.model_eval:
        e = chain.model_eval
        evaluated = _set(
            model=e.model or str(model),
            data=e.data,
            label_column=e.label_column,
            budget=e.budget,
        )
        if e.sensitive_columns:
            evaluated["sensitive_columns"] = list(e.sensitive_columns)
        out.append(("model_eval", evaluated))
    bom: str | None = None
    if chain.sbom:
        s = chain.sbom
        sbom_model = s.model_dir or str(model)
        bom = s.out or sibling(sbom_model, ".cdx.json")
        out.append(
            (
                "sbom",
                _set(
                    model=sbom_model,
                    datasets=list(s.datasets) or list(dict.fromkeys(datasets)),
                    requirements=s.requirements,
                    environment=s.environment,
                    out=bom,
                ),
            )
        )
    if chain.sign:
        g = chain.sign
        attach = list(g.attach) or ([bom] if bom else [])
        out.append(
            (
                "sign",
                _set(
                    model=g.model_dir or str(model),
                    key=g.key,
                    kms_key_id=g.kms_key_id,
                    out=g.out,
                    attach=attach,
                ),
            )
        )
    return out


def sibling(model: str, suffix: str) -> str:
    """``models/bert/`` -> ``models/bert<suffix>``: a file next to the model, not inside it."""
    return model.rstrip("/") + suffix


def _set(**kwargs: Any) -> dict[str, Any]:
    """The arguments that are set (None means: the gate's default)."""
    return {k: v for k, v in kwargs.items() if v is not None}
