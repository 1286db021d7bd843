"""The gates. Each one is a function that checks its inputs and returns a GateResult.

Import the gate you need (``from mlsec_gates.gates.scan import scan_gate``); this package
imports nothing heavy by itself.
"""
