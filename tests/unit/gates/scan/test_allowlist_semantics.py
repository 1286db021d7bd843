"""The allowlist built from the ecosystem's semantics (issue 11): what passes, what does not.

Benign inputs are written by the libraries (pickle/joblib/dill/onnx); malicious ones are
assembled opcode by opcode. Nothing is loaded. Payload variants of every accepted construct
are in the generated corpus (``tests/corpus/malicious_allowed.py``).
"""

from __future__ import annotations

import io
import pickle
from functools import partial

import joblib
import numpy as np
import pytest

from mlsec_gates.gates.scan import allowlist
from mlsec_gates.gates.scan.engine import FileVerdict, scan_file
from mlsec_gates.gates.scan.fickling_check import fickling_imports
from mlsec_gates.gates.scan.native_models import check_catboost_cbm, check_xgboost_ubj
from mlsec_gates.gates.scan.observations import FormatError
from mlsec_gates.gates.scan.torch_fx import code_ok
from mlsec_gates.gates.scan.torchscript import check_code
from tests.corpus.assembler import Build, Call, G, dumps


def scan(data: bytes) -> FileVerdict:
    return scan_file(io.BytesIO(data), uri="sample")


def rules_of(verdict: FileVerdict) -> set[str]:
    return {f.rule_id for f in verdict.findings}


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sklearn.metrics._dist_metrics", "newObj"),
        ("sklearn.feature_selection._univariate_selection", "f_classif"),
        ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper"),
        ("pandas._libs.tslibs.offsets", "MonthEnd"),
        ("pandas.core.indexes.interval", "_new_IntervalIndex"),
        ("numpy", "log1p"),
        ("numpy.ma.core", "MaskedArray"),
        ("scipy.stats._continuous_distns", "norm_gen"),
        ("statsmodels.regression.linear_model", "OLSResults"),
        ("pyarrow.lib", "chunked_array"),
        ("_loss", "CyHalfSquaredError"),  # scikit-learn < 1.6 Cython loss module name
    ],
)
def test_data_classes_and_pure_functions_are_allowed(module: str, name: str) -> None:
    assert allowlist.builtin_allowed(module, name)
    assert allowlist.dangerous_reason(module, name) is None


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pandas.io.pickle", "read_pickle"),
        ("pandas.core.frame", "DataFrame.to_csv"),
        ("pandas.core.computation.eval", "eval"),
        ("numpy", "load"),
        ("numpy.lib.stride_tricks", "as_strided"),
        ("numpy", "seterr"),
        ("sklearn.datasets", "fetch_openml"),
        ("sklearn.utils", "Memory"),
        ("scipy.io", "loadmat"),
        ("scipy", "LowLevelCallable"),
        ("statsmodels.iolib.smpickle", "load_pickle"),
        ("pyarrow.lib", "OSFile"),
        ("sklearn.utils._testing", "assert_run_python_script_without_output"),
    ],
)
def test_acting_modules_and_names_are_not_allowed(module: str, name: str) -> None:
    assert not allowlist.builtin_allowed(module, name)


def test_getattr_of_a_builtin_method_passes_and_other_uses_block() -> None:
    lower = Call(G("builtins", "getattr"), (G("builtins", "str"), "lower"))
    assert scan(dumps(lower)).verdict == "pass"
    assert scan(pickle.dumps(str.lower, protocol=2)).verdict == "pass"
    array = Call(G("numpy._core.multiarray", "_reconstruct"), (G("numpy", "ndarray"), (0,), b"b"))
    tofile = Call(G("builtins", "getattr"), (array, "tofile"))
    assert scan(dumps(tofile)).verdict == "block"
    # one fitting use does not excuse a second, unfitting one of the same import
    assert scan(dumps((lower, tofile))).verdict == "block"
    assert scan(dumps(G("builtins", "getattr"))).verdict == "block"  # stored, not called


def test_partial_of_an_allowlisted_function_passes_with_its_state() -> None:
    assert scan(pickle.dumps(partial(np.clip, a_min=0, a_max=1))).verdict == "pass"
    swapped = Build(
        Call(G("functools", "partial"), (G("numpy", "add"),)),
        (G("os", "system"), ("true",), None, None),
    )
    assert scan(dumps(swapped)).verdict == "block"
    computed = Build(
        Call(G("functools", "partial"), (G("numpy", "add"),)),
        (Call(G("numpy", "add"), (1, 2)), (), None, None),
    )
    assert scan(dumps(computed)).verdict == "block"


def test_type_of_constants_passes() -> None:
    assert scan(pickle.dumps([type(None), type(Ellipsis), type(NotImplemented)])).verdict == "pass"
    assert scan(dumps(Call(G("builtins", "type"), ("X", (), {})))).verdict == "block"


def test_dill_written_pickle_passes() -> None:
    """dill's names for data types, partial and method descriptors, as Airflow's dill-hooked
    pickler writes them inside joblib files (the Airflow case itself is in test_zoo)."""
    import dill

    data = dill.dumps(
        {"t": slice, "n": type(None), "f": partial(np.round, decimals=2), "m": str.lower}
    )
    assert b"_load_type" in data and b"_getattr" in data
    verdict = scan(data)
    assert verdict.verdict == "pass", [f.message for f in verdict.findings]


def test_dill_getattr_repr_must_be_exactly_what_dill_writes() -> None:
    ok = Call(
        G("dill._dill", "_getattr"),
        (G("builtins", "str"), "lower", "<method 'lower' of 'str' objects>"),
    )
    assert scan(dumps(ok)).verdict == "pass"
    evil = "x'x'x'__import__('os').system('true')#'"
    bad = Call(G("dill._dill", "_getattr"), (G("builtins", "str"), "lower", evil))
    assert scan(dumps(bad)).verdict == "block"


def test_ufunc_reconstruct_of_a_ufunc_passes() -> None:
    ok = Call(G("numpy._core", "_ufunc_reconstruct"), ("numpy", "log1p"))
    assert scan(dumps(ok)).verdict == "pass"
    bad = Call(G("numpy._core", "_ufunc_reconstruct"), ("numpy", "save"))
    assert scan(dumps(bad)).verdict == "block"


def test_fickling_synthetic_attribute_names_are_not_imports() -> None:
    """joblib object arrays made fickling report ``_var0.dtype``-style imports (issue 11)."""
    out = io.BytesIO()
    joblib.dump({"names": np.array(["a", "b"], dtype=object), "x": np.arange(3.0)}, out)
    verdict = scan(out.getvalue())
    assert verdict.verdict == "pass", [f.message for f in verdict.findings]
    assert "scan.pickle.parser-differential" not in rules_of(verdict)


def test_fickling_still_reads_literal_imports() -> None:
    data = dumps(Call(G("os", "system"), ("true",)))
    assert ("os", "system") in fickling_imports(data, max_opcodes=10_000).imports


TORCHSCRIPT_FORWARD = """class Model(Module):
  def forward(self: __torch__.Model, x: Tensor) -> Tensor:
    _0 = torch.relu(ops.aten.linear(x, self.weight, None))
    _1 = getattr(self, "0")
    ops.prim.RaiseException("bad", "builtins.ValueError")
    return torch.ops.quantized.linear_dynamic(_0, __torch__.torch.classes.quantized.X)
"""


def test_torchscript_code_semantics() -> None:
    assert check_code(TORCHSCRIPT_FORWARD, "code") == []
    ids = {o.rule.id for o in check_code("x = torch.from_file('/etc/passwd', True, 8)\n", "c")}
    assert ids == {"scan.torchscript.side-effect"}
    ids = {o.rule.id for o in check_code("x = ops.my_vendor.secret(y)\n", "c")}
    assert ids == {"scan.torchscript.custom-op"}
    ids = {o.rule.id for o in check_code("import os\n", "c")}
    assert ids == {"scan.torchscript.side-effect"}
    ids = {o.rule.id for o in check_code("def f(:\n", "c")}
    assert ids == {"scan.torchscript.unparseable"}


FX_CODE = """


def forward(self, input):
    input_1 = input
    _0 = getattr(self, "0")(input_1);  input_1 = None
    relu = torch.relu(_0);  _0 = None
    add = operator.add(relu, 1)
    return add.flatten(1)
    """


def test_fx_code_dialect() -> None:
    assert code_ok("NoneType = type(None)\nimport torch\nfrom math import inf\n")
    assert code_ok(FX_CODE)
    assert not code_ok(FX_CODE.replace("torch.relu(_0)", "__import__('os').system('x')"))
    assert not code_ok(FX_CODE.replace("torch.relu(_0)", "open('x', 'w')"))
    assert not code_ok(FX_CODE.replace("torch.relu(_0)", "_0.__class__"))
    assert not code_ok("import os\n")
    assert not code_ok(FX_CODE.replace("torch.relu(_0)", "torch.save(_0, 'x')"))


def test_native_model_readers() -> None:
    key = b"L" + (7).to_bytes(8, "big") + b"learner"
    ubj = b"{" + key + b"{" + b"L" + (4).to_bytes(8, "big") + b"name" + b"SU\x03gbt" + b"}" + b"}"
    check_xgboost_ubj(ubj, 0, len(ubj))
    with pytest.raises(FormatError):
        check_xgboost_ubj(ubj[:-3], 0, len(ubj) - 3)
    assert scan(ubj).kind == "xgboost-ubj" and scan(ubj).verdict == "pass"
    core = b"\x08\x00\x00\x00" + b"\x00" * 12
    cbm = b"CBM1" + len(core).to_bytes(4, "little") + core
    check_catboost_cbm(cbm, 0, len(cbm))
    assert scan(cbm).verdict == "pass"
    with pytest.raises(FormatError):
        check_catboost_cbm(b"CBM1" + (1 << 20).to_bytes(4, "little"), 0, 8)
