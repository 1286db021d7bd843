"""Poisoning-drift gate: compare a batch with a trusted reference before training on it.

Example:
    >>> from mlsec_gates.gates.drift import drift_gate
    >>> result = drift_gate("batch.parquet", reference="trusted.parquet",
    ...                     label_column="label")  # doctest: +SKIP
    >>> result.status, result.metrics["columns_drifted"]  # doctest: +SKIP
    (<Status.PASS: 'pass'>, 0)

Two kinds of checks, one verdict:

- **Distribution drift per column** with Evidently's methods and default thresholds (K-S,
  chi-squared or z-test up to 1000 reference rows; normed Wasserstein or Jensen-Shannon
  above; PSI on request), computed by :mod:`.engine` on scipy/numpy with Evidently's exact
  formulas, so each per-column decision equals Evidently's for the same method and threshold.
  Dataset drift (at least ``drift_share`` of the columns drifted) fails the gate;
  ``fail_on: column`` fails it on any drifted column.
- **Row-level poisoning detectors** (:mod:`.poison`, with a label column): label flips,
  backdoor triggers, injected duplicates, scored against a model fitted on the trusted
  reference. An alarm fails the gate; the suspicious rows go to a CSV (``row``, ``reason``,
  ``score``).

The reference is a data file, or a profile stored once by :func:`drift_profile` (no reload).
Evidently's own HTML page is written next to the report for people (on a bounded sample).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import (
    Progress,
    default_report_dir,
    gate_storage,
    load_policy,
    now,
    run_and_report,
    stepper,
)
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import GateResult
from mlsec_gates.scale import with_engine
from mlsec_gates.storage import S3Options, Storage

__all__ = ["Progress", "drift_gate", "drift_profile", "run_drift"]

GATE = "drift"


def drift_gate(
    current: str,
    *,
    reference: str | None = None,
    profile: str | None = None,
    label_column: str | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    suspects_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    sql_url: str | None = None,
    evidently_report: bool | None = None,
) -> GateResult:
    """Check a batch against the reference, then write the reports; the one call adapters make.

    Args:
        current: the batch to check: CSV, Parquet or JSON-lines file, path or ``s3://`` URI.
        reference: the trusted reference data (same formats); or give ``profile``.
        profile: a reference profile written by :func:`drift_profile` (path or URI).
        label_column: the label; enables the poisoning detectors (default: the policy's
            ``gates.drift.label_column``, else the profile's).
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None.
        report_dir: directory or ``s3://`` prefix for the reports (and the Evidently page and
            suspects CSV); default ``./mlsec-gate-reports/drift-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        suspects_out: write the suspicious rows (CSV: ``row``, ``reason``, ``score``,
            ``detector``) here; default ``<report_dir>/suspects.csv`` when detectors ran.
        run_context: where the task runs, recorded in the provenance ledger.
        progress: called after each step (terminal progress in the CLI).
        engine: ``local``, ``spark`` or ``sql``; overrides ``gates.drift.engine`` (with
            ``spark``, ``current``/``reference`` are Parquet/CSV datasets; with ``sql``,
            table names in ``sql_url``; see docs/scale.md).
        sql_url: SQLAlchemy URL of the database of the ``sql`` engine.
        evidently_report: write Evidently's page (True) or not (False) whatever the status;
            None: the policy's ``gates.drift.evidently_report`` (default ``auto``: only when
            the gate does not pass).

    Returns:
        The result with ``reports`` written: ``pass``; ``fail`` on dataset drift (or any
        drifted column under ``fail_on: column``) or a poisoning alarm (``warn`` under
        ``on_fail: warn``); ``warn`` when columns drifted below the dataset share (unless
        ``warn_on: none``); ``error`` when the poisoning detectors could not run.

    Raises:
        ConfigError: bad policy or arguments (not exactly one of reference or profile).
        InputError: a batch cannot be read, is empty, lacks the label column, shares no
            column with the reference, or a column's type differs between the two.
        StorageError: S3 or the report directory refused access.
    """
    where = report_dir or default_report_dir(GATE)
    return run_and_report(
        GATE,
        lambda loaded, storage: run_drift(
            current,
            reference=reference,
            profile=profile,
            label_column=label_column,
            policy=with_engine(loaded, GATE, engine, sql_url=sql_url),
            storage=storage,
            report_dir=where,
            suspects_out=suspects_out,
            progress=progress,
            evidently_report=evidently_report,
        ),
        policy=policy,
        report_dir=where,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def drift_profile(
    reference: str,
    *,
    out: str,
    label_column: str | None = None,
    policy: Policy | str | None = None,
    s3: S3Options | None = None,
    engine: str | None = None,
    sql_url: str | None = None,
) -> str:
    """Compute the reference's statistics (and poisoning state) once; store them at ``out``.

    With ``engine`` ``spark`` (or ``sql``: ``reference`` is a table of ``sql_url``) the
    statistics are computed there and large numeric columns are stored as quantile sketches
    (docs/scale.md); the in-memory gate reads such a profile too.

    Returns:
        Where the profile was written.

    Raises:
        ConfigError: bad policy.
        InputError: the reference cannot be read, is empty or lacks the label column.
        StorageError: S3 or ``out`` refused access.
    """
    from mlsec_gates.gates.drift.data import column_kind, read_frame
    from mlsec_gates.gates.drift.profile import build_profile, save_profile

    bootstrap = Storage(s3) if s3 else Storage()
    loaded = with_engine(
        load_policy(policy, storage=bootstrap, gate=GATE), GATE, engine, sql_url=sql_url
    )
    storage = gate_storage(loaded, s3)
    section = loaded.section(GATE)
    label = label_column or section.label_column
    if section.engine != "local":
        from mlsec_gates.gates.drift.engines.run import build_profile_scaled

        scaled = build_profile_scaled(reference, label=label, policy=loaded, storage=storage)
        return save_profile(scaled, out, storage)
    frame, subject = read_frame(reference, storage)
    kinds = {name: column_kind(frame[name]) for name in frame.columns}
    if label and label not in kinds:
        from mlsec_gates.errors import InputError

        raise InputError(f"{reference}: no label column {label!r}")
    poison_state = None
    with _thread_limit(section.threads):
        if label and section.poison.enabled:
            fitted = _fit_poison(frame, label, kinds, section)
            poison_state = fitted.to_state()
        built = build_profile(
            frame,
            subject,
            kinds,
            label=label,
            sample_rows=section.report_sample_rows,
            poison_state=poison_state,
        )
    return save_profile(built, out, storage)


def run_drift(
    current: str,
    *,
    reference: str | None = None,
    profile: str | None = None,
    label_column: str | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
    report_dir: str | None = None,
    suspects_out: str | None = None,
    progress: Progress | None = None,
    evidently_report: bool | None = None,
) -> GateResult:
    """Run the checks and return the result without writing reports (see :func:`drift_gate`).

    The Evidently page (when asked for, or by default when the gate does not pass) and the
    suspects CSV are written (they are linked from the result).

    Raises:
        ConfigError, InputError, StorageError: as :func:`drift_gate`.
    """
    from mlsec_gates.gates.drift.assembly import Batches, Rows, assemble
    from mlsec_gates.gates.drift.data import column_kind, plan_columns, read_frame
    from mlsec_gates.gates.drift.engine import DriftSettings, check_columns
    from mlsec_gates.gates.drift.profile import build_profile, load_profile, summarise_file

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.section(GATE)
    report_dir = report_dir or default_report_dir(GATE)
    if bool(reference) == bool(profile):
        raise ConfigError("give the reference data (--reference) or its profile (--profile)")
    if section.engine != "local":  # Spark or SQL: statistics where the data live
        from mlsec_gates.gates.drift.engines.run import run_drift_scaled

        return run_drift_scaled(
            current,
            reference=reference,
            profile=profile,
            label_column=label_column,
            policy=policy,
            storage=storage,
            report_dir=report_dir,
            suspects_out=suspects_out,
            progress=progress,
            evidently_report=evidently_report,
        )
    step = stepper(progress, 5)
    stored = load_profile(profile, storage) if profile else None
    label = label_column or section.label_column or (stored.label if stored else None)
    run_poison = bool(label) and section.poison.enabled
    ref_frame = None
    if stored is None and not run_poison:  # the summaries are enough: never hold the frame
        stored = summarise_file(str(reference), storage, sample_rows=section.report_sample_rows)
    elif stored is None:  # the detectors fit on the frame; summarise it the same way
        ref_frame, ref_subject = read_frame(str(reference), storage)
        kinds = {name: column_kind(ref_frame[name]) for name in ref_frame.columns}
        stored = build_profile(
            ref_frame, ref_subject, kinds, label=None, sample_rows=section.report_sample_rows
        )
    ref_subject = stored.subject
    step("reference read")
    cur_values = None
    if run_poison:  # the detectors score every row
        cur_frame, cur_subject = read_frame(current, storage)
        cur_rows = len(cur_frame)
        cur_columns, cur_sample = cur_frame, lambda: cur_frame
    else:  # summaries and a sample are enough (a 1M-row batch is never held whole)
        summary = summarise_file(current, storage, sample_rows=section.report_sample_rows)
        cur_frame, cur_subject, cur_rows = summary.sample, summary.subject, summary.rows
        cur_values = summary.values
        cur_columns, cur_sample = summary.columns or cur_frame, summary.rows_sample
    step("current batch read")
    plan = plan_columns(
        stored.kinds,
        cur_columns,
        label=label,
        compare_label=not run_poison,
        columns=section.columns,
        ignore=section.ignore_columns,
        reference_name=ref_subject.path,
        current_name=current,
    )
    with _thread_limit(section.threads):
        checks = check_columns(
            stored.values,
            plan.kinds,
            cur_frame,
            DriftSettings.from_policy(section),
            current_values=cur_values,
        )
    batches = Batches(
        current=current,
        profile=profile,
        label=label,
        run_poison=run_poison,
        plan=plan,
        checks=checks,
        reference_values=stored.values,
        current_values=cur_values or cur_frame,
        reference=stored.subject,
        reference_file=stored.file,
        reference_rows=stored.rows,
        current_subject=cur_subject,
        current_rows=cur_rows,
        fitted=stored if profile else None,
        detector_rows=lambda: Rows(ref_frame, cur_frame),
        page_rows=lambda: (stored.rows_sample(), cur_sample()),
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


def _fit_poison(frame: Any, label: str, kinds: Mapping[str, str | None], section: Any) -> Any:
    """Fit the poisoning detectors on the trusted reference (all its feature columns)."""
    from mlsec_gates.gates.drift import poison

    numeric = [c for c, k in kinds.items() if k == "numeric" and c != label]
    categorical = [c for c, k in kinds.items() if k == "categorical" and c != label]
    return poison.fit_reference(
        frame, label=label, numeric=numeric, categorical=categorical, settings=section.poison
    )


@contextlib.contextmanager
def _thread_limit(threads: int) -> Iterator[None]:
    """Cap numpy/BLAS/OpenMP threads for the block (two tasks on one worker share the CPU)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=threads):
        yield
