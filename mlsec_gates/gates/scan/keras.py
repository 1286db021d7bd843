"""Keras model checks: ``.keras`` config.json and legacy ``.h5`` ``model_config``.

Keras rebuilds a model by resolving the ``module``/``class_name`` pairs of its config and
calling them with the stored arguments, so the config alone decides what code runs at load
time. Reported:

* ``Lambda`` layers carrying code - Keras 3 ``{"class_name": "__lambda__"}`` marshalled
  bytecode, Keras 2 ``[base64-code, defaults, closure]``, or a source string
  (CVE-2024-3660; ``.h5`` files ignore ``safe_mode``, CVE-2025-9905);
* references to modules outside Keras that execute code (``os``, ``subprocess``,
  ``builtins``...: CVE-2025-1550) and Keras functions that fetch or load other files or turn
  ``safe_mode`` off (``get_file``, ``load_model``: CVE-2025-8747;
  ``enable_unsafe_deserialization``, ``set_global_attribute``: CVE-2025-9906; ``TFSMLayer``:
  loads an external SavedModel, CVE-2026-1462);
* ``TFOpLambda`` layers calling TensorFlow file or Python ops;
* any other object from a module outside Keras (custom object: quarantined for review).

HDF5 files are opened with h5py in a short-lived child process (:mod:`.hdf5_isolated`): it
reads attributes and the link table without executing anything; datasets are never read.
"""

from __future__ import annotations

import json
from typing import Any

from . import rules
from ._hdf5_worker import MAX_OBJECTS
from .hdf5_isolated import read_hdf5
from .observations import FormatError, Observation

#: Modules whose objects Keras configs legitimately name.
KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "keras_hub", "keras_nlp", "keras_cv")
#: Top-level modules that only an attack names in a model config.
DANGEROUS_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "importlib",
        "runpy", "shutil", "socket", "pickle", "marshal", "ctypes", "pty", "code", "codeop",
        "types", "pdb", "bdb", "timeit", "pydoc", "webbrowser", "urllib", "http", "requests",
        "multiprocessing", "threading", "asyncio", "functools", "operator", "io", "pathlib",
        "tempfile", "glob", "ftplib", "smtplib", "telnetlib", "dill", "cloudpickle", "joblib",
        "torch", "numpy.f2py", "__main__",
    }
)  # fmt: skip
#: Names that fetch, load or execute other content, or switch safe_mode off.
UNSAFE_NAMES = {
    "get_file": "downloads and may extract an arbitrary URL (CVE-2025-8747)",
    "load_model": "loads another model file, possibly with safe_mode off (CVE-2025-8747)",
    "load_weights": "loads weights from another file",
    "enable_unsafe_deserialization": "switches safe_mode off (CVE-2025-9906)",
    "set_global_attribute": "rewrites Keras global state such as safe_mode (CVE-2025-9906)",
    "TFSMLayer": "loads an external TensorFlow SavedModel with its code (CVE-2026-1462)",
    "exec": "executes Python code",
    "eval": "evaluates Python code",
    "__import__": "imports arbitrary modules",
}
#: TensorFlow op namespaces a ``TFOpLambda`` may call without review.
_TF_SAFE_PREFIXES = (
    "__operators__.", "math.", "nn.", "linalg.", "signal.", "image.", "bitwise.", "dtypes.",
    "random.", "sparse.", "ragged.", "strings.", "compat.v1.nn.", "compat.v1.math.",
)  # fmt: skip
_TF_SAFE_NAMES = frozenset(
    {
        "reshape", "transpose", "concat", "stack", "unstack", "expand_dims", "squeeze", "cast",
        "gather", "gather_nd", "where", "shape", "split", "tile", "slice", "strided_slice",
        "clip_by_value", "ones_like", "zeros_like", "ones", "zeros", "fill", "range", "one_hot",
        "pad", "identity", "einsum", "matmul", "broadcast_to", "reduce_sum", "reduce_mean",
        "reduce_max", "reduce_min", "reduce_prod", "abs", "exp", "sqrt", "square", "maximum",
        "minimum", "argmax", "argmin", "norm", "sort", "argsort", "reverse", "roll", "size",
        "rank", "boolean_mask", "sequence_mask", "repeat", "meshgrid", "linspace", "cumsum",
        "convert_to_tensor", "stop_gradient", "add", "subtract", "multiply", "divide", "pow",
        "nn.softmax", "sigmoid", "tanh", "round", "floor", "ceil", "sign", "equal", "not_equal",
        "less", "greater", "logical_and", "logical_or", "logical_not", "math.reduce_logsumexp",
    }
)  # fmt: skip
#: TensorFlow namespaces and ops that touch files, run Python or load native code.
_TF_DANGEROUS_NAMESPACES = ("io", "raw_ops", "saved_model", "data", "debugging", "summary",
                            "distribute", "gfile", "lite")  # fmt: skip
_TF_DANGEROUS_OPS = frozenset({"py_function", "numpy_function", "py_func", "eager_py_func",
                               "load_op_library", "load_library", "print", "read_file",
                               "write_file", "ReadFile", "WriteFile", "PyFunc"})  # fmt: skip
_MAX_CONFIG = 64 << 20
_MAX_NODES = 1_000_000


def is_keras_module(module: str) -> bool:
    """True for Keras' own modules (``keras.layers``, ``keras.src.ops``, ``tf_keras``...)."""
    return any(module == m or module.startswith(m + ".") for m in KERAS_MODULES)


def parse_config(raw: bytes | str, what: str) -> Any:
    """Decode a JSON config.

    Raises:
        FormatError: too large, not UTF-8 or not JSON.
    """
    if len(raw) > _MAX_CONFIG:
        raise FormatError(f"{what} is {len(raw)} bytes, above the {_MAX_CONFIG}-byte limit")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise FormatError(f"{what} is not valid JSON: {exc}") from None


def check_config(config: Any, source: str) -> list[Observation]:
    """Walk a Keras model config (any nesting) and report code-carrying references."""
    found: list[Observation] = []
    todo: list[tuple[Any, str]] = [(config, "")]
    visited = 0
    while todo and visited < _MAX_NODES:
        node, where = todo.pop()
        visited += 1
        if isinstance(node, dict):
            here = _name_of(node, where)
            if "class_name" in node:
                found.extend(_check_object(node, here, source))
            todo.extend((value, here) for value in node.values())
        elif isinstance(node, list):
            todo.extend((value, where) for value in node)
    if todo:
        found.append(
            Observation(
                rules.KerasBadConfig,
                f"{source} has more than {_MAX_NODES} JSON nodes: not fully checked",
                None,
                source,
                {"limit": _MAX_NODES},
            )
        )
    return found


def _name_of(node: dict[str, Any], where: str) -> str:
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else node.get("name")
    if isinstance(name, str) and "class_name" in node:
        return f"{where}/{name}" if where else name
    return where


def _check_object(node: dict[str, Any], where: str, source: str) -> list[Observation]:
    class_name = node.get("class_name")
    module = node.get("module")
    config = node.get("config")
    label = where or source
    if class_name == "__lambda__":
        return [_lambda(node, label, "marshalled Python bytecode")]
    if class_name == "Lambda" and isinstance(config, dict):
        return _lambda_layer(config, label)
    if class_name == "TFOpLambda" and isinstance(config, dict):
        return _tf_op(config, label)
    if not isinstance(class_name, str):
        return []
    if class_name == "function" and isinstance(config, str) and isinstance(module, str):
        return _reference(module, config, label)
    if isinstance(module, str):
        return _reference(module, class_name, label)
    registered = node.get("registered_name")
    if isinstance(registered, str) and ">" in registered and not registered.startswith("keras"):
        return [_custom(registered, label, "registered custom object")]
    if class_name in UNSAFE_NAMES:
        return _reference("keras", class_name, label)
    return []


def _lambda(node: Any, where: str, what: str) -> Observation:
    code = node.get("config", {}).get("code") if isinstance(node, dict) else None
    size = len(code) if isinstance(code, str) else None
    return Observation(
        rules.KerasLambda,
        f"Lambda layer {where!r} carries {what}"
        + (f" ({size} base64 characters)" if size is not None else ""),
        None,
        where,
        {"layer": where, "code_chars": size},
    )


def _lambda_layer(config: dict[str, Any], where: str) -> list[Observation]:
    found: list[Observation] = []
    for key in ("function", "output_shape", "mask"):
        value = config.get(key)
        kind = config.get(f"{key}_type") or config.get("function_type")
        if value is None or (key != "function" and not isinstance(value, (list, dict))):
            continue
        if isinstance(value, dict) and value.get("class_name") in ("function", "__lambda__"):
            continue  # judged by the walk when it reaches the nested object
        if isinstance(value, str) and kind == "function":
            module = config.get("module") if key == "function" else config.get(f"{key}_module")
            found.extend(_reference(module if isinstance(module, str) else "", value, where))
            continue
        if isinstance(value, list) and value and isinstance(value[0], str):
            found.append(
                Observation(
                    rules.KerasLambda,
                    f"Lambda layer {where!r} carries marshalled Python bytecode in {key} "
                    f"({len(value[0])} base64 characters)",
                    None,
                    where,
                    {"layer": where, "code_chars": len(value[0]), "field": key},
                )
            )
            continue
        if isinstance(value, (str, list)):
            text = value if isinstance(value, str) else json.dumps(value)[:200]
            found.append(
                Observation(
                    rules.KerasLambda,
                    f"Lambda layer {where!r} carries Python code in {key}: {text[:120]!r}",
                    None,
                    where,
                    {"layer": where, "code_chars": len(text), "field": key},
                )
            )
    return found


def _tf_op(config: dict[str, Any], where: str) -> list[Observation]:
    function = config.get("function")
    if not isinstance(function, str):
        return [_custom(repr(function)[:80], where, "TFOpLambda with a non-string function")]
    parts = function.split(".")
    if parts[0] in _TF_DANGEROUS_NAMESPACES or any(p in _TF_DANGEROUS_OPS for p in parts):
        return [
            Observation(
                rules.KerasUnsafeReference,
                f"TFOpLambda layer {where!r} calls tf.{function} (file, Python or I/O op)",
                None,
                where,
                {"layer": where, "function": f"tf.{function}"},
            )
        ]
    if function in _TF_SAFE_NAMES or function.startswith(_TF_SAFE_PREFIXES):
        return []
    return [_custom(f"tf.{function}", where, "TFOpLambda op outside the plain tensor ops")]


def _reference(module: str, name: str, where: str) -> list[Observation]:
    full = f"{module}.{name}" if module else name
    root = module.split(".")[0]
    if root in DANGEROUS_MODULES or module in DANGEROUS_MODULES:
        return [
            Observation(
                rules.KerasUnsafeReference,
                f"config of {where!r} imports {full} from a non-Keras module (CVE-2025-1550)",
                None,
                where,
                {"reference": full, "module": module},
            )
        ]
    if name in UNSAFE_NAMES:
        return [
            Observation(
                rules.KerasUnsafeReference,
                f"config of {where!r} calls {full}, which {UNSAFE_NAMES[name]}",
                None,
                where,
                {"reference": full, "module": module},
            )
        ]
    if is_keras_module(module):
        return []
    return [_custom(full, where, "object from a module outside Keras")]


def _custom(full: str, where: str, what: str) -> Observation:
    return Observation(
        rules.KerasCustomObject,
        f"config of {where!r} uses {full} ({what})",
        None,
        where,
        {"reference": full},
    )


def check_hdf5(buf: Any, start: int, end: int, *, timeout: int) -> tuple[list[Observation], bool]:
    """Check an HDF5 file: Keras configs in root attributes, external links and storage.

    h5py runs in a child process (:mod:`.hdf5_isolated`); ``timeout`` bounds it in seconds.
    Returns the observations and whether the file is a Keras model (has ``model_config``).

    Raises:
        FormatError: h5py cannot open or walk the file.
        ReaderFailed: the HDF5 reader crashed, hung or answered garbage.
    """
    content = read_hdf5(buf, start, end, timeout=timeout)
    found: list[Observation] = []
    for attr, raw in content.attributes.items():
        try:
            config = parse_config(raw, f"HDF5 attribute {attr}")
        except FormatError as exc:
            found.append(
                Observation(rules.KerasBadConfig, str(exc), None, attr, {"attribute": attr})
            )
            continue
        found.extend(check_config(config, attr))
    for link in content.external_links:
        name = link["name"]
        found.append(
            Observation(
                rules.Hdf5ExternalReference,
                f"HDF5 link {name!r} points to {link['file']}:{link['path']}",
                None,
                name,
                {"link": name, "file": link["file"], "path": link["path"]},
            )
        )
    for dataset in content.external_datasets:
        name, files = dataset["name"], dataset["files"]
        found.append(
            Observation(
                rules.Hdf5ExternalReference,
                f"HDF5 dataset {name!r} stores its data in other files: {files[:5]}",
                None,
                name,
                {"dataset": name, "files": files},
            )
        )
    if content.truncated:
        found.append(
            Observation(
                rules.ResourceLimit,
                f"HDF5 file has more than {MAX_OBJECTS} links: the rest was not checked",
                None,
                None,
                {"limit": MAX_OBJECTS},
            )
        )
    return found, "model_config" in content.attributes
