"""The combined HTML report as a person sees it: rendered by headless Chromium.

``--dump-dom`` gives the DOM after rendering (the status board, a finding's evidence and the
waived mark must be there) and ``--screenshot`` the pixels (the page renders at full size and
the banner has the failure colour). Chromium is installed by ``.ci/run`` on CI machines:
there a missing browser fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from mlsec_gates.gates.scan import scan_gate
from mlsec_gates.reports.combined import write_combined_report
from tests.fixtures.pickles import os_system_p0
from tests.unit.test_combined_report import drift_result, validate_result

FAIL_RED = (0xB3, 0x26, 0x1E)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed on this CI machine (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")


def _render(html: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
        *args,
        html.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB/RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0
    channels = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(min(height, 60)):  # the banner is at the top
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line[i] for i in range(stride) if i % channels < 3))
        previous = line
    return width, height, rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("render")
    (root / "model").mkdir()
    (root / "model" / "evil.pkl").write_bytes(os_system_p0("id"))
    scan = scan_gate([str(root / "model")], report_dir=str(root / "run" / "scan"))
    written = write_combined_report(
        [validate_result(), drift_result(), scan], str(root / "run"), not_run=["sbom", "sign"]
    )
    return Path(written["html"])


def test_dom_has_the_board_the_evidence_and_the_waived_mark(report: Path, tmp_path: Path) -> None:
    dom = _render(report, tmp_path, "--dump-dom").stdout
    assert 'id="status-board"' in dom
    assert dom.count('class="board-row"') == 5
    assert 'data-gate="scan" data-status="fail"' in dom
    assert 'data-gate="sign" data-status="not run"' in dom
    scan = json.loads((report.parent / "scan" / "scan-report.json").read_text())
    offset = next(f["location"]["offset"] for f in scan["findings"] if f["severity"] == "critical")
    assert f'class="mono evidence-offset">{offset}<' in dom  # the offending global's byte offset
    assert "os.system" in dom
    assert '<span class="waived-mark">WAIVED</span>' in dom
    assert 'class="waived-row"' in dom and "alice@example.com" in dom
    assert "<script>" not in dom  # the SVG plot stays an image


def test_screenshot_renders_the_page(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "combined.png"
    _render(report, tmp_path, f"--screenshot={shot}", "--hide-scrollbars")
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    banner = rows[20][30 * 3 : 31 * 3]  # a pixel of the banner, left of the title
    assert tuple(banner) == FAIL_RED
    red_row = bytes(FAIL_RED) * width
    assert rows[5] == red_row  # the banner spans the page
    assert any(row != red_row for row in rows[18:50])  # and its title is drawn on it
