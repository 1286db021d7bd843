"""The component image: its Containerfile, the tag the components name, the smoke run.

The image itself is built by ``scripts/build-image.sh`` (called by ``.ci/run`` after the
suite: buildah needs root and takes minutes). Here: the Containerfile installs what the
components import, with the tested constraints, under the tag ``_image.py`` gives; and the
smoke script's component command really runs a gate (on this interpreter instead of a
container).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_containerfile_installs_the_package_with_the_tested_constraints() -> None:
    text = (REPO / "Containerfile").read_text()
    assert re.search(r"^FROM \$\{BASE\}$", text, flags=re.M)
    assert "-c /tmp/build/constraints.txt" in text
    assert '"mlsec-gates[${EXTRAS}]==${VERSION}"' in text
    assert "pip check" in text
    extras = re.search(r"^ARG EXTRAS=(\S+)$", text, flags=re.M)
    assert extras is not None
    # Every gate a component runs, and kfp's executor; never Airflow (kfp pins kubernetes<31).
    assert set(extras.group(1).split(",")) >= {
        "scan",
        "validate",
        "drift",
        "model-eval",
        "sbom",
        "sign",
        "postgres",
        "kfp",
    }
    assert "airflow" not in extras.group(1)
    script = (REPO / "scripts" / "build-image.sh").read_text()
    assert f'EXTRAS="{extras.group(1)}"' in script  # the wheels the build prepares


def test_the_build_tags_the_image_the_components_name() -> None:
    from mlsec_gates import __version__
    from mlsec_gates.components._image import IMAGE

    script = (REPO / "scripts" / "build-image.sh").read_text()
    assert "from mlsec_gates.components._image import IMAGE" in script
    assert '-t "$TAG"' in script and 'VERSION="${TAG##*:}"' in script
    assert IMAGE.endswith(f"mlsec-gates-python:{__version__}")
    assert "bash scripts/build-image.sh" in (REPO / ".ci" / "run").read_text()


def test_smoke_runs_a_gate_components_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "image_smoke.py"),
            "--host",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clean.pkl: exit 0, status pass" in done.stdout
    assert "tampered.pkl: exit 1, status fail" in done.stdout
