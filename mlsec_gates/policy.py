r"""The policy file: one YAML document that configures every gate.

Example:
    >>> from mlsec_gates.policy import parse_policy
    >>> policy = parse_policy("gates:\\n  scan:\\n    on_fail: warn\\n", source="gates.yaml")
    >>> policy.on_fail_for("scan")
    'warn'

Errors name the file, the line and the key (``gates.yaml:3: gates.scan.on_fial: unknown key;
did you mean 'on_fail'?``), so a typo in a security policy is never silently ignored.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlsec_gates.errors import ConfigError

OnFail = Literal["fail", "warn"]


class _Strict(BaseModel):
    """Base for every policy section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AllowedGlobal(_Strict):
    """One extra pickle global the project trusts, with the reason a reviewer accepted."""

    global_: str = Field(alias="global", pattern=r"^[A-Za-z_][\w.]*(\.\*)?$")
    """``module.qualname`` or ``module.*`` (every name directly in that module)."""
    reason: str = Field(min_length=3)


class ScanPolicy(_Strict):
    """Options of the artifact scan gate.

    The limits are strict integers: YAML ``true`` or ``"5"`` is an error, not 1 or 5.
    """

    on_fail: OnFail | None = None
    """Overrides the top-level ``on_fail`` for this gate."""
    allow_globals: tuple[AllowedGlobal, ...] = ()
    max_file_bytes: int = Field(default=4 * 1024**3, gt=0, strict=True)
    max_members: int = Field(default=10_000, gt=0, strict=True)
    max_depth: int = Field(default=3, ge=1, le=16, strict=True)
    max_opcodes: int = Field(default=50_000_000, gt=0, strict=True)


class ValidatePolicy(_Strict):
    """Options of the data validation gate (Great Expectations suites).

    The sizes are strict integers: YAML ``true`` or ``"5"`` is an error, not 1 or 5.
    """

    on_fail: OnFail | None = None
    """Overrides the top-level ``on_fail`` for this gate."""
    sensitive_columns: tuple[str, ...] = ()
    """Columns whose values never appear in reports (shown as ``***``)."""
    sample_rows: int = Field(default=5, ge=0, le=100, strict=True)
    """Failing rows quoted per failed expectation."""
    max_in_memory_rows: int = Field(default=2_000_000, gt=0, strict=True)
    """Above this many rows, data are streamed into a temporary SQLite database."""
    chunk_rows: int = Field(default=100_000, gt=0, strict=True)
    """Rows read at a time when streaming into SQLite."""


DriftMethod = Literal["auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"]


class ColumnDrift(_Strict):
    """Per-column override of the drift method and threshold."""

    method: DriftMethod | None = None
    threshold: float | None = Field(default=None, gt=0)


class PoisonPolicy(_Strict):
    """Row-level poisoning detectors of the drift gate (need a label column)."""

    enabled: bool = True
    """Run the detectors when a label column is given."""


class DriftPolicy(_Strict):
    """Options of the poisoning-drift gate (distribution drift + row-level poisoning).

    ``method: auto`` picks the test the way Evidently's ``DataDriftPreset`` does, so decisions
    match Evidently's for the same method and threshold.
    """

    on_fail: OnFail | None = None
    """Overrides the top-level ``on_fail`` for this gate."""
    label_column: str | None = None
    """Default for ``--label-column``."""
    method: DriftMethod = "auto"
    threshold: float | None = Field(default=None, gt=0)
    """None: the method's Evidently default."""
    per_column: dict[str, ColumnDrift] = Field(default_factory=dict)
    drift_share: float = Field(default=0.5, gt=0, le=1)
    """Dataset drift when at least this share of columns drifted (Evidently's rule)."""
    poison: PoisonPolicy = PoisonPolicy()


class EthicalConsideration(_Strict):
    """One ethical consideration of a model card, and how it is mitigated."""

    name: str = Field(min_length=1)
    mitigation: str | None = None


class ModelCardPolicy(_Strict):
    """What the SBOM gate writes into the CycloneDX ``modelCard`` besides the gate results.

    Empty fields are left out. ``architecture_family`` and ``model_architecture`` default to
    ``model_type`` and ``architectures[0]`` of the model's ``config.json`` when it has one.
    """

    approach: (
        Literal[
            "supervised",
            "unsupervised",
            "reinforcement-learning",
            "semi-supervised",
            "self-supervised",
        ]
        | None
    ) = None
    task: str | None = None
    """E.g. ``classification``, ``text-generation``."""
    architecture_family: str | None = None
    model_architecture: str | None = None
    inputs: tuple[str, ...] = ()
    """Input formats (``tabular``, ``image/png``...)."""
    outputs: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    technical_limitations: tuple[str, ...] = ()
    performance_tradeoffs: tuple[str, ...] = ()
    ethical_considerations: tuple[EthicalConsideration, ...] = ()


class SbomPolicy(_Strict):
    """Options of the SBOM gate (CycloneDX 1.6 ML-BOM)."""

    on_fail: OnFail | None = None
    ignore: tuple[str, ...] = (".git", ".gitattributes", ".github", ".gitignore")
    """Relative paths left out of the model's files (with everything below them). The default
    is what model-signing leaves out of a signature, so the BOM's root digest is the signed one."""
    hash_workers: int | None = Field(default=None, gt=0, strict=True)
    """Hashing threads; default: CPUs + 4."""
    model_card: ModelCardPolicy = ModelCardPolicy()


class SignPolicy(_Strict):
    """Options of the sign and verify gates (OpenSSF model-signing compatible bundles).

    The model-signing format ignores some changes to a model directory; these keys let the
    verify gate refuse them (see docs/policy.md).
    """

    on_fail: OnFail | None = None
    refuse_paths: tuple[str, ...] = (
        ".git",
        ".git/**",
        ".gitattributes",
        ".github",
        ".github/**",
        ".gitignore",
    )
    """Glob patterns (relative POSIX paths) that must not be present in a signed model."""
    refuse_empty_dirs: bool = True
    """Refuse empty directories, which the format does not record."""
    check_permissions: bool = False
    """Also record and compare file permission bits, which the format does not record."""


class LedgerPolicy(_Strict):
    """Where every gate decision is recorded (a tamper-evident hash chain)."""

    uri: str | None = None
    """Ledger file path or ``s3://`` URI; None: no ledger."""
    checkpoint_every: int = Field(default=100, gt=0)
    """Write a signed checkpoint after this many entries."""
    checkpoint_key: str | None = None
    """EC private key (PEM path) that signs checkpoints."""
    checkpoint_kms_key_id: str | None = None
    """AWS KMS key that signs checkpoints (instead of ``checkpoint_key``)."""
    checkpoint_public_key: str | None = None
    """EC public key (PEM path/URI) that checkpoints must verify with, for ``ledger verify``
    (with ``checkpoint_kms_key_id`` the KMS key's public key is used instead)."""
    retention_days: int | None = Field(default=None, gt=0, strict=True)
    """S3 Object Lock retention of entries and checkpoints; None: the bucket's default rule."""
    retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    """Object Lock mode used with ``retention_days``."""


class GatesPolicy(_Strict):
    """One section per gate."""

    scan: ScanPolicy = ScanPolicy()
    validate_: ValidatePolicy = Field(default=ValidatePolicy(), alias="validate")
    drift: DriftPolicy = DriftPolicy()
    sbom: SbomPolicy = SbomPolicy()
    sign: SignPolicy = SignPolicy()
    verify: SignPolicy = SignPolicy()


class S3Policy(_Strict):
    """How to reach S3 or an S3-compatible store (MinIO, Ceph...)."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None


class StoragePolicy(_Strict):
    """Storage settings shared by every gate."""

    s3: S3Policy = S3Policy()


class Policy(_Strict):
    """The whole policy file. Every field has a default: no file means the defaults."""

    version: Literal[1] = 1
    on_fail: OnFail = "fail"
    """``fail`` stops the pipeline; ``warn`` lets it go on and says so loudly."""
    storage: StoragePolicy = StoragePolicy()
    ledger: LedgerPolicy = LedgerPolicy()
    gates: GatesPolicy = GatesPolicy()
    source: str = Field(default="<defaults>", exclude=True)
    """Where the policy came from (not part of the file)."""

    def section(self, gate: str) -> Any:
        """The ``gates.<gate>`` section (``validate`` is stored as ``validate_``)."""
        return getattr(self.gates, _gate_field(gate))

    def on_fail_for(self, gate: str) -> OnFail:
        """The effective ``on_fail`` of a gate: its own, else the top-level one."""
        on_fail: OnFail = self.section(gate).on_fail or self.on_fail
        return on_fail

    def overriding(self, gate: str, on_fail: OnFail | None) -> Policy:
        """A copy whose ``gate`` section uses ``on_fail`` (an adapter argument beats the file)."""
        if on_fail is None:
            return self
        section = self.section(gate).model_copy(update={"on_fail": on_fail})
        gates = self.gates.model_copy(update={_gate_field(gate): section})
        return self.model_copy(update={"gates": gates})

    def effective(self, gate: str) -> dict[str, Any]:
        """The policy as applied to one gate, for the reports."""
        section = self.section(gate).model_dump(mode="json", by_alias=True)
        section["on_fail"] = self.on_fail_for(gate)
        return {"source": self.source, "gate": gate, **section}


def _gate_field(gate: str) -> str:
    """The attribute of :class:`GatesPolicy` that holds a gate's section."""
    for name, field in GatesPolicy.model_fields.items():
        if gate in (name, field.alias):
            return name
    raise ValueError(f"unknown gate {gate!r}")


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and validate a policy document.

    Raises:
        ConfigError: on invalid YAML or any unknown key, wrong type or bad value; the
            message names the source, the line and the dotted key.
    """
    data, lines = load_yaml_with_lines(text, source=source)
    if data is None:  # empty, "---" alone, or an explicit null: an empty document
        return Policy(source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:{lines[()]}: the policy must be a mapping")
    if "source" in data:  # a field of the model, but not a key of the file
        known = ", ".join(sorted(k for k in Policy.model_fields if k != "source"))
        raise ConfigError(
            f"{source}:{lines[('source',)]}: source: unknown key; known keys: {known}"
        )
    try:
        return Policy.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, lines)) from None


def load_yaml_with_lines(text: str, *, source: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Parse one YAML (or JSON) document and record the line of every key and list entry.

    Returns the data (None for an empty document) and a map from each path, a tuple of keys
    and list indexes (``()`` is the document), to its 1-based line.

    Raises:
        ConfigError: invalid YAML, or a key given twice in one mapping.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    lines: dict[tuple[str | int, ...], int] = {(): 1}
    if node is None:
        return None, lines
    return _to_python(node, (), lines, source), lines


def _to_python(
    node: yaml.Node,
    path: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    source: str,
) -> Any:
    """Turn a composed YAML node into Python data, recording the line of every key.

    Raises:
        ConfigError: a key appears twice in one mapping (YAML would silently keep the last).
    """
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in out:
                dotted = ".".join(str(p) for p in (*path, key))
                raise ConfigError(
                    f"{source}:{line}: {dotted}: duplicate key (first set on line "
                    f"{lines[(*path, key)]})"
                )
            lines[(*path, key)] = line
            out[key] = _to_python(value_node, (*path, key), lines, source)
            lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, source) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)


def _describe(exc: ValidationError, source: str, lines: dict[tuple[str | int, ...], int]) -> str:
    """One line for the first validation error: file, line, dotted key, problem."""
    # A misspelt key also shows up as "missing" under its real name: report the typo first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(err["loc"])
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
    key = ".".join(str(p) for p in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        fields = parent.model_fields if parent else {}
        known = sorted(f.alias or k for k, f in fields.items() if k != "source")
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
        problem = f"unknown key{hint}"
    elif err["type"] == "missing":
        problem = "required key is missing"
    else:
        problem = err["msg"]
    where = f"{source}:{line}" if line else source
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {key}: {problem}{more}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that sits at a location of the policy, for key suggestions."""
    model: type[BaseModel] = Policy
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            return None
        model = sub
    return model
