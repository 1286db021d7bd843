"""The benign zoo: model and data files written by the producing libraries themselves.

:mod:`tests.zoo.produce` writes them (in the project venv for CI, in helper venvs for the
older stack and torch; those files are committed under ``committed/<stack>/`` with the
library versions that wrote them). Nothing here is ever loaded: the scanner only reads.
"""
