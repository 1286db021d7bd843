"""Keys and a small model for the signing tests, generated in code (no fixture files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def write_key_pair(directory: Path, name: str, curve: ec.EllipticCurve) -> tuple[Path, Path]:
    """A PEM private key (PKCS#8) and its PEM public key, written to ``directory``."""
    key = ec.generate_private_key(curve)
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture()
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A P-256 key pair."""
    return write_key_pair(tmp_path, "signing", ec.SECP256R1())


@pytest.fixture()
def other_keys(tmp_path: Path) -> tuple[Path, Path]:
    """Another P-256 key pair (the wrong key)."""
    return write_key_pair(tmp_path, "other", ec.SECP256R1())


def make_model(root: Path) -> Path:
    """A small model directory: weights, config, a nested shard, and names whose string
    order differs from model-signing's path-component order (``a-b`` vs ``a/b``)."""
    root.mkdir(parents=True)
    (root / "model.safetensors").write_bytes(os.urandom(300_000))
    (root / "config.json").write_text('{"hidden": 8}\n')
    (root / "a").mkdir()
    (root / "a" / "b").write_bytes(b"nested")
    (root / "a-b").write_bytes(b"sibling")
    (root / "sub").mkdir()
    (root / "sub" / "shard_1.bin").write_bytes(os.urandom(1000))
    return root


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    """A fresh model directory."""
    return make_model(tmp_path / "bert")
