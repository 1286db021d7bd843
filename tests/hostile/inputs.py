"""The hostile inputs of the CLI suite, built in a folder: what an attacker or an unlucky
operator hands a gate (tests/hostile/test_hostile_cli.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.fixtures import pickles as fx

#: File-like inputs: each goes into every file slot of every command.
FILE_KINDS = (
    "fifo",
    "loop",
    "dangling",
    "empty",
    "header_only",
    "non_utf8_name",
    "alias_bomb",
    "self_alias",
    "deep_json",
    "deep_yaml",
    "binary",
)

#: Folder inputs: each goes into every model/target slot.
DIR_KINDS = ("linked_folder", "unreadable_folder", "odd_entries", "non_utf8_folder")

_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def build(root: Path) -> dict[str, str]:
    """Create every hostile input under ``root``; returns kind -> path."""
    root.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    fifo = root / "fifo.csv"
    os.mkfifo(fifo)
    made["fifo"] = str(fifo)
    loop = root / "loop.yaml"
    loop.symlink_to(loop)
    made["loop"] = str(loop)
    dangling = root / "dangling.json"
    dangling.symlink_to(root / "nowhere")
    made["dangling"] = str(dangling)
    (root / "empty.csv").write_bytes(b"")
    made["empty"] = str(root / "empty.csv")
    (root / "header.csv").write_text("sepal_length,species\n")
    made["header_only"] = str(root / "header.csv")
    odd = os.path.join(os.fsencode(root), b"d\xffata.csv")
    with open(odd, "wb") as out:
        out.write(b"sepal_length,species\n5.1,setosa\n")
    made["non_utf8_name"] = os.fsdecode(odd)
    (root / "bomb.yaml").write_text(_BOMB + "\n")
    made["alias_bomb"] = str(root / "bomb.yaml")
    (root / "self.yaml").write_text("a: &a [*a]\n")
    made["self_alias"] = str(root / "self.yaml")
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    made["deep_json"] = str(root / "deep.json")
    (root / "deep.yaml").write_text("a:\n" + "".join("  " * i + "- \n" for i in range(1, 3000)))
    made["deep_yaml"] = str(root / "deep.yaml")
    (root / "binary.json").write_bytes(b"\x80\x04\x95" + os.urandom(64))
    made["binary"] = str(root / "binary.json")

    evil = root / "evil-outside"
    evil.mkdir()
    (evil / "weights.pkl").write_bytes(fx.payload_after_benign())

    linked = root / "linked_folder"
    linked.mkdir()
    (linked / "config.pkl").write_bytes(fx.benign_dict_pickle())
    (linked / "shards").symlink_to(evil, target_is_directory=True)
    made["linked_folder"] = str(linked)

    locked = root / "unreadable_folder"
    (locked / "sub").mkdir(parents=True)
    (locked / "config.pkl").write_bytes(fx.benign_dict_pickle())
    (locked / "sub" / "weights.pkl").write_bytes(fx.payload_after_benign())
    (locked / "sub").chmod(0)
    made["unreadable_folder"] = str(locked)

    odd_dir = root / "odd_entries"
    odd_dir.mkdir()
    (odd_dir / "config.pkl").write_bytes(fx.benign_dict_pickle())
    os.mkfifo(odd_dir / "pipe.pkl")
    (odd_dir / "loop").symlink_to(odd_dir / "loop")
    (odd_dir / "gone.pkl").symlink_to(root / "nowhere.pkl")
    made["odd_entries"] = str(odd_dir)

    nu = root / "non_utf8_folder"
    nu.mkdir()
    (nu / "config.pkl").write_bytes(fx.benign_dict_pickle())
    with open(os.path.join(os.fsencode(nu), b"w\xffeights.pkl"), "wb") as out:
        out.write(fx.payload_after_benign())
    made["non_utf8_folder"] = str(nu)
    return made


def unlock(root: Path) -> None:
    """Give the unreadable folder back its permissions (so the temp dir can be removed)."""
    sub = root / "unreadable_folder" / "sub"
    if sub.exists():
        sub.chmod(0o755)


def good_inputs(root: Path) -> dict[str, str]:
    """Valid companions: data, suite, model, keys, a signature, a gate report, a ledger."""
    from mlsec_gates.gates.sign import sign_gate
    from tests.fixtures.signing_keys import write_ec_key_pair

    root.mkdir(parents=True, exist_ok=True)
    data = root / "data.csv"
    data.write_text(
        "sepal_length,species\n"
        + "".join(f"{5 + i % 7 * 0.1:.1f},{('setosa', 'virginica')[i % 2]}\n" for i in range(60))
    )
    suite = root / "suite.yaml"
    suite.write_text(
        "name: contract\nexpectations:\n"
        "  - expect_column_values_to_not_be_null: {column: sepal_length}\n"
    )
    model = root / "model"
    model.mkdir()
    (model / "config.pkl").write_bytes(fx.benign_dict_pickle())
    private, public = write_ec_key_pair(root / "keys")
    signature = root / "model.sig"
    sign_gate(str(model), key=str(private), out=str(signature), report_dir=str(root / "sr"))
    report = root / "scan-report.json"
    report.write_text(json.dumps({"gate": "scan", "schema_version": "1.2", "status": "pass"}))
    eval_model = root / "species.pkl"  # a real model of the data, for model-eval
    eval_model.write_bytes(_species_model(data))
    return {
        "data": str(data),
        "suite": str(suite),
        "model": str(model),
        "key": str(private),
        "pub": str(public),
        "sig": str(signature),
        "report": str(report),
        "eval_model": str(eval_model),
        "digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    }


def _species_model(data: Path) -> bytes:
    """A pickled logistic regression of ``species`` on ``sepal_length`` (the good data)."""
    import pickle

    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(data)
    model = LogisticRegression().fit(frame[["sepal_length"]], frame["species"])
    return pickle.dumps(model)
