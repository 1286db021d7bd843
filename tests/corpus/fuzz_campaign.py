"""Long local fuzz campaign that keeps going after a failure (hypothesis stops at the first).

Usage: ``python -m tests.corpus.fuzz_campaign [N_PER_READER] [READER ...] [--out DIR]``

Uses the seeds, reference parsers and property of ``test_fuzz_readers`` with a plain
random mutator (flip / truncate / insert / splice / length-field rewrite), counts
executions per reader and saves the first input of each distinct failure (by message
head) to ``--out`` as ``<reader>__<n>.bin`` for triage; confirmed ones are copied into
``tests/corpus/fuzz_regressions/``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

from tests.unit.gates.scan.test_fuzz_readers import LENGTH_FIELDS, SEEDS, check, seed


def mutate(data: bytes, name: str, rng: random.Random) -> bytes:
    """One to four random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        pos = rng.randrange(len(out))
        op = rng.choice(("flip", "truncate", "insert", "splice", "length"))
        if op == "flip":
            out[pos] = rng.randrange(256)
        elif op == "truncate":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == "splice":
            del out[pos : pos + rng.randint(1, 64)]
        else:
            off, width = rng.choice(LENGTH_FIELDS.get(name, ((0, 4),)))
            if off + width <= len(out):
                value = rng.choice([0, 1, 2 ** (8 * width) - 1, rng.getrandbits(8 * width)])
                out[off : off + width] = value.to_bytes(width, "little")
    return bytes(out)


def main(argv: list[str] | None = None) -> int:
    """Run the campaign; print executions and distinct failures per reader."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20_000)
    parser.add_argument("readers", nargs="*", default=sorted(SEEDS))
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    total = 0
    for name in args.readers:
        base = seed(name)
        seen: dict[str, int] = {}
        t0 = time.perf_counter()
        for i in range(args.n):
            data = mutate(base, name, rng) if i % 10 else rng.randbytes(rng.randint(0, 2048))
            try:
                check(data, name if i % 10 else "random")
            except Exception as exc:  # AssertionError from the property or a raise
                head = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
                if head not in seen:
                    seen[head] = i
                    (args.out / f"{name}__{len(seen)}.bin").write_bytes(data)
                    (args.out / f"{name}__{len(seen)}.txt").write_text(
                        head + "\n" + traceback.format_exc()
                    )
        total += args.n
        rate = args.n / (time.perf_counter() - t0)
        print(f"{name:<12} {args.n} execs ({rate:.0f}/s), {len(seen)} distinct failures")
        for head in seen:
            print(f"    {head}")
        sys.stdout.flush()
    print(f"total executions: {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
