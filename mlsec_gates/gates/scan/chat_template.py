"""Chat-template checks: Jinja sandbox escapes judged on the parsed syntax tree.

Chat templates (GGUF ``tokenizer.chat_template*``, ``tokenizer_config.json``
``chat_template``, ``.jinja`` files) are Jinja2 source rendered on every request. A template
that walks Python internals (``cycler.__init__.__globals__``, ``''.__class__.__mro__``...)
runs commands in the serving process whenever the renderer is not sandboxed, as in
CVE-2024-34359 (llama-cpp-python), or when the sandbox has a hole (jinja2 CVE-2024-56326,
CVE-2025-27516). The template is parsed with ``jinja2.Environment().parse`` and **never
rendered**; attribute and item names are constant-folded so names assembled with ``~``,
``+``, ``%``, ``|format``, ``.format()`` or ``.join()`` are still seen. A template that does
not parse falls back to a string-level search and is quarantined.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

from . import rules
from .observations import Observation

#: Templates longer than this are not parsed (quarantined as unparseable).
MAX_TEMPLATE_CHARS = 2 << 20

#: Attribute names without a leading underscore that only sandbox escapes use.
_ESCAPE_ATTRS = frozenset(
    {
        "mro",
        "func_globals",
        "func_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "tb_frame",
        "tb_next",
        "co_code",
    }
)
#: Methods reached through ``|attr`` to bypass the sandbox's ``str.format`` guard.
_FORMAT_METHODS = frozenset({"format", "format_map"})
#: Called names that only matter to an attacker (undefined in any chat renderer).
_CODE_CALLS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "open",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
    }
)
_DUNDER = re.compile(r"__[A-Za-z0-9_]+__|_[A-Za-z]\w*__\w+")
_FALLBACK = re.compile(
    r"__[A-Za-z]\w*__|\\x5f|\\u005f|\|\s*attr\s*\(|_TemplateReference__context|\.mro\s*\("
)
_MARKERS = ("{{", "{%")


def looks_like_template(text: str) -> bool:
    """True when ``text`` contains Jinja expression or statement delimiters."""
    return any(marker in text for marker in _MARKERS)


def _environment() -> Any:
    """A parser-only environment knowing the tags Hugging Face chat templates use."""
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension

    class _Generation(Extension):
        """``{% generation %}...{% endgeneration %}`` (transformers' assistant-mask tag)."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", _Generation])


def check_template(text: str, where: str | None, *, strict: bool = True) -> list[Observation]:
    """Judge one template; ``where`` names it in findings (key, member...).

    Args:
        text: the Jinja source.
        where: sub-location used in the observations.
        strict: the text is known to be a template (chat-template key, GGUF metadata,
            template file): a parse failure is quarantined. When False (any other string
            with ``{{``), a parse failure is only reported if escape patterns appear.
    """
    if len(text) > MAX_TEMPLATE_CHARS:
        return [
            Observation(
                rules.ChatTemplateUnparseable,
                f"template of {len(text)} characters exceeds the {MAX_TEMPLATE_CHARS} "
                "character limit: not parsed",
                None,
                where,
                {"chars": len(text)},
            )
        ]
    try:
        tree = _environment().parse(text)
    except Exception as exc:  # TemplateSyntaxError, RecursionError, lexer errors
        return _fallback(text, where, f"{type(exc).__name__}: {exc}", strict=strict)
    return _judge(tree, where)


def _fallback(text: str, where: str | None, error: str, *, strict: bool) -> list[Observation]:
    patterns = sorted({m.group(0) for m in _FALLBACK.finditer(text)})[:10]
    if not patterns and not strict:
        return []
    detail = f"; escape patterns in the text: {', '.join(patterns)}" if patterns else ""
    return [
        Observation(
            rules.ChatTemplateUnparseable,
            f"template does not parse as Jinja ({error.splitlines()[0][:160]}){detail}",
            None,
            where,
            {"error": error[:300], "patterns": patterns},
        )
    ]


def _judge(tree: Any, where: str | None) -> list[Observation]:
    from jinja2 import nodes

    found: list[Observation] = []
    seen: set[tuple[Any, str]] = set()

    def add(rule: Any, message: str, evidence: dict[str, Any]) -> None:
        key = (rule, message)
        if key not in seen and len(found) < 50:
            seen.add(key)
            found.append(Observation(rule, message, None, where, evidence))

    escape = rules.ChatTemplateInjection
    odd = rules.ChatTemplateSuspicious
    _bind_constants(tree)
    covered: set[int] = set()  # inner links of a chain already reported

    def internal(node: Any, chain: str, line: int | None) -> None:
        inner = node
        while isinstance(inner, (nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call)):
            inner = inner.node
            covered.add(id(inner))
        add(escape, f"template reaches Python internals: {chain}", _ev(chain, line))

    for node in tree.find_all(nodes.Node):
        line = getattr(node, "lineno", None)
        if id(node) in covered:
            continue
        if isinstance(node, nodes.Getattr):
            if _is_private(node.attr) or node.attr in _ESCAPE_ATTRS:
                internal(node, _chain(node), line)
            elif node.attr == "format_map":
                add(odd, "template calls str.format_map", _ev(_chain(node), line))
        elif isinstance(node, nodes.Getitem):
            key = _fold(node.arg)
            if _is_internal_name(key):
                internal(node, f"{_chain(node.node)}[{key!r}]", line)
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            name = _fold(node.args[0]) if node.args else None
            if not isinstance(name, str):
                add(
                    odd,
                    "template uses |attr() with a name computed at render time",
                    _ev(_chain(node.node) + "|attr(?)", line),
                )
            elif _is_internal_name(name) or name in _FORMAT_METHODS:
                internal(node, f"{_chain(node.node)}|attr({name!r})", line)
        elif isinstance(node, nodes.Name) and node.name.startswith("__"):
            add(escape, f"template names the Python internal {node.name}", _ev(node.name, line))
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            called = node.node.name
            names = [a for a in (_fold(arg) for arg in node.args) if _is_internal_name(a)]
            if called in _CODE_CALLS and names:
                internal(node, f"{called}(..., {names[0]!r})", line)
            elif called in _CODE_CALLS:
                add(odd, f"template calls {called}()", _ev(called, line))
        elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            kind = type(node).__name__.lower()
            add(
                odd,
                f"template uses {{% {kind} %}} (loads other templates or files)",
                _ev(kind, line),
            )
    return found


def _ev(construct: str, line: int | None) -> dict[str, Any]:
    return {"construct": construct[:200], "line": line}


def _is_private(name: str) -> bool:
    return name.startswith("_") and len(name) > 1


def _is_internal_name(name: Any) -> bool:
    """A constant string naming a private/dunder attribute or an escape-only attribute."""
    return isinstance(name, str) and (_is_private(name) or name in _ESCAPE_ATTRS)


def _chain(node: Any) -> str:
    """Readable source-like rendering of an attribute chain (for messages)."""
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr):
        return f"{_chain(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        key = _fold(node.arg)
        return f"{_chain(node.node)}[{key!r}]" if key is not None else f"{_chain(node.node)}[...]"
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)[:40]
    if isinstance(node, nodes.Call):
        return f"{_chain(node.node)}()"
    if isinstance(node, nodes.Filter):
        return f"{_chain(node.node)}|{node.name}"
    return f"<{type(node).__name__.lower()}>"


_STATE = threading.local()
"""Per-thread ``consts``: template variables set once to a constant
(``{% set g = '__glo' ~ 'bals__' %}``), for the template being judged."""


def _bind_constants(tree: Any) -> None:
    """Record variables assigned exactly once from a foldable expression."""
    from jinja2 import nodes

    constants: dict[str, Any] = {}
    _STATE.consts = constants
    counts: dict[str, int] = {}
    values: dict[str, Any] = {}
    for assign in tree.find_all(nodes.Assign):
        if isinstance(assign.target, nodes.Name):
            name = assign.target.name
            counts[name] = counts.get(name, 0) + 1
            values[name] = assign.node
    for _ in range(3):  # constants built from constants
        for name, node in values.items():
            if counts[name] == 1 and name not in constants:
                value = _fold(node)
                if value is not None:
                    constants[name] = value


def _fold(node: Any, depth: int = 0) -> Any:
    """Constant-fold string-building expressions; None when not constant."""
    from jinja2 import nodes

    if depth > 20 or node is None:
        return None
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return getattr(_STATE, "consts", {}).get(node.name)
    if isinstance(node, (nodes.List, nodes.Tuple)):
        items = [_fold(item, depth + 1) for item in node.items]
        return None if any(i is None for i in items) else items
    if isinstance(node, nodes.Concat):
        parts = [_fold(item, depth + 1) for item in node.nodes]
        return None if any(p is None for p in parts) else "".join(str(p) for p in parts)
    if isinstance(node, (nodes.Add, nodes.Mod)):
        left, right = _fold(node.left, depth + 1), _fold(node.right, depth + 1)
        return _binary(node, left, right)
    if isinstance(node, nodes.Filter):
        return _fold_filter(node, depth)
    if isinstance(node, nodes.Call):
        return _fold_call(node, depth)
    return None


def _binary(node: Any, left: Any, right: Any) -> Any:
    from jinja2 import nodes

    if left is None or right is None:
        return None
    try:
        if isinstance(node, nodes.Add) and isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(node, nodes.Mod) and isinstance(left, str):
            return left % (tuple(right) if isinstance(right, list) else right)
    except (TypeError, ValueError):
        return None
    return None


def _fold_filter(node: Any, depth: int) -> Any:
    base = _fold(node.node, depth + 1)
    args = [_fold(a, depth + 1) for a in node.args]
    if base is None or any(a is None for a in args):
        return None
    try:
        if node.name == "format" and isinstance(base, str):
            return base % tuple(args)
        if node.name == "join" and isinstance(base, list):
            sep = args[0] if args else ""
            return str(sep).join(str(x) for x in base)
        if node.name in ("lower", "upper", "string", "trim", "reverse") and isinstance(base, str):
            return {
                "lower": base.lower(),
                "upper": base.upper(),
                "string": base,
                "trim": base.strip(),
                "reverse": base[::-1],
            }[node.name]
    except (TypeError, ValueError):
        return None
    return None


def _fold_call(node: Any, depth: int) -> Any:
    from jinja2 import nodes

    args = [_fold(a, depth + 1) for a in node.args]
    if any(a is None for a in args):
        return None
    try:
        if isinstance(node.node, nodes.Name) and node.node.name == "chr" and len(args) == 1:
            return chr(int(args[0]))
        if isinstance(node.node, nodes.Getattr):
            base = _fold(node.node.node, depth + 1)
            method = node.node.attr
            if isinstance(base, str) and method == "join" and len(args) == 1:
                return base.join(str(x) for x in args[0])
            if isinstance(base, str) and method == "format":
                return base.format(*args)
            if isinstance(base, str) and method in ("lower", "upper", "strip") and not args:
                return getattr(base, method)()
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        return None
    return None


def templates_in_json(obj: Any, *, max_nodes: int = 200_000) -> Iterator[tuple[str, str, bool]]:
    """Yield ``(where, template, strict)`` for every template-looking string of a JSON value.

    ``chat_template`` keys (a string, or a list of ``{"name", "template"}``) are strict;
    any other string containing ``{{`` or ``{%`` is checked leniently.
    """
    todo: list[tuple[str, Any, bool]] = [("$", obj, False)]
    visited = 0
    while todo and visited < max_nodes:
        path, value, strict = todo.pop()
        visited += 1
        if isinstance(value, str):
            if strict or looks_like_template(value):
                yield path, value, strict
        elif isinstance(value, dict):
            for key, item in value.items():
                is_chat = isinstance(key, str) and key.endswith("chat_template")
                todo.append((f"{path}.{key}", item, strict or is_chat))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if strict and isinstance(item, dict):
                    name = item.get("name", index)
                    template = item.get("template")
                    if isinstance(template, str):
                        yield f"{path}[{name}]", template, True
                        continue
                todo.append((f"{path}[{index}]", item, strict and isinstance(item, str)))
