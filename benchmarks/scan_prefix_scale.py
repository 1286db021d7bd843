"""Scan of an S3 prefix with 10,000 objects on the loopback S3 server: 1, 4 and 16 workers.

``python benchmarks/scan_prefix_scale.py [--objects 10000]`` starts moto's S3 server in its
own process (so it does not share the scanner's GIL), uploads the objects once (small
pickles of plain containers, one planted ``os.system`` pickle), then runs the scan gate on
the prefix with ``gates.scan.workers`` 1, 4 and 16 (verdict cache off), and the fan-out:
4 shards scanned by 4 processes (as 4 mapped tasks would), merged into one verdict. Prints
objects/s, wall time, the CPU time of the gate (client) and of the S3 server, the verdicts
(each must block exactly the planted object) and the load of the machine (mean of the run).

Where the time goes (one small object, 1 worker): one GET (the listing gave the size, so
no HEAD), the botocore call (~2-3 ms of Python), the scan (~1 ms), and the server's work
(moto: a new TCP connection and thread per request, since werkzeug closes every connection,
and its request dispatch). The client and the server each need CPU per object, and with 1
worker every round trip waits for the server to be scheduled: on busy cores that wait, not
the work, sets the rate. Threads overlap the waits; the client's Python work holds the GIL.
"""

from __future__ import annotations

import argparse
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._proctree import Watch, server_cpu

MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Run:
    """Wall time, CPU of the whole tree (gate, fan-out workers, server) and of the server."""

    def __init__(self, server: int) -> None:
        self.server = server
        self.server0 = server_cpu(server)
        self.watch = Watch(os.getpid())
        self.t0 = time.monotonic()

    def done(self, objects: int) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        usage = self.watch.stop()
        server = server_cpu(self.server) - self.server0
        return {
            "objects": objects,
            "wall": wall,
            "rate": objects / wall,
            "gate_cpu": usage["cpu_s"] - server,
            "server_cpu": server,
            "load": usage["load_mean"],
        }


def _line(what: str, r: dict[str, float]) -> str:
    return (
        f"{what:30s} {r['objects']:6.0f} objects {r['wall']:7.1f} s = {r['rate']:6.1f} "
        f"objects/s | cpu gate {r['gate_cpu']:6.1f} s + server {r['server_cpu']:6.1f} s "
        f"= {(r['gate_cpu'] + r['server_cpu']) / r['objects'] * 1000:5.1f} ms/object | "
        f"load {r['load']:.1f}"
    )


def _shard(args: tuple[list[str], str, str]) -> str:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument("--no-fan-out", dest="fan_out", action="store_false")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
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
        run = _Run(server.pid)
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
        rates = {}
        with tempfile.TemporaryDirectory() as tmp:
            for workers in args.workers:
                run = _Run(server.pid)
                result = scan_gate(
                    [prefix],
                    policy=f"gates: {{scan: {{cache: false, workers: {workers}}}}}",
                    s3=s3,
                    on_fail="warn",
                    report_dir=f"{tmp}/w{workers}",
                )
                r = run.done(len(result.subjects))
                rates[workers] = r["rate"]
                blocked = [s.path for s in result.subjects if s.verdict == "block"]
                print(f"{_line(f'scan, {workers} worker(s)', r)} | blocked {blocked}", flush=True)
            if args.fan_out:
                run = _Run(server.pid)
                shards = plan_shards([prefix], shards=4, storage=Storage(s3))
                with ProcessPoolExecutor(4) as pool:
                    reports = list(
                        pool.map(
                            _shard, [(s, endpoint, f"{tmp}/s{i}") for i, s in enumerate(shards)]
                        )
                    )
                merged = merge_scan_reports(reports, planned=shards, s3=s3, report_dir=f"{tmp}/m")
                r = run.done(len(merged.subjects))
                print(f"{_line('fan-out, 4 shards x 4 threads', r)} | status {merged.status.value}")
        if 1 in rates:
            print(
                "speed-up vs 1 worker: "
                + ", ".join(f"{w}: {rates[w] / rates[1]:.2f}x" for w in rates if w != 1)
            )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
