"""Data tables for the pickle scanner: allowlisted globals and known-dangerous names.

The scanner is default-deny: a global that a pickle imports is accepted only when it is
listed here (or in the policy's ``gates.scan.allow_globals``). The deny tables only decide
how bad a non-allowlisted global is (CRITICAL "known code execution" versus HIGH
"unknown") and what the finding says.

Names are ``module.qualname`` strings after alias normalisation (see :func:`normalise`).
"""

from __future__ import annotations

import re

try:  # Python 2 -> 3 names, exactly what the unpickler applies for protocols < 3.
    import _compat_pickle

    _IMPORT_MAPPING: dict[str, str] = dict(_compat_pickle.IMPORT_MAPPING)
    _NAME_MAPPING: dict[tuple[str, str], tuple[str, str]] = dict(_compat_pickle.NAME_MAPPING)
except ImportError:  # pragma: no cover - CPython always has it
    _IMPORT_MAPPING = {}
    _NAME_MAPPING = {}

try:  # fickling's own denylist of modules (every dotted component is checked).
    from fickling.fickle import UNSAFE_IMPORTS as _FICKLING_UNSAFE
except Exception:  # pragma: no cover - fickling missing or broken
    _FICKLING_UNSAFE = frozenset()

#: Private / alternative module names mapped to the public module they expose.
MODULE_ALIASES: dict[str, str] = {
    "posix": "os",
    "nt": "os",
    "posixpath": "os.path",
    "ntpath": "os.path",
    "__builtin__": "builtins",
    "__builtins__": "builtins",
    "exceptions": "builtins",
    "_io": "io",
    "_operator": "operator",
    "_pickle": "pickle",
    "cPickle": "pickle",
    "copy_reg": "copyreg",
    "_functools": "functools",
    "_collections": "collections",
    "_socket": "socket",
    "_posixsubprocess": "subprocess",
    "commands": "subprocess",
    "_thread": "threading",
    "thread": "threading",
    "_signal": "signal",
    "_ctypes": "ctypes",
    "_imp": "importlib",
    "_frozen_importlib": "importlib",
    "_frozen_importlib_external": "importlib",
    "_codecs": "codecs",
    "_sqlite3": "sqlite3",
    "torch.serialization": "torch.serialization",
}

#: Exact ``module.qualname`` globals that real ML artefacts use and that cannot run code.
ALLOWED_GLOBALS: frozenset[str] = frozenset(
    [
        # --- PyTorch (seeded from torch/_weights_only_unpickler.py and fickling ML_ALLOWLIST)
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_nested_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_wrapper_subclass",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch._tensor._rebuild_from_type",
        "torch._tensor._rebuild_from_type_v2",
        "torch.serialization._get_layout",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.storage._StorageBase",
        "torch.UntypedStorage",
        "torch.Size",
        "torch.device",
        "torch.Tensor",
        "torch.nn.parameter.Parameter",
        "torch.nn.parameter.Buffer",
        "torch.strided",
        "torch.sparse_coo",
        "torch.sparse_csr",
        "torch.sparse_csc",
        "torch.sparse_bsr",
        "torch.sparse_bsc",
        "torch._mkldnn",
        "torch.contiguous_format",
        "torch.channels_last",
        "torch.channels_last_3d",
        "torch.preserve_format",
        "torch.per_tensor_affine",
        "torch.per_channel_affine",
        "torch.per_tensor_symmetric",
        "torch.per_channel_symmetric",
        "torch.per_channel_affine_float_qparams",
        # --- NumPy
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.ma.core._mareconstruct",
        "numpy.ma.core.MaskedArray",
        "numpy.matrix",
        "numpy.matrixlib.defmatrix.matrix",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        # --- joblib
        "joblib.numpy_pickle.NumpyArrayWrapper",
        # --- SciPy sparse containers (scikit-learn models hold them)
        *[
            f"scipy.sparse.{mod}{kind}_{suffix}"
            for kind in ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")
            for mod in ("", f"_{kind}.", f"{kind}.")
            for suffix in ("matrix", "array")
        ],
        # --- stdlib containers and value types
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.deque",
        "collections.Counter",
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "codecs.encode",
        "builtins.set",
        "builtins.frozenset",
        "builtins.slice",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.complex",
        "builtins.range",
        "builtins.object",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.str",
        "builtins.Ellipsis",
        "builtins.NotImplemented",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
    ]
)

#: ``module.`` prefixes under which CamelCase class names are accepted (first version:
#: estimator / layer classes; constructing them does not run code).
ALLOWED_CLASS_PREFIXES: tuple[str, ...] = (
    "torch.nn.modules.",
    "sklearn.",
)

#: Module components that disqualify a class-prefix match (test helpers, vendored code).
_EXCLUDED_COMPONENTS = frozenset(
    {"tests", "test", "_testing", "testing", "externals", "_build_utils"}
)

#: Modules (and all their submodules) whose globals execute code, touch the system or load
#: nested pickles. Matching is on the normalised module and every dotted prefix.
DANGEROUS_MODULES: frozenset[str] = frozenset(
    {
        # process / system
        "os",
        "subprocess",
        "sys",
        "pty",
        "signal",
        "resource",
        "fcntl",
        "termios",
        "tty",
        "getpass",
        "syslog",
        "atexit",
        "gc",
        "mmap",
        "threading",
        "multiprocessing",
        "concurrent",
        "asyncio",
        "selectors",
        "select",
        "platform",
        "_osx_support",
        "_aix_support",
        "_pyrepl",
        # code loading / execution
        "importlib",
        "pkgutil",
        "zipimport",
        "runpy",
        "code",
        "codeop",
        "compileall",
        "py_compile",
        "marshal",
        "types",
        "ctypes",
        "cffi",
        "inspect",
        "site",
        "sysconfig",
        "distutils",
        "setuptools",
        "pip",
        "ensurepip",
        "venv",
        "builtins",
        "operator",
        "functools",
        "copyreg",
        "weakref",
        # nested deserialisation
        "pickle",
        "pickletools",
        "shelve",
        "dill",
        "cloudpickle",
        "joblib",
        "dbm",
        "jsonpickle",
        "yaml",
        "xmlrpc",
        # debuggers / profilers / gadget hosts
        "bdb",
        "pdb",
        "cProfile",
        "profile",
        "pstats",
        "trace",
        "tracemalloc",
        "timeit",
        "idlelib",
        "lib2to3",
        "doctest",
        "unittest",
        "test",
        "pydoc",
        "webbrowser",
        "uuid",
        "logging",
        "linecache",
        "difflib",
        "filecmp",
        "fileinput",
        "glob",
        "tkinter",
        "turtle",
        "readline",
        "rlcompleter",
        "cmd",
        "sched",
        # file system
        "io",
        "shutil",
        "tempfile",
        "pathlib",
        "zipfile",
        "tarfile",
        "gzip",
        "bz2",
        "lzma",
        "sqlite3",
        # network
        "socket",
        "socketserver",
        "ssl",
        "http",
        "urllib",
        "urllib2",
        "urllib3",
        "requests",
        "httpx",
        "aiohttp",
        "smtplib",
        "ftplib",
        "telnetlib",
        "imaplib",
        "poplib",
        "nntplib",
        "mailbox",
        "wsgiref",
        "pexpect",
        # ML-stack internals with known gadgets
        "numpy.f2py",
        "numpy.testing",
        "numpy.distutils",
        "numpy.ctypeslib",
        "numpy.lib.npyio",
        "torch.serialization",
        "torch.hub",
        "torch._dynamo",
        "torch._inductor",
        "torch._export",
        "torch.export",
        "torch.fx",
        "torch.jit",
        "torch.package",
        "torch.distributed",
        "torch.multiprocessing",
        "torch.testing",
        "torch.onnx",
        "torch.compiler",
        "torch._config_module",
        "torch.utils._config_module",
        "torch.utils.collect_env",
        "torch.utils.bottleneck",
        "torch.utils.cpp_extension",
        "torch.utils.data",
        "torch.utils.benchmark",
        "torch._C",
        "torch._ops",
        "torch.ops",
        "torch._library",
        "torch.library",
        "mlflow",
        "pandas.io",
        "keras",
        "tensorflow",
        "transformers.dynamic_module_utils",
        "IPython",
        "jinja2",
        "numexpr",
        "sympy",
    }
    | {name for name in _FICKLING_UNSAFE if "." not in name and name.isidentifier()}
)

#: Exact callables that are dangerous although their module is not listed as a whole.
DANGEROUS_CALLABLES: frozenset[str] = frozenset(
    {
        "torch.load",
        "torch.save",
        "torch.storage._load_from_bytes",
        "torch._utils._rebuild_from_function",
        "torch.from_file",
        "torch.classes",
        "numpy.load",
        "numpy.save",
        "numpy.fromfile",
        "numpy.memmap",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.core._ufunc_reconstruct",
        "numpy._core._ufunc_reconstruct",
        "numpy.core.multiarray._get_ndarray_c_version",
        "pandas.read_pickle",
        "sklearn.utils._testing",
    }
)

#: Names that are dangerous wherever they appear as a component of the qualname
#: (attribute traversal such as ``shutil.os.system`` or module "numpy" name "os.system").
DANGEROUS_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "system",
        "popen",
        "Popen",
        "spawn",
        "spawnv",
        "spawnve",
        "spawnl",
        "spawnlp",
        "execv",
        "execve",
        "execl",
        "execlp",
        "execvp",
        "fork",
        "forkpty",
        "eval",
        "exec",
        "execfile",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "open",
        "loads",
        "load",
        "load_module",
        "import_module",
        "resolve_name",
        "load_config",
        "run_path",
        "run_module",
        "check_output",
        "check_call",
        "getoutput",
        "getstatusoutput",
        "call",
        "urlopen",
        "urlretrieve",
        "attrgetter",
        "methodcaller",
        "itemgetter",
        "partial",
        "reduce",
    }
)

#: Module roots that, when they show up as an inner component (``torch.os``, ``a.subprocess``),
#: indicate attribute traversal into a dangerous module.
DANGEROUS_INNER_MODULES: frozenset[str] = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "builtins",
        "__builtin__",
        "__builtins__",
        "importlib",
        "runpy",
        "pty",
        "socket",
        "shutil",
        "ctypes",
        "marshal",
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "cloudpickle",
        "pip",
        "webbrowser",
        "pdb",
        "bdb",
        "multiprocessing",
        "asyncio",
        "operator",
        "_operator",
        "functools",
        "types",
        "code",
    }
)

#: Regular expressions over the normalised full name for families of dangerous callables.
DANGEROUS_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^pandas(\.[\w.]+)?\.read_\w+$"),
    re.compile(r"^pandas(\.[\w.]+)?\.eval$"),
    re.compile(r"^numpy(\.[\w.]+)?\.(load|loads|fromfile|memmap|save|savez\w*|tofile)$"),
    re.compile(r"^torch(\.[\w.]+)?\.(load|hub|jit|compile)(\.|$)"),
)

_DUNDER = re.compile(r"^__\w+__$")
_IDENT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def normalise(module: str, name: str) -> tuple[str, str]:
    """Return ``(module, qualname)`` with Python-2 and private-module aliases resolved."""
    if (module, name) in _NAME_MAPPING:
        module, name = _NAME_MAPPING[(module, name)]
    elif module in _IMPORT_MAPPING:
        module = _IMPORT_MAPPING[module]
    root, _, rest = module.partition(".")
    if root in MODULE_ALIASES:
        alias = MODULE_ALIASES[root]
        module = f"{alias}.{rest}" if rest else alias
    return module, name


def is_identifier_path(text: str) -> bool:
    """True when ``text`` is a dotted Python identifier path (``a.b.c``)."""
    return bool(_IDENT_PATH.match(text))


def _module_prefixes(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def dangerous_reason(module: str, name: str) -> str | None:
    """Why ``module.name`` is known-dangerous, or None when it is not on any deny list.

    ``module`` and ``name`` are the raw operands; both the raw and the normalised forms
    are checked, and every dotted component is inspected.
    """
    nmod, nname = normalise(module, name)
    if f"{nmod}.{nname}" in ALLOWED_GLOBALS:
        return None
    for mod, qual in ((module, name), (nmod, nname)):
        full = f"{mod}.{qual}"
        if full in DANGEROUS_CALLABLES:
            return "known code-execution or nested-load callable"
        for prefix in _module_prefixes(full):
            if prefix in DANGEROUS_CALLABLES:
                return "reaches a known code-execution callable"
        for prefix in _module_prefixes(mod):
            if prefix in DANGEROUS_MODULES:
                return f"module {prefix} can execute code or touch the system"
        mod_parts = mod.split(".")
        for part in mod_parts[1:]:
            if part in DANGEROUS_INNER_MODULES:
                return f"module path traverses into {part}"
        qual_parts = qual.split(".")
        for part in qual_parts:
            if _DUNDER.match(part):
                return f"attribute traversal through {part}"
            if part in DANGEROUS_ATTRIBUTES:
                return f"{part} is a known code-execution callable"
            if part in DANGEROUS_INNER_MODULES or part in DANGEROUS_MODULES:
                return f"attribute path traverses into module {part}"
        for pattern in DANGEROUS_PATTERNS:
            if pattern.search(full):
                return "known loader / code-execution callable"
    return None


def builtin_allowed(module: str, name: str) -> bool:
    """True when the built-in allowlist accepts ``module.name`` (after normalisation)."""
    nmod, nname = normalise(module, name)
    full = f"{nmod}.{nname}"
    if full in ALLOWED_GLOBALS or f"{module}.{name}" in ALLOWED_GLOBALS:
        return True
    if full.startswith("torch.") and re.fullmatch(r"torch\.[A-Za-z0-9]*Storage", full):
        return True
    if nmod == "torch" and re.fullmatch(
        r"(u?int\d+|float\d*|bfloat16|half|double|long|short|bool|complex\d+|"
        r"cfloat|cdouble|chalf|qint8|quint8|qint32|quint4x2|quint2x4|float8_\w+|bits\w+)",
        nname,
    ):
        return True
    if "." in nname or not nname[:1].isupper() or not nname.isidentifier():
        return False
    for prefix in ALLOWED_CLASS_PREFIXES:
        if nmod.startswith(prefix) or f"{nmod}." == prefix:
            parts = set(nmod.split("."))
            return not parts & _EXCLUDED_COMPONENTS
    return False


def policy_allowed(module: str, name: str, allow: dict[str, str] | None) -> str | None:
    """The policy reason when ``allow`` (``gates.scan.allow_globals``) accepts the global."""
    if not allow:
        return None
    nmod, nname = normalise(module, name)
    for mod, qual in ((module, name), (nmod, nname)):
        full = f"{mod}.{qual}"
        if full in allow:
            return allow[full]
        for prefix in _module_prefixes(mod):
            key = f"{prefix}.*"
            if key in allow:
                return allow[key]
    return None
