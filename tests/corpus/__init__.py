"""Generated scan-gate test corpus: inert malicious samples per checklist item, benign files.

Nothing in this package ever loads what it writes. See :mod:`tests.corpus.generate`.
"""
