"""Written files follow the umask, like ``open()`` (issue 13, item 20).

``mkstemp`` creates 0600 files and the atomic rename kept that mode, so a deploy job or the
Airflow API server running as another user could not read reports, the BOM or the ``.sig``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlsec_gates.storage import Storage
from tests.fixtures import pickles as fx
from tests.fixtures.signing_keys import write_ec_key_pair


@pytest.fixture()
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.pkl").write_bytes(fx.benign_dict_pickle())
    return folder


@pytest.mark.usefixtures("umask_022")
def test_signature_bom_and_reports_are_0644_under_umask_022(tmp_path: Path, model: Path) -> None:
    from mlsec_gates.gates.sbom import sbom_gate
    from mlsec_gates.gates.sign import sign_gate

    private, _ = write_ec_key_pair(tmp_path / "keys")
    signed = sign_gate(
        str(model), key=str(private), out=str(tmp_path / "m.sig"), report_dir=str(tmp_path / "s")
    )
    bom = sbom_gate(str(model), out=str(tmp_path / "m.cdx.json"), report_dir=str(tmp_path / "b"))
    written = [tmp_path / "m.sig", tmp_path / "m.cdx.json"]
    written += [Path(p) for p in (*signed.reports.values(), *bom.reports.values())]
    modes = {str(p): p.stat().st_mode & 0o777 for p in written if p.is_file()}
    assert modes and set(modes.values()) == {0o644}, modes


def test_a_stricter_umask_is_kept(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        Storage().write_bytes(str(tmp_path / "private.json"), b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
