"""mlsec-gates: security gates for ML pipelines.

The gates live in :mod:`mlsec_gates.gates`; the result type in :mod:`mlsec_gates.result`;
adapters in :mod:`mlsec_gates.operators` (Airflow), :mod:`mlsec_gates.components` (KFP) and
the ``mlsec-gates`` command line. This module holds only the version, so importing it is free.
"""

__version__ = "0.1.0"
