"""The container image every mlsec-gates component runs in, and how to swap it.

The tag follows the package version, so a pipeline compiled with mlsec-gates X names the
image built from release X (the GCPC ``_image.py`` pattern). The image has mlsec-gates with
the ``scan``, ``validate`` and ``kfp`` extras preinstalled, which is why the components are
declared with ``install_kfp_package=False`` and start without a pip step. The name contains
"python" because KFP warns about lightweight components whose base image does not look like a
Python image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlsec_gates import __version__

if TYPE_CHECKING:
    from kfp.dsl.python_component import PythonComponent

IMAGE_NAME = "ghcr.io/mlsec-gates/mlsec-gates-python"
IMAGE = f"{IMAGE_NAME}:{__version__}"


def with_base_image(
    component: PythonComponent,
    base_image: str,
    *,
    packages_to_install: Sequence[str] | None = None,
    pip_index_urls: Sequence[str] | None = None,
) -> PythonComponent:
    """The same component, built from the same function, running in another image.

    Use it for a mirrored or private registry, or a plain Python image that installs
    mlsec-gates at task start::

        scan = with_base_image(artifact_scan, "registry.internal/mlsec-gates-python:0.1.0")
        scan = with_base_image(
            artifact_scan, "python:3.11-slim", packages_to_install=["mlsec-gates[scan]==0.1.0"]
        )

    Args:
        component: a component from :mod:`mlsec_gates.components`.
        base_image: the image to run in; it must provide ``mlsec_gates`` and ``kfp`` unless
            ``packages_to_install`` installs them.
        packages_to_install: pip requirements installed at every task start (needs access to
            the index). When given, KFP also installs its own ``kfp`` package.
        pip_index_urls: index URLs for those installs.

    Returns:
        A new component; the given one is unchanged.
    """
    from kfp import dsl

    return dsl.component(
        component.python_func,
        base_image=base_image,
        packages_to_install=list(packages_to_install) if packages_to_install else None,
        pip_index_urls=list(pip_index_urls) if pip_index_urls else None,
        install_kfp_package=bool(packages_to_install),
    )
