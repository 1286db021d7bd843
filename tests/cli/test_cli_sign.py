"""``mlsec-gates sbom | sign | verify | ledger verify | lineage``: exit codes and messages.

Exit 0: passed (valid, found); 1: the gate failed (invalid signature, ledger problem, nothing
recorded); 2: usage or could not run, with a one-line error.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest

from mlsec_gates.cli import main
from tests.fixtures.signing_keys import write_ec_key_pair

CLEAN = pickle.dumps({"w": [1.0, 2.0]})


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model" / "model.pkl"
    path.parent.mkdir()
    path.write_bytes(CLEAN)
    return path


@pytest.fixture()
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_ec_key_pair(tmp_path / "keys")


def _reports(tmp_path: Path, name: str) -> list[str]:
    return ["--report-dir", str(tmp_path / "reports" / name), "-q"]


def _sign(model: Path, key: Path, tmp_path: Path, *extra: str) -> int:
    bundle = tmp_path / "model.sig"
    return main(["sign", str(model), "--key", str(key), "--out", str(bundle), *extra])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sbom", "--help"], ["examples:", "--dataset", "--environment", "exit status"]),
        (["sign", "--help"], ["examples:", "--kms-key-id", "model_signing verify", "exit status"]),
        (["verify", "--help"], ["examples:", "--public-key", "exit status: 0 the signature"]),
        (["ledger", "verify", "--help"], ["examples:", "--public-key", "exit status"]),
        (["lineage", "--help"], ["examples:", "--ledger", "exit status"]),
    ],
)
def test_help_has_examples_and_exit_codes(
    argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out, text


def test_sbom_writes_the_bom(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,2\n")
    out = tmp_path / "model.cdx.json"
    code = main(
        ["sbom", str(model), "--dataset", str(data), "--out", str(out), *_reports(tmp_path, "s")]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith("sbom: pass: ")
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert hashlib.sha256(data.read_bytes()).hexdigest() in out.read_text()


def test_sign_then_verify_exits_0_then_1_after_tampering(
    model: Path, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _sign(model, keys[0], tmp_path, *_reports(tmp_path, "sign")) == 0
    bundle = tmp_path / "model.sig"
    assert json.loads(bundle.read_text())["mediaType"].startswith("application/vnd.dev.sigstore")
    verify = ["verify", str(model), "--signature", str(bundle), "--public-key", str(keys[1])]
    assert main([*verify, *_reports(tmp_path, "v1")]) == 0
    capsys.readouterr()

    model.write_bytes(CLEAN + b"\x00")
    assert main([*verify, "--report-dir", str(tmp_path / "reports" / "v2")]) == 1
    assert "mlsec-gates verify: FAILED" in capsys.readouterr().out


def test_verify_with_another_key_exits_1(
    model: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    assert _sign(model, keys[0], tmp_path, *_reports(tmp_path, "sign")) == 0
    _, other = write_ec_key_pair(tmp_path / "other")
    args = ["verify", str(model), "--signature", str(tmp_path / "model.sig")]
    assert main([*args, "--public-key", str(other), *_reports(tmp_path, "v")]) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["sign", "{model}"],  # no key
        ["sign", "{model}", "--key", "k.pem", "--kms-key-id", "arn:x"],  # both
        ["verify", "{model}", "--public-key", "p.pem"],  # no signature
        ["verify", "{model}", "--signature", "s.sig"],  # no trusted key
        ["sbom", "{model}", "--requirements", "r.txt", "--environment"],
        ["ledger"],
        ["lineage"],
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([a.format(model=model) for a in argv])
    assert info.value.code == 2
    assert "usage: mlsec-gates" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "command", "message"),
    [
        (["sign", "{model}", "--key", "{tmp}/missing.pem"], "sign", "missing.pem"),
        (
            ["verify", "{model}", "--signature", "{tmp}/nope.sig", "--public-key", "{pub}"],
            "verify",
            "nope.sig",
        ),
        (["sbom", "{tmp}/no-model.pkl"], "sbom", "no-model.pkl"),
        (["ledger", "verify"], "ledger verify", "which ledger?"),
        (["ledger", "verify", "{tmp}/no-ledger.jsonl"], "ledger verify", "no-ledger.jsonl"),
        (["lineage", "not-a-digest", "--ledger", "{tmp}/l.jsonl"], "lineage", "SHA-256"),
    ],
)
def test_errors_exit_2_with_one_line(
    argv: list[str],
    command: str,
    message: str,
    model: Path,
    keys: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    filled = [a.format(model=model, tmp=tmp_path, pub=keys[1]) for a in argv]
    if argv[0] in ("sign", "verify", "sbom"):
        filled += _reports(tmp_path, "r")
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlsec-gates {command}: error: "), err
    assert message in err
    assert err.count("\n") == 1


def test_ledger_verify_and_lineage(
    model: Path, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        f"ledger:\n  uri: {ledger}\n  checkpoint_every: 1\n  checkpoint_key: {keys[0]}\n"
        f"  checkpoint_public_key: {keys[1]}\n"
    )
    assert _sign(model, keys[0], tmp_path, "--policy", str(policy), *_reports(tmp_path, "s")) == 0
    capsys.readouterr()

    # The key and URI come from the policy; then from the command line.
    assert main(["ledger", "verify", "--policy", str(policy)]) == 0
    assert capsys.readouterr().out.startswith(f"mlsec-gates ledger verify: OK: {ledger}: 1 ")
    assert main(["ledger", "verify", str(ledger), "--public-key", str(keys[1]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    # Without a pinned key the checkpoints cannot be trusted: that is a problem too.
    assert main(["ledger", "verify", str(ledger)]) == 1
    assert "FAILED" in capsys.readouterr().out

    digest = hashlib.sha256(CLEAN).hexdigest()
    assert main(["lineage", digest, "--ledger", str(ledger)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mlsec-gates lineage: 1 entry")
    assert " sign pass " in out
    assert main(["lineage", f"sha256:{digest}", "--policy", str(policy), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["gate"], entry["intact"]) == ("sign", True)
    assert main(["lineage", "ab" * 32, "--ledger", str(ledger)]) == 1
    assert "records nothing" in capsys.readouterr().out

    # An entry edited in place: verify exits 1 and names the problem.
    text = ledger.read_text()
    ledger.write_text(text.replace('"status":"pass"', '"status":"fail"', 1))
    assert main(["ledger", "verify", "--policy", str(policy)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "edited" in out
