"""Keras (.keras, .h5), ONNX, GGUF and safetensors: a benign and a malicious sample each."""

from __future__ import annotations

import io
import json
import struct
import time

import pytest

from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings, scan_file
from mlsec_gates.gates.scan.observations import FormatError
from mlsec_gates.gates.scan.onnx_model import unsafe_location
from mlsec_gates.gates.scan.safetensors import check_safetensors
from tests.fixtures import formats as fx


def scan(data: bytes, uri: str = "sample.bin", **settings: object) -> FileVerdict:
    return scan_file(io.BytesIO(data), uri=uri, settings=ScanSettings(**settings))


def rule_ids(verdict: FileVerdict) -> set[str]:
    return {f.rule_id for f in verdict.findings}


# --------------------------------------------------------------------------- keras


def test_keras_archive_benign_passes() -> None:
    verdict = scan(fx.keras_archive(fx.keras_sequential_config()), "model.keras")
    assert (verdict.kind, verdict.verdict) == ("keras", "pass"), verdict.findings


@pytest.mark.parametrize(
    ("layer", "rule", "text"),
    [
        (fx.keras_lambda_layer(), "scan.keras.lambda", "evil_lambda"),
        (fx.keras_module_layer("os", "system"), "scan.keras.unsafe-reference", "CVE-2025-1550"),
        (fx.keras_module_layer("builtins", "exec"), "scan.keras.unsafe-reference", "builtins"),
        (
            fx.keras_function_reference("keras.utils", "get_file"),
            "scan.keras.unsafe-reference",
            "CVE-2025-8747",
        ),
        (
            fx.keras_function_reference("keras.models", "load_model"),
            "scan.keras.unsafe-reference",
            "CVE-2025-8747",
        ),
        (
            fx.keras_function_reference("keras.config", "enable_unsafe_deserialization"),
            "scan.keras.unsafe-reference",
            "CVE-2025-9906",
        ),
        (
            fx.keras_function_reference(
                "keras.src.backend.common.global_state", "set_global_attribute"
            ),
            "scan.keras.unsafe-reference",
            "CVE-2025-9906",
        ),
        (
            fx.keras_module_layer("keras.layers", "TFSMLayer"),
            "scan.keras.unsafe-reference",
            "SavedModel",
        ),
    ],
)
def test_keras_archive_code_is_blocked(layer: dict, rule: str, text: str) -> None:
    verdict = scan(fx.keras_archive(fx.keras_sequential_config(layer)), "model.keras")
    assert verdict.verdict == "block"
    finding = next(f for f in verdict.findings if f.rule_id == rule)
    assert text in finding.message
    assert finding.location.member == "config.json"
    assert len([f for f in verdict.findings if f.rule_id == rule]) == 1


def test_keras_custom_object_is_quarantined_with_hint() -> None:
    verdict = scan(fx.keras_archive(fx.keras_sequential_config(fx.keras_custom_layer())))
    assert verdict.verdict == "quarantine"
    finding = next(f for f in verdict.findings if f.rule_id == "scan.keras.custom-object")
    assert "my_project.layers.Gate" in finding.message
    assert "custom objects" in finding.remediation


def test_keras_keeps_safe_function_references() -> None:
    layer = fx.keras_function_reference("keras.ops", "relu")
    assert scan(fx.keras_archive(fx.keras_sequential_config(layer))).verdict == "pass"


def test_keras_config_that_is_not_json_is_quarantined() -> None:
    import zipfile

    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", b"{not json")
    verdict = scan(bio.getvalue())
    assert verdict.verdict == "quarantine"
    assert "scan.keras.bad-config" in rule_ids(verdict)


def test_legacy_h5_lambda_is_blocked_and_plain_h5_passes() -> None:
    bad = scan(fx.keras_h5(fx.keras2_lambda_config()), "model.h5")
    assert bad.kind == "keras-h5"
    assert bad.verdict == "block"
    finding = next(f for f in bad.findings if f.rule_id == "scan.keras.lambda")
    assert "seq/lambda" in finding.message and "base64" in finding.message
    dense = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}}
    assert scan(fx.keras_h5(dense), "model.h5").verdict == "pass"
    assert scan(fx.keras_h5(None), "data.h5").kind == "hdf5"


def test_h5_external_link_and_garbage() -> None:
    verdict = scan(fx.h5_with_external_link())
    assert verdict.verdict == "quarantine"
    assert "scan.hdf5.external-reference" in rule_ids(verdict)
    broken = fx.keras_h5(None)[:600]
    assert "scan.hdf5.unreadable" in rule_ids(scan(broken))


# --------------------------------------------------------------------------- onnx


def test_onnx_benign_passes() -> None:
    verdict = scan(fx.onnx_model(), "model.onnx")
    assert (verdict.kind, verdict.verdict) == ("onnx", "pass")


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "C:\\x", "file:///x"])
@pytest.mark.parametrize("in_subgraph", [False, True])
def test_onnx_external_data_traversal_blocks(location: str, in_subgraph: bool) -> None:
    verdict = scan(fx.onnx_model(external_location=location, in_subgraph=in_subgraph))
    assert verdict.verdict == "block"
    finding = next(f for f in verdict.findings if f.rule_id == "scan.onnx.external-data-traversal")
    assert finding.evidence["location"] == location


def test_onnx_relative_external_data_is_noted_not_blocked() -> None:
    verdict = scan(fx.onnx_model(external_location="weights.bin"))
    assert verdict.verdict == "pass"
    assert "scan.onnx.external-data" in rule_ids(verdict)


@pytest.mark.parametrize("in_subgraph", [False, True])
def test_onnx_custom_domain_is_quarantined(in_subgraph: bool) -> None:
    verdict = scan(fx.onnx_model(custom_domain="com.evil", in_subgraph=in_subgraph))
    assert verdict.verdict == "quarantine"
    finding = next(f for f in verdict.findings if f.rule_id == "scan.onnx.custom-domain")
    assert "com.evil::Run" in finding.message
    assert scan(fx.onnx_model(custom_domain="com.microsoft")).verdict == "pass"


def test_onnx_truncated_is_quarantined() -> None:
    data = fx.onnx_model()
    verdict = scan(data[: len(data) // 2])
    assert verdict.verdict != "pass"


def test_unsafe_location() -> None:
    assert unsafe_location("weights/w.bin") is None
    assert unsafe_location(b"\xff") == "path is not UTF-8"
    assert unsafe_location("~/.ssh/id_rsa") == "home-directory path"


# --------------------------------------------------------------------------- gguf


def test_gguf_benign_passes() -> None:
    verdict = scan(fx.gguf_file(), "model.gguf")
    assert (verdict.kind, verdict.verdict) == ("gguf", "pass"), verdict.findings


@pytest.mark.parametrize("template", [fx.ESCAPE_TEMPLATE, fx.OBFUSCATED_TEMPLATE])
def test_gguf_template_escape_blocks(template: str) -> None:
    verdict = scan(fx.gguf_file(template), "model.gguf")
    assert verdict.verdict == "block"
    finding = next(f for f in verdict.findings if f.rule_id == "scan.template.sandbox-escape")
    assert finding.location.detail == "tokenizer.chat_template"
    assert "__globals__" in finding.message


def test_gguf_named_template_is_checked() -> None:
    extra = {"tokenizer.chat_template.tool_use": fx.ESCAPE_TEMPLATE}
    verdict = scan(fx.gguf_file(extra=extra))
    assert verdict.verdict == "block"


def test_gguf_malformed_is_quarantined() -> None:
    verdict = scan(fx.gguf_truncated_tensor_table())
    assert verdict.verdict == "quarantine"
    assert "scan.gguf.malformed" in rule_ids(verdict)
    huge = b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1 << 40)
    assert "scan.gguf.malformed" in rule_ids(scan(huge))
    assert "scan.gguf.malformed" in rule_ids(scan(b"GGUF" + struct.pack("<IQQ", 1, 0, 0)))


# --------------------------------------------------------------------------- safetensors


def test_safetensors_benign_passes() -> None:
    assert scan(fx.safetensors_valid(), "model.safetensors").verdict == "pass"


def test_safetensors_appended_pickle_is_named_and_scanned() -> None:
    verdict = scan(fx.safetensors_with_pickle_tail())
    assert verdict.verdict == "block"
    appended = next(f for f in verdict.findings if f.rule_id == "scan.safetensors.appended-data")
    assert "a pickle" in appended.message
    assert any(f.location.member == "<appended>" for f in verdict.findings)


def _raw_safetensors(header: dict, data_bytes: int) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(data_bytes)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (fx.safetensors_dtype_mismatch(), "scan.safetensors.bad-layout"),
        (fx.safetensors_duplicate_key(), "scan.safetensors.bad-header"),
        (struct.pack("<Q", 1 << 40) + b'{"a": 1}', "scan.safetensors.bad-header"),
        (
            fx.safetensors_file({"w": ("U8", [1], b"x")}, metadata={"k": 1}),
            "scan.safetensors.bad-header",
        ),
        (
            _raw_safetensors({"w": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, 4),
            "scan.safetensors.bad-layout",
        ),
    ],
    ids=["dtype-span", "duplicate-key", "length", "metadata", "gap"],
)
def test_safetensors_strict_checks(data: bytes, rule: str) -> None:
    verdict = scan(data, "model.safetensors")
    assert verdict.verdict == "quarantine", verdict.findings
    assert rule in rule_ids(verdict)


def test_safetensors_header_only_is_read() -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 28], "data_offsets": [0, 1 << 30]}})
    raw = header.encode()

    class Sparse:
        """A 1 GiB buffer whose tensor bytes do not exist: touching them would fail."""

        def __getitem__(self, item: slice) -> bytes:
            assert item.stop <= 8 + len(raw), "tensor data was read"
            return (struct.pack("<Q", len(raw)) + raw)[item]

    started = time.perf_counter()
    assert check_safetensors(Sparse(), 0, 8 + len(raw) + (1 << 30)) == []
    assert time.perf_counter() - started < 1.0
    with pytest.raises(FormatError):
        check_safetensors(b"\x01", 0, 1)
