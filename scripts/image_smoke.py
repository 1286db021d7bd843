"""Run one gate component's command inside the component image, as a KFP launcher would.

``bash scripts/build-image.sh`` calls it after building the image. The component is
``artifact_scan_uri`` compiled by this checkout's kfp: the script takes the container command
and arguments from the compiled spec, fills in the executor input (the same code kfp.local
uses), and runs exactly that command in a container of the image (``buildah run``), twice:

- on a clean pickle: the task must exit 0 and its report outputs say ``pass``;
- on a pickle carrying an ``os.system`` call: the task must fail (hard gate) and its report
  outputs, written before the decision, say ``fail`` and name ``os.system``.

``--host`` runs the same command with this interpreter instead of a container (what
``SubprocessRunner(use_venv=False)`` does): the tests check the script itself that way.
Exit status 0 when both runs behaved, 1 otherwise (with what differed).
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

INSIDE = "/smoke"
"""Where the work folder is mounted in the container."""
PIPELINE = "image-smoke"


def component_command(model_uri: str, root: str) -> list[str]:
    """The full command a KFP launcher runs for ``artifact_scan_uri(model_uri=...)``."""
    import yaml
    from google.protobuf import json_format
    from kfp import compiler
    from kfp.local import executor_input_utils, placeholder_utils
    from kfp.pipeline_spec import pipeline_spec_pb2

    from mlsec_gates.components import artifact_scan_uri

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "component.yaml"
        compiler.Compiler().compile(artifact_scan_uri, str(path))
        spec = json_format.ParseDict(
            yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec()
        )
    component = spec.components["comp-artifact-scan-uri"]
    executors = spec.deployment_spec["executors"]
    container = executors["exec-artifact-scan-uri"]["container"]
    task = executor_input_utils.get_local_task_resource_name("artifact-scan-uri")
    executor_input = executor_input_utils.construct_executor_input(
        component_spec=component,
        arguments={"model_uri": model_uri},
        task_root=executor_input_utils.construct_local_task_root(root, PIPELINE, task),
        block_input_artifact=True,
    )
    return placeholder_utils.replace_placeholders(
        full_command=[*container["command"], *container["args"]],
        executor_input_dict=executor_input_utils.executor_input_to_dict(executor_input, component),
        pipeline_resource_name=PIPELINE,
        task_resource_name=task,
        pipeline_root=root,
        unique_pipeline_id=placeholder_utils.make_random_id(),
    )


def samples(work: Path) -> dict[str, Path]:
    """A clean pickle and one that calls ``os.system`` when loaded (written, never loaded)."""
    models = work / "models"
    models.mkdir(parents=True, exist_ok=True)
    clean = pickle.dumps({"coef": [[0.25, -1.5]], "classes": ["a", "b"]}, protocol=4)
    command = b"echo pwned"
    payload = b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R."
    (models / "clean.pkl").write_bytes(clean)
    (models / "tampered.pkl").write_bytes(clean + payload)
    return {"clean": models / "clean.pkl", "tampered": models / "tampered.pkl"}


def run(case: str, *, work: Path, image: str | None) -> tuple[int, dict[str, Any], str]:
    """Run the component on one sample; returns (exit status, its JSON report, its log)."""
    mount = INSIDE if image else str(work)
    root = f"{mount}/root-{case}"
    command = component_command(f"{mount}/models/{case}.pkl", root)
    if image:
        argv = ["buildah", "--storage-driver", "vfs", "run", "--isolation", "chroot"]
        argv += ["--volume", f"{work}:{INSIDE}:rw", _container(image), "--", *command]
    else:  # python3 -> this interpreter, as SubprocessRunner(use_venv=False) does
        argv = [sys.executable if arg == "python3" else arg for arg in command]
        argv = [arg.replace("python3 -m", f"{sys.executable} -m") for arg in argv]
    done = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    reports = list((work / f"root-{case}").glob("**/report_json"))
    report = json.loads(reports[0].read_text()) if reports else {}
    return done.returncode, report, done.stdout + done.stderr


_CONTAINERS: dict[str, str] = {}


def _container(image: str) -> str:
    """One working container of the image for both runs (a vfs copy is costly)."""
    if image not in _CONTAINERS:
        argv = ["buildah", "--storage-driver", "vfs", "from", "--pull=never", "-q", image]
        _CONTAINERS[image] = subprocess.check_output(argv, text=True).strip()
    return _CONTAINERS[image]


def main(argv: list[str] | None = None) -> int:
    """Both runs, checked; prints one line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--image", help="image to run in (buildah, vfs storage)")
    where.add_argument("--host", action="store_true", help="run with this interpreter")
    parser.add_argument("--work", required=True, type=Path, help="work folder (mounted)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    samples(args.work)
    problems = []
    try:
        for case, want_code, want_status in (("clean", 0, "pass"), ("tampered", 1, "fail")):
            code, report, log = run(case, work=args.work, image=args.image)
            status = report.get("status")
            print(f"image smoke: artifact_scan_uri on {case}.pkl: exit {code}, status {status}")
            if (code != 0) != bool(want_code) or status != want_status:
                problems.append(f"{case}: exit {code}, status {status}\n{log[-3000:]}")
            elif case == "tampered" and "os.system" not in json.dumps(report):
                problems.append("tampered: the report does not name os.system")
    finally:
        for container in _CONTAINERS.values():
            subprocess.run(["buildah", "--storage-driver", "vfs", "rm", container], check=False)
    for problem in problems:
        print(f"image smoke: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
