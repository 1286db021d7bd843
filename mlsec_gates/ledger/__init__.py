"""The provenance ledger: a tamper-evident record of every gate decision.

Example:
    >>> from mlsec_gates.ledger import lineage, verify_ledger
    >>> from mlsec_gates.storage import Storage
    >>> report = verify_ledger("ledger.jsonl", storage=Storage(),
    ...                        public_key="checkpoint.pub")  # doctest: +SKIP
    >>> report.ok, report.entries  # doctest: +SKIP
    (True, 1234)
    >>> entries = lineage("ledger.jsonl", "sha256:…", storage=Storage())  # doctest: +SKIP
    >>> [e["gate"] for e in entries]  # doctest: +SKIP
    ['validate', 'scan', 'sbom', 'sign', 'verify']

With ``ledger.uri`` set in the policy, every gate entry point appends one entry after writing
its reports (:func:`record_result`): the result summary, the subjects' SHA-256, each report's
URI and SHA-256, the run context and the previous entry's hash, as RFC 8785 canonical JSON
(:mod:`~mlsec_gates.ledger.entries`). Signed checkpoints (:mod:`~mlsec_gates.ledger.checkpoints`)
catch truncation and rewrites, which the chain alone cannot. Storage is a local JSON-lines
file or one S3 object per entry (:mod:`~mlsec_gates.ledger.store`).

**Fail closed.** When the entry cannot be appended (storage down, lost races, bad checkpoint
key), the gate raises :class:`~mlsec_gates.errors.StorageError` or
:class:`~mlsec_gates.errors.ConfigError` with a one-line message, after its reports were
written: a decision that is not on record never lets a pipeline go on. Both are retryable
infrastructure errors for the adapters.

**Retries.** Adapters pass ``run_context`` (Airflow ``dag_id``, ``run_id``, ``task_id``,
``map_index``, ``try_number``; KFP ``pipeline_run_id``, ``task_id``); it yields an idempotency
key that is the same for every try of a task (:func:`~mlsec_gates.ledger.entries.idempotency_key`).
A retry that reaches the same decision on the same bytes (same result fingerprint) adds
nothing and gets the earlier entry's number. A retry that decides differently (a flaky
``error`` that now passes, or changed input bytes) is appended as a new entry with
``supersedes`` naming the earlier one: the ledger keeps both, and the newest entry of a key is
the decision that counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mlsec_gates.ledger.lineage import lineage
from mlsec_gates.ledger.verify import LedgerProblem, LedgerReport, verify_ledger

if TYPE_CHECKING:
    from mlsec_gates.policy import LedgerPolicy
    from mlsec_gates.result import GateResult
    from mlsec_gates.storage import Storage

__all__ = [
    "LedgerProblem",
    "LedgerReport",
    "checkpoint_ledger",
    "lineage",
    "record_result",
    "verify_ledger",
]


def record_result(
    result: GateResult,
    *,
    policy: LedgerPolicy,
    storage: Storage,
    run_context: Mapping[str, Any] | None = None,
) -> GateResult:
    """Append a gate result to the ledger named by ``policy.uri`` (after its reports exist).

    Returns:
        The result with ``reports["ledger"]`` (the ledger's URI) and
        ``metrics["ledger_entry"]`` (the entry number; the earlier entry's on an idempotent
        retry). The JSON report already written does not contain them: the entry records the
        report's hash, so the report cannot also record the entry. Unchanged when
        ``policy.uri`` is unset.

    Raises:
        ConfigError: the run context or the checkpoint key is invalid.
        InputError: a report named in ``result.reports`` cannot be read back.
        StorageError: the ledger cannot be written.
    """
    import sqlite3

    from mlsec_gates.errors import StorageError
    from mlsec_gates.ledger.entries import gate_entry_fields, normalize_run_context
    from mlsec_gates.ledger.store import AppendRequest, SignerFactory, open_store

    if not policy.uri:
        return result
    fields = gate_entry_fields(
        result,
        evidence=_evidence(result.reports, storage),
        run_context=normalize_run_context(run_context),
    )
    signer: SignerFactory | None = None
    if policy.checkpoint_key or policy.checkpoint_kms_key_id:
        from mlsec_gates.signing.keys import load_signer

        loaded = load_signer(
            key=policy.checkpoint_key,
            kms_key_id=policy.checkpoint_kms_key_id,
            storage=storage,
            s3=storage.s3_options,
        )
        signer = lambda: loaded  # noqa: E731 - the store calls it only when a checkpoint is due
    request = AppendRequest(
        fields=fields,
        ts=datetime.now(timezone.utc).isoformat(),
        key=fields["idempotency_key"],
        fingerprint=fields["result_sha256"],
        checkpoint_every=policy.checkpoint_every,
        signer=signer,
    )
    store = open_store(policy.uri, storage=storage, policy=policy)
    try:
        appended = store.append(request)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"{policy.uri}: cannot append to the ledger: {exc}") from None
    return replace(
        result,
        reports={**result.reports, "ledger": store.uri},
        metrics={**result.metrics, "ledger_entry": appended.seq},
    )


def checkpoint_ledger(
    uri: str,
    *,
    storage: Storage,
    key: str | None = None,
    kms_key_id: str | None = None,
) -> int:
    """Sign a checkpoint of the ledger as it is now (e.g. at the end of a DAG run).

    Returns:
        The number of entries the checkpoint covers (0: the ledger is empty, nothing written).

    Raises:
        ConfigError: not exactly one of ``key`` and ``kms_key_id``, or an unusable key.
        StorageError: the ledger cannot be read or the checkpoint cannot be written.
    """
    from mlsec_gates.ledger.store import open_store
    from mlsec_gates.signing.keys import load_signer

    signer = load_signer(key=key, kms_key_id=kms_key_id, storage=storage, s3=storage.s3_options)
    store = open_store(uri, storage=storage)
    return store.write_checkpoint(signer, ts=datetime.now(timezone.utc).isoformat())


def _evidence(reports: Mapping[str, str], storage: Storage) -> list[dict[str, str]]:
    """Each written report as ``{"type", "uri", "sha256"}``, hashed as it is stored."""
    from mlsec_gates.storage import sha256_of

    out = []
    for kind, uri in sorted(reports.items()):
        with storage.open_read(uri) as fh:
            digest, _ = sha256_of(fh)
        out.append({"type": kind, "uri": uri, "sha256": digest})
    return out
