"""Drift statistics computed where the data live: Spark (:mod:`.spark`) and SQL (:mod:`.sql`).

Both turn each column of each batch into a summary (:mod:`.summary`) inside the engine and
hand the gate only the summaries; the tests and the decisions are the in-memory engine's.
"""
