"""Running the data gates where the data live: Spark and the warehouse (docs/scale.md).

The gates keep one verdict logic; these modules only move the heavy part of the work (reading
rows, counting, sorting, histograms) into Spark or into the database, so that the gate process
holds summaries, never the batch.
"""

from __future__ import annotations

from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import DriftPolicy, Policy, ValidatePolicy

ENGINES = {"validate": ("local", "spark"), "drift": ("local", "spark", "sql")}


def with_engine(
    policy: Policy, gate: str, engine: str | None, *, sql_url: str | None = None
) -> Policy:
    """A copy of ``policy`` with the engine (and drift's ``sql.url``) an adapter asked for.

    Raises:
        ConfigError: the gate has no such engine.
    """
    if sql_url:
        drift = policy.gates.drift
        sql = drift.sql.model_copy(update={"url": sql_url})
        policy = policy.model_copy(
            update={
                "gates": policy.gates.model_copy(
                    update={"drift": drift.model_copy(update={"sql": sql})}
                )
            }
        )
    if not engine:
        return policy
    if engine not in ENGINES[gate]:
        raise ConfigError(
            f"--engine: {engine!r} is not an engine of the {gate} gate "
            f"(choose {', '.join(ENGINES[gate])})"
        )
    section: ValidatePolicy | DriftPolicy = policy.section(gate)
    updated = section.model_copy(update={"engine": engine})
    field = "validate_" if gate == "validate" else gate
    return policy.model_copy(update={"gates": policy.gates.model_copy(update={field: updated})})
