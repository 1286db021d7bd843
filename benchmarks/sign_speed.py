"""Time our sign and verify against OpenSSF model-signing (Python API) on the same model.

Usage: python benchmarks/sign_speed.py [--size-mb N] [--repeat K] [--keep DIR]

Generates a model in a temp dir: one big random ``model.safetensors`` (N MB, default 500) and
a few small files (5 shards of 100-500 kB, config, tokenizer, README) plus a P-256 key pair.
Then, in one process with a warm page cache, runs K rounds, interleaving the sides so that
background load hits all alike:

* ``model_signing`` 1.1.1: ``signing.Config().use_elliptic_key_signer(...).sign(...)`` and
  ``verifying.Config().use_elliptic_key_verifier(...).verify(...)`` (files, SHA-256);
* ours, library: ``run_sign`` / ``run_verify`` (same hashing, no reports);
* ours, gate: ``sign_gate`` / ``verify_gate`` end to end (JSON/Markdown/HTML reports too);
* ``openssl dgst -sha256`` over the same files: the physical-limit yardstick.

Prints the medians, throughput in MB/s and our speed relative to model_signing (goal >= 1.0x).
Both signatures are cross-checked: each side verifies the other's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_model(root: Path, size_mb: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    big = root / "model.safetensors"
    with open(big, "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(1_000_000))
    for i, kb in enumerate((100, 200, 300, 400, 500), start=1):
        (root / "sub" / f"shard_{i}.bin").write_bytes(os.urandom(kb * 1000))
    (root / "config.json").write_text('{"model_type": "bert", "hidden_size": 768}\n')
    (root / "tokenizer.txt").write_text("\n".join(f"tok{i}" for i in range(5000)))
    (root / "README.md").write_text("# bench model\n")
    return sorted(p for p in root.rglob("*") if p.is_file())


def make_keys(folder: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "key.pem", folder / "key.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="work in this dir, keep it")
    args = parser.parse_args()

    from model_signing import hashing, signing, verifying

    from mlsec_gates.gates.sign import run_sign, run_verify, sign_gate, verify_gate
    from mlsec_gates.result import Status

    with tempfile.TemporaryDirectory(prefix="sign-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        model = work / "model"
        files = make_model(model, args.size_mb)
        total = sum(p.stat().st_size for p in files)
        private, public = make_keys(work)
        theirs_sig, ours_sig = work / "theirs.sig", work / "ours.sig"
        print(
            f"model: {len(files)} files, {total / 1e6:.1f} MB; CPUs: {os.cpu_count()}; "
            f"python {sys.version.split()[0]}",
            flush=True,
        )

        def theirs_sign() -> None:
            signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(
                hashing.Config().use_file_serialization(hashing_algorithm="sha256")
            ).sign(model, theirs_sig)

        def theirs_verify() -> None:
            verifying.Config().use_elliptic_key_verifier(public_key=public).verify(
                model, theirs_sig
            )

        def ours_sign() -> None:
            r = run_sign(str(model), key=str(private), out=str(ours_sig))
            assert r.status == Status.PASS, r.summary

        def ours_verify() -> None:
            r = run_verify(str(model), signature=str(ours_sig), public_key=str(public))
            assert r.status == Status.PASS, r.summary

        def gate_sign() -> None:
            r = sign_gate(
                str(model), key=str(private), out=str(ours_sig), report_dir=str(work / "r1")
            )
            assert r.status == Status.PASS, r.summary

        def gate_verify() -> None:
            r = verify_gate(
                str(model),
                signature=str(ours_sig),
                public_key=str(public),
                report_dir=str(work / "r2"),
            )
            assert r.status == Status.PASS, r.summary

        def openssl() -> None:
            subprocess.run(
                ["openssl", "dgst", "-sha256", *map(str, files)],
                check=True,
                stdout=subprocess.DEVNULL,
            )

        sides: dict[str, Callable[[], None]] = {
            "openssl dgst -sha256": openssl,
            "model_signing sign": theirs_sign,
            "ours sign (run_sign)": ours_sign,
            "ours sign (sign_gate)": gate_sign,
            "model_signing verify": theirs_verify,
            "ours verify (run_verify)": ours_verify,
            "ours verify (verify_gate)": gate_verify,
        }
        for fn in sides.values():  # warm the page cache and the imports
            fn()
        # cross-check: each side accepts the other's signature
        run = run_verify(str(model), signature=str(theirs_sig), public_key=str(public))
        assert run.status == Status.PASS, run.summary
        verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, ours_sig)

        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.repeat):
            for name, fn in sides.items():
                times[name].append(timed(fn))

        print(f"\n{'operation':28s} {'median s':>9s} {'min s':>7s} {'MB/s':>7s}")
        med = {name: statistics.median(t) for name, t in times.items()}
        for name, t in times.items():
            print(f"{name:28s} {med[name]:9.3f} {min(t):7.3f} {total / 1e6 / med[name]:7.0f}")
        print()
        for op, theirs, ours in (
            ("sign", "model_signing sign", "ours sign (run_sign)"),
            ("sign gate", "model_signing sign", "ours sign (sign_gate)"),
            ("verify", "model_signing verify", "ours verify (run_verify)"),
            ("verify gate", "model_signing verify", "ours verify (verify_gate)"),
        ):
            print(f"{op:12s} ours is {med[theirs] / med[ours]:.2f}x model_signing's speed")
        print(
            f"{'openssl':12s} ours sign at {med['openssl dgst -sha256'] / med[ours]:.2f}x "
            "openssl dgst -sha256's speed"
        )


if __name__ == "__main__":
    main()
