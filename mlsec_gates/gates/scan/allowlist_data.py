"""Data of the pickle allowlist and denylists, kept apart from the logic in :mod:`.allowlist`.

Sources: PyTorch's weights-only unpickler (``torch/_weights_only_unpickler.py``:
``_get_allowed_globals`` and ``_tensor_rebuild_functions``), the globals NumPy, joblib,
SciPy and scikit-learn write when pickling their objects, fickling's ``UNSAFE_IMPORTS`` and
the gadget catalogue of the field notes (GHSA/CVE bypasses). Names are ``module.qualname``
after alias normalisation.

The deny tables never make a global acceptable; they only decide how bad a non-allowlisted
global is (CRITICAL "known code execution" versus HIGH "unknown") and what the finding says.
"""

from __future__ import annotations

import builtins
import re
from functools import lru_cache

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
    # scikit-learn < 1.6 pickled its Cython loss classes under the bare extension name
    "_loss": "sklearn._loss._loss",
}

#: Built-in exception classes: data (``args`` and ``__dict__``), pickled with fitted
#: search objects and error records.
BUILTIN_EXCEPTIONS: frozenset[str] = frozenset(
    name
    for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, BaseException) and not name.startswith("_")
)

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
        "torch._utils._rebuild_device_tensor_from_cpu_tensor",
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
        # --- activation functions that torch.save records for full modules
        *[
            f"torch.nn.functional.{fn}"
            for fn in (
                "relu",
                "relu6",
                "gelu",
                "silu",
                "mish",
                "tanh",
                "sigmoid",
                "softmax",
                "log_softmax",
                "leaky_relu",
                "elu",
                "selu",
                "celu",
                "hardtanh",
                "softplus",
                "glu",
                "hardswish",
                "hardsigmoid",
                "logsigmoid",
                "softsign",
                "tanhshrink",
            )
        ],
        "torch.relu",
        "torch.tanh",
        "torch.sigmoid",
        # --- pandas containers (DataFrame / Series / Index reconstruction)
        "pandas.core.indexes.base._new_Index",
        "pandas._libs.internals._unpickle_block",
        "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
        "pandas._libs.tslibs.offsets._offset_reconstruct",
        "pandas.core.internals.blocks.new_block",
        "pandas.core.internals.blocks._unpickle_block",
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
        # value objects whose construction only stores what it is given
        "types.SimpleNamespace",
        "types.NoneType",
        "types.EllipsisType",
        "types.NotImplementedType",
        "argparse.Namespace",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "pathlib.PurePath",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "pathlib.Path",
        "re._compile",
        *[f"builtins.{name}" for name in sorted(BUILTIN_EXCEPTIONS)],
        # time zones: the database entry is looked up by validated key, never by path
        "datetime.tzinfo",
        "zoneinfo.ZoneInfo",
        "zoneinfo.ZoneInfo._unpickle",
        "zoneinfo._zoneinfo.ZoneInfo._unpickle",
        "pytz._p",
        "pytz._UTC",
        "pytz.UTC",
        "pytz.utc",
        "dateutil.tz.tz.tzutc",
        "dateutil.tz.tz.tzoffset",
        "dateutil.tz.tz.tzlocal",
        "dateutil.tz.tz.tzrange",
        "dateutil.tz.tz.tzstr",
        "dateutil.tz.tz._ttinfo",
        "dateutil.tz.tz.tzfile",
        "dateutil.tz._tzfile.tzfile",
        "dateutil.tz._tzfile._unpickle",
        "dateutil.tz._tzfile._ttinfo",
        "dateutil.relativedelta.relativedelta",
    ]
)

#: ``module.`` prefixes under which CamelCase class names are accepted (layer classes;
#: constructing them does not run code). scikit-learn, pandas, NumPy, SciPy and the other
#: numeric packages are judged by :mod:`.allowlist_packages`.
ALLOWED_CLASS_PREFIXES: tuple[str, ...] = ("torch.nn.modules.",)

#: Module components that disqualify a class-prefix match (test helpers, vendored code).
EXCLUDED_COMPONENTS = frozenset(
    {"tests", "test", "_testing", "testing", "conftest", "externals", "_build_utils", "_vendor"}
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
        # more stdlib gadget hosts (file writes, command lookups, module loading)
        "cgitb",
        "cgi",
        "mailcap",
        "pipes",
        "smtpd",
        "asyncore",
        "asynchat",
        "zipapp",
        "tabnanny",
        "modulefinder",
        "pyclbr",
        "netrc",
        "mimetypes",
        "antigravity",
        "_sitebuiltins",
        "_winapi",
        "msvcrt",
        "winreg",
        "_multiprocessing",
        "_posixshmem",
        "pwd",
        "grp",
        "spwd",
        "crypt",
        "nis",
    }
)


@lru_cache(maxsize=1)
def fickling_unsafe_modules() -> frozenset[str]:
    """Fickling's own denylist of modules (``fickle.UNSAFE_IMPORTS``), imported on first use.

    Consulted only for globals no allowlist accepts, so scanning a benign file never pays for
    importing fickling (a cold-start cost of the CLI).
    """
    try:
        from fickling.fickle import UNSAFE_IMPORTS
    except Exception:  # pragma: no cover - fickling missing or broken
        return frozenset()
    return frozenset(n for n in UNSAFE_IMPORTS if "." not in n and n.isidentifier())


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


#: Tensor / storage classes by name (``torch.FloatStorage``, ``torch.cuda.HalfTensor``...).
TORCH_CLASS_PATTERN = re.compile(r"torch\.(cuda\.)?[A-Za-z0-9]*(Storage|Tensor)")
#: dtype objects that torch pickles by name (``torch.float16``, ``torch.uint4``...).
TORCH_DTYPE_PATTERN = re.compile(
    r"(u?int\d+|float\d*|bfloat16|half|double|long|short|bool|complex\d+|"
    r"cfloat|cdouble|chalf|qint8|quint8|qint32|quint4x2|quint2x4|float8_\w+|bits\w+)"
)
#: NumPy scalar types, pickled by name when an estimator keeps a ``dtype=`` parameter.
NUMPY_TYPE_PATTERN = re.compile(
    r"numpy\.(u?int(8|16|32|64|c|p)?|float(16|32|64|128)?|complex(64|128|256)?|bool_?|"
    r"str_|bytes_|object_|void|datetime64|timedelta64|longlong|ulonglong|longdouble|"
    r"clongdouble|half|single|double|csingle|cdouble|intc|uintc|short|ushort|byte|ubyte)"
)

# --------------------------------------------------------------------------- argument shapes

#: Argument shapes of allowlisted callables, as their serialisers write them:
#: full name -> (kinds of the positional arguments, minimum count). Kinds are checked by
#: :mod:`.pickle_shapes`: ``storage`` persistent id, ``int``, ``ints`` tuple of ints,
#: ``bool``, ``flag`` int or bool, ``odict`` ``OrderedDict()`` or dict, ``dict-or-none``,
#: ``tensor`` result of a torch rebuild call, ``class`` allowlisted class, ``bytes``,
#: ``str``, ``dtype``, ``list``, ``any``.
ARGUMENT_SHAPES: dict[str, tuple[tuple[str, ...], int]] = {
    "torch._utils._rebuild_tensor_v2": (
        ("storage", "int", "ints", "ints", "bool", "odict", "dict-or-none"),
        6,
    ),
    "torch._utils._rebuild_tensor": (("storage", "int", "ints", "ints"), 4),
    "torch._utils._rebuild_parameter": (("tensor", "bool", "odict"), 3),
    "torch._utils._rebuild_parameter_with_state": (("tensor", "bool", "odict", "any"), 4),
    "collections.OrderedDict": (("list",), 0),
    "numpy.core.multiarray._reconstruct": (("class", "ints", "bytes"), 3),
    "numpy._core.multiarray._reconstruct": (("class", "ints", "bytes"), 3),
    "numpy.dtype": (("str-or-class", "flag", "flag"), 1),
    "numpy.core.multiarray.scalar": (("dtype", "bytes"), 1),
    "numpy._core.multiarray.scalar": (("dtype", "bytes"), 1),
    "re._compile": (("bytes", "int"), 2),
    "dateutil.tz.tz.tzfile": (("none", "str"), 1),
    "dateutil.tz._tzfile.tzfile": (("none", "str"), 1),
    "dateutil.tz._tzfile._unpickle": (("class", "any", "any", "any"), 4),
    "zoneinfo.ZoneInfo._unpickle": (("str", "flag"), 2),
    "zoneinfo._zoneinfo.ZoneInfo._unpickle": (("str", "flag"), 2),
    "pytz._p": (("str", "any", "any", "any"), 1),
}

# --------------------------------------------------------------------------- generic constructs

#: Generic callables that are harmless only with certain arguments. Each import is accepted
#: when *every* occurrence of it on the stack is consumed by a call whose arguments fit
#: (checked by :func:`.pickle_shapes.conditional_call`); any other use (passed along, stored,
#: wrong arguments) leaves the import to the deny tables, which block all of them.
CONDITIONAL_GLOBALS: frozenset[str] = frozenset(
    {
        "builtins.getattr",  # getattr(str, 'lower'): a method of a built-in data type
        "functools.partial",  # partial(f, ...) of an allowlisted function, state checked
        "builtins.type",  # type(None), type(Ellipsis), type(NotImplemented)
        "dill._dill._load_type",  # dill's name for a built-in data type (dill-hooked pickler)
        "dill._dill._getattr",  # dill's getattr of a method descriptor (evals its repr: checked)
        "numpy.core._ufunc_reconstruct",  # ufunc by (module, name) of an allowlisted ufunc
        "numpy._core._ufunc_reconstruct",
        "torch.fx.graph_module.reduce_graph_module",  # runs fx-generated code: checked as code
        "torch.fx._symbolic_trace.Tracer",  # only as the tracer of an accepted GraphModule
    }
)

#: Built-in data types whose public methods ``getattr`` may fetch (method descriptors).
GETATTR_TYPES: dict[str, frozenset[str]] = {
    f"builtins.{t.__name__}": frozenset(n for n in dir(t) if not n.startswith("_"))
    for t in (str, bytes, bytearray, int, float, complex, list, tuple, dict, set, frozenset)
}

#: Names ``dill._dill._load_type`` resolves that are plain data types -> the same global.
DILL_TYPES: dict[str, str] = {
    **{
        name: f"builtins.{name}"
        for name in (
            "bool",
            "bytearray",
            "bytes",
            "complex",
            "dict",
            "float",
            "frozenset",
            "int",
            "list",
            "object",
            "range",
            "set",
            "slice",
            "str",
            "tuple",
        )
    },
    **{name: f"builtins.{name}" for name in BUILTIN_EXCEPTIONS},
    "NoneType": "types.NoneType",
    "EllipsisType": "types.EllipsisType",
    "NotImplementedType": "types.NotImplementedType",
}

#: Modules whose ufuncs ``_ufunc_reconstruct(module, name)`` may name.
UFUNC_MODULES: frozenset[str] = frozenset(
    {"numpy", "numpy.core.umath", "numpy._core.umath", "scipy.special", "scipy.special._ufuncs"}
)

# --------------------------------------------------------------------------- Sleepy Pickle

#: Methods whose replacement on a model object hooks inference or training (flagged when
#: the new value is a function or call result, not a literal).
HOOKED_METHODS: frozenset[str] = frozenset(
    {
        "forward",
        "_call_impl",
        "_wrapped_call_impl",
        "eval",
        "train",
        "state_dict",
        "load_state_dict",
        "predict",
        "predict_proba",
        "decision_function",
        "generate",
    }
)

#: Special attributes that an object's state never legitimately sets (always flagged).
SPECIAL_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "__dict__",
        "__class__",
        "__call__",
        "__reduce__",
        "__reduce_ex__",
        "__setstate__",
        "__getstate__",
        "__getattr__",
        "__getattribute__",
        "__setattr__",
        "__delattr__",
        "__init__",
        "__new__",
        "__del__",
        "__init_subclass__",
        "__get__",
        "__set__",
        "__code__",
        "__globals__",
        "__builtins__",
        "__import__",
        "__enter__",
        "__exit__",
        "__iter__",
        "__next__",
        "__eq__",
        "__hash__",
        "__repr__",
        "__str__",
        "__getitem__",
        "__setitem__",
        "__len__",
        "__bool__",
        "__index__",
        "__fspath__",
        "__format__",
    }
)

#: Callables that set an attribute on their first argument.
SETATTR_CALLABLES: frozenset[str] = frozenset(
    {"builtins.setattr", "builtins.object.__setattr__", "builtins.type.__setattr__"}
)

#: Callables that bind a function to an object as a method.
METHOD_BINDERS: frozenset[str] = frozenset({"types.MethodType"})

#: Modules of security scanners: importing them from a pickle can switch a scanner off.
SCANNER_MODULES: frozenset[str] = frozenset(
    {"fickling", "picklescan", "modelscan", "modelaudit", "mlsec_gates", "aisbom", "saferpickle"}
)

# --------------------------------------------------------------------------- code and nested loads

#: Callables that build code or function objects from serialised bytecode.
CODE_BUILDERS: frozenset[str] = frozenset(
    {
        "types.CodeType",
        "types.FunctionType",
        "types.LambdaType",
        "builtins.compile",
        "marshal.loads",
        "marshal.load",
        "dill._dill._create_code",
        "dill._dill._create_function",
        "dill._dill._load_type",
        "dill._dill._create_type",
        "dill._dill._create_cell",
        "cloudpickle.cloudpickle._make_function",
        "cloudpickle.cloudpickle._builtin_type",
        "cloudpickle.cloudpickle._make_skeleton_class",
        "cloudpickle.cloudpickle._make_cell",
        "cloudpickle.cloudpickle_fast._make_function",
        "cloudpickle.cloudpickle_fast._builtin_type",
        "cloudpickle.cloudpickle_fast._make_skeleton_class",
    }
)

#: Last name components that mark a code builder in any dill / cloudpickle version.
CODE_BUILDER_NAMES: frozenset[str] = frozenset(
    {"_create_code", "_create_function", "_make_function", "_builtin_type", "CodeType"}
)

#: Loader callables whose first argument is deserialised: full name -> what it reads.
NESTED_LOADERS: dict[str, str] = {
    "pickle.loads": "pickle",
    "pickle._loads": "pickle",
    "pickle.load": "pickle",
    "pickle._load": "pickle",
    "pickle.Unpickler": "pickle",
    "pickle._Unpickler": "pickle",
    "dill.loads": "pickle",
    "dill.load": "pickle",
    "dill._dill.loads": "pickle",
    "dill._dill.load": "pickle",
    "cloudpickle.loads": "pickle",
    "cloudpickle.load": "pickle",
    "joblib.load": "file",
    "joblib.numpy_pickle.load": "file",
    "torch.load": "file",
    "torch.serialization.load": "file",
    "torch.storage._load_from_bytes": "file",
    "numpy.load": "file",
    "numpy.lib.npyio.load": "file",
    "numpy.lib._npyio_impl.load": "file",
    "pandas.read_pickle": "file",
    "pandas.io.pickle.read_pickle": "file",
    "marshal.loads": "code",
    "marshal.load": "code",
}

#: Callables that only transform bytes/str on the way to a loader: full name -> codec.
BYTES_DECODERS: dict[str, str] = {
    "io.BytesIO": "identity",
    "builtins.bytes": "identity",
    "builtins.bytearray": "identity",
    "builtins.memoryview": "identity",
    "base64.b64decode": "base64",
    "base64.standard_b64decode": "base64",
    "base64.decodebytes": "base64",
    "base64.decodestring": "base64",
    "binascii.a2b_base64": "base64",
    "base64.urlsafe_b64decode": "base64url",
    "base64.b32decode": "base32",
    "base64.b16decode": "hex",
    "base64.a85decode": "a85",
    "base64.b85decode": "b85",
    "binascii.a2b_hex": "hex",
    "binascii.unhexlify": "hex",
    "builtins.bytes.fromhex": "hex",
    "builtins.bytearray.fromhex": "hex",
    "codecs.decode": "codec",
    "codecs.encode": "codec",
    "zlib.decompress": "zlib",
    "gzip.decompress": "gzip",
    "bz2.decompress": "bz2",
    "lzma.decompress": "lzma",
}
