"""Which globals of the ML ecosystem's packages a pickle may import: data, not actions.

Unpickling runs two kinds of code: the *reconstruction* of an object (a class called with
data, ``__new__`` plus ``__setstate__``/``__dict__`` update, or a library's unpickle helper
such as pandas' ``_new_Index`` or Cython's ``__pyx_unpickle_*``) and whatever function the
pickle names. The numeric packages below are built of the first kind and of pure functions
(ufuncs, metrics, score functions, distributions): importing or calling them stores or
computes data. What *acts* on the outside world lives in a few places that are known by
package: file and network IO (``pandas.io``, ``numpy.lib.npyio``, ``scipy.io``,
``statsmodels.iolib``, ``sklearn.datasets``), code evaluation (``pandas.core.computation``,
``statsmodels.formula`` through patsy), process-wide configuration (``set_config``,
``set_option``, ``seterr``), test harnesses and memory views (``as_strided``,
``LowLevelCallable``). Higher-order helpers (``frompyfunc``, ``vectorize``) are *not*
excluded: they only call what they are given, and
what they are given is a global judged on its own. The acting modules and names are
excluded, for every package,
and every component of a dotted qualname is checked (``DataFrame.to_csv``,
``ndarray.tofile``).

A rule says, per package: the root, the excluded modules (and their submodules) and the
excluded names. :func:`package_allowed` applies it; the deny tables of
:mod:`.allowlist_data` still run first and win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .allowlist_data import EXCLUDED_COMPONENTS

#: Name components that act whatever the package (after stripping leading underscores):
#: readers, writers, loaders, downloads, evaluation, global configuration, registration.
ACTING_NAME = re.compile(
    r"^(read|load|save|dump|fetch|download|write|open|to_|from_file|from_csv|from_url|"
    r"tofile|fromfile|fromregex|savetxt|loadtxt|genfromtxt|memmap|eval|query|exec|"
    r"set_|reset_|option_context|config_context|register|unregister|show_versions|"
    r"show_config|show_runtime|test$|webdoc|print_version|import|system|spawn|popen|"
    r"subprocess|urlopen|get_rdataset|get_data_home|clear_data_home|mkdir|remove|unlink|"
    r"rmtree|chdir|getattr|setattr|delattr|compile)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PackageRule:
    """The importable globals of one package: everything but what acts."""

    root: str
    excluded_modules: tuple[str, ...] = ()
    """Modules (with their submodules) whose globals act: IO, evaluation, configuration."""
    excluded_names: frozenset[str] = field(default_factory=frozenset)
    """Names (any qualname component) that act although their module is data."""
    only: frozenset[str] | None = None
    """When set, only these ``module.qualname`` are allowed (packages mostly of IO)."""


RULES: tuple[PackageRule, ...] = (
    PackageRule(
        "sklearn",
        excluded_modules=(
            "sklearn.datasets",
            "sklearn.utils._testing",
            "sklearn.utils.estimator_checks",
            "sklearn.utils.discovery",
            "sklearn.utils._show_versions",
            "sklearn.utils.parallel",
            "sklearn.utils._joblib",
            "sklearn.utils._openmp_helpers",
            "sklearn.utils._user_interface",
            "sklearn.utils._optional_dependencies",
            "sklearn.utils._estimator_html_repr",
            "sklearn.utils._repr_html",
            "sklearn._config",
            "sklearn.experimental",
            "sklearn._min_dependencies",
        ),
        excluded_names=frozenset(
            {
                "Memory",
                "check_memory",
                "all_estimators",
                "all_displays",
                "all_functions",
                "parallel_backend",
                "Parallel",
                "delayed",
                "check_estimator",
                "parametrize_with_checks",
                "get_config",
            }
        ),
    ),
    PackageRule(
        "pandas",
        excluded_modules=(
            "pandas.io",
            "pandas.plotting",
            "pandas.core.computation",
            "pandas.core.accessor",
            "pandas.util",
            "pandas._config",
            "pandas.core.config_init",
            "pandas.api",
            "pandas.compat",
            "pandas._version",
            "pandas._libs.testing",
        ),
        excluded_names=frozenset(
            {
                "ExcelWriter",
                "ExcelFile",
                "HDFStore",
                "pipe",
                "apply",
                "applymap",
                "map",
                "agg",
                "aggregate",
                "transform",
            }
        ),
    ),
    PackageRule(
        "numpy",
        excluded_modules=(
            "numpy.f2py",
            "numpy.distutils",
            "numpy.ctypeslib",
            "numpy.lib.npyio",
            "numpy.lib._npyio_impl",
            "numpy.lib.format",
            "numpy.lib._format_impl",
            "numpy.lib._datasource",
            "numpy.lib.utils",
            "numpy.lib._utils_impl",
            "numpy.lib.stride_tricks",
            "numpy.lib._stride_tricks_impl",
            "numpy.lib.introspect",
            "numpy._pytesttester",
            "numpy.__config__",
            "numpy._core._ufunc_config",
            "numpy.core._ufunc_config",
            "numpy.compat",
            "numpy._utils",
            "numpy._core._internal",
            "numpy.core._internal",
            "numpy.typing",
        ),
        excluded_names=frozenset(
            {
                "DataSource",
                "seterr",
                "seterrcall",
                "seterrobj",
                "setbufsize",
                "printoptions",
                "info",
                "source",
                "lookfor",
                "who",
                "get_include",
                "deprecate",
                "deprecate_with_doc",
                "as_strided",
                "sliding_window_view",
                "_ufunc_reconstruct",
                "_get_ndarray_c_version",
                "nditer",
                "nested_iters",
                "from_dlpack",
                "ctypes",
                "byte_bounds",
                "add_newdoc",
                "add_docstring",
                "_add_newdoc_ufunc",
            }
        ),
    ),
    PackageRule(
        "scipy",
        excluded_modules=(
            "scipy.io",
            "scipy.datasets",
            "scipy.misc",
            "scipy._lib._testutils",
            "scipy._lib._ccallback",
            "scipy._lib._fpumode",
            "scipy.__config__",
            "scipy._lib.doccer",
        ),
        excluded_names=frozenset({"LowLevelCallable", "ccallback"}),
    ),
    PackageRule(
        "statsmodels",
        excluded_modules=(
            "statsmodels.iolib",
            "statsmodels.datasets",
            "statsmodels.formula",
            "statsmodels.tools.web",
            "statsmodels.tools.print_version",
            "statsmodels.graphics",
            "statsmodels.api",
            "statsmodels.sandbox",
            "statsmodels.tools.docstring",
        ),
    ),
    # Gradient boosting: the estimators' __setstate__ hands the model bytes to the native
    # parser of each library's own (data-only) model format.
    PackageRule(
        "xgboost",
        excluded_modules=(
            "xgboost.dask",
            "xgboost.spark",
            "xgboost.collective",
            "xgboost.tracker",
            "xgboost.rabit",
            "xgboost.plotting",
            "xgboost.federated",
            "xgboost.testing",
            "xgboost.libpath",
            "xgboost.config",
        ),
    ),
    PackageRule(
        "lightgbm",
        excluded_modules=("lightgbm.dask", "lightgbm.plotting", "lightgbm.libpath"),
    ),
    PackageRule(
        "catboost",
        excluded_modules=(
            "catboost.datasets",
            "catboost.widget",
            "catboost.utils",
            "catboost.eval",
            "catboost.dev_utils",
        ),
    ),
    # pyarrow is mostly IO (files, streams, IPC, flight, memory pools): only the
    # reconstruction functions its types' __reduce__ write, and its type factories.
    PackageRule(
        "pyarrow",
        only=frozenset(
            f"pyarrow.lib.{name}"
            for name in (
                "_restore_array",
                "chunked_array",
                "py_buffer",
                "field",
                "schema",
                "type_for_alias",
                "table",
                "record_batch",
                "array",
                "scalar",
                "KeyValueMetadata",
                "list_",
                "large_list",
                "fixed_size_list",
                "list_view",
                "large_list_view",
                "map_",
                "struct",
                "dictionary",
                "timestamp",
                "time32",
                "time64",
                "date32",
                "date64",
                "duration",
                "month_day_nano_interval",
                "decimal32",
                "decimal64",
                "decimal128",
                "decimal256",
                "binary",
                "string",
                "utf8",
                "large_binary",
                "large_string",
                "large_utf8",
                "binary_view",
                "string_view",
                "null",
                "bool_",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
                "float16",
                "float32",
                "float64",
                "run_end_encoded",
                "dense_union",
                "sparse_union",
                "union",
                "Table",
                "RecordBatch",
                "ChunkedArray",
                "Schema",
                "Field",
                "DataType",
                "_reconstruct_table",
                "_reconstruct_record_batch",
                "tzinfo_to_string",
                "string_to_tzinfo",
            )
        ),
    ),
)

_BY_ROOT: dict[str, PackageRule] = {rule.root: rule for rule in RULES}


def _excluded_module(module: str, excluded: tuple[str, ...]) -> bool:
    return any(module == m or module.startswith(m + ".") for m in excluded)


def _acting(component: str) -> bool:
    return bool(ACTING_NAME.match(component.lstrip("_")))


def package_allowed(module: str, name: str) -> bool:
    """True when a package rule accepts ``module.name`` (normalised operands).

    The module must belong to a package of :data:`RULES`, lie outside its excluded
    modules and test/vendored code; no qualname component may act (:data:`ACTING_NAME`, the
    rule's excluded names) or be a dunder.
    """
    rule = _BY_ROOT.get(module.partition(".")[0])
    if rule is None:
        return False
    if rule.only is not None:
        return f"{module}.{name}" in rule.only
    if _excluded_module(module, rule.excluded_modules):
        return False
    if EXCLUDED_COMPONENTS.intersection(module.split(".")):
        return False
    for part in name.split("."):
        if not part.isidentifier() or (part.startswith("__") and part.endswith("__")):
            return False
        if part in rule.excluded_names or _acting(part):
            return False
    return True


def excluded_reason(module: str, name: str) -> str | None:
    """Why a package rule leaves ``module.name`` out (it acts), or None; for ``--explain``."""
    rule = _BY_ROOT.get(module.partition(".")[0])
    if rule is None or rule.only is not None:
        return None
    if _excluded_module(module, rule.excluded_modules):
        return "its module does IO, evaluates code or changes process-wide state"
    for part in name.split("."):
        if part in rule.excluded_names or _acting(part):
            return f"{part} acts outside the model (IO, evaluation or global configuration)"
    return None
