"""The chain's train hook: run a training command whose output directory is the model.

Example:
    >>> from mlsec_gates.chain.train import train_gate
    >>> result = train_gate(["python", "train.py", "--out", "{model_dir}"],
    ...                     model_dir="build/model")  # doctest: +SKIP
    >>> result.status, result.metrics["files"]  # doctest: +SKIP
    (<Status.PASS: 'pass'>, 1)

The hook is not a security check: it records what was trained (every output file's SHA-256,
the command, its exit status) so the combined report and the ledger show which bytes the
later gates scanned and signed. A command that fails, times out or leaves no file is an
``error``: the chain stops, since nothing after it would have a model to check.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlsec_gates.chain import rules
from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import now, run_and_report, tool_versions
from mlsec_gates.policy import Policy
from mlsec_gates.result import Finding, GateResult, Location, Status, Subject
from mlsec_gates.storage import S3Options, Storage, sha256_of

GATE = "train"

#: Characters of the command's output kept in a finding (the end, where errors are).
_OUTPUT_TAIL = 2000


def train_gate(
    command: Sequence[str],
    *,
    model_dir: str,
    timeout_seconds: int = 3600,
    env: Mapping[str, str] | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
) -> GateResult:
    """Run the training command, then write the reports (and the ledger entry).

    Returns:
        ``pass`` with one subject per file of ``model_dir``; ``error`` when the command
        fails, times out, cannot start, or leaves ``model_dir`` empty.

    Raises:
        ConfigError: an empty command, or a ``model_dir`` in S3 (a local command writes it).
        StorageError: the reports or the ledger could not be written.
    """
    return run_and_report(
        GATE,
        lambda loaded, _storage: run_train(
            command, model_dir=model_dir, timeout_seconds=timeout_seconds, env=env, policy=loaded
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=None,
        json_out=json_out,
        run_context=run_context,
    )


def run_train(
    command: Sequence[str],
    *,
    model_dir: str,
    timeout_seconds: int = 3600,
    env: Mapping[str, str] | None = None,
    policy: Policy | None = None,
) -> GateResult:
    """Run the command and list what it wrote, without writing reports (see :func:`train_gate`).

    Raises:
        ConfigError: an empty command, or a ``model_dir`` in S3.
    """
    if not command or isinstance(command, str):
        raise ConfigError("train command must be a non-empty list of arguments (no shell)")
    if Storage.is_remote(model_dir):
        raise ConfigError(f"{model_dir}: the train hook writes a local model_dir, not S3")
    started = now()
    argv = [arg.replace("{model_dir}", model_dir) for arg in command]
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    run_env = {**os.environ, **(env or {}), "MLSEC_MODEL_DIR": model_dir}
    where = Location(uri=model_dir, detail="train command")
    clock = time.monotonic()
    findings: list[Finding] = []
    exit_code: int | None = None
    try:
        done = subprocess.run(
            argv,
            env=run_env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_seconds,
            check=False,
        )
        exit_code = done.returncode
        if exit_code != 0:
            findings.append(
                rules.TrainCommandFailed.finding(
                    f"train command exited with status {exit_code}",
                    where,
                    {"command": argv, "exit_code": exit_code, "output": _tail(done)},
                    identity="exit",
                )
            )
    except subprocess.TimeoutExpired:
        findings.append(
            rules.TrainCommandFailed.finding(
                f"train command still running after {timeout_seconds} s: stopped",
                where,
                {"command": argv, "timeout_seconds": timeout_seconds},
                identity="timeout",
            )
        )
    except OSError as exc:
        findings.append(
            rules.TrainCommandFailed.finding(
                f"train command could not start: {exc.strerror or exc}",
                where,
                {"command": argv},
                identity="start",
            )
        )
    seconds = round(time.monotonic() - clock, 3)
    subjects = _outputs(model_dir) if not findings else []
    if not findings and not subjects:
        findings.append(
            rules.TrainNoModel.finding(
                f"train command left no file in {model_dir}", where, {"command": argv}
            )
        )
    status = Status.ERROR if findings else Status.PASS
    summary = (
        f"Trained: {len(subjects)} file(s) in {model_dir} ({seconds} s)."
        if status is Status.PASS
        else f"Training did not produce a model: {findings[0].message}."
    )
    return GateResult(
        gate=GATE,
        status=status,
        summary=summary,
        findings=tuple(findings),
        subjects=tuple(subjects),
        started_at=started,
        finished_at=now(),
        metrics={
            "files": len(subjects),
            "bytes": sum(s.size or 0 for s in subjects),
            "seconds": seconds,
            **({"exit_code": exit_code} if exit_code is not None else {}),
        },
        tool_versions=tool_versions(),
        policy={
            "source": (policy or Policy()).source,
            "sources": list((policy or Policy()).sources),
            "gate": GATE,
            "timeout_seconds": timeout_seconds,
        },
        details={"command": argv, "model_dir": model_dir},
    )


def _outputs(model_dir: str) -> list[Subject]:
    """Every file the command left in the model directory, with its SHA-256."""
    storage = Storage()
    subjects = []
    for path in storage.list_files(model_dir):
        with storage.open_read(path) as fh:
            digest, size = sha256_of(fh)
        subjects.append(Subject(path=path, sha256=digest, size=size, verdict="produced"))
    return subjects


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    output = ((done.stdout or "") + (done.stderr or "")).strip()
    return output[-_OUTPUT_TAIL:]
