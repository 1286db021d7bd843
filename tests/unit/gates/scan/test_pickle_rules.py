"""Pickle analysis, one generated sample per bypass technique: verdict, rule id, named payload.

Samples come from :mod:`tests.fixtures.pickles` (opcode-level byte construction); they are
only scanned, never loaded.
"""

from __future__ import annotations

import io

import pytest

from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings, scan_file
from mlsec_gates.gates.scan.rules import RULES
from mlsec_gates.result import Finding
from tests.fixtures import pickles as fx


def scan(data: bytes, **settings: object) -> FileVerdict:
    return scan_file(io.BytesIO(data), uri="model.pkl", settings=ScanSettings(**settings))


def finding(verdict: FileVerdict, rule_id: str) -> Finding:
    found = [f for f in verdict.findings if f.rule_id == rule_id]
    assert found, (rule_id, [(f.rule_id, f.message) for f in verdict.findings])
    return found[0]


def assert_located(f: Finding) -> None:
    """Every pickle finding says where: byte offset, stream, opcode and its index."""
    assert f.location.offset is not None and f.location.offset >= 0
    assert f.evidence["stream"] == 0
    assert f.evidence["opcode_index"] >= 1
    assert f"#{f.evidence['opcode_index']}" in f.location.detail


# --------------------------------------------------------------------------- whole-stream


def test_payload_is_named_with_literal_arguments() -> None:
    verdict = scan(fx.os_system_p0("touch /tmp/x"))
    f = finding(verdict, "scan.pickle.dangerous-global")
    assert verdict.verdict == "block"
    assert f.evidence["payload"] == "os.system('touch /tmp/x')"
    assert "os.system('touch /tmp/x')" in f.message
    assert f.evidence["call_opcode"] == "REDUCE"
    assert_located(f)


def test_second_stream_payload_blocks() -> None:
    verdict = scan(fx.payload_after_benign())
    f = finding(verdict, "scan.pickle.dangerous-global")
    assert verdict.verdict == "block" and f.evidence["stream"] == 1
    assert f.evidence["payload"] == "os.system('echo pwned')"


def test_payload_first_then_garbage_blocks() -> None:
    verdict = scan(fx.payload_then_garbage())
    assert verdict.verdict == "block"
    assert finding(verdict, "scan.pickle.dangerous-global").evidence["payload"] == "os.system('id')"
    assert finding(verdict, "scan.pickle.parse-error")


@pytest.mark.parametrize("sample", [fx.frame_divergence, fx.frame_overrun])
def test_frame_divergence_blocks(sample) -> None:
    verdict = scan(sample())
    f = finding(verdict, "scan.pickle.frame-divergence")
    assert verdict.verdict == "block"
    assert "FRAME" in f.message
    assert_located(f)
    assert finding(verdict, "scan.pickle.dangerous-global").evidence["global"] == "os.system"


@pytest.mark.parametrize("width", [1, 2, 4])
def test_extension_opcodes_block(width: int) -> None:
    verdict = scan(fx.ext_call(width))
    f = finding(verdict, "scan.pickle.extension-code")
    assert verdict.verdict == "block"
    assert f.evidence["extension_code"] == 7 and f.evidence["opcode"] == f"EXT{width}"


@pytest.mark.parametrize(
    ("data", "opcode", "payload"),
    [
        (fx.inst_payload("id"), "INST", "os.system('id')"),
        (fx.obj_payload("id"), "OBJ", "os.system('id')"),
        (fx.newobj_ex_payload(), "NEWOBJ_EX", "subprocess.Popen('id')"),
    ],
)
def test_call_sites_are_named(data: bytes, opcode: str, payload: str) -> None:
    f = finding(scan(data), "scan.pickle.dangerous-global")
    assert f.evidence["call_opcode"] == opcode
    assert f.evidence["payload"] == payload


def test_stack_global_with_string_operands_resolves() -> None:
    f = finding(scan(fx.stack_global_string_operands()), "scan.pickle.dangerous-global")
    assert f.evidence["global"] == "os.system" and f.evidence["opcode"] == "STACK_GLOBAL"


def test_stack_global_with_int_memo_operand_is_computed() -> None:
    verdict = scan(fx.stack_global_int_memo())
    f = finding(verdict, "scan.pickle.computed-global")
    assert verdict.verdict == "block"
    assert "module=1" in f.evidence["operands"]


def test_missing_memo_key_keeps_what_ran_before() -> None:
    verdict = scan(fx.stack_global_missing_memo())
    assert verdict.verdict == "block"
    assert finding(verdict, "scan.pickle.dangerous-global").evidence["payload"] == "os.system('id')"
    assert "memo key 9 missing" in finding(verdict, "scan.pickle.parse-error").message


def test_discarded_call_result_is_reported() -> None:
    verdict = scan(fx.discarded_call("touch /tmp/x"))
    f = finding(verdict, "scan.pickle.discarded-call")
    assert verdict.verdict == "block"
    assert f.evidence["payload"] == "os.system('touch /tmp/x')"
    assert f.evidence["opcode"] == "POP"
    assert_located(f)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("shutil", "os.system"),
        ("builtins", "getattr"),
        ("asyncio.unix_events", "_UnixSubprocessTransport._start"),
        ("posix", "system"),
        ("nt", "system"),
        ("_io", "open"),
        ("io", "open"),
        ("torch.serialization", "load"),
        ("torch", "load"),
        ("_operator", "attrgetter"),
        ("__builtin__", "eval"),
        ("_pickle", "loads"),
        ("_codecs", "open"),
    ],
)
def test_dotted_names_aliases_and_submodules_block(module: str, name: str) -> None:
    verdict = scan(fx.alias_global(module, name))
    f = finding(verdict, "scan.pickle.dangerous-global")
    assert verdict.verdict == "block"
    assert f.evidence["global"] == f"{module}.{name}"


def test_submodule_gadget_cve_2025_10157() -> None:
    f = finding(scan(fx.submodule_gadget()), "scan.pickle.dangerous-global")
    assert f.evidence["global"] == "asyncio.unix_events._UnixSubprocessTransport._start"


# --------------------------------------------------------------------------- code and nesting


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("types", "types.CodeType"),
        ("marshal", "marshal.loads"),
        ("dill", "dill._dill._create_code"),
        ("cloudpickle", "cloudpickle.cloudpickle._make_function"),
    ],
)
def test_code_objects_block(kind: str, target: str) -> None:
    verdict = scan(fx.code_object(kind))
    f = finding(verdict, "scan.pickle.code-object")
    assert verdict.verdict == "block"
    assert f.evidence["global"] == target
    assert f.evidence["payload"].startswith(target + "(")


@pytest.mark.parametrize(
    ("loader", "wrap"),
    [
        ("pickle.loads", ""),
        ("_pickle.loads", ""),
        ("dill._dill.loads", ""),
        ("torch.load", ""),
        ("torch.storage._load_from_bytes", ""),
        ("pickle.loads", "base64"),
        ("pickle.loads", "hex"),
        ("pickle.loads", "codecs-hex"),
    ],
)
def test_nested_pickle_is_rebuilt_and_scanned(loader: str, wrap: str) -> None:
    verdict = scan(fx.nested(loader=loader, wrap=wrap))
    outer = finding(verdict, "scan.pickle.nested-load")
    assert verdict.verdict == "block"
    assert outer.evidence["loader"] == loader
    inner = [
        f
        for f in verdict.findings
        if f.rule_id == "scan.pickle.dangerous-global" and f.evidence["global"] == "os.system"
    ]
    assert inner, verdict.findings
    assert inner[0].location.member == outer.evidence["nested_member"]
    assert f"<nested {loader} @" in inner[0].location.member
    assert inner[0].evidence["payload"] == "os.system('id')"


def test_nested_pickle_twice_nested() -> None:
    verdict = scan(fx.nested(fx.nested(), wrap="base64"))
    members = [f.location.member or "" for f in verdict.findings]
    assert any(m.count("<nested pickle.loads") == 2 for m in members), members


def test_unbound_loads_method_data_argument_is_scanned() -> None:
    verdict = scan(fx.nested_unbound_loads())
    outer = finding(verdict, "scan.pickle.nested-load")
    assert outer.evidence["loader"] == "lib2to3.pgen2.grammar.Grammar.loads"
    inner = [f for f in verdict.findings if f.location.member == outer.evidence["nested_member"]]
    assert [f.evidence.get("payload") for f in inner] == ["os.system('id')"]


def test_unresolvable_loader_argument_blocks() -> None:
    verdict = scan(fx.nested_unresolvable())
    f = finding(verdict, "scan.pickle.nested-load")
    assert verdict.verdict == "block"
    assert "cannot be rebuilt" in f.message and "mypkg.secret.blob('k')" in f.evidence["problem"]


# --------------------------------------------------------------------------- Sleepy Pickle


@pytest.mark.parametrize("attr", ["forward", "__call__", "__reduce__", "__setstate__"])
def test_setattr_method_override_blocks(attr: str) -> None:
    verdict = scan(fx.setattr_hook(attr))
    f = finding(verdict, "scan.pickle.method-override")
    assert verdict.verdict == "block"
    assert f.evidence["attributes"] == attr
    assert f"'{attr}'" in f.evidence["payload"] and "builtins.print" in f.evidence["payload"]


@pytest.mark.parametrize(
    ("attr", "slots"),
    [
        ("forward", False),
        ("forward", True),
        ("eval", False),
        ("__dict__", False),
        ("__class__", False),
        ("__getattr__", True),
    ],
)
def test_build_state_method_override_blocks(attr: str, slots: bool) -> None:
    verdict = scan(fx.build_hook(attr, slots=slots))
    f = finding(verdict, "scan.pickle.method-override")
    assert verdict.verdict == "block"
    assert f.evidence["attributes"] == attr
    assert "mypkg.hooks.steal" in f.evidence["payload"]
    assert_located(f)


def test_method_type_binding_blocks() -> None:
    verdict = scan(fx.method_type_hook())
    f = finding(verdict, "scan.pickle.method-binding")
    assert verdict.verdict == "block"
    assert f.evidence["payload"].startswith("types.MethodType(mypkg.hooks.steal")


def test_shadow_pickle_rebind_then_reach_blocks() -> None:
    verdict = scan(fx.shadow_pickle())
    f = finding(verdict, "scan.pickle.global-mutation")
    assert verdict.verdict == "block"
    assert f.evidence["global"] == "collections.OrderedDict"
    assert f.evidence["attributes"] == ["__init__"]
    assert "ShadowPickle" in f.message


def test_sys_modules_mutation_blocks() -> None:
    verdict = scan(fx.sys_modules_mutation())
    f = finding(verdict, "scan.pickle.global-mutation")
    assert verdict.verdict == "block"
    assert f.evidence["global"] == "sys.modules" and f.evidence["opcode"] == "SETITEM"


def test_scanner_deactivation_blocks() -> None:
    verdict = scan(fx.scanner_deactivation())
    f = finding(verdict, "scan.pickle.scanner-deactivation")
    assert verdict.verdict == "block"
    assert f.evidence["global"] == "fickling.hook.deactivate_safe_ml_environment"
    assert f.evidence["payload"] == "fickling.hook.deactivate_safe_ml_environment()"


def test_scanner_deactivation_cannot_be_allowlisted() -> None:
    verdict = scan(fx.scanner_deactivation(), allow_globals={"fickling.*": "please"})
    assert verdict.verdict == "block"


def test_injected_exec_in_checkpoint_is_named() -> None:
    verdict = scan(fx.torch_zip_with_exec())
    f = finding(verdict, "scan.pickle.dangerous-global")
    assert verdict.verdict == "block"
    assert f.location.member == "archive/data.pkl"
    assert f.evidence["payload"] == "builtins.exec(\"import os; os.system('id')\")"
    assert finding(verdict, "scan.pickle.discarded-call")


# --------------------------------------------------------------------------- argument shapes


@pytest.mark.parametrize(
    ("sample", "target"),
    [
        (fx.shape_mismatch_tensor, "torch._utils._rebuild_tensor_v2"),
        (fx.shape_mismatch_odict, "collections.OrderedDict"),
    ],
)
def test_allowlisted_callable_with_wrong_shape_quarantines(sample, target: str) -> None:
    verdict = scan(sample())
    f = finding(verdict, "scan.pickle.argument-shape")
    assert verdict.verdict == "quarantine"
    assert f.evidence["global"] == target
    assert f.evidence["expected"].startswith(target + "(")
    assert "unexpected argument shape" in f.message


def test_new_rules_are_in_the_catalogue() -> None:
    ids = {rule.id for rule in RULES}
    for rule_id in (
        "scan.pickle.scanner-deactivation",
        "scan.pickle.method-override",
        "scan.pickle.method-binding",
        "scan.pickle.discarded-call",
        "scan.pickle.code-object",
        "scan.pickle.nested-load",
        "scan.pickle.frame-divergence",
        "scan.pickle.argument-shape",
    ):
        assert rule_id in ids
