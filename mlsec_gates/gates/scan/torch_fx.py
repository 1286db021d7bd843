"""torch.fx ``GraphModule`` pickles: the generated Python they execute, checked as code.

``torch.save(graph_module)`` pickles ``torch.fx.graph_module.reduce_graph_module(body,
import_block)``; on load it ``exec``s ``import_block + body['_code']`` (Python that fx
generated from the traced graph) and re-traces it with ``body['_tracer_cls']``. So the
pickle runs source code by design, and whether that is safe is a question about the code.
fx writes a narrow dialect: an import block of ``torch``/``math``/``operator`` names and a
``forward`` made of assignments of calls to ``torch.*`` operators, ``operator.*``,
submodules (``getattr(self, '0')(x)``) and tensor methods. :func:`graph_module_ok` parses
both strings (never runs them) and accepts only that dialect; anything else (other imports,
names such as ``open``/``exec``/``__import__``, dunder attributes, operators with effects
outside the model) leaves the call to the deny tables, which block ``torch.fx``.
"""

from __future__ import annotations

import ast
from typing import Any

from .torchscript import SIDE_EFFECTS, STANDARD_OPS, dotted_name

#: The tracer class fx records; anything else would run its own ``trace`` on load.
TRACER = "torch.fx._symbolic_trace.Tracer"
_IMPORT_ROOTS = frozenset({"torch", "math", "operator"})
_SAFE_NAMES = frozenset(
    {
        "torch",
        "operator",
        "math",
        "inf",
        "nan",
        "device",
        "fx_pytree",
        "pytree",
        "self",
        "getattr",
        "NoneType",
        "None",
        "True",
        "False",
        "len",
        "int",
        "float",
        "bool",
        "slice",
        "tuple",
        "list",
        "dict",
        "range",
        "type",
        "Ellipsis",
    }
)
_NODES = (
    ast.Module,
    ast.FunctionDef,
    ast.arguments,
    ast.arg,
    ast.Assign,
    ast.AnnAssign,
    ast.Return,
    ast.Expr,
    ast.Delete,
    ast.Pass,
    ast.Name,
    ast.Constant,
    ast.Attribute,
    ast.Call,
    ast.keyword,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.Subscript,
    ast.Slice,
    ast.Starred,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.BoolOp,
    ast.Load,
    ast.Store,
    ast.Del,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.Import,
    ast.ImportFrom,
    ast.alias,
    ast.IfExp,
)
_TORCH_DENIED = (
    "torch.hub",
    "torch.jit",
    "torch.distributed",
    "torch.utils",
    "torch.package",
    "torch.serialization",
    "torch.classes",
    "torch.library",
    "torch._dynamo",
    "torch._inductor",
    "torch.compiler",
    "torch.multiprocessing",
)


def code_ok(source: str) -> bool:
    """Is ``source`` in the dialect fx generates (imports + forward functions)?"""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    local: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            return False
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in _IMPORT_ROOTS:
                    return False
                local.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] not in _IMPORT_ROOTS:
                return False
            local.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                return False
            local.add(node.name)
            local.update(a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr.endswith("__"):
                return False
            if node.attr in SIDE_EFFECTS:
                return False
            name = dotted_name(node) or ""
            if any(name == d or name.startswith(d + ".") for d in _TORCH_DENIED):
                return False
            parts = name.split(".")
            if parts[:2] == ["torch", "ops"] and len(parts) > 2 and parts[2] not in STANDARD_OPS:
                return False
            if parts[:2] == ["torch", "_C"] and (
                len(parts) < 3
                or parts[2] not in ("_nn", "_fft", "_linalg", "_special", "_VariableFunctions")
            ):
                return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in _SAFE_NAMES and node.id not in local:
                return False
            if node.id.startswith("__"):
                return False
    return True


def graph_module_ok(body: Any, import_block: Any, text: Any) -> bool:
    """Do ``reduce_graph_module(body, import_block)``'s arguments hold fx-generated code?

    ``text(value)`` returns the string a symbolic value stands for (None if not a string).
    The tracer class must be fx's own (or absent).
    """
    if not isinstance(body, dict):
        return False
    code = text(body.get("_code", body.get("code")))
    block = text(import_block)
    if code is None or block is None:
        return False
    tracer = body.get("_tracer_cls")
    if tracer is not None and getattr(tracer, "full", None) != TRACER:
        return False
    return code_ok(block) and code_ok(code)
