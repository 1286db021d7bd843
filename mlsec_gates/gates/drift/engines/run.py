"""The drift gate on the Spark and SQL engines: same checks and verdicts, summaries only.

:func:`run_drift_scaled` is what :func:`mlsec_gates.gates.drift.run_drift` hands over to when
``gates.drift.engine`` is ``spark`` or ``sql``. Each batch is opened in its engine
(:class:`Batch`), summarised there (:mod:`.spark`, :mod:`.sql`), and the per-column checks,
findings, dataset rule and report are the in-memory gate's own. The poisoning detectors and
Evidently's page run on a sample pulled to the gate process (stratified by label, at most
``gates.drift.sample_rows`` rows per batch); suspect rows keep their position in the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import now, stepper
from mlsec_gates.gates.drift.data import CATEGORICAL, NUMERIC, plan_columns
from mlsec_gates.policy import Policy
from mlsec_gates.result import GateResult, Subject
from mlsec_gates.storage import Storage

GATE = "drift"


@dataclass
class Batch:
    """One batch opened in its engine: kinds, rows, and how to summarise and sample it."""

    subject: Subject
    rows: int
    kinds: dict[str, str | None]
    handle: Any
    """A Spark DataFrame, or a :class:`~.sql.SqlTable`."""
    engine: str

    def summaries(self, columns: dict[str, str], rank_error: float) -> dict[str, Any]:
        """The summaries of ``columns`` (name to kind), computed by the engine."""
        kinds = {name: columns[name] for name in columns}
        if self.engine == "spark":
            from mlsec_gates.gates.drift.engines import spark

            return spark.summarise(self.handle, kinds, rank_error=rank_error, rows=self.rows)[1]
        from mlsec_gates.gates.drift.engines import sql

        return sql.summarise(replace(self.handle, kinds=kinds))

    def sample(self, rows: int, label: str | None) -> Any:
        """At most about ``rows`` rows (pandas), with ``__mlsec_row`` positions."""
        if self.engine == "spark":
            from mlsec_gates.gates.drift.engines import spark

            return spark.sample_rows(self.handle, rows=rows, total=self.rows, label=label)
        from mlsec_gates.gates.drift.engines import sql

        return sql.sample_rows(self.handle, rows=rows, label=label, order=self.order())

    def order(self) -> str:
        """SQL: the table's primary key columns (else all columns), for row positions."""
        import sqlalchemy as sa

        table = self.handle
        keys = sa.inspect(table.engine).get_pk_constraint(table.name).get("constrained_columns")
        return ", ".join(table.q(c) for c in (keys or list(table.kinds)))


@contextmanager
def open_batches(
    policy: Policy, storage: Storage, *uris: str | None
) -> Iterator[list[Batch | None]]:
    """Each URI (a dataset path for Spark, a table name for SQL) opened in the engine."""
    section = policy.section(GATE)
    if section.engine == "spark":
        from mlsec_gates.gates.drift.engines import spark as spark_engine
        from mlsec_gates.scale.spark import dataset_kind, read_dataset, spark_session

        session = spark_session(policy, storage.s3_options)
        out: list[Batch | None] = []
        for uri in uris:
            if uri is None:
                out.append(None)
                continue
            frame = read_dataset(session, uri)
            out.append(
                Batch(
                    Subject(path=uri, sha256=None, kind=f"spark-{dataset_kind(uri)}"),
                    int(frame.count()),
                    spark_engine.column_kinds(frame),
                    frame,
                    "spark",
                )
            )
        yield out
        return
    url = section.sql.url
    if not url:
        raise ConfigError("the sql engine needs a database: --sql-url or gates.drift.sql.url")
    import sqlalchemy as sa

    from mlsec_gates.gates.drift.engines import sql
    from mlsec_gates.gates.validate.data import safe_url

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"--sql-url: not a usable SQLAlchemy URL: {exc}") from None
    try:
        batches: list[Batch | None] = []
        for name in uris:
            if name is None:
                batches.append(None)
                continue
            table = sql.open_table(engine, name, url=url)
            subject = Subject(path=f"{safe_url(url)}#{name}", sha256=None, kind="sql")
            batches.append(Batch(subject, table.rows, dict(table.kinds), table, "sql"))
        yield batches
    finally:
        engine.dispose()


def typed_frame(kinds: dict[str, str | None]) -> Any:
    """A one-row pandas frame whose columns have ``kinds`` (for :func:`plan_columns`)."""
    import pandas as pd

    example = {NUMERIC: [0.0], CATEGORICAL: ["x"], None: [pd.Timestamp(0)]}
    return pd.DataFrame({name: example[kind] for name, kind in kinds.items()})


def run_drift_scaled(
    current: str,
    *,
    reference: str | None,
    profile: str | None,
    label_column: str | None,
    policy: Policy,
    storage: Storage,
    report_dir: str,
    suspects_out: str | None,
    progress: Any,
    evidently_report: bool | None = None,
) -> GateResult:
    """The drift gate with statistics computed by Spark or the database (see module doc).

    The result is assembled by :func:`~mlsec_gates.gates.drift.assembly.assemble`, as the
    in-memory engine's is: same status, summary and details for the same data.
    """
    from mlsec_gates.gates.drift.assembly import Batches, assemble
    from mlsec_gates.gates.drift.engine import DriftSettings, check_column
    from mlsec_gates.gates.drift.profile import load_profile

    started = now()
    section = policy.section(GATE)
    if bool(reference) == bool(profile):
        raise ConfigError("give the reference data (--reference) or its profile (--profile)")
    step = stepper(progress, 5)
    stored = load_profile(profile, storage) if profile else None
    label = label_column or section.label_column or (stored.label if stored else None)
    run_poison = bool(label) and section.poison.enabled
    settings = DriftSettings.from_policy(section)
    with open_batches(policy, storage, None if stored else reference, current) as (ref, cur):
        assert cur is not None
        ref_data = stored.subject if stored else ref.subject  # type: ignore[union-attr]
        plan = plan_columns(
            stored.kinds if stored else ref.kinds,  # type: ignore[union-attr]
            typed_frame(cur.kinds),
            label=label,
            compare_label=not run_poison,
            columns=section.columns,
            ignore=section.ignore_columns,
            reference_name=ref_data.path,
            current_name=current,
        )
        wanted = dict(plan.kinds)
        ref_values = stored.values if stored else ref.summaries(wanted, section.quantile_error)  # type: ignore[union-attr]
        step("reference summarised")
        cur_values = cur.summaries(wanted, section.quantile_error)
        step("current batch summarised")
        _check_methods(settings, plan.kinds)
        checks = [
            check_column(name, kind, ref_values[name], cur_values[name], settings)
            for name, kind in plan.kinds.items()
        ]
        samples = _Samples(section.sample_rows, label, ref, cur)
        batches = Batches(
            current=current,
            profile=profile,
            label=label,
            run_poison=run_poison,
            plan=plan,
            checks=checks,
            reference_values=ref_values,
            current_values=cur_values,
            reference=ref_data,
            reference_file=stored.file if stored else None,
            reference_rows=stored.rows if stored else ref.rows,  # type: ignore[union-attr]
            current_subject=cur.subject,
            current_rows=cur.rows,
            detector_rows=samples.detector_rows,
            page_rows=lambda: (
                stored.rows_sample() if stored else samples.of(ref)[0],
                samples.of(cur)[0],
            ),
            fitted=stored,
            engine=section.engine,
            tools=("pyspark", "sqlalchemy", "numpy", "scipy", "evidently"),
        )
        return assemble(
            batches,
            policy=policy,
            storage=storage,
            report_dir=report_dir,
            suspects_out=suspects_out,
            evidently_report=evidently_report,
            step=step,
            started=started,
        )


class _Samples:
    """Rows pulled from the engine once, when the detectors or Evidently's page need them."""

    def __init__(self, rows: int, label: str | None, ref: Batch | None, cur: Batch) -> None:
        self.rows, self.label, self.ref, self.cur = rows, label, ref, cur
        self.pulled: dict[int, tuple[Any, Any]] = {}

    def of(self, batch: Batch | None) -> tuple[Any, Any]:
        """A label-stratified sample of ``batch`` (pandas) and each row's batch position."""
        if batch is None:
            return None, None
        if id(batch) not in self.pulled:
            frame = batch.sample(self.rows, self.label)
            self.pulled[id(batch)] = (frame, frame.pop(_row()).to_numpy())
        return self.pulled[id(batch)]

    def detector_rows(self) -> Any:
        from mlsec_gates.gates.drift.assembly import Rows

        frame, positions = self.of(self.cur)
        reference = self.of(self.ref)[0]
        return Rows(
            reference,
            frame,
            positions,
            note={
                "rows_reference": None if reference is None else len(reference),
                "rows_current": len(frame),
                "note": "the detectors ran on a sample stratified by label",
            },
        )


def _row() -> str:
    from mlsec_gates.gates.drift.engines.spark import ROW_COLUMN

    return ROW_COLUMN


def _check_methods(settings: Any, kinds: dict[str, str]) -> None:
    from mlsec_gates.gates.drift.stattests import BY_NAME

    for name, setting in settings.per_column.items():
        test = BY_NAME.get(setting.method or "")
        if name in kinds and test is not None and kinds[name] not in test.kinds:
            raise ConfigError(
                f"gates.drift.per_column.{name}.method: {setting.method} does not apply to "
                f"{kinds[name]} column {name!r}"
            )


def build_profile_scaled(
    reference: str, *, label: str | None, policy: Policy, storage: Storage
) -> Any:
    """A drift profile whose statistics Spark or the database computed (no live handles).

    Large numeric columns are stored as quantile sketches (see :mod:`.summary`); the
    poisoning detectors are fitted on a label-stratified sample, which the profile keeps.

    Raises:
        InputError: the reference cannot be read or lacks the label column.
    """
    from mlsec_gates.errors import InputError
    from mlsec_gates.gates.drift import _fit_poison, _thread_limit
    from mlsec_gates.gates.drift.engines.summary import is_summary
    from mlsec_gates.gates.drift.profile import ReferenceProfile, sample_frame

    section = policy.section(GATE)
    with open_batches(policy, storage, reference) as (ref,):
        assert ref is not None
        if label and label not in ref.kinds:
            raise InputError(f"{reference}: no label column {label!r}")
        supported = {n: k for n, k in ref.kinds.items() if k is not None}
        values = ref.summaries(supported, section.quantile_error)
        for summary in values.values():
            if is_summary(summary):
                summary.live = None  # a stored profile has no data behind it
        wanted = max(section.report_sample_rows, section.poison.max_training_rows)
        sample = ref.sample(wanted, label)
        sample.pop(_row())
        poison_meta, poison_arrays = None, {}
        if label and section.poison.enabled:
            with _thread_limit(section.threads):
                fitted = _fit_poison(sample, label, ref.kinds, section)
            poison_meta, poison_arrays = fitted.to_state()
        return ReferenceProfile(
            subject=ref.subject,
            rows=ref.rows,
            kinds=dict(ref.kinds),
            values=values,
            label=label,
            poison_meta=poison_meta,
            poison_arrays=dict(poison_arrays),
            sample=sample_frame(sample, section.report_sample_rows)[list(supported)],
        )
