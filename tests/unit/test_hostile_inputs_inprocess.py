"""In-process regressions of issue 13 items 8, 10, 11 and 16 (the CLI side is in
tests/hostile/test_hostile_cli.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.storage import Storage, resolve_path


def test_a_fifo_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Item 10: a FIFO as data, suite, batch, policy or signature hung forever."""
    fifo = tmp_path / "batch.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError, match="FIFO") as info, Storage().open_read(str(fifo)):
        pass
    assert time.monotonic() - started < 5
    assert "\n" not in info.value.diagnostics()
    with pytest.raises(InputError, match="FIFO"):
        Storage().read_text(str(fifo))


def test_links_and_nul_bytes_are_one_line_input_errors(tmp_path: Path) -> None:
    """Item 11: a symbolic link loop gave a RuntimeError traceback (Path.resolve)."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="symbolic link loop"):
        resolve_path(loop)
    with pytest.raises(InputError, match="symbolic link loop"), Storage().open_read(str(loop)):
        pass
    with pytest.raises(InputError), Storage().open_read(str(tmp_path / "a\x00b")):
        pass


def test_sign_and_verify_on_a_loop_are_one_line_errors(tmp_path: Path) -> None:
    from mlsec_gates.gates.sign import sign_gate
    from tests.fixtures.signing_keys import write_ec_key_pair

    loop = tmp_path / "model"
    loop.symlink_to(loop)
    private, _ = write_ec_key_pair(tmp_path / "keys")
    with pytest.raises(InputError, match="symbolic link"):
        sign_gate(str(loop), key=str(private), report_dir=str(tmp_path / "r"))


def test_report_folder_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    """Item 8: a non-UTF-8 report dir crashed the writers."""
    from mlsec_gates.gates.scan import scan_gate
    from tests.fixtures import pickles as fx

    (tmp_path / "m.pkl").write_bytes(fx.benign_dict_pickle())
    odd = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"rep\xffort"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        scan_gate([str(tmp_path / "m.pkl")], report_dir=odd)


def test_drift_summary_names_the_finding_that_failed_the_gate() -> None:
    """Item 16: a drifted column (not failing under fail_on: dataset) was named instead of
    the label-distribution shift that failed the gate. The summary is now the digest's
    headline (every engine): the poisoning alarm comes first, the drift after it."""
    from mlsec_gates.gates.drift import digest

    text = digest.headline_for(
        rows=100, drifted=["age"], columns=4, suspects=0, kinds={}, alarm=True, share=0.5
    )
    assert text.startswith("The labels of these 100 rows do not look like the reference's")
    assert text.endswith("1 of 4 columns drifted (age), under the 50% dataset-drift share.")
