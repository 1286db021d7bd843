"""Tiny inputs for chain runs: iris as CSV (clean and corrupted), a suite, a key, train hooks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.datasets import iris
from tests.fixtures.pickles import os_system_p0
from tests.fixtures.signing_keys import write_ec_key_pair

SUITE = """\
name: iris-contract
expectations:
  - expect_column_values_to_not_be_null: {column: sepal length (cm)}
  - expect_column_values_to_be_between: {column: sepal length (cm), min_value: 0, max_value: 20}
"""

#: Writes a small NumPy array as the model (np.save of floats: no pickle involved).
CLEAN_HOOK = "import sys, numpy as np; np.save(sys.argv[1] + '/weights.npy', np.linspace(0, 1, 16))"


@dataclass(frozen=True)
class ChainInputs:
    """Paths of the inputs every chain test shares (absolute: chain paths are cwd-relative)."""

    root: Path
    clean_csv: Path
    corrupt_csv: Path
    reference_csv: Path
    """Even rows of iris: the drift gate's trusted reference."""
    current_csv: Path
    """Odd rows of iris: a clean batch."""
    poisoned_csv: Path
    """Odd rows with 12 setosa relabelled virginica: valid values, poisoned labels."""
    suite: Path
    key: Path
    public_key: Path
    evil_hook: Path

    def train(self, hook: str, model_dir: Path) -> str:
        """The ``chain.train`` YAML block running ``python -c hook {model_dir}``."""
        return (
            "  train:\n"
            f"    command: [{sys.executable!r}, -c, {hook!r}, '{{model_dir}}']\n"
            f"    model_dir: {model_dir}\n"
        )

    def evil_train(self, model_dir: Path) -> str:
        """A train step whose 'model' is a pickle that imports os.system (never loaded)."""
        return (
            "  train:\n"
            f"    command: [{sys.executable!r}, {str(self.evil_hook)!r}, '{{model_dir}}']\n"
            f"    model_dir: {model_dir}\n"
        )


@pytest.fixture(scope="session")
def chain_inputs(tmp_path_factory: pytest.TempPathFactory) -> ChainInputs:
    root = tmp_path_factory.mktemp("chain-inputs")
    frame = iris()
    frame.to_csv(root / "iris.csv", index=False)
    broken = frame.copy()
    broken.loc[10:14, "sepal length (cm)"] = None
    broken.loc[20, "sepal length (cm)"] = 99.0
    broken.to_csv(root / "iris-corrupt.csv", index=False)
    (root / "suite.yaml").write_text(SUITE)
    features = frame.drop(columns=["id"])
    features.iloc[::2].to_csv(root / "reference.csv", index=False)
    current = features.iloc[1::2].copy()
    current.to_csv(root / "current.csv", index=False)
    flipped = current.index[current["species"] == "setosa"][:12]
    current.loc[flipped, ["species", "target"]] = ["virginica", 2]
    current.to_csv(root / "poisoned.csv", index=False)
    key, public = write_ec_key_pair(root / "keys")
    evil = root / "evil_hook.py"
    evil.write_text(
        "import pathlib, sys\n"
        "out = pathlib.Path(sys.argv[1])\n"
        f"(out / 'model.pkl').write_bytes({os_system_p0('id')!r})\n"
    )
    return ChainInputs(
        root=root,
        clean_csv=root / "iris.csv",
        corrupt_csv=root / "iris-corrupt.csv",
        reference_csv=root / "reference.csv",
        current_csv=root / "current.csv",
        poisoned_csv=root / "poisoned.csv",
        suite=root / "suite.yaml",
        key=key,
        public_key=public,
        evil_hook=evil,
    )
