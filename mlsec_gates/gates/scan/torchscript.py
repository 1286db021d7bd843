"""TorchScript archives, judged with TorchScript's semantics rather than Python's.

``torch.jit.save`` writes a zip with ``constants.pkl``, ``data.pkl``, ``*.debug_pkl`` and
TorchScript source under ``code/``. ``torch.load`` hands such an archive (recognised, as
here, by its ``constants.pkl`` record) to ``torch.jit.load``, whose C++ unpickler
(``torch/csrc/jit/serialization/unpickler.cpp``) never imports Python: it resolves the
tensor rebuild functions, ``torch.jit._pickle``'s list builders, ``collections.OrderedDict``
and the ``__torch__.*`` classes compiled from ``code/``, and rejects every other global. So
those names are data here, and any other global in the archive is judged as in a plain
pickle (a global the C++ unpickler cannot resolve is only there for some other loader).

What TorchScript *runs* is the code in ``code/``: a Python-syntax language whose calls go to
ATen/prim operators and TorchScript classes. :func:`check_code` parses it (never executes
it) and reports operators with side effects outside the model (file access, RPC), custom
operator namespaces and custom classes that need native libraries, and Python constructs
TorchScript cannot compile (imports of other modules, ``exec``, ``open``...), which only
another loader would run.
"""

from __future__ import annotations

import ast

from . import rules
from .observations import Observation

#: Globals the TorchScript unpickler resolves itself (besides ``__torch__.*`` classes).
TORCHSCRIPT_GLOBALS: frozenset[str] = frozenset(
    {
        *(
            f"torch.jit._pickle.{name}"
            for name in (
                "build_tensor_from_id",
                "build_intlist",
                "build_tensorlist",
                "build_doublelist",
                "build_boollist",
                "build_complexlist",
                "restore_type_tag",
            )
        ),
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "collections.OrderedDict",
    }
)

#: Operator namespaces that ship with torch (and its domain libraries' registered ops).
STANDARD_OPS = frozenset(
    {
        "aten",
        "prim",
        "prims",
        "quantized",
        "_quantized",
        "quantized_decomposed",
        "prepacked",
        "profiler",
        "torchvision",
        "torchaudio",
        "torchtext",
    }
)
#: Custom-class namespaces built into torch (quantized packed weights, XNNPACK).
STANDARD_CLASSES = frozenset({"quantized", "xnnpack", "rnn", "dist_c10d"})
#: Operators / callables whose effect leaves the model: file access, remote calls,
#: loading code. Matched on the last component of a called name.
SIDE_EFFECTS = frozenset(
    {
        "from_file",
        "save",
        "load",
        "_load_for_mobile",
        "load_library",
        "rpc_sync",
        "rpc_async",
        "remote",
        "open",
        "exec",
        "eval",
        "compile",
        "__import__",
        "system",
        "popen",
        "spawn",
        "urlopen",
    }
)
#: Names that never appear in TorchScript (Python escape hatches).
FORBIDDEN_NAMES = frozenset(
    {"os", "sys", "subprocess", "builtins", "__builtins__", "importlib", "socket", "shutil"}
)


def is_torchscript(names: list[str]) -> bool:
    """Does a zip with these member names hold a TorchScript archive (``constants.pkl``)?"""
    return any(n == "constants.pkl" or n.endswith("/constants.pkl") for n in names)


def torchscript_global(module: str, name: str) -> bool:
    """A global the TorchScript unpickler resolves without Python."""
    return (
        module == "__torch__"
        or module.startswith("__torch__.")
        or (f"{module}.{name}" in TORCHSCRIPT_GLOBALS)
    )


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def check_code(text: str, where: str) -> list[Observation]:
    """Observations about one ``code/**.py`` file of a TorchScript archive."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [
            Observation(
                rules.TorchScriptUnparseable,
                f"TorchScript code cannot be parsed: {type(exc).__name__}: {exc}",
                None,
                where,
                {"error": str(exc)[:200]},
            )
        ]
    found: list[Observation] = []
    seen: set[tuple[str, str]] = set()

    def add(rule: type[rules.Rule], what: str, message: str) -> None:
        if (rule.id, what) not in seen:
            seen.add((rule.id, what))
            found.append(Observation(rule, message, None, where, {"construct": what}))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for mod in mods:
                if mod.split(".")[0] not in ("__torch__", "torch"):
                    add(
                        rules.TorchScriptSideEffect,
                        f"import {mod}",
                        f"TorchScript code imports {mod}: not TorchScript, only a Python "
                        "loader would run it",
                    )
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            add(
                rules.TorchScriptSideEffect,
                node.id,
                f"TorchScript code names {node.id}, which TorchScript cannot reach",
            )
        elif isinstance(node, ast.Call):
            name = dotted_name(node.func)
            if name is None:
                continue
            parts = name.split(".")
            if parts[-1] in SIDE_EFFECTS or "distributed" in parts or "rpc" in parts:
                add(
                    rules.TorchScriptSideEffect,
                    name,
                    f"TorchScript code calls {name}, an operation with effects outside "
                    "the model (files, remote calls or code loading)",
                )
            elif parts[0] == "ops" and len(parts) > 2 and parts[1] not in STANDARD_OPS:
                add(
                    rules.TorchScriptCustomOp,
                    f"ops.{parts[1]}",
                    f"TorchScript code calls the custom operator {name}: native code from "
                    "a library the loading process must provide",
                )
        elif isinstance(node, ast.Attribute):
            name = dotted_name(node)
            if name and ".classes." in f".{name}.":
                parts = name.split(".")
                idx = parts.index("classes")
                ns = parts[idx + 1] if idx + 1 < len(parts) else None
                if ns is not None and ns not in STANDARD_CLASSES:
                    add(
                        rules.TorchScriptCustomOp,
                        f"classes.{ns}",
                        f"TorchScript code uses the custom class {name}: native code from a "
                        "library the loading process must provide",
                    )
    return found
