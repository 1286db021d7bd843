"""Assemble, finish and check a CycloneDX 1.6 ML-BOM.

cyclonedx-python-lib builds everything it models (components, hashes, purls, nested files,
external references, dependencies, tools); the parts it does not model yet (``modelCard``,
``component.data``, ``formulation``: cyclonedx-python-lib issues #911-#913) are spliced into
its JSON output. The BOM is then made deterministic (sorted keys, no wall-clock timestamp, a
serial number derived from the content) and checked with the library's strict 1.6 schema
validator plus the reference checks the schema cannot express.

Never round-trip the result through ``Bom.from_json``: it would drop the spliced parts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlsec_gates import __version__
from mlsec_gates.storage import resolve_path

if TYPE_CHECKING:
    from mlsec_gates.gates.sbom.evidence import GateReport
    from mlsec_gates.gates.sbom.libraries import Library
    from mlsec_gates.policy import ModelCardPolicy

#: Property names (CycloneDX property taxonomy style: ``<namespace>:<name>``).
P = "mlsec-gates"
MODEL_REF = "model"
_SERIAL_NAMESPACE = uuid.UUID("5b0f1a7e-3c5e-4d0a-9a51-6d6c7365632d")


@dataclass(frozen=True)
class ArtifactFile:
    """One hashed file of a model or dataset."""

    name: str
    """Path relative to the artifact root (POSIX), or the file name for a single file."""
    uri: str
    sha256: str
    size: int
    version_id: str | None = None
    """S3 VersionId, when the object lives in a versioned bucket."""


@dataclass(frozen=True)
class Artifact:
    """A model or dataset: a file, a directory or an S3 object/prefix, with its files."""

    uri: str
    name: str
    files: tuple[ArtifactFile, ...]
    root_sha256: str
    """The model-signing root digest (SHA-256 over the file digests in path order)."""
    single_file: bool

    @property
    def size(self) -> int:
        """Total bytes."""
        return sum(f.size for f in self.files)

    @property
    def sha256(self) -> str:
        """The file's own SHA-256 for a single file, else the root digest over the files."""
        return self.files[0].sha256 if self.single_file else self.root_sha256

    @property
    def remote(self) -> bool:
        """True for ``s3://``."""
        return self.uri.startswith("s3://")


@dataclass(frozen=True)
class BomInputs:
    """Everything a BOM is built from."""

    model: Artifact
    datasets: Sequence[Artifact] = ()
    libraries: Sequence[Library] = ()
    reports: Sequence[GateReport] = ()
    run_context: Mapping[str, str] = field(default_factory=dict)
    model_card: ModelCardPolicy | None = None
    model_config: Mapping[str, Any] = field(default_factory=dict)
    """The model's ``config.json`` (Hugging Face style), when it has one."""


def build_bom(inputs: BomInputs) -> str:
    """The finished BOM as JSON text (deterministic: same inputs, same bytes)."""
    from cyclonedx.output.json import JsonV1Dot6

    bom, dataset_refs = _library_bom(inputs)
    with warnings.catch_warnings():
        # The library warns when the model has no library dependencies (no environment was
        # asked for); the BOM is still complete.
        warnings.filterwarnings("ignore", message="The Component this BOM is describing")
        doc = json.loads(JsonV1Dot6(bom).output_as_string())
    doc["metadata"]["component"]["modelCard"] = _model_card(inputs, dataset_refs)
    by_ref = {c["bom-ref"]: c for c in doc.get("components", [])}
    for artifact, ref in zip(inputs.datasets, dataset_refs, strict=True):
        by_ref[ref]["data"] = [_component_data(artifact, ref)]
    if inputs.run_context:
        doc["formulation"] = [_formula(inputs.run_context, dataset_refs)]
    return finish(doc)


def finish(doc: dict[str, Any]) -> str:
    """Canonical JSON with a content-derived serial number and a reproducible timestamp.

    The timestamp is ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds convention) and
    is left out otherwise; the serial number is a UUID over the rest of the document.
    """
    doc = dict(doc)
    doc.pop("serialNumber", None)
    metadata = dict(doc.get("metadata", {}))
    metadata.pop("timestamp", None)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        stamp = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
        metadata["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["metadata"] = metadata
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    doc["serialNumber"] = f"urn:uuid:{uuid.uuid5(_SERIAL_NAMESPACE, digest)}"
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def check_bom(text: str) -> list[str]:
    """Problems of a BOM: the strict CycloneDX 1.6 schema, then refs and ``data`` placement.

    Returns one line per problem (empty when valid).
    """
    errors = _validator().validate_str(text, all_errors=True)
    if errors is not None:
        return [_one_line(e) for e in _iter_errors(errors)]
    doc = json.loads(text)
    problems: list[str] = []
    components = list(_walk_components(doc))
    refs = {c["bom-ref"] for c in components if "bom-ref" in c}
    for component in components:
        if component.get("data") and component.get("type") != "data":
            problems.append(f"component {component.get('bom-ref')}: 'data' on a non-data component")
    for where, ref in _references(doc):
        if ref not in refs:
            problems.append(f"{where}: ref {ref!r} names no bom-ref of this BOM")
    return problems


# -- the library part ---------------------------------------------------------------------


def _library_bom(inputs: BomInputs) -> tuple[Any, list[str]]:
    """What cyclonedx-python-lib can model; returns the Bom and the datasets' bom-refs."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType

    bom = Bom()
    model = _artifact_component(inputs.model, MODEL_REF, ComponentType.MACHINE_LEARNING_MODEL)
    model.external_references.update(_report_references(inputs.reports))
    config = inputs.model_config
    if isinstance(config.get("_name_or_path"), str):
        model.properties.add(_prop(f"{P}:config:name-or-path", config["_name_or_path"]))
    bom.metadata.component = model
    bom.metadata.tools.components.update(_tools())

    dataset_refs: list[str] = []
    for artifact in inputs.datasets:
        ref = _unique(f"dataset:{artifact.name}", dataset_refs)
        dataset_refs.append(ref)
        bom.components.add(_artifact_component(artifact, ref, ComponentType.DATA))

    libraries = []
    for lib in inputs.libraries:
        component = Component(
            type=ComponentType.LIBRARY,
            name=lib.name,
            version=lib.version,
            bom_ref=lib.purl,
            purl=_purl(lib.purl),
            hashes=[_hash(alg, hexdigest) for alg, hexdigest in lib.hashes],
            properties=[_prop(f"{P}:hash-basis", lib.basis)] if lib.hashes else [],
        )
        libraries.append(component)
        bom.components.add(component)
    bom.register_dependency(model, libraries)
    return bom, dataset_refs


def _artifact_component(artifact: Artifact, ref: str, kind: Any) -> Any:
    """A model or dataset component with its files nested (a single file: its own hash)."""
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri
    from cyclonedx.model.component import Component, ComponentType

    props = [
        _prop(f"{P}:location", artifact.uri),
        _prop(f"{P}:files", str(len(artifact.files))),
        _prop(f"{P}:size", str(artifact.size)),
        _prop(f"{P}:model-signing:root-sha256", artifact.root_sha256),
    ]
    if artifact.single_file and artifact.files[0].version_id:
        props.append(_prop(f"{P}:s3:version-id", artifact.files[0].version_id))
    hashes = []
    if artifact.single_file:
        hashes = [_hash("SHA-256", artifact.sha256)]
    elif kind is ComponentType.DATA:  # a manifest digest, labelled (never for the model)
        hashes = [_hash("SHA-256", artifact.root_sha256)]
        props.append(_prop(f"{P}:hash-basis", "model-signing-root"))
    refs = []
    if artifact.remote:
        refs.append(
            ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(artifact.uri))
        )
    nested = []
    if not artifact.single_file:
        for f in artifact.files:
            file_props = [_prop(f"{P}:size", str(f.size))]
            if f.version_id:
                file_props.append(_prop(f"{P}:s3:version-id", f.version_id))
            nested.append(
                Component(
                    type=ComponentType.FILE,
                    name=f.name,
                    bom_ref=f"{ref}:file:{f.name}",
                    hashes=[_hash("SHA-256", f.sha256)],
                    properties=file_props,
                )
            )
    return Component(
        type=kind,
        name=artifact.name,
        bom_ref=ref,
        hashes=hashes,
        properties=props,
        external_references=refs,
        components=nested,
    )


def _report_references(reports: Sequence[GateReport]) -> list[Any]:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    return [
        ExternalReference(
            type=ExternalReferenceType(report.reference_type),
            url=XsUri(_as_url(report.uri)),
            comment=f"mlsec-gates {report.gate} gate report: {report.status}",
            hashes=[_hash("SHA-256", report.sha256)],
        )
        for report in reports
    ]


def _tools() -> list[Any]:
    from importlib import metadata

    from cyclonedx.model.component import Component, ComponentType

    return [
        Component(
            type=ComponentType.APPLICATION,
            name="mlsec-gates",
            version=__version__,
            bom_ref="tool:mlsec-gates",
        ),
        Component(
            type=ComponentType.LIBRARY,
            name="cyclonedx-python-lib",
            version=metadata.version("cyclonedx-python-lib"),
            bom_ref="tool:cyclonedx-python-lib",
        ),
    ]


# -- the spliced parts --------------------------------------------------------------------


def _model_card(inputs: BomInputs, dataset_refs: list[str]) -> dict[str, Any]:
    """``modelCard``: parameters (policy, then config.json), datasets, gate metrics."""
    card = inputs.model_card
    config = inputs.model_config
    params: dict[str, Any] = {}
    if card and card.approach:
        params["approach"] = {"type": card.approach}
    if card and card.task:
        params["task"] = card.task
    family = (card.architecture_family if card else None) or config.get("model_type")
    if isinstance(family, str) and family:
        params["architectureFamily"] = family
    architectures = config.get("architectures")
    architecture = (card.model_architecture if card else None) or (
        architectures[0] if isinstance(architectures, list) and architectures else None
    )
    if isinstance(architecture, str) and architecture:
        params["modelArchitecture"] = architecture
    if dataset_refs:
        params["datasets"] = [{"ref": ref} for ref in dataset_refs]
    if card and card.inputs:
        params["inputs"] = [{"format": f} for f in card.inputs]
    if card and card.outputs:
        params["outputs"] = [{"format": f} for f in card.outputs]

    out: dict[str, Any] = {"bom-ref": f"{MODEL_REF}:model-card"}
    if params:
        out["modelParameters"] = params
    metrics = [
        {"type": f"{report.gate}.{name}", "value": value}
        for report in inputs.reports
        for name, value in (("status", report.status), *report.metrics)
    ]
    evaluated = [json.loads(r.model_card) for r in inputs.reports if r.model_card]
    metrics += [m for parts in evaluated for m in parts["performanceMetrics"]]
    if metrics:
        out["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations = _considerations(card)
    for key in ("fairnessAssessments", "technicalLimitations"):
        entries = [entry for parts in evaluated for entry in parts[key]]
        if entries:
            considerations[key] = [*considerations.get(key, []), *entries]
    if considerations:
        out["considerations"] = considerations
    props = [
        {"name": f"{P}:gate:{report.gate}:{key}", "value": value}
        for report in inputs.reports
        for key, value in (
            ("status", report.status),
            ("summary", report.summary),
            ("report-sha256", report.sha256),
        )
    ]
    props.append({"name": f"{P}:gates-attached", "value": str(len(inputs.reports))})
    out["properties"] = props
    return out


def _considerations(card: ModelCardPolicy | None) -> dict[str, Any]:
    if card is None:
        return {}
    out: dict[str, Any] = {}
    for key, values in (
        ("users", card.users),
        ("useCases", card.use_cases),
        ("technicalLimitations", card.technical_limitations),
        ("performanceTradeoffs", card.performance_tradeoffs),
    ):
        if values:
            out[key] = list(values)
    if card.ethical_considerations:
        out["ethicalConsiderations"] = [
            {"name": e.name, **({"mitigationStrategy": e.mitigation} if e.mitigation else {})}
            for e in card.ethical_considerations
        ]
    return out


def _component_data(artifact: Artifact, ref: str) -> dict[str, Any]:
    """``component.data`` of a dataset: where its bytes are."""
    props = [{"name": f"{P}:files", "value": str(len(artifact.files))}]
    return {
        "bom-ref": f"{ref}:data",
        "type": "dataset",
        "name": artifact.name,
        "contents": {"url": _as_url(artifact.uri), "properties": props},
    }


def _formula(context: Mapping[str, str], dataset_refs: list[str]) -> dict[str, Any]:
    """``formulation``: the pipeline run (Airflow DAG run or KFP run) that made the model."""
    run_id = context["run_id"]
    workflow: dict[str, Any] = {
        "bom-ref": f"workflow:{run_id}",
        "uid": run_id,
        "taskTypes": ["build"],
    }
    name = context.get("dag_id") or context.get("pipeline")
    if name:
        workflow["name"] = name
    orchestrator = context.get("orchestrator")
    if orchestrator:
        workflow["description"] = f"{orchestrator} run {run_id}" + (f" of {name}" if name else "")
    task_id = context.get("task_id") or context.get("task_name")
    if task_id:
        workflow["tasks"] = [
            {
                "bom-ref": f"task:{run_id}:{task_id}",
                "uid": task_id,
                "name": task_id,
                "description": "mlsec-gates sbom gate",
                "taskTypes": ["other"],
            }
        ]
    if dataset_refs:
        workflow["inputs"] = [{"resource": {"ref": ref}} for ref in dataset_refs]
    workflow["outputs"] = [{"type": "artifact", "resource": {"ref": MODEL_REF}}]
    workflow["properties"] = [
        {"name": f"{P}:run:{key}", "value": str(context[key])} for key in sorted(context)
    ]
    return {"bom-ref": f"formula:{run_id}", "workflows": [workflow]}


# -- helpers ------------------------------------------------------------------------------


def _walk_components(doc: dict[str, Any]) -> Any:
    stack = list(doc.get("components", []))
    if "component" in doc.get("metadata", {}):
        stack.append(doc["metadata"]["component"])
    stack.extend(doc.get("metadata", {}).get("tools", {}).get("components", []))
    while stack:
        component = stack.pop()
        yield component
        stack.extend(component.get("components", []))


def _references(doc: dict[str, Any]) -> Any:
    """Every ``(where, ref)`` that must name a bom-ref of the document."""
    for dep in doc.get("dependencies", []):
        yield "dependencies", dep["ref"]
        for ref in dep.get("dependsOn", []):
            yield f"dependencies[{dep['ref']}]", ref
    for component in _walk_components(doc):
        card = component.get("modelCard", {})
        for entry in card.get("modelParameters", {}).get("datasets", []):
            if "ref" in entry:
                yield f"{component.get('bom-ref')}.modelCard.datasets", entry["ref"]
    for formula in doc.get("formulation", []):
        for workflow in formula.get("workflows", []):
            for kind in ("inputs", "outputs"):
                for item in workflow.get(kind, []):
                    ref = item.get("resource", {}).get("ref")
                    if ref is not None:
                        yield f"formulation.{workflow['bom-ref']}.{kind}", ref


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    """The strict 1.6 validator (loading its schemas takes a while: built once)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def _iter_errors(errors: Any) -> list[Any]:
    """The validator returns one error, or an iterator of them with ``all_errors``."""
    from cyclonedx.validation import ValidationError

    return [errors] if isinstance(errors, ValidationError) else list(errors)


def _one_line(error: Any) -> str:
    data = getattr(error, "data", None)
    message = getattr(data, "message", None) or str(error)
    path = getattr(data, "json_path", None)
    text = f"{path}: {message}" if path else str(message)
    return " ".join(text.split())[:300]


def _unique(ref: str, taken: Sequence[str]) -> str:
    if ref not in taken:
        return ref
    n = 2
    while f"{ref}#{n}" in taken:
        n += 1
    return f"{ref}#{n}"


def _as_url(uri: str) -> str:
    """S3 and other URIs as given; local paths as absolute ``file://`` URLs."""
    if "://" in uri:
        return uri

    return resolve_path(uri).as_uri()


def _prop(name: str, value: str) -> Any:
    from cyclonedx.model import Property

    return Property(name=name, value=value)


def _hash(alg: str, hexdigest: str) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType

    return HashType(alg=HashAlgorithm(alg), content=hexdigest)


def _purl(text: str) -> Any:
    from packageurl import PackageURL

    return PackageURL.from_string(text)
