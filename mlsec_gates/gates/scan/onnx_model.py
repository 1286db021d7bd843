"""ONNX model checks: protobuf parse only, never ``onnx.load`` with external data.

The model is parsed with ``onnx.ModelProto.FromString`` (no file access, no checker).
Every graph is walked - the main graph, node attributes holding subgraphs (``If``/``Loop``/
``Scan`` bodies), local functions and training-info graphs - for

* ``external_data`` locations that leave the model directory (absolute, ``..``, drive
  letters, UNC paths, URLs, NUL bytes): onnx's loader joined them to the model directory
  and read or wrote outside it (CVE-2022-25882, CVE-2024-27318, CVE-2025-51480);
* operator domains outside the ONNX standard sets and ONNX Runtime's ``com.microsoft``
  contrib set, which need custom-op libraries (native or Python code) at load time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from . import rules
from .observations import FormatError, Observation

#: Operator domains every ONNX runtime ships (``""`` is ``ai.onnx``).
STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview", "com.microsoft"}
)
#: Protobuf messages are capped at 2 GiB; larger files are not ONNX-parseable.
MAX_PROTO = (2 << 30) - 1
#: ModelProto field number -> wire type, used to sniff ONNX without parsing.
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def looks_like_onnx(head: bytes) -> bool:
    """Cheap sniff on the first bytes: ``ir_version`` (3..64) then valid ModelProto fields.

    At least one more field must follow ``ir_version`` with the wire type ModelProto gives
    its number, so random binary data starting with ``0x08`` is rarely taken for ONNX.
    """
    if len(head) < 4 or head[0] != 0x08:
        return False
    try:
        ir_version, pos = _varint(head, 1)
        if not 3 <= ir_version <= 64:
            return False
        fields = 1
        while pos < len(head) and fields < 5:
            tag, pos = _varint(head, pos)
            number, wire = tag >> 3, tag & 7
            if _MODEL_FIELDS.get(number) != wire:
                return False
            if wire == 0:
                _, pos = _varint(head, pos)
            else:
                length, pos = _varint(head, pos)
                pos += length
            fields += 1
        return fields >= 2  # ir_version alone is too weak a signal
    except ValueError:
        return False


def check_onnx(buf: Any, start: int, end: int) -> list[Observation]:
    """Parse an ONNX model and report unsafe external data and custom domains.

    Raises:
        FormatError: the bytes are not a ModelProto with a graph (or exceed 2 GiB).
    """
    if end - start > MAX_PROTO:
        raise FormatError(f"{end - start} bytes exceed the 2 GiB protobuf limit", 0)
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is part of the scan extra
        raise FormatError("the onnx package is not installed: model not parsed") from None
    try:
        model = onnx.ModelProto.FromString(bytes(buf[start:end]))
    except Exception as exc:  # protobuf DecodeError and friends
        raise FormatError(f"not a valid ONNX ModelProto: {exc}", 0) from None
    if not model.HasField("graph"):
        raise FormatError("ModelProto has no graph", 0)
    local = {(_text(f.domain), _text(f.name)) for f in model.functions}
    found: list[Observation] = []
    reported: set[tuple[str, str]] = set()
    extents: dict[str, dict[str, Any]] = {}
    for where, graph_nodes, tensors in _graphs(model):
        for tensor_where, tensor in tensors:
            found.extend(_external(tensor, f"{where}/{tensor_where}", reported, extents))
        for node in graph_nodes:
            domain, op_type = _text(node.domain), _text(node.op_type)
            if domain in STANDARD_DOMAINS or (domain, op_type) in local:
                continue
            key = (domain, op_type)
            if key in reported:
                continue
            reported.add(key)
            found.append(
                Observation(
                    rules.OnnxCustomDomain,
                    f"node {_text(node.name) or op_type!r} uses custom operator "
                    f"{domain}::{op_type}",
                    None,
                    f"{where}/node {_text(node.name) or op_type}",
                    {"domain": domain, "op_type": op_type},
                )
            )
    return found


def _graphs(model: Any) -> Iterator[tuple[str, list[Any], list[tuple[str, Any]]]]:
    """Yield ``(where, nodes, tensors)`` for every graph and function, recursively."""
    todo: list[tuple[str, Any]] = [("graph", model.graph)]
    for info in model.training_info:
        todo.append(("training/initialization", info.initialization))
        todo.append(("training/algorithm", info.algorithm))
    for func in model.functions:
        yield f"function {func.domain}::{func.name}", list(func.node), _attr_tensors(func.node)
        todo.extend(_subgraphs(func.node, f"function {func.name}"))
    seen = 0
    while todo and seen < 100_000:
        where, graph = todo.pop()
        seen += 1
        tensors = [(f"initializer {t.name}", t) for t in graph.initializer]
        tensors += [
            (f"sparse initializer {s.values.name}", s.values) for s in graph.sparse_initializer
        ]
        tensors += [
            (f"sparse indices {s.indices.name}", s.indices) for s in graph.sparse_initializer
        ]
        tensors += _attr_tensors(graph.node)
        yield where, list(graph.node), tensors
        todo.extend(_subgraphs(graph.node, where))


def _subgraphs(graph_nodes: Any, where: str) -> list[tuple[str, Any]]:
    out = []
    for node in graph_nodes:
        for attr in node.attribute:
            if attr.HasField("g"):
                out.append((f"{where}/{node.name or node.op_type}.{attr.name}", attr.g))
            out.extend(
                (f"{where}/{node.name or node.op_type}.{attr.name}[{i}]", g)
                for i, g in enumerate(attr.graphs)
            )
    return out


def _attr_tensors(graph_nodes: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for node in graph_nodes:
        for attr in node.attribute:
            label = f"attribute {node.name or node.op_type}.{attr.name}"
            if attr.HasField("t"):
                out.append((label, attr.t))
            out.extend((label, t) for t in attr.tensors)
            if attr.HasField("sparse_tensor"):
                out.append((label, attr.sparse_tensor.values))
    return out


def _text(value: Any) -> str:
    """Protobuf string fields come back as bytes when they are not UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def unsafe_location(location: str | bytes) -> str | None:
    """Why an external-data ``location`` escapes the model directory, or None if it is safe."""
    if isinstance(location, bytes):
        try:
            location = location.decode("utf-8")
        except UnicodeDecodeError:
            return "path is not UTF-8"
    if not location:
        return "empty location"
    if "\x00" in location:
        return "NUL byte in the path"
    if location.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(location):
        return "Windows drive path"
    if _SCHEME.match(location) or location.lower().startswith("file:"):
        return "URL instead of a relative path"
    if location.startswith("~"):
        return "home-directory path"
    if ".." in re.split(r"[\\/]", location):
        return "'..' component climbs out of the model directory"
    return None


def _external(
    tensor: Any,
    where: str,
    reported: set[tuple[str, str]],
    reported_extents: dict[str, dict[str, Any]],
) -> list[Observation]:
    if not tensor.external_data and tensor.data_location != 1:
        return []
    entries = {_text(e.key): e.value for e in tensor.external_data}
    raw_location = entries.get("location", "")
    problem = unsafe_location(raw_location)
    location = _text(raw_location)
    name = _text(tensor.name)
    if problem is not None:
        return [
            Observation(
                rules.OnnxExternalDataTraversal,
                f"tensor {name!r} reads external data from {location!r} ({problem})",
                None,
                where,
                {"tensor": name, "location": location, "problem": problem},
            )
        ]
    extent = _extent(entries)
    if ("location", location) in reported:
        seen = reported_extents.get(location)
        if seen is not None:
            seen["extent"] = (
                None if extent is None or seen["extent"] is None else max(seen["extent"], extent)
            )
            seen["tensors"] += 1
        return []
    reported.add(("location", location))
    evidence = {"tensor": name, "location": location, "extent": extent, "tensors": 1}
    reported_extents[location] = evidence
    return [
        Observation(
            rules.OnnxExternalData,
            f"tensor data is stored in the external file {location!r}",
            None,
            where,
            evidence,
        )
    ]


def _extent(entries: dict[str, Any]) -> int | None:
    """End of a tensor's bytes in its external file (``offset + length``), None if unknown."""
    try:
        offset = int(_text(entries.get("offset", b"0")) or 0)
        length = int(_text(entries["length"]))
    except (KeyError, ValueError):
        return None
    return offset + length if offset >= 0 and length >= 0 else None


__all__ = ["STANDARD_DOMAINS", "check_onnx", "looks_like_onnx", "unsafe_location"]
