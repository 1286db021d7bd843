"""The chain's steps, as planned from the policy's ``chain`` section (framework-neutral).

:func:`plan_chain` is the one place that turns ``chain:`` into gate calls; ``mlsec-gates run``
(:func:`~mlsec_gates.chain.run.run_chain`), the Airflow task group and the KFP sub-pipeline
all build their tasks from its :class:`ChainStep` list, so one policy drives all three.
Planning reads the policy only: it imports no gate and touches no data, so it is safe at DAG
parse time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import ChainPolicy, Policy
from mlsec_gates.result import GateResult
from mlsec_gates.storage import S3Options, Storage

#: The chain's stages. ``data`` gates run before training, ``model`` gates after it; ``all``
#: is the whole chain with the ``train`` hook in between. A DAG or pipeline that trains in its
#: own task puts ``stage="data"`` before it and ``stage="model"`` after it.
STAGES: tuple[str, ...] = ("all", "data", "model")


@dataclass(frozen=True)
class StepKind:
    """One kind of chain step: its gate entry point, its stage and how it is planned.

    :data:`STEP_KINDS` lists them in chain order; adding a step to the chain is one entry
    there (plus the policy's ``chain.<name>`` model, its operator in
    :data:`mlsec_gates.operators.chain.OPERATORS` and its KFP component in
    :mod:`mlsec_gates.components._chain_wiring`).
    """

    gate: str
    """The step's name: the ``chain.<gate>`` policy key and the task id."""
    stage: str
    """``data``, ``train`` or ``model``."""
    module: str
    function: str
    primary: str
    """Name of the gate function's first positional argument."""
    plan: Callable[[ChainPolicy, _Planned], dict[str, Any] | None]
    """The step's gate-call arguments from the policy (None: the policy omits the step);
    may record what later steps default to in the :class:`_Planned` state."""


@dataclass
class _Planned:
    """What earlier steps planned, for the defaults of later ones."""

    model: str | None = None
    datasets: list[str] = field(default_factory=list)
    bom: str | None = None


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
        kind = _KINDS[self.gate]
        return f"{kind.module}:{kind.function}"

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
        kind = _KINDS[self.gate]
        gate_function = getattr(importlib.import_module(kind.module), kind.function)
        kwargs = dict(self.kwargs)
        first = kwargs.pop(kind.primary)
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
    stage: str = "all",
    storage: Storage | None = None,
    s3: S3Options | None = None,
) -> list[ChainStep]:
    """The steps of the policy's ``chain`` section, in :data:`STEP_ORDER`.

    Args:
        policy: the parsed policy, or its path/``s3://`` URI/inline YAML; a string is kept
            in the steps, so each task re-reads the policy when it runs.
        stage: ``all`` (the whole chain), ``data`` (the steps before training: validate,
            drift) or ``model`` (the steps after it: scan, sbom, sign). With ``data`` and
            ``model`` the pipeline trains in its own task, so the policy has no
            ``chain.train``; the model steps then name their model (``scan.targets``,
            ``sbom.model_dir``, ``sign.model_dir``).
        storage: reads a policy given by path or URI (default: local files and S3 with
            ``s3``).
        s3: how each gate reaches S3 (overrides the policy's ``storage.s3``).

    Defaults between steps: see :data:`STEP_KINDS`.

    Raises:
        ConfigError: the policy is invalid, its ``chain`` section has no step (in the
            stage), the stage is unknown, or a staged plan meets a ``chain.train`` step.
        InputError: the policy file does not exist.
    """
    from mlsec_gates.gates._common import load_policy

    if stage not in STAGES:
        raise ConfigError(f"stage {stage!r}: expected one of {', '.join(STAGES)}")
    loaded = load_policy(policy, storage=storage or Storage(s3), gate="validate")
    steps = _kwargs(loaded.chain)
    if stage != "all":
        if loaded.chain.train is not None:
            raise ConfigError(
                f"{loaded.source}: chain.train: stage={stage!r} gates a pipeline that trains "
                "in its own task; remove chain.train (or use stage='all', which runs it)"
            )
        steps = [(gate, kwargs) for gate, kwargs in steps if _KINDS[gate].stage == stage]
    if not steps:
        where = "chain" if stage == "all" else f"chain ({stage} stage)"
        raise ConfigError(
            f"{loaded.source}: {where}: no step configured (add chain.validate, chain.scan, ...)"
        )
    kept: Policy | str = policy if isinstance(policy, str) else loaded
    return [
        ChainStep(gate=gate, task_id=gate, kwargs=kwargs, policy=kept, s3=s3)
        for gate, kwargs in steps
    ]


def _validate(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    v = chain.validate_
    if v is None:
        return None
    done.datasets += [v.data] if v.data else []
    return {"data": v.data, **_set(suite=v.suite, sql_url=v.sql_url, table=v.table)}


def _drift(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    d = chain.drift
    if d is None:
        return None
    done.datasets.append(d.current)
    return _set(
        current=d.current, reference=d.reference, profile=d.profile, label_column=d.label_column
    )


def _train(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    t = chain.train
    if t is None:
        return None
    return {
        "command": list(t.command),
        "model_dir": t.model_dir,
        "timeout_seconds": t.timeout_seconds,
        "env": dict(t.env),
    }


def _scan(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    if chain.scan is None:
        return None
    return {"targets": list(chain.scan.targets) or [str(done.model)]}


def _model_eval(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    e = chain.model_eval
    if e is None:
        return None
    evaluated = _set(
        model=e.model or str(done.model),
        data=e.data,
        label_column=e.label_column,
        budget=e.budget,
    )
    if e.sensitive_columns:
        evaluated["sensitive_columns"] = list(e.sensitive_columns)
    return evaluated


def _sbom(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    s = chain.sbom
    if s is None:
        return None
    model = s.model_dir or str(done.model)
    done.bom = s.out or sibling(model, ".cdx.json")
    return _set(
        model=model,
        datasets=list(s.datasets) or list(dict.fromkeys(done.datasets)),
        requirements=s.requirements,
        environment=s.environment,
        out=done.bom,
    )


def _sign(chain: ChainPolicy, done: _Planned) -> dict[str, Any] | None:
    g = chain.sign
    if g is None:
        return None
    attach = list(g.attach) or ([done.bom] if done.bom else [])
    return _set(
        model=g.model_dir or str(done.model),
        key=g.key,
        kms_key_id=g.kms_key_id,
        out=g.out,
        attach=attach,
    )


#: The chain's steps, in order. Defaults between steps: ``scan.targets``, ``sbom.model_dir``
#: and ``sign.model_dir`` default to ``train.model_dir``; ``sbom.datasets`` to the validated
#: and drift-checked data; ``sbom.out`` to ``<model>.cdx.json``; ``sign.attach`` to the BOM.
STEP_KINDS: tuple[StepKind, ...] = (
    StepKind("validate", "data", "mlsec_gates.gates.validate", "validate_gate", "data", _validate),
    StepKind("drift", "data", "mlsec_gates.gates.drift", "drift_gate", "current", _drift),
    StepKind("train", "train", "mlsec_gates.chain.train", "train_gate", "command", _train),
    StepKind("scan", "model", "mlsec_gates.gates.scan", "scan_gate", "targets", _scan),
    StepKind(
        "model_eval",
        "model",
        "mlsec_gates.gates.model_eval",
        "model_eval_gate",
        "model",
        _model_eval,
    ),
    StepKind("sbom", "model", "mlsec_gates.gates.sbom", "sbom_gate", "model", _sbom),
    StepKind("sign", "model", "mlsec_gates.gates.sign", "sign_gate", "model", _sign),
)
#: The order of the standard chain; a step the policy omits is skipped.
STEP_ORDER: tuple[str, ...] = tuple(kind.gate for kind in STEP_KINDS)
_KINDS = {kind.gate: kind for kind in STEP_KINDS}


def _kwargs(chain: ChainPolicy) -> list[tuple[str, dict[str, Any]]]:
    """Each configured step with its gate-call arguments, in chain order."""
    done = _Planned(model=chain.train.model_dir if chain.train else None)
    planned = ((kind.gate, kind.plan(chain, done)) for kind in STEP_KINDS)
    return [(gate, kwargs) for gate, kwargs in planned if kwargs is not None]


def stage_of(gate: str) -> str:
    """The stage of a chain step: ``data``, ``train`` or ``model``."""
    return _KINDS[gate].stage


def sibling(model: str, suffix: str) -> str:
    """``models/bert/`` -> ``models/bert<suffix>``: a file next to the model, not inside it."""
    return model.rstrip("/") + suffix


def _set(**kwargs: Any) -> dict[str, Any]:
    """The arguments that are set (None means: the gate's default)."""
    return {k: v for k, v in kwargs.items() if v is not None}
