"""Train a small iris classifier from a CSV and pickle it: the chain's train hook command.

Usage: python train_iris.py --data train.csv --out MODEL_DIR

Run by the ``train`` step of ``policies/gated-training.yaml`` (no shell; ``{model_dir}`` in
the policy is replaced by the step's ``model_dir``). Writes ``MODEL_DIR/model.pkl``; with
``--tamper`` it appends a second pickle stream that would call ``os.system`` if loaded, as an
attacker with write access to the training job's output would. Nothing here loads it.
"""

import argparse
import csv
import pickle
from pathlib import Path

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tamper", default="false")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    with open(args.data, newline="") as source:
        rows = list(csv.DictReader(source))
    features = [[float(row[name]) for name in FEATURES] for row in rows]
    labels = [row["species"] for row in rows]
    model = LogisticRegression(max_iter=500).fit(features, labels)
    payload = pickle.dumps(model, protocol=4)
    if args.tamper.lower() == "true":
        command = b"echo pwned"
        # PROTO 2, GLOBAL os.system, BINUNICODE command, TUPLE1, REDUCE, STOP
        payload += b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command
        payload += b"\x85R."
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.pkl").write_bytes(payload)
    print(f"trained on {len(rows)} rows -> {out / 'model.pkl'}")


if __name__ == "__main__":
    main()
