"""Malicious variants of every construct the scanner newly accepts (issue 11).

For each thing a benign producer writes and the allowlist now passes - ``getattr`` of a
method, ``functools.partial`` of an allowlisted function, ``type(None)``, dill's
``_load_type``, NumPy's ``_ufunc_reconstruct``, TorchScript archives, torch.fx
``GraphModule`` code, package rules for the numeric stack, the XGBoost/CatBoost native
readers, the bare ``_loss`` module name - a variant with a payload must still be stopped.
Built opcode by opcode or by writing archives; nothing is loaded.
"""

from __future__ import annotations

import io
import pickle
import zipfile

from .assembler import Build, Call, G, dumps, emit

_ARRAY = Call(G("numpy._core.multiarray", "_reconstruct"), (G("numpy", "ndarray"), (0,), b"b"))


def sh(marker: str) -> str:
    return f"touch {marker}"


def getattr_tofile(m: str) -> bytes:
    """``getattr(ndarray, 'tofile')(marker)``: a method that writes a file."""
    return dumps(Call(Call(G("builtins", "getattr"), (_ARRAY, "tofile")), (m,)))


def getattr_reused(m: str) -> bytes:
    """One fitting ``getattr(str, 'lower')``, then the same global used for ``tofile``."""
    lower = Call(G("builtins", "getattr"), (G("builtins", "str"), "lower"))
    evil = Call(Call(G("builtins", "getattr"), (_ARRAY, "tofile")), (m,))
    return dumps((lower, evil))


def partial_swapped_state(m: str) -> bytes:
    """``partial(numpy.add)`` whose BUILD state swaps in a bound ``tofile``, then called."""
    method = Call(G("builtins", "getattr"), (_ARRAY, "tofile"))
    part = Build(Call(G("functools", "partial"), (G("numpy", "add"),)), (method, (m,), None, None))
    return dumps(Call(part, ()))


def partial_state_os(m: str) -> bytes:
    """``partial(numpy.add)`` with ``os.system`` in its state."""
    part = Build(
        Call(G("functools", "partial"), (G("numpy", "add"),)),
        (G("os", "system"), (sh(m),), None, None),
    )
    return dumps(Call(part, ()))


def dill_code_type(m: str) -> bytes:
    """``dill._dill._load_type('CodeType')``: a code builder, not a data type."""
    return dumps(Call(Call(G("dill._dill", "_load_type"), ("CodeType",)), ()))


def dill_hooked_then_os(m: str) -> bytes:
    """A fitting dill-hooked ``_load_type('slice')`` stream followed by ``os.system``."""
    first = Call(Call(G("dill._dill", "_load_type"), ("slice",)), (0, 2, None))
    return dumps(first) + dumps(Call(G("os", "system"), (sh(m),)))


def dill_partial_swapped(m: str) -> bytes:
    """dill's ``_load_type('PartialType')(numpy.add)`` with a state that swaps the function."""
    partial_type = Call(G("dill._dill", "_load_type"), ("PartialType",))
    method = Call(G("builtins", "getattr"), (_ARRAY, "tofile"))
    part = Build(Call(partial_type, (G("numpy", "add"),)), (method, (m,), None, None))
    return dumps(Call(part, ()))


def dill_partial_of_system(m: str) -> bytes:
    """dill's partial type over ``posix.system`` (through its STACK_GLOBAL import)."""
    partial_type = Call(G("dill._dill", "_load_type"), ("PartialType",))
    return dumps(Call(Call(partial_type, (G("posix", "system"), sh(m))), ()))


def dill_getattr_eval(m: str) -> bytes:
    """``dill._dill._getattr`` evals a name cut from its third argument: an eval gadget."""
    evil = f"x'x'x'__import__('os').system({sh(m)!r})#'"
    return dumps(Call(G("dill._dill", "_getattr"), (G("builtins", "str"), "lower", evil)))


def dill_method_binds_foreign(m: str) -> bytes:
    """dill's ``MethodType`` binding a non-method function to an allowlisted instance."""
    method_type = Call(G("dill._dill", "_load_type"), ("MethodType",))
    instance = Call(G("sklearn.preprocessing._data", "StandardScaler"), ())
    return dumps(Call(method_type, (G("numpy", "add"), instance)))


def type_builds_class(m: str) -> bytes:
    """``type('X', (), {...})``: three-argument type() creates a class."""
    return dumps(Call(G("builtins", "type"), ("X", (), {"__init__": G("os", "system")})))


def ufunc_reconstruct_os(m: str) -> bytes:
    """``_ufunc_reconstruct('os', 'system')(cmd)``: the import-by-name gadget."""
    fn = Call(G("numpy._core", "_ufunc_reconstruct"), ("os", "system"))
    return dumps(Call(fn, (sh(m),)))


def ufunc_reconstruct_numpy_save(m: str) -> bytes:
    """``_ufunc_reconstruct('numpy', 'save')(marker, array)``: writes a file."""
    fn = Call(G("numpy.core", "_ufunc_reconstruct"), ("numpy", "save"))
    return dumps(Call(fn, (m, _ARRAY)))


def zoneinfo_from_file(m: str) -> bytes:
    """``getattr(ZoneInfo, 'from_file')``: not an allowlisted attribute."""
    fn = Call(G("builtins", "getattr"), (G("zoneinfo", "ZoneInfo"), "from_file"))
    return dumps(Call(fn, (m,)))


def _torchscript(code: str, data_pkl: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model/constants.pkl", pickle.dumps((), protocol=2))
        zf.writestr(
            "model/data.pkl",
            data_pkl if data_pkl is not None else dumps(Call(G("__torch__", "Model"), ()), proto=2),
        )
        zf.writestr("model/code/__torch__.py", code)
        zf.writestr("model/version", "3\n")
    return buf.getvalue()


def torchscript_from_file(m: str) -> bytes:
    """A TorchScript archive whose forward maps a file with ``torch.from_file``."""
    code = (
        "class Model(Module):\n"
        "  def forward(self: __torch__.Model, x: Tensor) -> Tensor:\n"
        f"    _0 = torch.from_file({m!r}, True, 16)\n"
        "    return x\n"
    )
    return _torchscript(code)


def torchscript_python_import(m: str) -> bytes:
    """``code/`` that is Python, not TorchScript: only a Python loader would run it."""
    return _torchscript(f"import os\nos.system({sh(m)!r})\n")


def torchscript_pickle_os(m: str) -> bytes:
    """A TorchScript layout whose ``data.pkl`` imports ``os.system`` (not C++-resolvable)."""
    code = "class Model(Module):\n  def forward(self, x):\n    return x\n"
    return _torchscript(code, dumps(Call(G("os", "system"), (sh(m),)), proto=2))


_FX_IMPORTS = "import torch\nfrom math import inf\nfrom math import nan\n"


def _graph_module(code: str, imports: str = _FX_IMPORTS) -> bytes:
    body = {
        "training": False,
        "_code": code,
        "_tracer_cls": G("torch.fx._symbolic_trace", "Tracer"),
    }
    return dumps(Call(G("torch.fx.graph_module", "reduce_graph_module"), (body, imports)), proto=2)


def fx_code_import(m: str) -> bytes:
    """A GraphModule whose generated forward calls ``__import__('os').system``."""
    code = f"\n\n\ndef forward(self, x):\n    __import__('os').system({sh(m)!r})\n    return x\n"
    return _graph_module(code)


def fx_import_block(m: str) -> bytes:
    """A GraphModule whose import block imports ``os`` and runs a command."""
    code = "\n\n\ndef forward(self, x):\n    return x\n"
    return _graph_module(code, f"import os\nos.system({sh(m)!r})\n")


def fx_open_write(m: str) -> bytes:
    """fx dialect on the surface, but forward writes a file with ``open``."""
    code = f"\n\n\ndef forward(self, x):\n    _0 = open({m!r}, 'w')\n    return x\n"
    return _graph_module(code)


def pandas_appended(m: str) -> bytes:
    """A real ``DataFrame`` pickle with ``os.system`` appended (a second stream)."""
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    return pickle.dumps(frame, protocol=5) + dumps(Call(G("os", "system"), (sh(m),)))


def sklearn_memory(m: str) -> bytes:
    """``sklearn.utils.Memory(marker)``: an acting class (joblib creates the directory)."""
    return dumps(Call(G("sklearn.utils", "Memory"), (m,)))


def dataframe_to_pickle(m: str) -> bytes:
    """``DataFrame.to_pickle(DataFrame(), marker)`` through a dotted method name."""
    frame = Call(G("pandas.core.frame", "DataFrame"), ())
    return dumps(Call(G("pandas.core.frame", "DataFrame.to_pickle"), (frame, m)))


def pyarrow_os_file(m: str) -> bytes:
    """``pyarrow.lib.OSFile(marker, 'w')``: pyarrow IO, not one of its reconstructors."""
    return dumps(Call(G("pyarrow.lib", "OSFile"), (m, "w")))


def bare_loss_system(m: str) -> bytes:
    """The bare ``_loss`` module name with a command-running attribute."""
    return dumps(Call(G("_loss", "system"), (sh(m),)))


def ubj_with_pickle(m: str) -> bytes:
    """An XGBoost UBJSON head followed by a pickle instead of a model."""
    return b"{L" + (7).to_bytes(8, "big") + b"learner" + emit(Call(G("os", "system"), (sh(m),)))


def cbm_with_pickle(m: str) -> bytes:
    """``CBM1`` magic with a core size past the end, then a pickle."""
    return b"CBM1" + (1 << 30).to_bytes(4, "little") + dumps(Call(G("os", "system"), (sh(m),)))


#: (name, builder, expect, marker, payload globals that a finding must name)
VARIANTS = (
    ("getattr_tofile.pkl", getattr_tofile, "block", True, ("builtins.getattr",)),
    ("getattr_reused.pkl", getattr_reused, "block", True, ("builtins.getattr",)),
    ("partial_swapped_state.pkl", partial_swapped_state, "block", True, ()),
    ("partial_state_os.pkl", partial_state_os, "block", True, ("os.system",)),
    ("dill_load_type_code.pkl", dill_code_type, "block", False, ("dill._dill._load_type",)),
    ("dill_hooked_then_os.joblib", dill_hooked_then_os, "block", True, ("os.system",)),
    ("dill_partial_swapped.joblib", dill_partial_swapped, "block", True, ()),
    ("dill_partial_of_system.joblib", dill_partial_of_system, "block", True, ("posix.system",)),
    ("dill_getattr_eval.joblib", dill_getattr_eval, "block", True, ("dill._dill._getattr",)),
    ("dill_method_binds_foreign.joblib", dill_method_binds_foreign, "block", False, ()),
    ("type_builds_class.pkl", type_builds_class, "block", False, ()),
    ("ufunc_reconstruct_os.pkl", ufunc_reconstruct_os, "block", True, ()),
    ("ufunc_reconstruct_save.pkl", ufunc_reconstruct_numpy_save, "block", True, ()),
    ("zoneinfo_from_file.pkl", zoneinfo_from_file, "block", False, ("builtins.getattr",)),
    ("torchscript_from_file.pt", torchscript_from_file, "block", False, ()),
    ("torchscript_python_import.pt", torchscript_python_import, "block", True, ()),
    ("torchscript_pickle_os.pt", torchscript_pickle_os, "block", True, ("os.system",)),
    ("fx_code_import.pt", fx_code_import, "block", True, ()),
    ("fx_import_block.pt", fx_import_block, "block", True, ()),
    ("fx_open_write.pt", fx_open_write, "block", True, ()),
    ("pandas_appended.pkl", pandas_appended, "block", True, ("os.system",)),
    ("sklearn_memory.pkl", sklearn_memory, "not-pass", True, ("sklearn.utils.Memory",)),
    ("dataframe_to_pickle.pkl", dataframe_to_pickle, "not-pass", True, ()),
    ("pyarrow_os_file.pkl", pyarrow_os_file, "not-pass", True, ("pyarrow.lib.OSFile",)),
    ("bare_loss_system.pkl", bare_loss_system, "block", True, ("_loss.system",)),
    ("xgboost_ubj_pickle.ubj", ubj_with_pickle, "not-pass", True, ()),
    ("catboost_cbm_pickle.cbm", cbm_with_pickle, "not-pass", True, ()),
)
