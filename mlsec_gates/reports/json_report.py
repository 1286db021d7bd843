"""The machine-readable report (schema: docs/report-schema.json)."""

from __future__ import annotations

import json

from mlsec_gates.result import GateResult


def render_json(result: GateResult) -> str:
    """The JSON report of a run, keys sorted so that diffs between runs stay small."""
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n"
