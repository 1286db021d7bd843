"""Policy inheritance: ``extends`` chains, deep merge, cycles, errors with file:line, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import load_policy
from mlsec_gates.policy import parse_policy
from mlsec_gates.storage import Storage
from tests.fixtures.pickles import benign_dict_pickle

PLATFORM = """\
version: 1
on_fail: fail
ledger:
  checkpoint_every: 50
gates:
  scan:
    max_depth: 5
    allow_globals:
      - {global: "collections.OrderedDict", reason: "platform default"}
  validate:
    sample_rows: 3
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _load(path: Path):  # type: ignore[no-untyped-def]
    return parse_policy(path.read_text(), source=str(path))


class TestMerge:
    def test_mappings_merge_and_lists_are_replaced(self, tmp_path: Path) -> None:
        _write(tmp_path, "platform.yaml", PLATFORM)
        child = _write(
            tmp_path,
            "pipeline.yaml",
            "extends: platform.yaml\n"
            "gates:\n"
            "  scan:\n"
            "    allow_globals:\n"
            '      - {global: "numpy.dtype", reason: "pipeline needs it"}\n'
            "  validate:\n"
            "    on_fail: warn\n",
        )
        policy = _load(child)
        assert policy.gates.scan.max_depth == 5  # kept from the base
        assert [g.global_ for g in policy.gates.scan.allow_globals] == ["numpy.dtype"]
        assert policy.gates.validate_.sample_rows == 3
        assert policy.on_fail_for("validate") == "warn"
        assert policy.ledger.checkpoint_every == 50
        assert policy.sources == (str(tmp_path / "platform.yaml"), str(child))

    def test_a_chain_of_three_merges_base_first(self, tmp_path: Path) -> None:
        _write(tmp_path, "base/org.yaml", "gates:\n  scan:\n    max_depth: 2\n    max_members: 7\n")
        _write(
            tmp_path, "base/platform.yaml", "extends: org.yaml\ngates:\n  scan:\n    max_depth: 4\n"
        )
        child = _write(tmp_path, "pipe.yaml", "extends: base/platform.yaml\non_fail: warn\n")
        policy = _load(child)
        assert (policy.gates.scan.max_depth, policy.gates.scan.max_members) == (4, 7)
        assert policy.on_fail == "warn"
        assert [Path(s).name for s in policy.sources] == ["org.yaml", "platform.yaml", "pipe.yaml"]

    def test_a_scalar_replaces_a_mapping_and_drops_its_origins(self, tmp_path: Path) -> None:
        _write(tmp_path, "platform.yaml", "gates:\n  scan:\n    max_depth: 5\n")
        child = _write(tmp_path, "pipeline.yaml", "extends: platform.yaml\ngates:\n  scan: 3\n")
        with pytest.raises(ConfigError, match=r"pipeline\.yaml:3: gates\.scan: "):
            _load(child)

    def test_waivers_file_is_relative_to_the_file_that_sets_it(self, tmp_path: Path) -> None:
        _write(tmp_path, "platform/base.yaml", "waivers_file: waivers.yaml\n")
        child = _write(tmp_path, "pipeline.yaml", "extends: platform/base.yaml\n")
        assert _load(child).waivers_file == str(tmp_path / "platform" / "waivers.yaml")

    def test_absolute_extends_and_inline_text(self, tmp_path: Path) -> None:
        base = _write(tmp_path, "platform.yaml", PLATFORM)
        policy = load_policy(f"extends: {base}\non_fail: warn\n", storage=Storage(), gate="scan")
        assert policy.gates.scan.max_depth == 5
        assert policy.sources == (str(base), "<inline policy>")


class TestErrors:
    def test_cycle_is_an_error_naming_the_chain(self, tmp_path: Path) -> None:
        _write(tmp_path, "a.yaml", "extends: b.yaml\n")
        _write(tmp_path, "b.yaml", "on_fail: warn\nextends: a.yaml\n")
        with pytest.raises(ConfigError) as caught:
            _load(tmp_path / "a.yaml")
        message = str(caught.value)
        assert message.startswith(f"{tmp_path / 'b.yaml'}:2: extends: cycle: ")
        assert message.endswith(
            "a.yaml -> " + str(tmp_path / "b.yaml") + " -> " + str(tmp_path / "a.yaml")
        )

    def test_self_reference_is_a_cycle(self, tmp_path: Path) -> None:
        _write(tmp_path, "a.yaml", "extends: ./a.yaml\n")
        with pytest.raises(ConfigError, match=r"a\.yaml:1: extends: cycle"):
            _load(tmp_path / "a.yaml")

    def test_missing_base_names_the_extending_line(self, tmp_path: Path) -> None:
        child = _write(tmp_path, "pipeline.yaml", "on_fail: warn\nextends: nope.yaml\n")
        with pytest.raises(
            ConfigError, match=r"pipeline\.yaml:2: extends: .*nope\.yaml: no such file"
        ):
            _load(child)

    def test_bad_value_in_the_base_names_the_base_file_and_line(self, tmp_path: Path) -> None:
        _write(tmp_path, "platform.yaml", "gates:\n  scan:\n    max_depth: deep\n")
        child = _write(tmp_path, "pipeline.yaml", "extends: platform.yaml\non_fail: warn\n")
        with pytest.raises(ConfigError) as caught:
            _load(child)
        assert str(caught.value).startswith(
            f"{tmp_path / 'platform.yaml'}:3: gates.scan.max_depth: "
        )

    def test_typo_in_the_child_names_the_child_file_and_line(self, tmp_path: Path) -> None:
        _write(tmp_path, "platform.yaml", PLATFORM)
        child = _write(
            tmp_path, "pipeline.yaml", "extends: platform.yaml\ngates:\n  scan:\n    max_dept: 2\n"
        )
        with pytest.raises(ConfigError) as caught:
            _load(child)
        assert str(caught.value) == (
            f"{child}:4: gates.scan.max_dept: unknown key; did you mean 'max_depth'?"
        )

    def test_extends_must_be_a_string(self, tmp_path: Path) -> None:
        child = _write(tmp_path, "pipeline.yaml", "extends: [a.yaml, b.yaml]\n")
        with pytest.raises(ConfigError, match=r"pipeline\.yaml:1: extends: must be a path"):
            _load(child)

    def test_sources_is_not_a_key(self, tmp_path: Path) -> None:
        child = _write(tmp_path, "pipeline.yaml", "sources: [x]\n")
        with pytest.raises(ConfigError, match=r"pipeline\.yaml:1: sources: unknown key"):
            _load(child)


@pytest.mark.s3
def test_extends_in_s3_is_relative_to_the_prefix(s3_env: str, s3_bucket: str) -> None:
    from mlsec_gates.storage import S3Options

    storage = Storage(S3Options(endpoint_url=s3_env))
    storage.write_bytes(f"s3://{s3_bucket}/policies/platform.yaml", PLATFORM.encode())
    storage.write_bytes(
        f"s3://{s3_bucket}/policies/teams/iris.yaml",
        b"extends: ../platform.yaml\non_fail: warn\n",
    )
    policy = load_policy(f"s3://{s3_bucket}/policies/teams/iris.yaml", storage=storage, gate="scan")
    assert policy.gates.scan.max_depth == 5
    assert policy.sources == (
        f"s3://{s3_bucket}/policies/platform.yaml",
        f"s3://{s3_bucket}/policies/teams/iris.yaml",
    )


def test_every_report_shows_the_merged_policy_and_its_sources(tmp_path: Path) -> None:
    from mlsec_gates.gates.scan import scan_gate

    base = _write(tmp_path, "platform.yaml", PLATFORM)
    child = _write(tmp_path, "pipeline.yaml", "extends: platform.yaml\non_fail: warn\n")
    model = tmp_path / "model.pkl"
    model.write_bytes(benign_dict_pickle())
    result = scan_gate([str(model)], policy=str(child), report_dir=str(tmp_path / "reports"))
    report = json.loads(Path(result.reports["json"]).read_text())
    assert report["policy"]["sources"] == [str(base), str(child)]
    assert report["policy"]["max_depth"] == 5 and report["policy"]["on_fail"] == "warn"
    html = Path(result.reports["html"]).read_text()
    assert "Effective policy" in html and f"{base} → {child}" in html
    assert "&#34;max_depth&#34;: 5" in html  # the merged value, in the escaped JSON block
    markdown = Path(result.reports["markdown"]).read_text()
    assert f"Policy: `{child} <- {base}`" in markdown
