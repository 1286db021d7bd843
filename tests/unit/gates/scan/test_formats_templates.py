"""Chat templates (JSON, template files, YAML text) and content sniffing of odd names."""

from __future__ import annotations

import io
import json

import pytest

from mlsec_gates.gates.scan.chat_template import check_template, templates_in_json
from mlsec_gates.gates.scan.engine import FileVerdict, scan_file
from mlsec_gates.gates.scan.formats import sniff
from tests.fixtures import formats as fx


def scan(data: bytes, uri: str = "sample.bin") -> FileVerdict:
    return scan_file(io.BytesIO(data), uri=uri)


def rules_of(template: str) -> set[str]:
    return {o.rule.id for o in check_template(template, None)}


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ request['application']['\\x5f\\x5fglobals\\x5f\\x5f'] }}",
    "{{ ''|attr('__cla' ~ 'ss__') }}",
    "{{ x|attr('%s%sclass%s%s'|format('_', '_', '_', '_')) }}",
    "{{ x['{}{}class{}{}'.format('_', '_', '_', '_')] }}",
    "{{ x[''.join(['_', '_', 'globals', '_', '_'])] }}",
    "{% set a = '__glo' %}{% set b = a ~ 'bals__' %}{{ joiner|attr(b) }}",
    "{{ getattr(getattr('', '__class__'), '__mro__') }}",
    "{{ __builtins__ }}",
    "{{ ''|attr('format') }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ f.gi_frame.f_back.f_globals }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escapes_are_critical(template: str) -> None:
    assert "scan.template.sandbox-escape" in rules_of(template)


@pytest.mark.parametrize(
    "template",
    [
        "{% include 'other.jinja' %}",
        "{% import 'macros' as m %}",
        "{{ x|attr(name) }}",
        "{{ eval('1') }}",
        "{{ '{a}'.format_map(d) }}",
    ],
)
def test_suspicious_constructs_are_high(template: str) -> None:
    assert rules_of(template) == {"scan.template.suspicious"}


@pytest.mark.parametrize(
    "template",
    [
        fx.BENIGN_TEMPLATE,
        "{%- set ns = namespace(found=false) -%}{%- for m in messages -%}"
        "{%- if m.role == 'system' -%}{%- set ns.found = true -%}{%- endif -%}"
        "{{ m.content | trim }}{%- if loop.last and not ns.found -%}{{ raise_exception('x') }}"
        "{%- endif -%}{% break %}{%- endfor -%}{{ tools | tojson(indent=2) }}",
        "{% generation %}{{ messages[-1]['content'] }}{% endgeneration %}",
        "{{ '%s: %s' | format(m.role, m.content) }}{{ m['role'] ~ '__' }}",
    ],
)
def test_real_world_constructs_pass(template: str) -> None:
    assert rules_of(template) == set()


def test_unparseable_template_falls_back_to_strings() -> None:
    broken = check_template("{{ cycler.__init__.__globals__ ", "chat_template")
    assert [o.rule.id for o in broken] == ["scan.template.unparseable"]
    assert "__globals__" in broken[0].message
    assert check_template("{{ oops", None, strict=False) == []
    assert check_template("{{ __class__ ", None, strict=False)[0].rule.id == (
        "scan.template.unparseable"
    )


def test_templates_in_json() -> None:
    value = {
        "chat_template": [{"name": "default", "template": "a"}, {"name": "rag", "template": "b"}],
        "nested": {"prompt": "{{ x }}", "plain": "text"},
    }
    found = sorted(templates_in_json(value))
    assert found == [
        ("$.chat_template[default]", "a", True),
        ("$.chat_template[rag]", "b", True),
        ("$.nested.prompt", "{{ x }}", False),
    ]


def test_tokenizer_config_verdicts() -> None:
    assert scan(fx.tokenizer_config(fx.BENIGN_TEMPLATE), "tokenizer_config.json").verdict == "pass"
    bad = scan(fx.tokenizer_config(fx.ESCAPE_TEMPLATE), "tokenizer_config.json")
    assert bad.verdict == "block"
    assert bad.findings[0].location.detail == "$.chat_template"
    listed = [{"name": "tool_use", "template": fx.OBFUSCATED_TEMPLATE}]
    assert scan(fx.tokenizer_config(listed)).verdict == "block"
    broken = scan(fx.tokenizer_config("{{ unclosed"))
    assert broken.verdict == "quarantine"


def test_template_files_and_yaml() -> None:
    assert scan(fx.BENIGN_TEMPLATE.encode(), "chat.jinja").verdict == "pass"
    assert scan(fx.ESCAPE_TEMPLATE.encode(), "chat.jinja").verdict == "block"
    assert scan(b"{{ unclosed", "chat.jinja").verdict == "quarantine"
    assert scan(b"{{ unclosed", "notes.txt").verdict == "pass"  # not known to be a template
    yaml_text = f'chat_template: "{fx.ESCAPE_TEMPLATE}"\nname: x\n'.encode()
    assert scan(yaml_text, "config.yaml").verdict == "block"


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize("name", ["model.safetensors", "payload.txt", "weights.bin", "x.json"])
def test_protocol0_pickle_is_a_pickle_whatever_its_name(name: str) -> None:
    data = b"cos\nsystem\n(S'id'\ntR."
    verdict = scan(data, name)
    assert verdict.kind == "pickle"
    assert verdict.verdict == "block"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (fx.gguf_file(), "gguf"),
        (fx.onnx_model(), "onnx"),
        (fx.keras_h5(None), "hdf5"),
        (fx.safetensors_valid(), "safetensors"),
        (fx.tar_archive({"a": b"x"}), "tar"),
        (fx.sevenz_archive({"a": b"x"}), "7z"),
        (fx.zstd_wrap(b"x"), "zstd"),
        (b"\x00" * 700 + fx.tar_archive({"a": b"x"})[:0] + b"PK\x05\x06" + bytes(18), "zip"),
        (json.dumps({"a": 1}).encode(), "json"),
        (b"hello world\n", "text"),
        (bytes(range(256)) * 4, "unknown"),
    ],
)
def test_sniff_by_content(data: bytes, kind: str) -> None:
    assert sniff(data, 0, len(data)) == kind


def test_unknown_binary_is_quarantined_text_passes() -> None:
    assert scan(bytes(range(256)) * 4, "model.bin").verdict == "quarantine"
    assert scan(b"vocab\nwords\n", "vocab.txt").verdict == "pass"
