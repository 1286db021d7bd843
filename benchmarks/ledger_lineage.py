"""Time lineage, verification and appends on a large local ledger.

Usage: python benchmarks/ledger_lineage.py [--entries N] [--queries Q] [--keep DIR]

Builds a ledger of N entries (default 100 000) shaped like real pipeline runs: per run a
validate entry (dataset digest), then scan, sbom, sign and verify entries on one model digest,
each with three report digests as evidence, and a signed checkpoint every 100 entries. The
file is written in one go (entries canonicalised as RFC 8785 by a json.dumps fast path that is
checked byte for byte against ``rfc8785`` on a sample), so the index does not exist yet.

Then it times:

* a ``lineage()`` call before any index exists (it scans the file's bytes, memory-mapped);
* building the SQLite index from the whole file (what the next append does when it is lost;
  normally each append indexes its own entry);
* warm ``lineage()`` calls for Q random model digests (median, p95, max), each a full call:
  open the index, check it is current, query, re-read and re-hash the entries;
* a fresh Python process running ``lineage()`` once, imports included (what
  ``mlsec-gates lineage DIGEST`` costs);
* the index-free fallback (byte scan of the file) for comparison;
* ``verify_ledger()`` over all entries and checkpoints (entries per second);
* 50 appends through ``record_result`` (fsync each) at the end of the big ledger.

Goals (notes section 6.3): lineage < 1 s for 100k entries (G-PROV-4); append <= 20 ms local
and verification >= 50k entries/s (G-PROV-3).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlsec_gates.ledger import lineage, record_result, verify_ledger  # noqa: E402
from mlsec_gates.ledger._index import LocalIndex  # noqa: E402
from mlsec_gates.ledger.checkpoints import make_checkpoint  # noqa: E402
from mlsec_gates.ledger.entries import canonical  # noqa: E402
from mlsec_gates.ledger.store import scan_for_digest  # noqa: E402
from mlsec_gates.policy import LedgerPolicy  # noqa: E402
from mlsec_gates.result import GateResult, Status, Subject  # noqa: E402
from mlsec_gates.signing.keys import load_signer  # noqa: E402
from mlsec_gates.storage import Storage  # noqa: E402
from tests.fixtures.signing_keys import write_ec_key_pair  # noqa: E402

GATES = ("validate", "scan", "sbom", "sign", "verify")


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fast_canonical(body: dict) -> bytes:
    # Equal to RFC 8785 for what we generate here: ASCII strings, integers, no floats.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _body(seq: int, prev: str | None) -> tuple[dict, str]:
    run, step = divmod(seq - 1, len(GATES))
    gate = GATES[step]
    model, data = _hex(f"model-{run}"), _hex(f"data-{run}")
    subject = {"path": f"s3://data/{run}/train.parquet", "sha256": data, "kind": "parquet"}
    if gate != "validate":
        subject = {"path": f"s3://models/{run}/model.safetensors", "sha256": model}
    body = {
        "v": 1,
        "seq": seq,
        "prev": prev,
        "ts": f"2026-01-01T00:00:{seq % 60:02d}+00:00",
        "kind": "gate",
        "gate": gate,
        "status": "pass",
        "passed": True,
        "summary": f"{gate}: 1 subject checked, 0 findings.",
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:01+00:00",
        "counts": {"verdict_pass": 1},
        "metrics": {"files": 1, "bytes": 123456789},
        "subjects": [{**subject, "verdict": "pass", "size": 123456789}],
        "evidence": [
            {
                "type": kind,
                "uri": f"s3://reports/{run}/{gate}-report.{kind}",
                "sha256": _hex(f"{seq}{kind}"),
            }
            for kind in ("html", "json", "markdown")
        ],
        "policy_source": "s3://config/gates.yaml",
        "tool_versions": {"mlsec-gates": "0.4.0", "python": "3.11.7"},
        "run": {
            "dag_id": "train",
            "run_id": f"scheduled__{run}",
            "task_id": gate,
            "try_number": "1",
        },
        "idempotency_key": f"airflow:train/scheduled__{run}/{gate}/-1",
        "result_sha256": _hex(f"result-{seq}"),
    }
    return body, model


def build(path: Path, n: int, key: str) -> tuple[list[str], float]:
    """Write the ledger and its checkpoints; returns the model digests and the build time."""
    started = time.perf_counter()
    signer = load_signer(key=key, storage=Storage())
    prev: str | None = None
    models: list[str] = []
    with open(path, "wb") as out, open(f"{path}.checkpoints", "wb") as cps:
        for seq in range(1, n + 1):
            body, model = _body(seq, prev)
            raw = _fast_canonical(body)
            if seq <= 100:
                assert raw == canonical(body), "fast path differs from RFC 8785"
            prev = hashlib.sha256(raw).hexdigest()
            out.write(b'{"entry":' + raw + b',"entry_hash":"' + prev.encode() + b'"}\n')
            if seq % 100 == 0 or seq == 1:
                cps.write(
                    make_checkpoint(seq, prev, ts="2026-01-01T00:00:00+00:00", signer=signer)
                    + b"\n"
                )
            if not models or models[-1] != model:
                models.append(model)
    return models, time.perf_counter() - started


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="build the ledger in this dir")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    private, public = write_ec_key_pair(folder / "keys", "checkpoint")
    path = folder / "ledger.jsonl"
    for stale in (path, Path(f"{path}.checkpoints"), Path(f"{path}.index")):
        stale.unlink(missing_ok=True)
    models, build_s = build(path, args.entries, str(private))
    size_mb = path.stat().st_size / 1e6
    print(f"ledger: {args.entries} entries, {size_mb:.1f} MB, built in {build_s:.1f} s ({folder})")

    storage = Storage()
    rng = random.Random(7)
    first_s, found = _timed(lineage, str(path), models[len(models) // 2], storage=storage)
    assert [e["gate"] for e in found] == list(GATES[1:]), found
    print(f"lineage, no index yet (byte scan):  {first_s * 1000:8.1f} ms")

    fd = os.open(path, os.O_RDONLY)
    try:
        with LocalIndex(Path(f"{path}.index")) as index:
            index_s, _ = _timed(index.sync, fd)
    finally:
        os.close(fd)
    print(
        f"index rebuild (appends keep it current; rebuilt by the next append when lost): "
        f"{index_s:.1f} s"
    )

    sample = rng.sample(models, min(args.queries, len(models)))
    times = []
    for model in sample:
        elapsed, found = _timed(lineage, str(path), model, storage=storage)
        assert len(found) == 4 and all(e["intact"] for e in found)
        times.append(elapsed)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"warm lineage, {len(times)} digests:    median {statistics.median(times) * 1000:.2f} ms, "
        f"p95 {p95 * 1000:.2f} ms, max {times[-1] * 1000:.2f} ms"
    )

    code = (
        "import sys, time; t = time.perf_counter(); "
        "from mlsec_gates.ledger import lineage; from mlsec_gates.storage import Storage; "
        f"n = len(lineage({str(path)!r}, {models[-2]!r}, storage=Storage())); "
        "print(n, time.perf_counter() - t)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    count, inside = out.stdout.split()
    print(
        f"fresh process, lineage once:        {wall * 1000:8.1f} ms wall "
        f"({float(inside) * 1000:.1f} ms imports + query, {count} entries)"
    )

    data = path.read_bytes()
    scan_times = []
    for model in sample[:10]:
        elapsed, found = _timed(scan_for_digest, data, model)
        assert len(found) == 4
        scan_times.append(elapsed)
    print(
        f"byte scan alone, file in memory:    median {statistics.median(scan_times) * 1000:.1f} ms"
    )

    verify_s, report = _timed(verify_ledger, str(path), storage=storage, public_key=str(public))
    assert report.ok, report.problems[:3]
    print(
        f"verify_ledger:                      {verify_s:.2f} s, "
        f"{report.entries / verify_s:,.0f} entries/s, {report.checkpoints} checkpoints"
    )

    policy = LedgerPolicy(uri=str(path), checkpoint_every=100, checkpoint_key=str(private))
    append_times = []
    at = time.time()
    for i in range(50):
        from datetime import datetime, timezone

        now = datetime.fromtimestamp(at, timezone.utc)
        result = GateResult(
            gate="scan",
            status=Status.PASS,
            summary="bench",
            findings=(),
            subjects=(Subject(path=f"bench-{i}", sha256=_hex(f"bench-{i}")),),
            started_at=now,
            finished_at=now,
        )
        elapsed, _ = _timed(record_result, result, policy=policy, storage=storage)
        append_times.append(elapsed)
    print(
        f"append (fsync) at {args.entries}:    "
        f"median {statistics.median(append_times) * 1000:.2f} ms, "
        f"max {max(append_times) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
