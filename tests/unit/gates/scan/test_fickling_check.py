"""The fickling cross-check: a second parser whose extra imports block the file."""

from __future__ import annotations

import io
import pickle
import sys
import threading

import pytest

from mlsec_gates.gates.scan import engine
from mlsec_gates.gates.scan.fickling_check import fickling_imports
from mlsec_gates.gates.scan.pickle_analysis import PickleReport
from tests.fixtures import pickles as fx


def test_fickling_sees_imports_of_every_stream() -> None:
    view = fickling_imports(fx.payload_after_benign(), max_opcodes=1_000_000)
    assert ("os", "system") in view.imports
    assert view.streams == 2


def test_fickling_resolves_memo_stack_global() -> None:
    view = fickling_imports(fx.os_system_p4_memo(), max_opcodes=1_000_000)
    assert ("os", "system") in view.imports


def test_fickling_reads_nothing_from_random_bytes() -> None:
    assert fickling_imports(fx.random_bytes(), max_opcodes=1_000_000).imports == frozenset()


def test_import_missed_by_the_walker_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate a walker bug (it reports nothing): the differential alone must block."""

    def blind_walker(buf: object, start: int, end: int, **_: object) -> PickleReport:
        report = PickleReport()
        report.end = end
        return report

    monkeypatch.setattr(engine, "analyse_region", blind_walker)
    verdict = engine.scan_file(io.BytesIO(fx.os_system_p0()), uri="m.pkl")
    assert verdict.verdict == "block"
    [finding] = [f for f in verdict.findings if f.rule_id == "scan.pickle.parser-differential"]
    assert finding.evidence["global"] == "os.system"


def test_agreeing_readers_add_nothing() -> None:
    verdict = engine.scan_file(io.BytesIO(fx.sklearn_pickle()), uri="m.pkl")
    assert verdict.verdict == "pass", verdict.findings
    assert not [f for f in verdict.findings if f.rule_id == "scan.pickle.parser-differential"]


def test_threads_reading_at_once_leave_stdout_and_stderr_as_they_were() -> None:
    """fickling's warnings are silenced per thread: with ``gates.scan.workers`` > 1, swapping
    the process-wide ``sys.stdout`` in each thread left it on one thread's sink, and every
    later print of the process (a CLI's summary, a benchmark's rows) vanished, exit 0."""
    data = pickle.dumps({"w": [1.0] * 64}, protocol=2) * 3
    before = sys.stdout, sys.stderr
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        for _ in range(150):
            fickling_imports(data, max_opcodes=100_000)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (sys.stdout, sys.stderr) == before
