"""How :func:`~mlsec_gates.components.chain.security_gates_pipeline` wires one chain step.

Each planned step becomes the existing gate component, run as a soft gate, then a
``gate_verdict`` task; the next steps sit under ``dsl.If(verdict == True)`` and a
``dsl.Else`` records where a soft chain stopped. Called while a pipeline function is being
compiled.
"""

from typing import Any

from kfp import dsl
from kfp.dsl import Dataset, Model

from mlsec_gates.components.chain_steps import RUN, hold_chain, train_hook, verdict_for
from mlsec_gates.components.drift import poison_drift
from mlsec_gates.components.model_eval import model_eval
from mlsec_gates.components.sbom import model_sbom
from mlsec_gates.components.scan import artifact_scan_uri
from mlsec_gates.components.sign import model_signing
from mlsec_gates.components.validate import data_validation_uri
from mlsec_gates.errors import ConfigError


def wire_steps(steps: list, *, policy: str, hard: Any, where: dict) -> None:
    """Add the chain's tasks to the pipeline being compiled, in order."""
    _wire(steps, 0, policy=policy, hard=hard, where=where, done={})


def _wire(
    steps: list, index: int, *, policy: str, hard: Any, where: dict, done: dict, after: Any = None
) -> None:
    step = steps[index]
    task = _gate_task(step, {"policy": policy, "fail_on_violation": False, **RUN}, done)
    task.set_display_name(step.task_id).set_caching_options(False)  # a verdict is never reused
    if after is not None:
        task.after(after)
    done[step.gate] = task
    verdict = verdict_for(step.task_id)(
        report_json=task.outputs["report_json"],
        step=step.task_id,
        passed=task.outputs["passed"],
        summary=task.outputs["summary"],
        hard=hard,
        **where,
    )
    verdict.set_display_name(f"{step.task_id}-verdict").set_caching_options(False)
    if index + 1 == len(steps):
        return
    if hard is True:  # a staged chain: the next step only follows a passed verdict
        _wire(steps, index + 1, policy=policy, hard=hard, where=where, done=done, after=verdict)
        return
    with dsl.If(verdict.output == True, name=f"{step.task_id}-passed"):  # noqa: E712
        _wire(steps, index + 1, policy=policy, hard=hard, where=where, done=done)
    with dsl.Else(name=f"{step.task_id}-held"):
        hold_chain(step=step.task_id, summary=task.outputs["summary"])


def _gate_task(step: Any, common: dict, done: dict) -> Any:
    """The gate component's task for one step, with the step's arguments."""
    kw = dict(step.kwargs)
    if step.gate == "validate":
        if not kw.get("data"):
            raise ConfigError("KFP chain: chain.validate needs data (no SQL table in KFP)")
        return data_validation_uri(data_uri=kw["data"], suite=kw["suite"], **common)
    if step.gate == "drift":
        if not kw.get("reference"):
            raise ConfigError("KFP chain: chain.drift needs reference data (no profile in KFP)")
        current = dsl.importer(artifact_uri=kw["current"], artifact_class=Dataset)
        reference = dsl.importer(artifact_uri=kw["reference"], artifact_class=Dataset)
        label = {"label_column": kw["label_column"]} if kw.get("label_column") else {}
        return poison_drift(current=current.output, reference=reference.output, **label, **common)
    if step.gate == "train":
        args = {k: kw[k] for k in ("command", "model_dir", "timeout_seconds", "env")}
        return train_hook(**args, **common)
    if step.gate == "scan":
        if len(kw["targets"]) != 1:
            raise ConfigError("KFP chain: chain.scan takes one target (a file, folder or prefix)")
        return artifact_scan_uri(model_uri=kw["targets"][0], **common)
    model = dsl.importer(artifact_uri=kw["model"], artifact_class=Model).output
    if step.gate == "model_eval":
        data = dsl.importer(artifact_uri=kw["data"], artifact_class=Dataset).output
        extra = {k: kw[k] for k in ("label_column", "sensitive_columns", "budget") if k in kw}
        return model_eval(model=model, data=data, **extra, **common)
    if step.gate == "sbom":
        evidence = {
            name: done[gate].outputs["report_json"]
            for name, gate in (
                ("validation_report", "validate"),
                ("scan_report", "scan"),
                ("model_eval_report", "model_eval"),
            )
            if gate in done
        }
        extra = {k: kw[k] for k in ("requirements", "environment") if k in kw}
        return model_sbom(
            model=model, dataset_uris=kw.get("datasets", []), **evidence, **extra, **common
        )
    bom = {"bom": done["sbom"].outputs["bom"]} if "sbom" in done else {}
    if kw.get("attach") and not bom:
        raise ConfigError("KFP chain: chain.sign attaches only the BOM of the chain's sbom step")
    keys = {k: kw[k] for k in ("key", "kms_key_id") if kw.get(k)}
    return model_signing(model=model, **bom, **keys, **common)
