"""Engine tests on generated samples. Samples are only ever scanned, never loaded."""

from __future__ import annotations

import io
import zipfile

import pytest

from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings, scan_file
from mlsec_gates.gates.scan.rules import RULES
from mlsec_gates.result import Severity
from tests.fixtures import pickles as fx


def scan(data: bytes, uri: str = "sample.bin", **settings) -> FileVerdict:
    return scan_file(io.BytesIO(data), uri=uri, settings=ScanSettings(**settings))


def globals_of(verdict: FileVerdict) -> set[str]:
    return {f.evidence.get("global") for f in verdict.findings if f.evidence.get("global")}


def assert_blocks(verdict: FileVerdict, global_name: str) -> None:
    assert verdict.verdict == "block", verdict
    assert global_name in globals_of(verdict), verdict.findings
    finding = next(f for f in verdict.findings if f.evidence.get("global") == global_name)
    assert finding.severity == Severity.CRITICAL
    assert global_name in finding.message
    assert finding.remediation and finding.why
    assert finding.location.offset is not None
    assert "stream" in finding.evidence and "opcode" in finding.evidence


# --------------------------------------------------------------------------- raw pickles


@pytest.mark.parametrize(
    ("data", "name", "opcode"),
    [
        (fx.os_system_p0(), "os.system", "GLOBAL"),
        (fx.os_system_p4_memo(), "os.system", "STACK_GLOBAL"),
        (fx.builtins_call("eval"), "builtins.eval", "GLOBAL"),
        (fx.builtins_call("exec"), "builtins.exec", "GLOBAL"),
        (fx.subprocess_popen(), "subprocess.Popen", "STACK_GLOBAL"),
        (fx.inst_payload(), "os.system", "INST"),
        (fx.obj_payload(), "os.system", "GLOBAL"),
    ],
)
def test_malicious_pickles_block(data: bytes, name: str, opcode: str) -> None:
    verdict = scan(data, "model.pkl")
    assert verdict.kind == "pickle"
    assert_blocks(verdict, name)
    finding = next(f for f in verdict.findings if f.evidence["global"] == name)
    assert finding.evidence["opcode"] == opcode
    assert finding.location.uri == "model.pkl"
    assert finding.location.member is None
    assert f"opcode {opcode}" in finding.location.detail


def test_global_offset_points_at_opcode() -> None:
    data = fx.os_system_p0()
    finding = scan(data).findings[0]
    assert data[finding.location.offset : finding.location.offset + 1] == b"c"


def test_memo_resolved_stack_global_offset() -> None:
    data = fx.os_system_p4_memo()
    finding = scan(data).findings[0]
    assert data[finding.location.offset] == 0x93


def test_payload_in_second_stream_blocks() -> None:
    verdict = scan(fx.payload_after_benign())
    assert_blocks(verdict, "os.system")
    finding = next(f for f in verdict.findings if f.evidence.get("global") == "os.system")
    assert finding.evidence["stream"] == 1


def test_payload_first_then_garbage_blocks_and_reports_parse_error() -> None:
    verdict = scan(fx.payload_then_garbage())
    assert_blocks(verdict, "os.system")
    rule_ids = {f.rule_id for f in verdict.findings}
    assert "scan.pickle.parse-error" in rule_ids


def test_p0_pickle_named_safetensors_is_sniffed_by_content() -> None:
    verdict = scan(fx.os_system_p0(), "model.safetensors")
    assert verdict.kind == "pickle"
    assert_blocks(verdict, "os.system")


def test_computed_stack_global_blocks() -> None:
    verdict = scan(fx.computed_stack_global())
    assert verdict.verdict == "block"
    assert "scan.pickle.computed-global" in {f.rule_id for f in verdict.findings}


def test_dotted_attribute_traversal_blocks() -> None:
    data = b"\x80\x02cshutil\nos.system\n."
    assert scan(data).verdict == "block"
    data = b"\x80\x02cnumpy\nos.system\n."
    assert scan(data).verdict == "block"
    data = b"\x80\x02ccollections\nOrderedDict.__init__.__globals__\n."
    assert scan(data).verdict == "block"


@pytest.mark.parametrize("module", ["posix", "nt", "__builtin__", "_operator", "cPickle"])
def test_aliases_are_normalised(module: str) -> None:
    name = {"posix": "system", "nt": "system", "__builtin__": "eval"}.get(module, "loads")
    if module == "_operator":
        name = "attrgetter"
    data = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
    assert scan(data).verdict == "block"


def test_build_on_imported_global_blocks() -> None:
    data = b"\x80\x02ccollections\nOrderedDict\n}b."
    verdict = scan(data)
    assert verdict.verdict == "block"
    assert "scan.pickle.global-mutation" in {f.rule_id for f in verdict.findings}


def test_benign_pickles_pass() -> None:
    for protocol in range(6):
        verdict = scan(fx.benign_dict_pickle(protocol))
        assert verdict.verdict == "pass", (protocol, verdict.findings)
        assert verdict.findings == ()


def test_large_benign_pickle_passes() -> None:
    verdict = scan(fx.large_range_pickle())
    assert verdict.verdict == "pass", verdict.findings


def test_opcode_limit_quarantines() -> None:
    verdict = scan(fx.large_range_pickle(5_000), max_opcodes=1_000)
    assert verdict.verdict == "quarantine"
    assert {f.rule_id for f in verdict.findings} == {"scan.resource-limit"}


def test_unknown_global_quarantines_until_allowlisted() -> None:
    data = fx.unknown_global()
    verdict = scan(data)
    assert verdict.verdict == "quarantine"
    (finding,) = verdict.findings
    assert finding.rule_id == "scan.pickle.unknown-global"
    assert finding.severity == Severity.HIGH
    assert "mypkg.Thing" in finding.message
    assert scan(data, allow_globals={"mypkg.Thing": "ours"}).verdict == "pass"
    assert scan(data, allow_globals={"mypkg.*": "ours"}).verdict == "pass"


def test_policy_allowlist_cannot_override_dangerous() -> None:
    verdict = scan(fx.os_system_p0(), allow_globals={"os.system": "please", "os.*": "x"})
    assert verdict.verdict == "block"


# --------------------------------------------------------------------------- other files


def test_empty_file_quarantines() -> None:
    verdict = scan(b"")
    assert (verdict.kind, verdict.verdict) == ("empty", "quarantine")


def test_random_bytes_quarantine() -> None:
    verdict = scan(fx.random_bytes())
    assert (verdict.kind, verdict.verdict) == ("unknown", "quarantine")


def test_text_and_json_pass() -> None:
    assert scan(b'{"chat_template": "{{ messages }}"}').kind == "json"
    assert scan(b'{"a": 1}').verdict == "pass"
    verdict = scan(b"col1,col2\n1,2\n")
    assert (verdict.kind, verdict.verdict) == ("text", "pass")
    assert scan(b"name: model\nlayers: 3\n").verdict == "pass"


def test_safetensors_header() -> None:
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    good = len(header).to_bytes(8, "little") + header + b"\x00" * 8
    verdict = scan(good, "m.safetensors")
    assert (verdict.kind, verdict.verdict) == ("safetensors", "pass")
    bad_header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,99]}}'
    bad = len(bad_header).to_bytes(8, "little") + bad_header + b"\x00" * 8
    assert scan(bad).verdict == "quarantine"


def test_unsupported_archive_quarantines() -> None:
    assert scan(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 30).verdict == "quarantine"


# --------------------------------------------------------------------------- zip / torch


def test_benign_torch_zip_passes() -> None:
    verdict = scan(fx.torch_zip_checkpoint(), "model.pt")
    assert (verdict.kind, verdict.verdict) == ("pytorch-zip", "pass"), verdict.findings


def test_torch_zip_with_injected_exec_blocks() -> None:
    verdict = scan(fx.torch_zip_with_exec(), "model.pt")
    assert verdict.kind == "pytorch-zip"
    assert_blocks(verdict, "builtins.exec")
    finding = next(f for f in verdict.findings if f.evidence.get("global") == "builtins.exec")
    assert finding.location.member == "archive/data.pkl"


def test_zip_payload_in_txt_member_blocks() -> None:
    verdict = scan(fx.zip_with_payload_member(), "model.pt")
    assert_blocks(verdict, "os.system")
    finding = next(f for f in verdict.findings if f.evidence.get("global") == "os.system")
    assert finding.location.member == "archive/data.txt"
    assert finding.location.offset == 0


def test_corrupt_crc_zip_is_still_scanned() -> None:
    data = fx.corrupt_crc_zip()
    with pytest.raises(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.read("archive/extra.pkl")
    assert_blocks(scan(data), "os.system")
    assert scan(fx.corrupt_crc_zip(payload=False)).verdict == "pass"


def test_unreadable_zip_quarantines() -> None:
    verdict = scan(b"PK\x03\x04" + b"\x00" * 10)
    assert verdict.verdict == "quarantine"
    assert verdict.kind == "zip"


def test_zip_without_central_directory_still_blocks() -> None:
    data = fx.zip_with_payload_member()
    truncated = data[: data.find(b"PK\x01\x02")]
    verdict = scan(truncated)
    assert_blocks(verdict, "os.system")


def test_legacy_torch() -> None:
    verdict = scan(fx.legacy_torch_checkpoint(), "old.pt")
    assert (verdict.kind, verdict.verdict) == ("pytorch-legacy", "pass"), verdict.findings
    verdict = scan(fx.legacy_torch_checkpoint(payload=True), "old.pt")
    assert_blocks(verdict, "builtins.exec")


# --------------------------------------------------------------------------- numpy


def test_object_npy() -> None:
    verdict = scan(fx.npy_object_array(), "a.npy")
    assert (verdict.kind, verdict.verdict) == ("numpy-npy", "pass"), verdict.findings
    verdict = scan(fx.npy_malicious(), "a.npy")
    assert verdict.kind == "numpy-npy"
    assert_blocks(verdict, "os.system")


@pytest.mark.parametrize("compressed", [False, True])
def test_npz(compressed: bool) -> None:
    verdict = scan(fx.npz(compressed=compressed), "a.npz")
    assert (verdict.kind, verdict.verdict) == ("numpy-npz", "pass"), verdict.findings
    verdict = scan(fx.npz(malicious=True, compressed=compressed), "a.npz")
    assert_blocks(verdict, "os.system")
    finding = next(f for f in verdict.findings if f.evidence.get("global") == "os.system")
    assert finding.location.member == "evil.npy"


# --------------------------------------------------------------------------- sklearn / joblib


@pytest.mark.parametrize("model", ["random_forest", "logistic_regression"])
@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_joblib_models_pass(model: str, compress: object) -> None:
    verdict = scan(fx.joblib_model(model, compress=compress), "model.joblib")
    assert verdict.verdict == "pass", verdict.findings
    assert verdict.kind == "joblib"


def test_joblib_inline_arrays_do_not_hide_payload() -> None:
    data = fx.joblib_model("random_forest") + fx.os_system_p0()
    assert_blocks(scan(data), "os.system")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_sklearn_pickle_passes(protocol: int) -> None:
    verdict = scan(fx.sklearn_pickle(protocol=protocol))
    assert verdict.verdict == "pass", verdict.findings


# --------------------------------------------------------------------------- contract


def test_rules_catalogue() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.id.startswith("scan.")
        assert isinstance(rule.severity, Severity)
        assert rule.__doc__


def test_file_handle_on_disk(tmp_path) -> None:
    paths = fx.write_samples(tmp_path)
    expected = {
        "torch_benign.pt": "pass",
        "torch_exec.pt": "block",
        "rf.joblib": "pass",
        "random.bin": "quarantine",
        "empty.bin": "quarantine",
        "p0_payload.safetensors": "block",
    }
    for name, want in expected.items():
        with open(paths[name], "rb") as fh:
            assert scan_file(fh, uri=str(paths[name])).verdict == want, name


def test_never_raises_on_garbage() -> None:
    for data in (b"\x80", b"\x80\x05", b"PK\x05\x06" + b"\xff" * 18, b"\x93NUMPY\x09", b"c\n"):
        assert scan(data).verdict in ("pass", "quarantine", "block")


@pytest.mark.parametrize("flags", [0x1, 0x20, 0x40])
def test_zip_flag_bits_do_not_hide_payload(flags: int) -> None:
    verdict = scan(fx.zip_with_flag_bits(flags))
    assert_blocks(verdict, "os.system")


def test_skops_schema_types_are_checked() -> None:
    verdict = scan(fx.skops_archive())
    assert (verdict.kind, verdict.verdict) == ("skops", "quarantine")
    assert scan(fx.skops_archive("builtins", "eval")).verdict == "block"
    assert (
        scan(fx.skops_archive("sklearn.tree._classes", "DecisionTreeRegressor")).verdict == "pass"
    )
