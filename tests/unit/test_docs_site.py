"""The MkDocs site builds with --strict, every page is in the nav, and the chain docs hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from mlsec_gates.chain import STEP_ORDER, plan_chain
from mlsec_gates.policy import parse_policy

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _nav_files(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [f for item in nav for f in _nav_files(item)]
    if isinstance(nav, dict):
        return [f for value in nav.values() for f in _nav_files(value)]
    return []


def _config() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "mkdocs.yml").read_text())


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav_files(_config()["nav"])
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(set(nav)) == pages
    assert len(nav) == len(set(nav))
    for required in (
        "index.md",
        "airflow.md",
        "kfp.md",
        "reading-a-failure.md",
        "threat-model.md",
        "waivers.md",
        "scan.md",
        "drift.md",
    ):
        assert required in nav, required


def test_site_builds_strict(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "threat-model" / "index.html").is_file()


def test_readme_says_how_to_build_the_docs() -> None:
    readme = (REPO / "README.md").read_text()
    assert ".venv/bin/mkdocs build --strict" in readme and "mkdocs serve" in readme


def test_policy_chain_example_plans_the_whole_chain() -> None:
    text = (DOCS / "policy.md").read_text()
    [chain] = [b for b in re.findall(r"```yml\n(.*?)```", text, flags=re.S) if "chain:" in b]
    steps = plan_chain(parse_policy(chain, source="gates.yaml"))
    assert tuple(s.task_id for s in steps) == STEP_ORDER


def test_threat_model_names_every_pillar() -> None:
    from mlsec_gates.reports.pillars import PILLARS

    text = (DOCS / "threat-model.md").read_text()
    assert len(PILLARS) == 6
    for pillar in PILLARS:
        assert pillar.title in text, pillar.title
