"""Hostile column names and values never become markup in Evidently's page (issue 13, item 4).

The batch is untrusted: a column named ``</script><script>alert(2)</script>`` used to close
Evidently's data script and run. The page is rendered for real by Evidently through the drift
gate, then parsed: no script element, event handler or tag comes from the batch.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlsec_gates.gates.drift.evidently_inputs import neutralise_text

pytest.importorskip("evidently")

HOSTILE_NAME = "</script><script>alert(2)</script>"
HOSTILE_VALUES = ["<img src=x onerror=alert(1)>", "</script><script>alert(3)</script>", "&lt;b&gt;"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _frames(hostile: bool) -> tuple[str, str]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    name = HOSTILE_NAME if hostile else "plain_name"
    values = HOSTILE_VALUES if hostile else ["a", "b", "c"]
    ref = pd.DataFrame({"x": rng.normal(size=300), name: rng.choice(values[:2], size=300)})
    cur = pd.DataFrame({"x": rng.normal(size=300), name: rng.choice(values, size=300)})
    return ref, cur


def _page(tmp_path: Path, hostile: bool) -> str:
    from mlsec_gates.gates.drift import drift_gate

    ref, cur = _frames(hostile)
    folder = tmp_path / ("hostile" if hostile else "plain")
    folder.mkdir()
    ref.to_csv(folder / "ref.csv", index=False)
    cur.to_csv(folder / "cur.csv", index=False)
    result = drift_gate(
        str(folder / "cur.csv"), reference=str(folder / "ref.csv"), report_dir=str(folder / "r")
    )
    page = result.details["evidently_report"]
    assert page, result.findings
    return Path(page).read_text(encoding="utf-8")


def test_hostile_names_and_values_stay_text_in_evidentlys_page(tmp_path: Path) -> None:
    plain, hostile = _page(tmp_path, False), _page(tmp_path, True)
    for marker in ("alert(2)", "alert(1)", "alert(3)"):
        # The payload is shown (neutralised) but never as a script of its own.
        assert f"<script>{marker}" not in hostile
    assert "<img src=x" not in hostile
    parsed_plain, parsed_hostile = _Tags(), _Tags()
    parsed_plain.feed(plain)
    parsed_hostile.feed(hostile)
    tags = [t for t, _ in parsed_hostile.tags]
    assert tags.count("script") == [t for t, _ in parsed_plain.tags].count("script")
    assert "img" not in tags
    assert not any(k.startswith("on") for _, attrs in parsed_hostile.tags for k, _ in attrs)
    # Inside a script the payload only appears neutralised (as the character or its JSON escape).
    assert not any(
        "alert(" in s and "\u2039" not in s and "\\u2039" not in s for s in parsed_hostile.scripts
    )
    # The column is still there, readable (JSON-escaped inside the page's data script).
    escaped = neutralise_text(HOSTILE_NAME).encode("ascii", "backslashreplace").decode()
    assert escaped in hostile or neutralise_text(HOSTILE_NAME) in hostile


def test_neutralised_names_stay_distinct() -> None:
    import pandas as pd

    from mlsec_gates.gates.drift.evidently_inputs import neutralise_frames

    frame = pd.DataFrame({"<a>": ["<x>"], "\u2039a\u203a": ["y"]})
    ref, _, kinds, _ = neutralise_frames(frame, frame, {"<a>": "cat", "\u2039a\u203a": "cat"}, {})
    assert list(kinds) == ["\u2039a\u203a", "\u2039a\u203a#2"]
    assert ref.iloc[0, 0] == "\u2039x\u203a"
