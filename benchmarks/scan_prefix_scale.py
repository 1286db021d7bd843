"""Scan of an S3 prefix with 10,000 objects on the loopback S3 server: 1, 4 and 16 workers.

``python benchmarks/scan_prefix_scale.py [--objects 10000]`` starts moto's S3 server in its
own process (so it does not share the scanner's GIL; ``_moto_counted.py``: moto's app,
counting the requests it serves), uploads the objects once (small pickles of plain
containers, one planted ``os.system`` pickle), then runs the scan gate on the prefix with
``gates.scan.workers`` 1, 4 and 16 (verdict cache off), and the fan-out: 4 shards scanned by
4 processes (as 4 mapped tasks would), merged into one verdict. Prints objects/s, wall time,
the CPU time of the gate (client) and of the S3 server, the requests the server served per
object, the verdicts and the load of the machine (mean of the run).

Every row is checked: it must cover every object and block exactly the planted one (the
fan-out: one merged ``fail``), and the server must still be up. A wrong or missing row
(an error, a dead server) makes the run exit 1 after the rows it has; a complete run ends
with a ``complete:`` line. Read the exit status of the script itself: ``python ... | head``
or ``| tail`` reports the pipe's status, so a run killed by a broken pipe or a signal
looks like a success there (``set -o pipefail``).

Where the time goes (one small object, 1 worker): one GET (the listing gave the size, so
no HEAD), the botocore call (~2-3 ms of Python), the scan (~1 ms), and the server's work
(moto: a new TCP connection and thread per request, since werkzeug closes every connection,
and its request dispatch). The client and the server each need CPU per object, and with 1
worker every round trip waits for the server to be scheduled: on busy cores that wait, not
the work, sets the rate. Threads overlap the waits; the client's Python work holds the GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._moto_counted import COUNTS_PATH
from benchmarks._proctree import Watch, server_cpu

MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."


class RowError(Exception):
    """A row that did not measure what it should (missing objects, wrong verdict)."""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Run:
    """Wall time, CPU of the whole tree (gate, fan-out workers, server) and of the server."""

    def __init__(self, server: subprocess.Popen[bytes], endpoint: str) -> None:
        self.server, self.endpoint = server, endpoint
        self.server0 = server_cpu(server.pid)
        self.requests0 = _requests(endpoint)
        self.watch = Watch(os.getpid())
        self.t0 = time.monotonic()

    def done(self, objects: int) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        usage = self.watch.stop()
        if self.server.poll() is not None:
            raise RowError(f"the S3 server exited (status {self.server.returncode}) during the row")
        server = server_cpu(self.server.pid) - self.server0
        requests = _requests(self.endpoint)
        return {
            "objects": objects,
            "wall": wall,
            "rate": objects / wall,
            "gate_cpu": usage["cpu_s"] - server,
            "server_cpu": server,
            "load": usage["load_mean"],
            "requests": {k: n - self.requests0.get(k, 0) for k, n in requests.items()},
        }


def _requests(endpoint: str) -> dict[str, int]:
    """What the server served so far, by kind (see ``_moto_counted.py``)."""
    with urllib.request.urlopen(endpoint + COUNTS_PATH, timeout=30) as answer:
        return {str(k): int(v) for k, v in json.loads(answer.read()).items()}


def _line(what: str, r: dict[str, Any]) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(r["requests"].items()) if n)
    total = sum(r["requests"].values())
    return (
        f"{what:30s} {r['objects']:6.0f} objects {r['wall']:7.1f} s = {r['rate']:6.1f} "
        f"objects/s | cpu gate {r['gate_cpu']:6.1f} s + server {r['server_cpu']:6.1f} s "
        f"= {(r['gate_cpu'] + r['server_cpu']) / r['objects'] * 1000:5.1f} ms/object | "
        f"requests {total / r['objects']:.2f}/object ({kinds}) | load {r['load']:.1f}"
    )


def _shard(args: tuple[list[dict[str, Any]], str, str]) -> str:
    shard, endpoint, out = args
    from mlsec_gates.gates.scan import scan_gate
    from mlsec_gates.storage import S3Options

    result = scan_gate(
        shard,
        policy="gates: {scan: {cache: false, workers: 4}}",
        s3=S3Options(endpoint_url=endpoint),
        on_fail="warn",
        report_dir=out,
    )
    return result.reports["json"]


def _check(what: str, result: Any, *, objects: int, planted: str) -> None:
    """Raise :class:`RowError` unless ``result`` covers every object and blocks ``planted``."""
    blocked = [s.path for s in result.subjects if s.verdict != "pass"]
    if len(result.subjects) != objects or blocked != [planted]:
        raise RowError(
            f"{what}: {len(result.subjects)} of {objects} objects, not passed: {blocked[:5]} "
            f"(expected exactly {planted}), status {result.status.value}: {result.summary}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--no-fan-out", dest="fan_out", action="store_false")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _port()
    log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_moto_counted.py")), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wanted = [f"scan, {w} worker(s)" for w in args.workers]
    wanted += ["fan-out, 4 shards x 4 threads"] if args.fan_out else []
    rows: dict[str, dict[str, Any]] = {}
    streams = sys.stdout, sys.stderr
    try:
        import boto3

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="zoo")
        keys = [f"models/m{i:05d}.pkl" for i in range(args.objects)]
        bodies = [pickle.dumps({"layer": i, "w": [0.5] * 8}, protocol=4) for i in range(len(keys))]
        bodies[len(keys) // 2] = MALICIOUS
        planted = f"s3://zoo/{keys[len(keys) // 2]}"
        run = _Run(server, endpoint)
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda kb: client.put_object(Bucket="zoo", Key=kb[0], Body=kb[1]),
                    zip(keys, bodies, strict=True),
                )
            )
        print(_line("upload, 16 threads", run.done(len(keys))), flush=True)
        from mlsec_gates.gates.scan import scan_gate
        from mlsec_gates.gates.scan.fanout import merge_scan_reports, plan_shards
        from mlsec_gates.storage import S3Options, Storage

        s3 = S3Options(endpoint_url=endpoint)
        prefix = "s3://zoo/models/"
        with tempfile.TemporaryDirectory() as tmp:
            for workers, what in zip(args.workers, wanted, strict=False):
                run = _Run(server, endpoint)
                result = scan_gate(
                    [prefix],
                    policy=f"gates: {{scan: {{cache: false, workers: {workers}}}}}",
                    s3=s3,
                    on_fail="warn",
                    report_dir=f"{tmp}/w{workers}",
                )
                row = run.done(len(result.subjects))
                _check(what, result, objects=len(keys), planted=planted)
                rows[what] = row
                print(f"{_line(what, row)} | blocked {planted}", flush=True)
            if args.fan_out:
                what = wanted[-1]
                run = _Run(server, endpoint)
                shards = plan_shards([prefix], shards=4, storage=Storage(s3))
                with ProcessPoolExecutor(4) as pool:
                    reports = list(
                        pool.map(
                            _shard, [(s, endpoint, f"{tmp}/s{i}") for i, s in enumerate(shards)]
                        )
                    )
                merged = merge_scan_reports(reports, planned=shards, s3=s3, report_dir=f"{tmp}/m")
                row = run.done(len(merged.subjects))
                _check(what, merged, objects=len(keys), planted=planted)
                if merged.status.value != "fail":
                    raise RowError(f"{what}: merged status {merged.status.value}, not fail")
                rows[what] = row
                print(f"{_line(what, row)} | merged status fail", flush=True)
    except RowError as exc:
        print(f"error: {exc}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
        log.close()
        if server.returncode not in (0, -15):
            print(f"the S3 server exited with {server.returncode}; its log: {log.name}")
        else:
            os.unlink(log.name)
    rates = {what: r["rate"] for what, r in rows.items()}
    if wanted[0] in rates and len(rates) > 1:
        base = rates[wanted[0]]
        print(
            f"speed-up vs {wanted[0]}: "
            + ", ".join(f"{w}: {rate / base:.2f}x" for w, rate in rates.items() if w != wanted[0])
        )
    if (sys.stdout, sys.stderr) != streams:
        # What the run printed went somewhere else (the scan's fickling silencing once left
        # sys.stdout on a thread's sink: rows vanished and the run exited 0).
        print("error: sys.stdout/sys.stderr were replaced during the run", file=sys.__stderr__)
        return 1
    missing = [what for what in wanted if what not in rows]
    if missing:
        print(f"error: no result for {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"complete: {len(rows)} of {len(wanted)} rows, each blocked exactly {planted}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
