"""Scan of an S3 prefix with 10,000 objects on the loopback S3 server: 1, 4 and 16 workers.

``python benchmarks/scan_prefix_scale.py [--objects 10000]`` starts moto's S3 server in its
own process (so it does not share the scanner's GIL), uploads the objects once (small
pickles of plain containers, one planted ``os.system`` pickle), then runs the scan gate on
the prefix with ``gates.scan.workers`` 1, 4 and 16 (verdict cache off), and the fan-out:
4 shards scanned by 4 processes (as 4 mapped tasks would), merged into one verdict. Prints
objects/s, wall and CPU time per run, the verdicts (each must block exactly the planted
object) and the load of the machine.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MALICIOUS = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


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
        start = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda kb: client.put_object(Bucket="zoo", Key=kb[0], Body=kb[1]),
                    zip(keys, bodies, strict=True),
                )
            )
        print(f"uploaded {len(keys)} objects in {time.monotonic() - start:.1f} s", flush=True)
        from mlsec_gates.gates.scan import scan_gate
        from mlsec_gates.gates.scan.fanout import merge_scan_reports, plan_shards
        from mlsec_gates.storage import S3Options, Storage

        s3 = S3Options(endpoint_url=endpoint)
        prefix = "s3://zoo/models/"
        rates = {}
        with tempfile.TemporaryDirectory() as tmp:
            for workers in (1, 4, 16):
                load, cpu0, t0 = os.getloadavg()[0], _cpu(), time.monotonic()
                result = scan_gate(
                    [prefix],
                    policy=f"gates: {{scan: {{cache: false, workers: {workers}}}}}",
                    s3=s3,
                    on_fail="warn",
                    report_dir=f"{tmp}/w{workers}",
                )
                wall, cpu = time.monotonic() - t0, _cpu() - cpu0
                rates[workers] = len(result.subjects) / wall
                blocked = [s.path for s in result.subjects if s.verdict == "block"]
                print(
                    f"workers {workers:2d}: {len(result.subjects)} objects in {wall:6.1f} s "
                    f"= {rates[workers]:6.1f} objects/s, cpu {cpu:6.1f} s, blocked {blocked}, "
                    f"load {load:.1f}",
                    flush=True,
                )
            load, cpu0, t0 = os.getloadavg()[0], _cpu(), time.monotonic()
            shards = plan_shards([prefix], shards=4, storage=Storage(s3))
            with ProcessPoolExecutor(4) as pool:
                reports = list(
                    pool.map(_shard, [(s, endpoint, f"{tmp}/s{i}") for i, s in enumerate(shards)])
                )
            merged = merge_scan_reports(reports, planned=shards, s3=s3, report_dir=f"{tmp}/m")
            wall, cpu = time.monotonic() - t0, _cpu() - cpu0
            print(
                f"fan-out 4 shards x 4 threads: {len(merged.subjects)} objects in {wall:6.1f} s "
                f"= {len(merged.subjects) / wall:6.1f} objects/s, cpu {cpu:6.1f} s, "
                f"status {merged.status.value}, load {load:.1f}"
            )
        print(
            "speed-up vs 1 worker: "
            + ", ".join(f"{w}: {rates[w] / rates[1]:.2f}x" for w in (4, 16))
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
