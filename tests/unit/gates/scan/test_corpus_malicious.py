"""Every generated malicious sample (one or more per checklist item) is stopped by the scan.

The corpus is written by :mod:`tests.corpus.generate` (inert payloads, never loaded). Per
sample the manifest says ``block`` (known code execution: the verdict must be block) or
``not-pass``, plus optionally the global a finding must name and a rule id it must carry.
Items the scanner does not handle yet are strict xfails listed in :data:`NOT_YET`.
"""

from __future__ import annotations

import pytest

from mlsec_gates.gates.scan.engine import FileVerdict
from tests.corpus.malicious import ITEMS, Sample, catalogue
from tests.corpus.session import finding_text, scan_entry, shared_corpus, summary

#: Samples the scanner does not stop yet (strict: they fail loudly once fixed).
NOT_YET: dict[str, str] = {
    "trigger_backdoor.gguf": (
        "a non-stock chat template with a hidden trigger that injects instructions passes "
        "(no diff against pinned upstream templates yet)"
    ),
}

SAMPLES = catalogue()


def _param(sample: Sample) -> object:
    marks = []
    if sample.name in NOT_YET:
        marks.append(pytest.mark.xfail(strict=True, reason=NOT_YET[sample.name]))
    return pytest.param(sample, id=sample.name, marks=marks)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FileVerdict]:
    corpus = shared_corpus(tmp_path_factory)
    return {e["path"].split("/", 1)[1]: scan_entry(corpus, e) for e in corpus.malicious}


@pytest.mark.parametrize("sample", [_param(s) for s in SAMPLES])
def test_malicious_sample_is_stopped(sample: Sample, verdicts: dict[str, FileVerdict]) -> None:
    verdict = verdicts[sample.name]
    if sample.expect == "block":
        assert verdict.verdict == "block", f"{sample.name}: {verdict.verdict}: {summary(verdict)}"
    else:
        assert verdict.verdict != "pass", f"{sample.name} passed: {summary(verdict)}"
    text = finding_text(verdict)
    if sample.payload:
        assert any(p in text for p in sample.payload), (
            f"{sample.name}: none of {sample.payload} named: {summary(verdict)}"
        )
    if sample.rule:
        assert any(f.rule_id.startswith(sample.rule) for f in verdict.findings), (
            f"{sample.name}: no {sample.rule} finding: {summary(verdict)}"
        )


def test_every_checklist_item_has_samples() -> None:
    by_item = {item: [s.name for s in SAMPLES if s.item == item] for item in ITEMS}
    assert all(by_item.values()), [item for item, names in by_item.items() if not names]
    assert {s.item for s in SAMPLES} <= set(ITEMS)
    assert len({s.name for s in SAMPLES}) == len(SAMPLES)


def test_gadget_list_is_covered() -> None:
    """The GHSA / Free-Hugs gadget families of notes §4 (#9-#14) each have a sample."""
    needed = (
        "pip.main",
        "pkgutil.resolve_name",
        "bdb.Bdb",
        "pdb.run",
        "cProfile.run",
        "profile.run",
        "trace.Trace",
        "timeit.timeit",
        "code.InteractiveInterpreter",
        "idlelib.",
        "lib2to3.",
        "doctest.debug_script",
        "ensurepip._run_pip",
        "pydoc.pipepager",
        "pydoc.locate",
        "venv.create",
        "imaplib.IMAP4_stream",
        "uuid._get_command_stdout",
        "_osx_support.",
        "_aix_support.",
        "_pyrepl.pager",
        "test.support.",
        "operator.methodcaller",
        "_operator.attrgetter",
        "functools.partial",
        "ctypes.CDLL",
        "asyncio.",
        "numpy.f2py.",
        "numpy.testing.",
        "torch.utils.collect_env",
        "torch._dynamo.",
        "torch.fx.experimental.symbolic_shapes",
        "torch._inductor.",
        "torch.jit.",
        "torch._config_module",
        "torch.hub.",
        "mlflow.",
        "pandas.read_csv",
        "multiprocessing.util.spawnv_passfds",
        "urllib.request.urlretrieve",
    )
    targets = [p for s in SAMPLES if s.item in ("gadget", "submodule") for p in s.payload]
    missing = [n for n in needed if not any(t.startswith(n) for t in targets)]
    assert not missing
