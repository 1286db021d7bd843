"""Wall time, CPU time and peak memory of a whole process tree, read from /proc.

The scale benchmarks run each scenario in a child process and watch every descendant: the
local-mode Spark JVM is a grandchild (the Python driver starts it), so ``getrusage`` of the
waited-for child misses it. ``ru_maxrss`` of a child is no better: Linux carries the parent's
peak across ``fork``/``execve`` into it, so a benchmark parent that once held a big batch
makes every child look that big (the 2,145 MB "peak" of a 10M-row PostgreSQL validation was
the parent's own data load).

Sampled every 0.2 s: resident memory of the tree (and split into the JVM and the Python
processes), CPU seconds of each process (user + system; a process's last 0.2 s before it
exits may be missed), and the 1-minute load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _processes() -> dict[int, tuple[int, str, int, float, float]]:
    """Every process: pid -> (parent pid, command name, resident bytes, CPU seconds, CPU
    seconds of its children that it waited for)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        try:
            ppid, pages = int(fields[1]), int(fields[21])
            cpu = (int(fields[11]) + int(fields[12])) / _TICK
            waited = (int(fields[13]) + int(fields[14])) / _TICK
        except (IndexError, ValueError):
            continue
        out[int(entry)] = (ppid, name, pages * _PAGE, cpu, waited)
    return out


def tree(pid: int) -> dict[int, tuple[str, int, float, float]]:
    """``pid`` and its descendants: pid -> (name, resident bytes, CPU s, waited-for CPU s)."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for child, (ppid, *_rest) in procs.items():
        children.setdefault(ppid, []).append(child)
    found, stack = {}, [pid]
    while stack:
        p = stack.pop()
        if p in procs:
            _ppid, *rest = procs[p]
            found[p] = tuple(rest)  # type: ignore[assignment]
        stack.extend(children.get(p, []))
    return found


class Watch:
    """Samples a process tree in a thread until :meth:`stop`; peaks and CPU per process."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = {"total": 0, "jvm": 0, "python": 0, "other": 0}
        self.cpu: dict[int, float] = {}
        self.base = {p: cpu for p, (_n, _r, cpu, _w) in tree(pid).items()}
        """CPU seconds each process had already used when the watch began."""
        self.loads: list[float] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def sample(self) -> None:
        rss = {"total": 0, "jvm": 0, "python": 0, "other": 0}
        for p, (name, resident, cpu, _waited) in tree(self.pid).items():
            role = "jvm" if name == "java" else "python" if name.startswith("python") else "other"
            rss[role] += resident
            rss["total"] += resident
            self.cpu[p] = max(self.cpu.get(p, 0.0), cpu)
        for key, value in rss.items():
            self.peak[key] = max(self.peak[key], value)
        self.loads.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._done.set()
        self._thread.join()
        loads = self.loads or [os.getloadavg()[0]]
        return {
            "cpu_s": round(sum(c - self.base.get(p, 0.0) for p, c in self.cpu.items()), 1),
            "peak_mb": round(self.peak["total"] / 1e6),
            "peak_jvm_mb": round(self.peak["jvm"] / 1e6),
            "peak_python_mb": round(self.peak["python"] / 1e6),
            "load_mean": round(sum(loads) / len(loads), 1),
            "load_max": round(max(loads), 1),
        }


def measure(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> dict[str, Any]:
    """Run ``argv``; its wall time, tree CPU and peak RSS, and its last stdout line as JSON.

    The JSON line (when the child printed one and exited 0) is merged into the result.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, text=True, env=dict(env) if env else None, cwd=cwd
    )
    watch = Watch(proc.pid)
    out, _ = proc.communicate()
    usage = watch.stop()
    result: dict[str, Any] = {"wall_s": round(time.monotonic() - start, 1), **usage}
    result["rc"] = proc.returncode
    lines = out.strip().splitlines()
    if proc.returncode == 0 and lines:
        try:
            result.update(json.loads(lines[-1]))
        except json.JSONDecodeError:
            result["stdout_tail"] = lines[-1][-300:]
    return result


def server_cpu(pid: int) -> float:
    """CPU seconds so far of a server and its workers (exited ones too, once reaped).

    For a server the benchmark talks to (moto, the PostgreSQL postmaster and its backends):
    take it before and after the run.
    """
    return sum(cpu + waited for _name, _rss, cpu, waited in tree(pid).values())
