"""Great Expectations, imported once, quietly, and without telemetry.

GX takes 4-7 s to import, prints progress bars, logs its docs decorators at INFO and sends
usage analytics unless told not to; every module of this gate goes through :func:`load_gx`.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from types import ModuleType
from typing import Any

from mlsec_gates.errors import ConfigError


@cache
def load_gx() -> ModuleType:
    """The ``great_expectations`` module, configured for a gate run.

    Raises:
        ConfigError: GX is not installed (``pip install 'mlsec-gates[validate]'``).
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    _quiet()
    try:
        import great_expectations as gx
        import great_expectations.expectations
    except ImportError as exc:
        raise ConfigError(
            f"the validate gate needs Great Expectations ({exc.name} is missing): "
            "pip install 'mlsec-gates[validate]'"
        ) from None
    _quiet()
    return gx


def _quiet() -> None:
    """Before and after the import: GX may set its loggers' levels while importing."""
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    # GX logs every metric it could not compute, with a traceback, at ERROR; the engine turns
    # those into validate.expectation-error findings, so the log would only repeat them.
    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)


def new_context() -> Any:
    """A fresh ephemeral GX context: nothing written to disk, no progress bars."""
    gx = load_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def expectation_classes() -> dict[str, type[Any]]:
    """Every GX expectation class by its snake_case type (``expect_column_values_to_...``)."""
    load_gx()
    import great_expectations.expectations as gxe
    from great_expectations.expectations.registry import (
        get_expectation_impl,
        list_registered_expectation_implementations,
    )

    classes: dict[str, type[Any]] = {}
    for name in list_registered_expectation_implementations():
        classes[name] = get_expectation_impl(name)
    for obj in vars(gxe).values():
        kind = getattr(obj, "expectation_type", None)
        if isinstance(obj, type) and isinstance(kind, str) and kind:
            classes.setdefault(kind, obj)
    return classes
