"""Entry encoding, hashing, run contexts and result fingerprints (mlsec_gates/ledger/entries.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta

import pytest
import rfc8785

from mlsec_gates.errors import ConfigError
from mlsec_gates.ledger.entries import (
    MalformedEntry,
    decode_entry,
    encode_entry,
    entry_digests,
    entry_hash,
    idempotency_key,
    normalize_digest,
    normalize_run_context,
    result_fingerprint,
)
from mlsec_gates.result import Status
from tests.unit.ledger.helpers import digest, make_result


class TestEncoding:
    def test_stored_form_is_canonical_json_of_body_and_hash(self) -> None:
        body = {"seq": 1, "prev": None, "v": 1, "summary": "é ü", "n": 1.0}
        line = encode_entry(body)
        assert line == rfc8785.dumps({"entry": body, "entry_hash": entry_hash(body)})
        assert entry_hash(body) == hashlib.sha256(rfc8785.dumps(body)).hexdigest()

    def test_round_trip(self) -> None:
        body = {"seq": 7, "prev": "a" * 64, "v": 1}
        entry = decode_entry(encode_entry(body) + b"\n")
        assert (entry.body, entry.seq, entry.prev, entry.intact) == (body, 7, "a" * 64, True)

    def test_an_edited_body_no_longer_matches_its_hash(self) -> None:
        line = encode_entry({"seq": 1, "status": "fail"}).replace(b'"fail"', b'"pass"')
        entry = decode_entry(line)
        assert not entry.intact
        assert entry.hash == hashlib.sha256(b'{"seq":1,"status":"pass"}').hexdigest()

    @pytest.mark.parametrize(
        "line",
        [b"", b"{}", b'{"entry":[1],"entry_hash":"' + b"0" * 64 + b'"}', b'{"entry":{"a":1}'],
    )
    def test_malformed(self, line: bytes) -> None:
        with pytest.raises(MalformedEntry):
            decode_entry(line)


class TestRunContext:
    def test_airflow_key_leaves_out_the_try_number(self) -> None:
        context = {"dag_id": "d", "run_id": "r", "task_id": "t", "try_number": "2"}
        assert idempotency_key(context) == "airflow:d/r/t/-1"
        assert idempotency_key({**context, "map_index": "3"}) == "airflow:d/r/t/3"

    def test_kfp_key(self) -> None:
        assert idempotency_key({"pipeline_run_id": "p", "task_id": "t"}) == "kfp:p/t"

    def test_kfp_key_from_the_run_id_the_sbom_uses_too(self) -> None:
        context = {"orchestrator": "kfp", "run_id": "r", "task_id": "t"}
        assert idempotency_key(context) == "kfp:r/t"

    def test_run_id_and_task_alone_are_no_kfp_key(self) -> None:
        assert idempotency_key({"run_id": "r", "task_id": "t"}) is None

    def test_explicit_key_wins_and_none_without_one(self) -> None:
        assert idempotency_key({"idempotency_key": "k", "dag_id": "d"}) == "k"
        assert idempotency_key({"dag_id": "d"}) is None

    def test_integers_become_text_and_other_values_are_refused(self) -> None:
        assert normalize_run_context({"map_index": 3}) == {"map_index": "3"}
        with pytest.raises(ConfigError, match="run_context\\['x'\\] must be a string"):
            normalize_run_context({"x": [1]})


class TestFingerprint:
    def test_same_decision_on_same_bytes_matches_whatever_the_time_and_reports(self) -> None:
        result = make_result()
        later = replace(
            result,
            started_at=result.started_at + timedelta(hours=1),
            finished_at=result.finished_at + timedelta(hours=2),
            summary="reworded",
            reports={"json": "/elsewhere/report.json"},
        )
        assert result_fingerprint(result) == result_fingerprint(later)

    def test_different_status_or_bytes_differ(self) -> None:
        result = make_result()
        assert result_fingerprint(result) != result_fingerprint(replace(result, status=Status.FAIL))
        other = make_result(subjects=(("model.pkl", digest("other")),))
        assert result_fingerprint(result) != result_fingerprint(other)


def test_entry_digests_and_normalize() -> None:
    d = digest("x")
    body = {"subjects": [{"sha256": d.upper()}, {"sha256": None}], "evidence": [{"sha256": "zz"}]}
    assert entry_digests(body) == {d}
    assert normalize_digest(f"SHA256:{d.upper()}") == d
    with pytest.raises(ValueError, match="not a SHA-256"):
        normalize_digest("abc")
    assert json.loads(encode_entry(body))["entry"] == body
