"""Earlier gates' JSON reports, attached to the BOM as evidence.

Each report adds its status and metrics to the model card and becomes an external reference
of the model, pinned by the SHA-256 of the report bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import InputError
from mlsec_gates.storage import Storage

#: CycloneDX external reference type of each gate's report (others are ``evidence``).
REFERENCE_TYPES = {
    "scan": "static-analysis-report",
    "validate": "quality-metrics",
    "poison": "quality-metrics",
    "drift": "quality-metrics",
    "sign": "digital-signature",
    "verify": "digital-signature",
}


@dataclass(frozen=True)
class GateReport:
    """The parts of a gate's JSON report that go into the BOM."""

    uri: str
    sha256: str
    gate: str
    status: str
    summary: str
    metrics: tuple[tuple[str, str], ...]
    """``(name, value as text)`` pairs, sorted by name."""
    subjects: tuple[str, ...]
    """Paths or URIs the report is about."""
    model_card: str = ""
    """JSON of the model-card entries a model-eval report contributes (see
    :func:`mlsec_gates.gates.model_eval.card.model_card_parts`); empty for other gates."""

    @property
    def passed(self) -> bool:
        """True for ``pass`` and ``warn``, as :attr:`GateResult.passed`."""
        return self.status in ("pass", "warn")

    @property
    def reference_type(self) -> str:
        """The CycloneDX external reference type for this report."""
        return REFERENCE_TYPES.get(self.gate, "evidence")


def read_gate_report(uri: str, *, storage: Storage) -> GateReport:
    """Read and check one JSON gate report (mlsec-gates report schema 1.x).

    Raises:
        InputError: the report cannot be read, is not JSON, or is not a gate report.
    """
    with storage.open_read(uri) as fh:
        raw = fh.read()
    try:
        data: Any = loads_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{uri}: not a JSON gate report: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("gate"), str):
        raise InputError(f"{uri}: not an mlsec-gates JSON report (no 'gate' field)")
    status = data.get("status")
    if status not in ("pass", "warn", "fail", "error"):
        raise InputError(f"{uri}: gate report has no valid 'status' ({status!r})")
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise InputError(f"{uri}: gate report 'metrics' is not an object")
    subjects = data.get("subjects") or []
    return GateReport(
        uri=uri,
        sha256=hashlib.sha256(raw).hexdigest(),
        gate=data["gate"],
        status=status,
        summary=str(data.get("summary", "")),
        metrics=tuple(sorted((str(k), _text(v)) for k, v in metrics.items())),
        subjects=tuple(str(s["path"]) for s in subjects if isinstance(s, dict) and s.get("path")),
        model_card=_model_card(data),
    )


def _model_card(data: dict[str, Any]) -> str:
    """The model-card entries of a model-eval report, as JSON text ("" for other gates)."""
    if data["gate"] != "model_eval":
        return ""
    from mlsec_gates.gates.model_eval.card import model_card_parts

    return json.dumps(model_card_parts(data), sort_keys=True)


def _text(value: Any) -> str:
    """A metric value as the model card wants it (a string), floats without noise."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)
