r"""The policy file: one YAML document that configures every gate.

Example:
    >>> from mlsec_gates.policy import parse_policy
    >>> policy = parse_policy("gates:\\n  scan:\\n    on_fail: warn\\n", source="gates.yaml")
    >>> policy.on_fail_for("scan")
    'warn'

Errors name the file, the line and the key (``gates.yaml:3: gates.scan.on_fial: unknown key;
did you mean 'on_fail'?``), so a typo in a security policy is never silently ignored.

A policy may start from another one (``extends: platform.yaml``, a path relative to the
extending file, or an ``s3://`` URI): mappings are merged key by key, lists and scalars of the
extending file replace the base's, and errors still name the file and line that set the key.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlsec_gates.errors import ConfigError, Error

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
    allowlist_file: str | None = None
    """Path or ``s3://`` URI of a YAML file of more ``allow_globals`` entries (merged)."""
    formats: tuple[str, ...] = ()
    """Detected formats (kinds) accepted, as shell patterns (``safetensors``, ``gzip+*``);
    a file of another format is quarantined. Empty: every format the scanner checks."""
    cache: bool = True
    """Reuse the verdict of a file already scanned with the same scanner and settings."""
    cache_dir: str | None = None
    """Directory of the verdict cache; None: ``$XDG_CACHE_HOME/mlsec-gates/scan``
    (``~/.cache/mlsec-gates/scan``)."""
    max_file_bytes: int = Field(default=4 * 1024**3, gt=0, strict=True)
    max_members: int = Field(default=10_000, gt=0, strict=True)
    max_depth: int = Field(default=3, ge=1, le=16, strict=True)
    max_opcodes: int = Field(default=50_000_000, gt=0, strict=True)
    max_expanded_bytes: int = Field(default=16 * 1024**3, gt=0, strict=True)
    """Decompressed bytes allowed per file, all members and nesting levels together."""
    max_ratio: int = Field(default=1000, ge=10, strict=True)
    """Largest output/input ratio of one compressed stream (checked past 16 MiB of output)."""
    hdf5_timeout_seconds: int = Field(default=20, gt=0, le=3600, strict=True)
    """Seconds the isolated HDF5 reader may run on one file before it is killed."""
    workers: int = Field(default=1, ge=1, le=256, strict=True)
    """Files scanned at once inside one gate (threads; S3 prefixes gain most: I/O bound)."""


class ValidateProfilePolicy(_Strict):
    """Tolerances of ``validate-profile`` (how far a clean batch may differ from the reference)."""

    false_alarm_rate: float = Field(default=0.01, gt=0, lt=1)
    """Chance that a clean batch of the reference's population fails the derived suite."""
    row_count_min_ratio: float = Field(default=0.5, ge=0, le=1)
    row_count_max_ratio: float = Field(default=2.0, ge=1)
    max_categories: int = Field(default=20, ge=0, strict=True)
    """Text and categorical columns with at most this many distinct values get a value set."""
    max_int_categories: int = Field(default=10, ge=0, strict=True)
    """Integer code columns with at most this many distinct values get one too."""


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
    engine: ValidateEngine = "local"
    """``local``: pandas (or a SQLite spill, or a SQL table in place); ``spark``: Great
    Expectations' Spark datasource on the top-level ``spark`` settings (docs/scale.md)."""
    profile: ValidateProfilePolicy = ValidateProfilePolicy()
    """Tolerances of ``validate-profile``."""


ValidateEngine = Literal["local", "spark"]
DriftEngine = Literal["local", "spark", "sql"]


class SparkPolicy(_Strict):
    """Where the Spark engine of the validate and drift gates runs (docs/scale.md)."""

    master: str = "local[2]"
    """``local[N]``, ``spark://host:7077``, ``yarn``, ``k8s://https://...``; ignored when
    ``remote`` is set."""
    remote: str | None = None
    """Spark Connect URL (``sc://host:15002``, Databricks Connect); replaces ``master``."""
    app_name: str = "mlsec-gates"
    conf: dict[str, str] = Field(default_factory=dict)
    """Extra ``spark.*`` settings (memory, ``spark.jars.packages`` for ``s3a://``...)."""


class SqlDriftPolicy(_Strict):
    """The warehouse engine of the drift gate: both batches are tables of one database."""

    url: str | None = None
    """SQLAlchemy URL (``postgresql://...``); the CLI's ``--sql-url`` overrides it."""


DriftMethod = Literal["auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"]


class ColumnDrift(_Strict):
    """Per-column override of the drift method and threshold."""

    method: DriftMethod | None = None
    threshold: float | None = Field(default=None, gt=0)


PoisonDetector = Literal[
    "label_consistency",
    "value_label_spike",
    "duplicates",
    "label_distribution",
    "class_conditional",
]


class PoisonPolicy(_Strict):
    """Row-level poisoning detectors of the drift gate (need a label column).

    The sizes are strict integers: YAML ``true`` or ``"5"`` is an error, not 1 or 5.
    """

    enabled: bool = True
    """Run the detectors when a label column is given."""
    detectors: tuple[PoisonDetector, ...] = (
        "label_consistency",
        "value_label_spike",
        "duplicates",
        "label_distribution",
        "class_conditional",
    )
    """Detectors to run; the false-alarm budget is split evenly between them."""
    false_alarm_rate: float = Field(default=0.05, gt=0, le=0.5)
    """Batch-level budget: chance that a clean batch raises any poisoning alarm."""
    suspect_fdr: float = Field(default=0.1, gt=0, lt=1)
    """Estimated share of clean rows allowed among the row suspects of every detector."""
    max_suspects: int = Field(default=10_000, gt=0, strict=True)
    """Most suspect rows listed (highest scores first)."""
    threads: int = Field(default=1, ge=1, strict=True)
    """BLAS/OpenMP threads for the reference model (threadpoolctl), per task."""
    min_reference_rows: int = Field(default=50, ge=10, strict=True)
    """Fewest labelled reference rows; fewer is an input error."""
    max_training_rows: int = Field(default=50_000, ge=100, strict=True)
    """Stratified reference sample kept in the profile and used to (re)fit the model."""
    near_duplicate_tolerance: float = Field(default=0.01, ge=0)
    """Near duplicates: every numeric feature within this many reference SDs."""


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
    fail_on: Literal["dataset", "column"] = "dataset"
    """``dataset``: fail on dataset drift (the share rule); ``column``: on any drifted column."""
    warn_on: Literal["column", "none"] = "column"
    """``column``: drifted columns below the share rule make the status ``warn`` (exit 0, the
    summary names them); ``none``: they are findings only and the status stays ``pass``."""
    columns: tuple[str, ...] = ()
    """Only these columns are checked for drift; empty: every column both files have."""
    ignore_columns: tuple[str, ...] = ()
    """Columns never checked for drift (ids, timestamps)."""
    min_effect_size: float | None = Field(default=None, gt=0, le=1)
    """For p-value methods (ks, chisquare, z): a column drifts only if its effect size (K-S
    distance, or total variation distance of the category shares) is also at least this.
    None: Evidently's rule (p-value alone), which flags trivial shifts on large batches."""
    evidently_report: bool | Literal["auto"] = "auto"
    """Evidently's drift page (HTML, for people; it does not decide): ``auto`` renders it only
    when the gate fails or errs (rendering costs seconds; a passing or warning batch gets our
    own report only), ``true`` always, ``false`` never."""
    report_sample_rows: int = Field(default=50_000, gt=0, strict=True)
    """Rows per side the Evidently page is computed on (a random sample above this)."""
    threads: int = Field(default=1, gt=0, strict=True)
    """Threads for numpy/BLAS/OpenMP (capped so tasks sharing a worker do not starve)."""
    poison: PoisonPolicy = PoisonPolicy()
    engine: DriftEngine = "local"
    """``local``: both batches in memory; ``spark``: statistics computed in Spark, the driver
    holds summaries; ``sql``: statistics pushed down to the database (docs/scale.md)."""
    quantile_error: float = Field(default=1e-4, gt=0, le=0.01)
    """Spark engine: rank error of the quantile sketch (Wasserstein); see docs/scale.md."""
    sample_rows: int = Field(default=200_000, ge=1000, strict=True)
    """Spark/SQL engines: rows per batch pulled to the driver (stratified by label) for the
    poisoning detectors and the Evidently page."""
    sql: SqlDriftPolicy = SqlDriftPolicy()


class FairnessCheck(_Strict):
    """The model-eval gate's fairness check (fairlearn's metrics per sensitive group).

    A disparity fails the check only when it is past its threshold *and* statistically
    significant (two-proportion z-test, Bonferroni over the comparisons, level ``alpha``), so
    sampling noise in small groups does not fail clean models.
    """

    enabled: bool = True
    positive_label: str | None = None
    """The favourable prediction, as text; None: ``1``/``true``/``yes`` when a label is one of
    those, else the less frequent label. Multiclass without it: each class one-vs-rest."""
    min_group_size: int = Field(default=30, ge=2, strict=True)
    """Rows a group needs to be judged; smaller groups are reported as too small."""
    min_demographic_parity_ratio: float | None = Field(default=0.8, gt=0, le=1)
    """Lowest selection rate over highest (the four-fifths rule); None: not checked."""
    max_demographic_parity_difference: float | None = Field(default=None, gt=0, le=1)
    """Largest gap in selection rate; None: reported, not checked."""
    max_equalized_odds_difference: float | None = Field(default=0.2, gt=0, le=1)
    """Largest gap in true- or false-positive rate; None: reported, not checked."""
    intersectional: bool = True
    """Also judge the combinations of the sensitive columns (e.g. sex x race)."""
    numeric_bins: int = Field(default=4, ge=2, le=20, strict=True)
    """A numeric sensitive column with more than 10 values is cut into this many quantiles."""
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    """Significance level of a disparity, shared by every comparison of the check."""


class ExplainabilityCheck(_Strict):
    """The model-eval gate's explainability check (permutation importance, proxies)."""

    enabled: bool = True
    top_features: int = Field(default=3, ge=1, strict=True)
    """A sensitive column or proxy among this many most important features is flagged."""
    proxy_threshold: float = Field(default=0.5, gt=0, le=1)
    """A feature is a proxy of a sensitive column when it explains at least this share of the
    column's entropy (mutual information / entropy, on quantile bins)."""
    min_importance: float = Field(default=0.01, ge=0)
    """Accuracy drop below which a feature does not count as used, whatever its rank."""
    dominance_share: float | None = Field(default=None, gt=0, le=1)
    """Flag one feature carrying at least this share of the total importance; None: the
    dominance is reported, not checked."""
    repeats: int = Field(default=5, ge=1, le=50, strict=True)
    max_rows: int = Field(default=2000, ge=50, strict=True)
    """Rows sampled for permutation importance."""
    local_explanations: int = Field(default=5, ge=0, le=50, strict=True)
    """Misclassified rows explained one by one (which features moved each prediction)."""


class RobustnessCheck(_Strict):
    """The model-eval gate's robustness check: random noise, and an evasion attack (ART).

    Perturbations are in units of each numeric feature's standard deviation on the
    evaluation data; text features are left as they are.
    """

    enabled: bool = True
    noise_scale: float = Field(default=0.1, gt=0)
    """Standard deviation of the Gaussian noise, in feature SDs."""
    max_noise_accuracy_drop: float = Field(default=0.05, ge=0, le=1)
    """Largest accuracy drop allowed under noise (fails only when significantly past it)."""
    epsilon: float = Field(default=0.1, gt=0)
    """Largest change of any feature (L-infinity, in feature SDs) the attack may make."""
    max_attack_accuracy_drop: float = Field(default=0.25, ge=0, le=1)
    """Largest accuracy drop allowed under the attack at ``epsilon``."""
    attack: Literal["auto", "hopskipjump", "pgd", "none"] = "auto"
    """``auto``: projected gradient descent for differentiable models (logistic regression,
    SVM, TorchScript), HopSkipJump (decision-based, black-box) for everything else."""
    attack_rows: int = Field(default=20, ge=1, strict=True)
    """Most correctly classified rows attacked (fewer when the time budget runs out)."""
    max_queries: int = Field(default=2500, ge=360, strict=True)
    """Model queries per attacked row (HopSkipJump; about 120 per iteration)."""
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    """Significance level of the check: a drop fails only when it is past its threshold at
    this level (a paired test over the noisy rows, a Clopper-Pearson bound over the attacked
    rows), split evenly between the two tests (Bonferroni)."""


class BackdoorCheck(_Strict):
    """The model-eval gate's backdoor check: a feature value that flips predictions."""

    enabled: bool = True
    min_flip_rate: float = Field(default=0.5, gt=0, le=1)
    """Share of rows not already in the target class that the trigger must flip."""
    min_excess: float = Field(default=0.3, gt=0, le=1)
    """How much more the trigger must flip than the feature's own values in the data do."""
    rows: int = Field(default=500, ge=20, strict=True)
    """Evaluation rows the candidates are tried on."""
    max_candidates: int = Field(default=64, ge=4, strict=True)
    """Candidate values tried per feature (split thresholds first, then quantiles)."""
    pairs: bool = True
    """Also try pairs of the most promising single values (rare value combinations)."""


class ModelEvalPolicy(_Strict):
    """Options of the model-eval gate: fairness, explainability, robustness, backdoors.

    Each check can be switched off (``enabled: false``). ``budget_seconds`` is the time the
    checks may take together; each sizes its work to its share.
    """

    on_fail: OnFail | None = None
    """Overrides the top-level ``on_fail`` for this gate."""
    label_column: str | None = None
    """Default for ``--label-column``."""
    sensitive_columns: tuple[str, ...] = ()
    """Default for ``--sensitive-columns``."""
    feature_columns: tuple[str, ...] = ()
    """The model's inputs; empty: the names the model records, else every other column."""
    budget_seconds: float = Field(default=40, gt=0, le=86_400)
    """CPU seconds the four checks may use together in the evaluation process (``--budget``)."""
    memory_mb: int = Field(default=4096, ge=256, strict=True)
    """Address space of the child process that loads the model."""
    threads: int = Field(default=1, ge=1, strict=True)
    """BLAS/OpenMP threads of the child process."""
    fairness: FairnessCheck = FairnessCheck()
    explainability: ExplainabilityCheck = ExplainabilityCheck()
    robustness: RobustnessCheck = RobustnessCheck()
    backdoor: BackdoorCheck = BackdoorCheck()


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
    model_eval: ModelEvalPolicy = ModelEvalPolicy()


class WaiverEntry(_Strict):
    """One accepted risk: a finding (by fingerprint) that passes until the waiver expires.

    Written by ``mlsec-gates waive`` into the waiver file, or listed inline under ``waivers``.
    """

    id: str = Field(min_length=1)
    """Stable id (``w-`` and 10 hex digits), recorded in the ledger with each use."""
    fingerprint: str = Field(pattern=r"^[0-9a-f]{16}$")
    """The finding's fingerprint, as shown in every report."""
    reason: str = Field(min_length=3)
    approver: str = Field(min_length=1)
    expires: date
    """Last day on which the waiver applies, inclusive, in UTC (``2026-12-31`` covers runs up
    to 2026-12-31T23:59:59Z)."""
    gate: Literal["validate", "drift", "scan", "sbom", "sign", "verify", "model_eval"] | None = None
    """Only for this gate; None: any gate."""
    created_at: str | None = None
    """When ``mlsec-gates waive`` wrote it (UTC, ISO 8601)."""


class ChainValidateStep(_Strict):
    """The ``validate`` step of ``chain``: the gate's arguments."""

    data: str | None = None
    suite: str
    sql_url: str | None = None
    table: str | None = None


class ChainDriftStep(_Strict):
    """The ``drift`` step of ``chain`` (poisoning and drift against a reference)."""

    current: str
    reference: str | None = None
    profile: str | None = None
    label_column: str | None = None


class ChainTrainStep(_Strict):
    """The ``train`` hook of ``chain``: a command whose output directory is the model.

    The command runs without a shell; ``{model_dir}`` in an argument is replaced by
    ``model_dir``, which the command also gets as ``MLSEC_MODEL_DIR``.
    """

    command: tuple[str, ...] = Field(min_length=1)
    model_dir: str = Field(min_length=1)
    timeout_seconds: int = Field(default=3600, gt=0, strict=True)
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for the command."""


class ChainScanStep(_Strict):
    """The ``scan`` step of ``chain``; no targets: the train step's ``model_dir``."""

    targets: tuple[str, ...] = ()


class ChainModelEvalStep(_Strict):
    """The ``model_eval`` step of ``chain``; no ``model``: the train step's ``model_dir``.

    The train step's folder must then hold exactly one model file.
    """

    model: str | None = None
    data: str = Field(min_length=1)
    """Held-out evaluation data with the label."""
    label_column: str | None = None
    sensitive_columns: tuple[str, ...] = ()
    budget: float | None = Field(default=None, gt=0)


class ChainSbomStep(_Strict):
    """The ``sbom`` step of ``chain``; no ``model_dir``: the train step's."""

    model_dir: str | None = None
    datasets: tuple[str, ...] = ()
    requirements: str | None = None
    environment: bool = False
    out: str | None = None


class ChainSignStep(_Strict):
    """The ``sign`` step of ``chain``; no ``model_dir``: the train step's."""

    model_dir: str | None = None
    key: str | None = None
    kms_key_id: str | None = None
    out: str | None = None
    attach: tuple[str, ...] = ()


class ChainPolicy(_Strict):
    """The standard gate chain: validate -> drift -> train -> scan -> model_eval -> sbom -> sign.

    ``mlsec-gates run``, the Airflow task group and the KFP sub-pipeline all run it from this
    section (:func:`mlsec_gates.chain.plan_chain`). Omitted steps are skipped.
    """

    validate_: ChainValidateStep | None = Field(default=None, alias="validate")
    drift: ChainDriftStep | None = None
    train: ChainTrainStep | None = None
    scan: ChainScanStep | None = None
    model_eval: ChainModelEvalStep | None = None
    sbom: ChainSbomStep | None = None
    sign: ChainSignStep | None = None

    @model_validator(mode="after")
    def _model_known(self) -> ChainPolicy:
        """The model steps need a model: their own path or the train step's output."""
        trained = self.train is not None
        if self.scan is not None and not (self.scan.targets or trained):
            raise ValueError("scan needs targets (or a train step whose model_dir it scans)")
        for name in ("sbom", "sign"):
            step = getattr(self, name)
            if step is not None and not (step.model_dir or trained):
                raise ValueError(f"{name} needs model_dir (or a train step)")
        if self.model_eval is not None and not (self.model_eval.model or trained):
            raise ValueError("model_eval needs model (or a train step)")
        if self.sign is not None and not (self.sign.key or self.sign.kms_key_id):
            raise ValueError("sign needs key or kms_key_id")
        return self


class S3Policy(_Strict):
    """How to reach S3 or an S3-compatible store (MinIO, Ceph...)."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None


class ReportLinksPolicy(_Strict):
    """How reports in S3 are linked from other reports and the Airflow UI (clickable URLs)."""

    url_template: str | None = None
    """Browsable URL of a report object: ``{bucket}`` and ``{key}`` are filled in, e.g.
    ``https://minio.example.com/browser/{bucket}/{key}``."""
    presign_seconds: int = Field(default=0, ge=0, le=7 * 24 * 3600, strict=True)
    """When > 0 (and no ``url_template``): pre-signed GET URLs valid this long. Whoever holds
    such a link reads the report until it expires: off by default."""


class StoragePolicy(_Strict):
    """Storage settings shared by every gate."""

    s3: S3Policy = S3Policy()
    report_links: ReportLinksPolicy = ReportLinksPolicy()


class Policy(_Strict):
    """The whole policy file. Every field has a default: no file means the defaults."""

    version: Literal[1] = 1
    on_fail: OnFail = "fail"
    """``fail`` stops the pipeline; ``warn`` lets it go on and says so loudly."""
    storage: StoragePolicy = StoragePolicy()
    ledger: LedgerPolicy = LedgerPolicy()
    gates: GatesPolicy = GatesPolicy()
    waivers_file: str | None = None
    """Waiver file (path relative to the policy file, or ``s3://`` URI) that ``mlsec-gates
    waive`` writes and every gate reads."""
    waivers: tuple[WaiverEntry, ...] = ()
    """Waivers listed in the policy itself (in addition to ``waivers_file``)."""
    waivers_allow_scanner_blocks: bool = False
    """Let a waiver cover a finding that makes the scanner *block* a file (known code
    execution). Off: such waivers are refused and the file stays blocked."""
    chain: ChainPolicy = ChainPolicy()
    spark: SparkPolicy = SparkPolicy()
    """Spark for the ``spark`` engine of the validate and drift gates."""
    source: str = Field(default="<defaults>", exclude=True)
    """Where the policy came from (not part of the file)."""
    sources: tuple[str, ...] = Field(default=(), exclude=True)
    """Every file merged into this policy through ``extends``, base first, this one last."""

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
        return {
            "source": self.source,
            "sources": list(self.sources or (self.source,)),
            "gate": gate,
            **section,
        }


def _gate_field(gate: str) -> str:
    """The attribute of :class:`GatesPolicy` that holds a gate's section."""
    for name, field in GatesPolicy.model_fields.items():
        if gate in (name, field.alias):
            return name
    raise ValueError(f"unknown gate {gate!r}")


Reader = Callable[[str], str]
"""Reads a policy file by path or URI (``Storage.read_text``); raises InputError if missing."""

Origins = dict[tuple[str | int, ...], tuple[str, int]]
"""Each key path of a merged policy -> the file and line that set it."""

_NOT_KEYS = ("source", "sources")  # fields of the model, but not keys of a file


def parse_policy(text: str, *, source: str = "<policy>", read: Reader | None = None) -> Policy:
    """Parse and validate a policy document, with the files it ``extends``.

    ``extends`` (a path relative to the extending file, or an ``s3://`` URI) is read with
    ``read`` (default: local files); chains are followed, base first. Mappings merge key by
    key; lists and scalars of the extending file replace the base's. Relative
    ``waivers_file`` paths are resolved against the file that sets them.

    Raises:
        ConfigError: on invalid YAML, any unknown key, wrong type or bad value, an
            ``extends`` cycle or an unreadable base; the message names the file, the line
            and the dotted key.
    """
    layers = _layers(text, source, read, chain=())
    merged: dict[str, Any] = {}
    origins: Origins = {(): (source, 1)}
    for data, lines, layer_source in layers:
        _merge(merged, origins, data, lines, layer_source, ())
    sources = tuple(layer_source for _, _, layer_source in layers)
    try:
        return Policy.model_validate({**merged, "source": source, "sources": sources})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origins)) from None


_Layer = tuple[dict[str, Any], dict[tuple[str | int, ...], int], str]


def _layers(text: str, source: str, read: Reader | None, chain: tuple[str, ...]) -> list[_Layer]:
    """The documents of an ``extends`` chain, base first, each with its key lines."""
    data, lines = load_yaml_with_lines(text, source=source)
    if data is None:  # empty, "---" alone, or an explicit null: an empty document
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:{lines[()]}: the policy must be a mapping")
    for key in _NOT_KEYS:
        if key in data:
            known = ", ".join(
                sorted(k for k in (*Policy.model_fields, "extends") if k not in _NOT_KEYS)
            )
            raise ConfigError(f"{source}:{lines[(key,)]}: {key}: unknown key; known keys: {known}")
    if isinstance(data.get("waivers_file"), str):
        data["waivers_file"] = resolve_relative(source, data["waivers_file"])
    if "extends" not in data:
        return [(data, lines, source)]
    base = data.pop("extends")
    where = f"{source}:{lines[('extends',)]}: extends"
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{where}: must be a path or s3:// URI")
    base = resolve_relative(source, base.strip())
    seen = (*chain, source)
    if _identity(base) in [_identity(s) for s in seen]:
        raise ConfigError(f"{where}: cycle: {' -> '.join((*seen, base))}")
    try:
        base_text = read(base) if read else _read_local(base)
    except Error as exc:
        raise ConfigError(f"{where}: {exc.diagnostics()}") from None
    return [*_layers(base_text, base, read, seen), (data, lines, source)]


def resolve_relative(source: str, ref: str) -> str:
    """``ref`` as written in the file ``source``: relative paths are relative to its folder.

    ``s3://`` URIs and absolute paths are kept; so are paths in a policy that is not a file
    (inline text: relative to the working directory).
    """
    if ref.startswith("s3://") or os.path.isabs(ref) or source.startswith("<"):
        return ref
    if source.startswith("s3://"):
        bucket, _, key = source[len("s3://") :].partition("/")
        joined = os.path.normpath(str(PurePosixPath(key).parent / ref)).lstrip("/")
        return f"s3://{bucket}/{joined}"
    return os.path.normpath(os.path.join(os.path.dirname(source), ref))


def _identity(source: str) -> str:
    """What makes two names of one policy file equal (for cycle detection)."""
    return source if source.startswith(("s3://", "<")) else os.path.realpath(source)


def _read_local(path: str) -> str:
    from mlsec_gates.storage import Storage

    return Storage().read_text(path)


def _merge(
    into: dict[str, Any],
    origins: Origins,
    data: dict[str, Any],
    lines: dict[tuple[str | int, ...], int],
    source: str,
    path: tuple[str | int, ...],
) -> None:
    """Merge ``data`` (one file) into ``into``: mappings key by key, anything else replaced."""
    for key, value in data.items():
        here = (*path, key)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            origins[here] = (source, lines[here])
            _merge(into[key], origins, value, lines, source, here)
            continue
        for stale in [p for p in origins if p[: len(here)] == here]:
            del origins[stale]
        into[key] = value
        origins.update({p: (source, n) for p, n in lines.items() if p[: len(here)] == here})


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
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None
    lines: dict[tuple[str | int, ...], int] = {(): 1}
    if node is None:
        return None, lines
    return _to_python(node, (), lines, source, _Expansion()), lines


class _Expansion:
    """Bounds on turning YAML nodes into data.

    An alias bomb or a self-referencing alias (``a: &a [*a]``) is refused instead of
    expanding for minutes or recursing forever.
    """

    def __init__(self) -> None:
        from mlsec_gates.bounded import MAX_DEPTH, MAX_YAML_VALUES

        self.left = MAX_YAML_VALUES  # values reached again through an alias
        self.max_depth = MAX_DEPTH
        self.open: set[int] = set()
        self.seen: set[int] = set()

    def enter(self, node: yaml.Node, path: tuple[str | int, ...], line: int, source: str) -> None:
        if id(node) in self.seen:
            self.left -= 1
        self.seen.add(id(node))
        where = f"{source}:{line}"
        if self.left < 0:
            raise ConfigError(f"{where}: invalid YAML: expands to too many values (an alias bomb?)")
        if len(path) > self.max_depth:
            raise ConfigError(f"{where}: invalid YAML: nested too deeply")
        if id(node) in self.open:
            raise ConfigError(f"{where}: invalid YAML: an alias refers to itself")

    @contextlib.contextmanager
    def inside(self, node: yaml.Node) -> Iterator[None]:
        """While a mapping or list is being built (an alias to it from inside is a loop)."""
        self.open.add(id(node))
        try:
            yield
        finally:
            self.open.discard(id(node))


def _to_python(
    node: yaml.Node,
    path: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    source: str,
    bounds: _Expansion,
) -> Any:
    """Turn a composed YAML node into Python data, recording the line of every key.

    Raises:
        ConfigError: a key appears twice in one mapping (YAML would silently keep the last),
            a key is not a plain value, or the document is too deep or expands too far.
    """
    lines[path] = node.start_mark.line + 1
    bounds.enter(node, path, lines[path], source)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        with bounds.inside(node):
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError(f"{source}:{line}: invalid YAML: a key must be a plain value")
                try:
                    key = yaml.SafeLoader(" ").construct_object(key_node)
                except (ValueError, yaml.YAMLError):
                    raise ConfigError(f"{source}:{line}: invalid YAML: unreadable key") from None
                if key in out:
                    dotted = ".".join(str(p) for p in (*path, key))
                    raise ConfigError(
                        f"{source}:{line}: {dotted}: duplicate key (first set on line "
                        f"{lines[(*path, key)]})"
                    )
                lines[(*path, key)] = line
                out[key] = _to_python(value_node, (*path, key), lines, source, bounds)
                lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        with bounds.inside(node):
            return [
                _to_python(item, (*path, i), lines, source, bounds)
                for i, item in enumerate(node.value)
            ]
    try:
        return yaml.SafeLoader(" ").construct_object(node)
    except ValueError as exc:  # a scalar YAML reads as a date or time but is not one: 2026-13-01
        dotted = ".".join(str(p) for p in path) or "(top level)"
        raise ConfigError(f"{source}:{lines[path]}: {dotted}: {exc}") from None
    except yaml.YAMLError as exc:  # an unknown tag (!!python/object...): never constructed
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{lines[path]}: invalid YAML: {problem}") from None


def _describe(exc: ValidationError, origins: Origins, root: type[BaseModel] | None = None) -> str:
    """One line for the first validation error: file, line, dotted key, problem."""
    # A misspelt key also shows up as "missing" under its real name: report the typo first.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(err["loc"])
    source, line = next(
        (origins[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in origins),
        (origins[()][0], None),
    )
    key = ".".join(str(p) for p in loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1], root or Policy)
        fields = parent.model_fields if parent else {}
        known = sorted(f.alias or k for k, f in fields.items() if k not in _NOT_KEYS)
        if parent is Policy:
            known = sorted((*known, "extends"))
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
        problem = f"unknown key{hint}"
    elif err["type"] == "missing":
        problem = "required key is missing"
    elif err["type"] == "value_error":  # a validator's own sentence, without pydantic's prefix
        problem = str(err.get("ctx", {}).get("error", err["msg"]))
    else:
        problem = err["msg"]
    where = f"{source}:{line}" if line else source
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {key}: {problem}{more}"


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model that sits at a location of the document, for key suggestions."""
    model: type[BaseModel] = root
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
