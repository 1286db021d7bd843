"""Example DAG: scan a whole model zoo fanned out over mapped tasks, with one verdict.

``write_zoo`` writes a folder of small pickled models (``zoo_size`` of them); run with
``{"plant": true}`` one of them carries a second pickle stream that would call
``os.system``. ``scan_zoo`` is :func:`~mlsec_gates.operators.scan_fan_out`: it lists the zoo
once, cuts it into ``shards`` shards, scans each shard in its own mapped task (dynamic task
mapping, ``.expand``; each shard with ``gates.scan.workers`` threads) and merges the shard
reports into one report and one verdict (``scan_zoo.merge``: fails on any blocked file, and
when a shard crashed or a file went unscanned). ``publish`` runs only when the merge passed.

Point ``targets`` at an ``s3://`` prefix and set ``aws_conn_id`` for a real bucket; nothing
is read or imported when this file is parsed.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from mlsec_gates.operators.scan_fanout import scan_fan_out

DAG_ID = "example_scan_fan_out"
ZOO = "{{ params.model_dir }}/{{ run_id | replace(':', '_') | replace('+', '_') }}/zoo"


@task
def write_zoo(zoo: str, params: dict | None = None) -> str:
    """Pickle ``zoo_size`` small models (plain dicts), one of them planted when asked."""
    import pickle
    from pathlib import Path

    params = params or {}
    root = Path(zoo)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(int(params.get("zoo_size", 12))):
        (root / f"model-{i:03d}.pkl").write_bytes(pickle.dumps({"weights": [i, i + 1]}))
    if params.get("plant"):
        # A benign stream followed by one that would run a shell command (never loaded).
        payload = b"cos\nsystem\n(S'touch /tmp/pwned'\ntR."
        (root / "model-005.pkl").write_bytes(pickle.dumps({"weights": [5]}) + payload)
    return zoo


@task
def publish(zoo: str) -> str:
    """Stand-in for the deployment of a scanned zoo."""
    return f"published {zoo}"


with DAG(
    DAG_ID,
    schedule=None,
    catchup=False,
    params={
        "model_dir": Param("/tmp/mlsec-example-zoo", type="string"),
        "zoo_size": Param(12, type="integer", minimum=1),
        "plant": Param(False, type="boolean"),
    },
    tags=["mlsec-gates", "example"],
) as dag:
    # [START howto_scan_fan_out]
    zoo = write_zoo(ZOO)
    scan = scan_fan_out(
        targets=ZOO,
        shards=3,
        policy="gates: {scan: {cache: false, workers: 4}}",
    )
    zoo >> scan >> publish(ZOO)
    # [END howto_scan_fan_out]
