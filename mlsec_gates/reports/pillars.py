"""The security pillars the gates cover, and which pillar each gate and rule belongs to.

The combined report groups findings by pillar so an on-call person sees *which threat* a
failure is about, not only which tool said no (docs/threat-model.md has the full model).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pillar:
    """One security concern of an ML pipeline, with the question it answers."""

    key: str
    title: str
    threat: str
    """Why it matters: what an attacker or an accident does here."""
    next_step: str
    """What to do first when a gate of this pillar fails."""


PILLARS: tuple[Pillar, ...] = (
    Pillar(
        "data-validation",
        "Data validation",
        "Malformed, out-of-range or schema-breaking training data silently degrades the model "
        "or hides an attack; a data contract catches it before training.",
        "Look at the failing rows, fix the upstream extract or update the suite if the "
        "contract changed on purpose.",
    ),
    Pillar(
        "poisoning-drift",
        "Data poisoning and drift",
        "Injected or relabelled rows (poisoning) and shifted distributions change what the "
        "model learns: backdoors, targeted errors, or a model trained on the wrong world.",
        "Check the drifted columns and suspect rows against the data source; quarantine the "
        "batch until its provenance is explained.",
    ),
    Pillar(
        "artifact-code-execution",
        "Model-artifact code execution",
        "Pickle-based model files (PyTorch, joblib, NumPy object arrays) run code when loaded; "
        "a tampered file executes attacker code on every machine that loads it.",
        "Do not load the file. Find who produced it, re-export the model from a trusted "
        "environment in a data-only format (safetensors).",
    ),
    Pillar(
        "model-behaviour",
        "Trustworthy and robust model behaviour",
        "A model can discriminate between groups, lean on a protected attribute through a "
        "proxy, flip under tiny input changes, or obey a backdoor trigger planted through "
        "its training data, while its accuracy looks fine.",
        "Do not publish: read the failed check's evidence (groups, features, trigger), fix the "
        "data or the training, evaluate again; waive only with a recorded justification.",
    ),
    Pillar(
        "supply-chain",
        "Supply chain and SBOM",
        "Without a bill of materials nobody can tell which data, code and packages went into "
        "a model when a dependency or dataset turns out to be compromised.",
        "Make the BOM complete: give the datasets and a hashed requirements lock file.",
    ),
    Pillar(
        "integrity-provenance",
        "Integrity, signing and provenance",
        "A model swapped or edited between training and serving, or one whose history is not "
        "on record, cannot be trusted; signatures and the ledger prove what was checked.",
        "Do not deploy: compare the files against the signature, find who changed them, and "
        "sign again only after the chain passes.",
    ),
)

_BY_KEY = {p.key: p for p in PILLARS}

#: The pillar of each gate (the first part of a rule id names its gate).
_GATE_PILLAR: dict[str, str] = {
    "validate": "data-validation",
    "drift": "poisoning-drift",
    "poison": "poisoning-drift",
    "scan": "artifact-code-execution",
    "model_eval": "model-behaviour",
    "sbom": "supply-chain",
    "sign": "integrity-provenance",
    "verify": "integrity-provenance",
    "ledger": "integrity-provenance",
}


def pillar_for(gate: str, rule_id: str | None = None) -> Pillar | None:
    """The pillar of a finding (by its rule id's first part), else of its gate; None: none."""
    prefix = rule_id.split(".", 1)[0] if rule_id else ""
    key = _GATE_PILLAR.get(prefix) or _GATE_PILLAR.get(gate)
    return _BY_KEY.get(key) if key else None
