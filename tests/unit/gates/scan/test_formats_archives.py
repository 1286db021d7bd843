"""Archives and compression wrappers: tar, legacy torch tar, 7z, gzip/bz2/xz/zstd, limits."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from mlsec_gates.gates.scan.archives import looks_like_tar, unsafe_name
from mlsec_gates.gates.scan.containers import BombSuspected, ExpansionBudget, inflate
from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings, scan_file
from tests.fixtures import formats as fx
from tests.fixtures import pickles as fx_pickles


def scan(data: bytes, uri: str = "sample.bin", **settings: object) -> FileVerdict:
    return scan_file(io.BytesIO(data), uri=uri, settings=ScanSettings(**settings))


def rule_ids(verdict: FileVerdict) -> set[str]:
    return {f.rule_id for f in verdict.findings}


@pytest.mark.parametrize(
    "wrap", [fx.gzip_wrap, fx.bz2_wrap, fx.xz_wrap, fx.zstd_wrap], ids=["gz", "bz2", "xz", "zst"]
)
def test_compressed_pickles(wrap) -> None:
    benign = scan(wrap(fx.BENIGN_PICKLE), "model.pkl.z")
    assert benign.verdict == "pass", benign.findings
    bad = scan(wrap(fx.OS_SYSTEM_PICKLE), "model.pkl.z")
    assert bad.verdict == "block"
    assert "scan.pickle.dangerous-global" in rule_ids(bad)
    assert bad.findings[0].location.member.startswith("<")


def test_second_gzip_member_is_scanned() -> None:
    verdict = scan(fx.gzip_two_members(fx.BENIGN_PICKLE, fx.OS_SYSTEM_PICKLE))
    assert verdict.verdict == "block"


def test_garbage_after_compressed_stream_is_reported() -> None:
    verdict = scan(fx.bz2_wrap(fx.BENIGN_PICKLE) + b"not bz2 at all")
    assert verdict.verdict == "quarantine"
    assert any("after the end of the bz2 stream" in f.message for f in verdict.findings)


def test_tar_members_are_scanned() -> None:
    assert scan(fx.tar_archive({"a/model.pkl": fx.BENIGN_PICKLE})).verdict == "pass"
    verdict = scan(fx.tar_gz({"a/cfg.json": b"{}", "a/model.pkl": fx.OS_SYSTEM_PICKLE}))
    assert verdict.kind == "gzip+tar"
    assert verdict.verdict == "block"
    assert any(f.location.member == "<gzip-decompressed>!a/model.pkl" for f in verdict.findings)


def test_pre_posix_tar_is_recognised() -> None:
    import tarfile

    data = fx.tar_archive({"model.pkl": fx.OS_SYSTEM_PICKLE}, fmt=tarfile.USTAR_FORMAT)
    data = data[:257] + b"\x00" * 8 + data[265:]  # v7 header: no magic
    header = bytearray(data[:512])
    header[148:156] = b" " * 8
    header[148:155] = f"{sum(header):06o}\x00".encode()
    assert looks_like_tar(bytes(header))
    assert scan(bytes(header) + data[512:]).verdict == "block"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (fx.tar_archive({"../../etc/cron.d/x": b"x"}), "escapes the extraction directory"),
        (fx.tar_archive({"/abs/model.bin": b"x"}), "absolute path"),
        (fx.tar_with_link(), "symbolic link"),
        (fx.tar_with_link(hard=True), "hard link"),
    ],
)
def test_tar_unsafe_members(data: bytes, expected: str) -> None:
    verdict = scan(data)
    assert verdict.verdict == "quarantine"
    finding = next(f for f in verdict.findings if f.rule_id == "scan.archive.unsafe-member")
    assert expected in finding.message


def test_unsafe_name() -> None:
    assert unsafe_name("a/b.bin") is None
    assert unsafe_name("C:\\x") == "Windows drive path"
    assert unsafe_name("a/../../b") == "'..' component"


def test_tar_corrupt_after_first_member_is_not_passed() -> None:
    data = fx.tar_archive({"a.json": b"{}", "b.pkl": fx.BENIGN_PICKLE})
    broken = data[:1024] + b"\xff" * 512 + data[1536:]
    assert scan(broken).verdict == "quarantine"


def test_legacy_torch_tar() -> None:
    benign = scan(fx.legacy_torch_tar(), "model.pt")
    assert benign.kind == "pytorch-legacy-tar"
    assert benign.verdict == "pass", benign.findings
    bad = scan(fx.legacy_torch_tar(payload=True), "model.pt")
    assert bad.verdict == "block"
    finding = next(f for f in bad.findings if f.rule_id == "scan.pickle.dangerous-global")
    assert finding.location.member == "storages"


def test_7z_members_are_scanned() -> None:
    assert scan(fx.sevenz_archive({"model.pkl": fx.BENIGN_PICKLE})).verdict == "pass"
    verdict = scan(fx.sevenz_archive({"archive/data.pkl": fx.OS_SYSTEM_PICKLE}), "x.7z")
    assert verdict.kind == "7z"
    assert verdict.verdict == "block"


def test_7z_broken_stream_still_scans_decoded_payload() -> None:
    verdict = scan(fx.sevenz_broken_stream(), "model.7z")
    assert verdict.verdict == "block"
    assert {"scan.archive.unreadable", "scan.pickle.dangerous-global"} <= rule_ids(verdict)


def test_encrypted_7z_is_quarantined() -> None:
    verdict = scan(fx.sevenz_archive({"data.pkl": fx.OS_SYSTEM_PICKLE}, password="pw"))
    assert verdict.verdict == "quarantine"
    assert "scan.archive.encrypted" in rule_ids(verdict)


def test_decompression_bomb_ratio() -> None:
    verdict = scan(fx.gzip_bomb(24))
    assert verdict.verdict == "quarantine"
    finding = next(f for f in verdict.findings if f.rule_id == "scan.archive.decompression-bomb")
    assert "ratio above 1000:1" in finding.message


def test_total_expansion_budget_spans_members() -> None:
    data = fx.tar_archive(
        {f"m{i}.gz": fx.gzip_wrap(b"\x00" * 4096 + fx.BENIGN_PICKLE) for i in range(4)}
    )
    assert scan(data).verdict == "pass"
    verdict = scan(data, max_expanded_bytes=10_000)
    assert "scan.archive.decompression-bomb" in rule_ids(verdict)
    assert verdict.verdict == "quarantine"


def test_budget_object() -> None:
    budget = ExpansionBudget(total=100, max_ratio=10)
    with pytest.raises(BombSuspected):
        budget.take(101)
    data = fx.gzip_wrap(b"abc")
    budget = ExpansionBudget(total=100, max_ratio=10)
    out, size, problem = inflate(data, 0, len(data), "gzip", 1 << 20, [], budget=budget)
    assert (out, size, problem) == (b"abc", 3, None)


def test_compression_wrappers_are_bounded_but_not_levels() -> None:
    """gzip of gzip... is no archive level; more than 8 wrappers is a resource limit."""
    verdict = scan(fx.nested_gzip(fx.BENIGN_PICKLE, 9), max_depth=3)
    assert verdict.verdict == "quarantine"
    assert "scan.resource-limit" in rule_ids(verdict)
    assert scan(fx.nested_gzip(fx.BENIGN_PICKLE, 5), max_depth=1).verdict == "pass"


def _zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(name, data)
    return out.getvalue()


def _tar_gz_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_torch_payload_zip_tar_gz_zip_is_blocked_not_quarantined_for_depth() -> None:
    """Issue 11: zip -> tar.gz -> torch zip is three archive levels; gzip is not a fourth."""
    checkpoint = fx_pickles.torch_zip_checkpoint(inject=fx_pickles.os_system_p0()[:-1] + b"0")
    nested = _zip_of("bundle.tar.gz", _tar_gz_of("model.pt", checkpoint))
    verdict = scan(nested, max_depth=3)
    assert verdict.verdict == "block", [f.message for f in verdict.findings]
    assert "scan.resource-limit" not in rule_ids(verdict)
    assert scan(nested, max_depth=2).verdict == "quarantine"  # the limit still holds
