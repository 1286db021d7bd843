"""Tests for mlsec_gates.policy: defaults, validation errors with file:line:key, on_fail."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import decide, load_policy
from mlsec_gates.policy import Policy, parse_policy
from mlsec_gates.result import Status
from mlsec_gates.storage import Storage

SRC = "gates.yaml"


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_policy(textwrap.dedent(text), source=SRC)
    message = info.value.diagnostics()
    assert "\n" not in message
    return message


class TestDefaults:
    def test_no_file_means_defaults(self) -> None:
        policy = Policy()
        assert policy.version == 1
        assert policy.on_fail == "fail"
        assert policy.on_fail_for("scan") == "fail"
        scan = policy.gates.scan
        assert scan.on_fail is None
        assert scan.allow_globals == ()
        assert scan.max_file_bytes == 4 * 1024**3
        assert scan.max_members == 10_000
        assert scan.max_depth == 3
        assert scan.max_opcodes == 50_000_000
        assert policy.storage.s3.endpoint_url is None
        assert policy.storage.s3.region is None
        assert policy.storage.s3.profile is None
        assert policy.source == "<defaults>"

    @pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
    def test_empty_document_means_defaults(self, text: str) -> None:
        policy = parse_policy(text, source=SRC)
        assert policy.source == SRC
        assert policy.model_dump(exclude={"source"}) == Policy().model_dump(exclude={"source"})

    def test_policy_is_immutable(self) -> None:
        policy = Policy()
        with pytest.raises(ValueError):
            policy.on_fail = "warn"  # type: ignore[misc]


class TestValidFile:
    TEXT = """\
        version: 1
        on_fail: warn
        storage:
          s3:
            endpoint_url: http://127.0.0.1:9000
            region: eu-west-1
            profile: ml
        gates:
          scan:
            on_fail: fail
            max_file_bytes: 1000000
            max_members: 50
            max_depth: 2
            max_opcodes: 1000
            allow_globals:
              - global: sklearn.linear_model._logistic.LogisticRegression
                reason: our own estimators, reviewed in SEC-12
              - global: "mymodels.*"
                reason: in-house model package
        """

    def test_every_key_is_read(self) -> None:
        policy = parse_policy(textwrap.dedent(self.TEXT), source=SRC)
        assert policy.on_fail == "warn"
        assert policy.storage.s3.endpoint_url == "http://127.0.0.1:9000"
        assert policy.storage.s3.region == "eu-west-1"
        assert policy.storage.s3.profile == "ml"
        scan = policy.gates.scan
        assert (scan.max_file_bytes, scan.max_members, scan.max_depth, scan.max_opcodes) == (
            1_000_000,
            50,
            2,
            1000,
        )
        assert [(g.global_, g.reason) for g in scan.allow_globals] == [
            (
                "sklearn.linear_model._logistic.LogisticRegression",
                "our own estimators, reviewed in SEC-12",
            ),
            ("mymodels.*", "in-house model package"),
        ]

    def test_effective_policy_for_reports(self) -> None:
        policy = parse_policy(textwrap.dedent(self.TEXT), source=SRC)
        effective = policy.effective("scan")
        assert effective["source"] == SRC
        assert effective["gate"] == "scan"
        assert effective["on_fail"] == "fail"
        assert effective["allow_globals"][1] == {
            "global": "mymodels.*",
            "reason": "in-house model package",
        }

    def test_loaded_from_a_file_by_path(self, tmp_path: Path) -> None:
        path = tmp_path / "gates.yaml"
        path.write_text(textwrap.dedent(self.TEXT))
        policy = load_policy(str(path), storage=Storage(), gate="scan")
        assert policy.source == str(path)
        assert policy.gates.scan.max_depth == 2


class TestUnknownKeys:
    def test_top_level(self) -> None:
        message = _error(
            """\
            version: 1
            on_fial: warn
            """
        )
        assert message == "gates.yaml:2: on_fial: unknown key; did you mean 'on_fail'?"

    def test_gate_name(self) -> None:
        message = _error(
            """\
            on_fail: fail
            gates:
              scna:
                on_fail: warn
            """
        )
        assert message == "gates.yaml:3: gates.scna: unknown key; did you mean 'scan'?"

    def test_inside_a_gate(self) -> None:
        message = _error(
            """\
            gates:
              scan:
                max_depth: 2
                on_fial: warn
            """
        )
        assert message == "gates.yaml:4: gates.scan.on_fial: unknown key; did you mean 'on_fail'?"

    def test_inside_storage(self) -> None:
        message = _error(
            """\
            storage:
              s3:
                region: eu-west-1
                endpoint: http://127.0.0.1:9000
            """
        )
        assert message == (
            "gates.yaml:4: storage.s3.endpoint: unknown key; did you mean 'endpoint_url'?"
        )

    def test_inside_a_list_entry(self) -> None:
        message = _error(
            """\
            gates:
              scan:
                allow_globals:
                  - global: collections.OrderedDict
                    reason: plain container
                  - global: mymodels.Net
                    reasn: in-house
            """
        )
        assert message.startswith(
            "gates.yaml:7: gates.scan.allow_globals.1.reasn: unknown key; did you mean 'reason'?"
        )

    def test_no_close_key_lists_the_known_ones(self) -> None:
        message = _error("zzzzzz: 1\n")
        assert message == (
            "gates.yaml:1: zzzzzz: unknown key; "
            "known keys: chain, extends, gates, ledger, on_fail, spark, storage, version, waivers, "
            "waivers_allow_scanner_blocks, waivers_file"
        )

    def test_source_is_not_a_file_key(self) -> None:
        # ``source`` is filled in by the loader; written in the file it must not be ignored.
        message = _error("on_fail: warn\nsource: somewhere-else.yaml\n")
        assert message.startswith("gates.yaml:2: source: unknown key")

    def test_duplicate_key_is_an_error(self) -> None:
        # YAML keeps the last value silently; a policy must not be overridden by accident.
        message = _error(
            """\
            gates:
              scan:
                on_fail: fail
                max_depth: 2
                on_fail: warn
            """
        )
        assert message == "gates.yaml:5: gates.scan.on_fail: duplicate key (first set on line 3)"


class TestBadValues:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("on_fail: maybe\n", "gates.yaml:1: on_fail: Input should be 'fail' or 'warn'"),
            ("version: 2\n", "gates.yaml:1: version: Input should be 1"),
            (
                "gates:\n  scan:\n    max_depth: lots\n",
                "gates.yaml:3: gates.scan.max_depth: Input should be a valid integer",
            ),
            (
                "gates:\n  scan:\n    max_depth: 0\n",
                "gates.yaml:3: gates.scan.max_depth: Input should be greater than or equal to 1",
            ),
            (
                "gates:\n  scan:\n    max_depth: 17\n",
                "gates.yaml:3: gates.scan.max_depth: Input should be less than or equal to 16",
            ),
            (
                "gates:\n  scan:\n    max_members: -1\n",
                "gates.yaml:3: gates.scan.max_members: Input should be greater than 0",
            ),
            (
                "gates:\n  scan:\n    max_depth: true\n",
                "gates.yaml:3: gates.scan.max_depth: Input should be a valid integer",
            ),
            (
                "gates:\n  scan:\n    max_file_bytes: '100'\n",
                "gates.yaml:3: gates.scan.max_file_bytes: Input should be a valid integer",
            ),
            (
                "gates:\n  scan:\n    allow_globals: collections.OrderedDict\n",
                "gates.yaml:3: gates.scan.allow_globals: Input should be a valid tuple",
            ),
            ("gates: 5\n", "gates.yaml:1: gates: Input should be a valid dictionary"),
        ],
    )
    def test_wrong_type_or_value(self, text: str, expected: str) -> None:
        assert _error(text).startswith(expected)

    def test_bad_global_pattern(self) -> None:
        message = _error(
            """\
            gates:
              scan:
                allow_globals:
                  - global: "os system"
                    reason: looks fine
            """
        )
        assert message.startswith("gates.yaml:4: gates.scan.allow_globals.0.global: String should")

    def test_allow_global_without_reason(self) -> None:
        message = _error(
            """\
            gates:
              scan:
                allow_globals:
                  - global: mymodels.Net
            """
        )
        assert message == "gates.yaml:4: gates.scan.allow_globals.0.reason: required key is missing"

    def test_allow_global_with_empty_reason(self) -> None:
        message = _error(
            """\
            gates:
              scan:
                allow_globals:
                  - global: mymodels.Net
                    reason: ""
            """
        )
        assert message.startswith("gates.yaml:5: gates.scan.allow_globals.0.reason:")

    def test_several_errors_say_how_many_more(self) -> None:
        message = _error("on_fial: warn\nversion: 3\n")
        assert message.endswith("(and 1 more)")


class TestNotAPolicy:
    def test_invalid_yaml_names_the_line(self) -> None:
        message = _error(
            """\
            on_fail: warn
            gates:
              scan:
               max_depth: 2
                on_fail: warn
            """
        )
        assert message.startswith("gates.yaml:5: invalid YAML: ")

    def test_unclosed_bracket(self) -> None:
        message = _error("gates:\n  scan:\n    allow_globals: [\n")
        assert message.startswith("gates.yaml:4: invalid YAML: ")

    @pytest.mark.parametrize("text", ["- on_fail\n- warn\n", "just a string\n", "42\n"])
    def test_non_mapping(self, text: str) -> None:
        assert _error(text) == "gates.yaml:1: the policy must be a mapping"

    def test_missing_file_is_an_input_error(self, tmp_path: Path) -> None:
        missing = tmp_path / "nope.yaml"
        with pytest.raises(InputError, match=r"nope\.yaml: no such file"):
            load_policy(str(missing), storage=Storage(), gate="scan")

    def test_bad_file_names_the_path(self, tmp_path: Path) -> None:
        path = tmp_path / "gates.yaml"
        path.write_text("gates:\n  scan:\n    on_fial: warn\n")
        with pytest.raises(ConfigError) as info:
            load_policy(str(path), storage=Storage(), gate="scan")
        assert (
            str(info.value) == f"{path}:3: gates.scan.on_fial: unknown key; did you mean 'on_fail'?"
        )

    @pytest.mark.parametrize("blank", [None, "", "   \n"])
    def test_blank_policy_argument_means_defaults(self, blank: str | None) -> None:
        # KFP and Airflow templates render unset fields as "": the strict defaults apply.
        assert load_policy(blank, storage=Storage(), gate="scan") == Policy()

    @pytest.mark.parametrize(
        "text",
        ["on_fail: warn", "version: 1\non_fail: warn\n", "{on_fail: warn}"],
    )
    def test_inline_yaml_policy(self, text: str) -> None:
        policy = load_policy(text, storage=Storage(), gate="scan")
        assert policy.source == "<inline policy>"
        assert policy.on_fail_for("scan") == "warn"

    def test_inline_yaml_errors_name_the_key(self) -> None:
        with pytest.raises(
            ConfigError, match=r"^<inline policy>:2: gatez: unknown key; did you mean 'gates'\?$"
        ):
            load_policy("version: 1\ngatez: {}\n", storage=Storage(), gate="scan")

    def test_policy_that_is_not_text(self) -> None:
        with pytest.raises(ConfigError, match="policy must be a path, URI or YAML text"):
            load_policy(42, storage=Storage(), gate="scan")  # type: ignore[arg-type]


class TestOnFail:
    @pytest.mark.parametrize(
        ("top", "gate", "expected"),
        [
            (None, None, "fail"),
            ("warn", None, "warn"),
            ("fail", None, "fail"),
            ("warn", "fail", "fail"),
            ("fail", "warn", "warn"),
        ],
    )
    def test_gate_beats_top_level(self, top: str | None, gate: str | None, expected: str) -> None:
        lines = []
        if top:
            lines.append(f"on_fail: {top}")
        if gate:
            lines += ["gates:", "  scan:", f"    on_fail: {gate}"]
        policy = parse_policy("\n".join(lines) + "\n", source=SRC)
        assert policy.on_fail_for("scan") == expected

    def test_adapter_override_beats_the_file(self) -> None:
        policy = parse_policy("on_fail: warn\ngates:\n  scan:\n    on_fail: warn\n", source=SRC)
        overridden = policy.overriding("scan", "fail")
        assert overridden.on_fail_for("scan") == "fail"
        assert overridden.effective("scan")["on_fail"] == "fail"
        assert overridden.source == SRC
        # The original is untouched (frozen models, copies).
        assert policy.on_fail_for("scan") == "warn"

    def test_no_override_keeps_the_policy(self) -> None:
        policy = parse_policy("on_fail: warn\n", source=SRC)
        assert policy.overriding("scan", None) is policy

    def test_load_policy_applies_the_override(self, tmp_path: Path) -> None:
        path = tmp_path / "gates.yaml"
        path.write_text("gates:\n  scan:\n    on_fail: fail\n")
        policy = load_policy(str(path), storage=Storage(), gate="scan", on_fail="warn")
        assert policy.on_fail_for("scan") == "warn"
        assert load_policy(None, storage=Storage(), gate="scan", on_fail="warn").on_fail_for(
            "scan"
        ) == ("warn")

    def test_load_policy_rejects_a_bad_override(self) -> None:
        with pytest.raises(ConfigError, match="on_fail must be 'fail' or 'warn', got 'ignore'"):
            load_policy(None, storage=Storage(), gate="scan", on_fail="ignore")  # type: ignore[arg-type]

    @pytest.mark.parametrize("on_fail", ["fail", "warn"])
    def test_error_never_passes(self, on_fail: str) -> None:
        status = decide(violations=False, incomplete=True, on_fail=on_fail)  # type: ignore[arg-type]
        assert status is Status.ERROR
        status = decide(violations=True, incomplete=True, on_fail=on_fail)  # type: ignore[arg-type]
        assert status is Status.ERROR

    def test_violations_fail_or_warn(self) -> None:
        assert decide(violations=True, incomplete=False, on_fail="fail") is Status.FAIL
        assert decide(violations=True, incomplete=False, on_fail="warn") is Status.WARN
        assert decide(violations=False, incomplete=False, on_fail="warn") is Status.PASS
