"""The scan gate never passes an incomplete scan (issue 13: items 1, 2, 7, 8, 16, 17, 23).

Every entry under a scanned folder is scanned or is a finding: a symbolic link to a folder
(not followed), a dangling link, a link loop, a FIFO, a folder that cannot be listed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlsec_gates.errors import InputError
from mlsec_gates.gates.scan import rules, scan_gate
from mlsec_gates.result import Status
from tests.fixtures import pickles as fx
from tests.hostile.privilege import unprivileged_prefix

REPO = Path(__file__).resolve().parents[4]


def _tree(tmp_path: Path) -> Path:
    """A model folder with one clean pickle; an evil folder beside it (not under it)."""
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "weights.pkl").write_bytes(fx.payload_after_benign())
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.pkl").write_bytes(fx.benign_dict_pickle())
    return model


def _cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "mlsec_gates.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )


def test_symlinked_folder_with_a_malicious_pickle_does_not_pass(tmp_path: Path) -> None:
    """Item 1: rglob did not enter the linked folder, and the gate passed."""
    model = _tree(tmp_path)
    (model / "shards").symlink_to(tmp_path / "evil", target_is_directory=True)
    result = scan_gate([str(model)], report_dir=str(tmp_path / "r"))
    assert result.status is Status.FAIL
    linked = [f for f in result.findings if f.rule_id == rules.NotScannableEntry.id]
    assert [f.location.uri for f in linked] == [str(model / "shards")]
    assert "not followed" in linked[0].message


def test_chain_run_scan_step_does_not_pass_a_linked_folder(tmp_path: Path) -> None:
    """Item 1, through ``mlsec-gates run``."""
    model = _tree(tmp_path)
    (model / "shards").symlink_to(tmp_path / "evil", target_is_directory=True)
    policy = tmp_path / "gates.yaml"
    policy.write_text(f"chain:\n  scan: {{targets: [{json.dumps(str(model))}]}}\n")
    done = _cli("run", "--policy", str(policy), "--report-dir", str(tmp_path / "run"), "-q")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_file_link_is_scanned_as_its_target(tmp_path: Path) -> None:
    model = _tree(tmp_path)
    (model / "weights.pkl").symlink_to(tmp_path / "evil" / "weights.pkl")
    result = scan_gate([str(model)], report_dir=str(tmp_path / "r"))
    verdicts = {s.path: s.verdict for s in result.subjects}
    assert verdicts[str(model / "weights.pkl")] == "block"


def test_unreadable_sub_folder_is_a_finding_even_as_root(tmp_path: Path) -> None:
    """Item 2: the listing error was swallowed. As root, the CLI runs under setpriv."""
    model = _tree(tmp_path)
    locked = model / "locked"
    locked.mkdir()
    (locked / "weights.pkl").write_bytes(fx.payload_after_benign())
    locked.chmod(0)
    try:
        done = _cli(
            "scan",
            str(model),
            "--report-dir",
            str(tmp_path / "r"),
            "--json-out",
            str(tmp_path / "scan.json"),
            "-q",
            prefix=unprivileged_prefix(),
        )
    finally:
        locked.chmod(0o755)
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "scan.json").read_text())
    unreadable = [f for f in report["findings"] if f["rule_id"] == rules.UnreadableFile.id]
    assert [f["location"]["uri"] for f in unreadable] == [str(locked)]
    assert "cannot be listed" in unreadable[0]["message"]


@pytest.mark.parametrize("kind", ["fifo", "dangling", "loop"])
def test_fifo_dangling_link_and_loop_in_a_folder_are_reported(tmp_path: Path, kind: str) -> None:
    """Item 17: they were skipped without a word (sign/sbom refuse them)."""
    model = _tree(tmp_path)
    entry = model / kind
    if kind == "fifo":
        os.mkfifo(entry)
    elif kind == "dangling":
        entry.symlink_to(tmp_path / "nowhere")
    else:
        entry.symlink_to(entry)
    result = scan_gate([str(model)], report_dir=str(tmp_path / "r"))
    assert result.status is Status.FAIL
    [finding] = [f for f in result.findings if f.rule_id == rules.NotScannableEntry.id]
    assert finding.location.uri == str(entry)
    expected = {"fifo": "FIFO", "dangling": "dangling", "loop": "loop"}[kind]
    assert expected in finding.message


def test_a_symlink_loop_target_says_loop_not_missing(tmp_path: Path) -> None:
    """Item 17: a loop given as the target said 'no such file or directory'."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="symbolic link loop"):
        scan_gate([str(loop)], report_dir=str(tmp_path / "r"))
    done = _cli("scan", str(loop), "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "symbolic link loop" in done.stderr


def test_non_utf8_file_name_is_scanned_and_reported(tmp_path: Path) -> None:
    """Item 8: render_html(...).encode() crashed with a traceback and exit 1."""
    model = tmp_path.joinpath("model")
    model.mkdir()
    bad = os.path.join(os.fsencode(model), b"w\xffeights.pkl")
    with open(bad, "wb") as out:
        out.write(fx.payload_after_benign())
    done = _cli("scan", str(model), "--report-dir", str(tmp_path / "r"), "-q")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads((tmp_path / "r" / "scan-report.json").read_text(encoding="utf-8"))
    assert [s["path"] for s in report["subjects"]] == [str(model / "w\\xffeights.pkl")]
    assert report["subjects"][0]["verdict"] == "block"


def test_summary_names_the_deciding_finding(tmp_path: Path) -> None:
    """Item 16: 'First:' named a low note while another finding decided the verdict."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "a-clean.pkl").write_bytes(fx.benign_dict_pickle())
    (model / "b-quarantined.bin").write_bytes(b"\x00not a model format at all\x00" * 4)
    (model / "c-blocked.pkl").write_bytes(fx.payload_after_benign())
    result = scan_gate([str(model)], report_dir=str(tmp_path / "r"))
    assert f"First: {model / 'c-blocked.pkl'} BLOCK" in result.summary
    worst = max(
        (f for f in result.findings if f.location.uri == str(model / "c-blocked.pkl")),
        key=lambda f: f.severity,
    )
    assert worst.message in result.summary


def test_sarif_uri_is_percent_encoded(tmp_path: Path) -> None:
    """Item 23: artifactLocation.uri kept '<', '>' and spaces."""
    model = tmp_path / "my model"
    model.mkdir()
    (model / "<evil> name.pkl").write_bytes(fx.payload_after_benign())
    result = scan_gate([str(model)], report_dir=str(tmp_path / "r"))
    sarif = json.loads(Path(result.reports["sarif"]).read_text())
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for run in sarif["runs"]
        for res in run["results"]
        for loc in res["locations"]
    }
    assert uris and all(not set(" <>") & set(uri) for uri in uris)
    assert any("%3Cevil%3E%20name.pkl" in uri for uri in uris)


def test_reports_follow_the_umask(tmp_path: Path) -> None:
    """Item 20: reports were 0600 whatever the umask (mkstemp's mode kept by the rename)."""
    model = _tree(tmp_path)
    old = os.umask(0o022)
    try:
        result = scan_gate([str(model)], report_dir=str(tmp_path / "r"))
    finally:
        os.umask(old)
    for kind in ("json", "html", "markdown", "sarif"):
        assert Path(result.reports[kind]).stat().st_mode & 0o777 == 0o644, kind
