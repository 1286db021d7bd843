"""ONNX external-data files judged with the model that references them.

An ONNX model can keep its tensors in side files (``model.onnx.data``, one file per tensor):
raw little-endian numbers that onnx reads with ``offset``/``length`` from the model's
``external_data`` entries and never deserialises. On their own such files match no format
(quarantined as unsupported); scanned in the same run as a model that names them, they are
what the model says they are, provided they hold every byte the model reads. A file that
matched some format (a pickle named ``weights.bin``...) keeps its own verdict.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from mlsec_gates.result import Finding, Location, Subject

from . import rules

#: Kind given to a side file accepted as the external data of a scanned ONNX model.
KIND = "onnx-external-data"


def _join(model: str, location: str) -> str:
    base = posixpath.dirname(model.replace("\\", "/"))
    return posixpath.normpath(posixpath.join(base, location.replace("\\", "/")))


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def resolve_external_data(
    subjects: list[Subject], findings: list[Finding]
) -> tuple[list[Subject], list[Finding]]:
    """Pass the unrecognised side files that scanned ONNX models reference, if complete.

    Returns the subjects and findings to report: a referenced file whose only findings were
    "unsupported format" passes as :data:`KIND` when it is at least as long as the largest
    ``offset + length`` any tensor reads from it, and is quarantined with
    ``scan.onnx.external-data-short`` when shorter (the model would read past its end).
    """
    wanted: dict[str, tuple[str, int | None]] = {}
    for finding in findings:
        if finding.rule_id != rules.OnnxExternalData.id or finding.location.member:
            continue
        location = str(finding.evidence.get("location", ""))
        extent = finding.evidence.get("extent")
        target = _join(finding.location.uri, location)
        previous = wanted.get(target)
        if previous is None or (extent or 0) > (previous[1] or 0):
            wanted[target] = (finding.location.uri, extent if isinstance(extent, int) else None)
    if not wanted:
        return subjects, findings
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.location.uri, []).append(finding)
    out_subjects: list[Subject] = []
    dropped: set[str] = set()
    extra: list[Finding] = []
    for subject in subjects:
        ref = wanted.get(_norm(subject.path))
        own = by_path.get(subject.path, [])
        if ref is None or not own or any(f.rule_id != rules.UnsupportedFormat.id for f in own):
            out_subjects.append(subject)
            continue
        model, extent = ref
        dropped.add(subject.path)
        if extent is not None and (subject.size or 0) < extent:
            extra.append(
                rules.OnnxExternalDataShort.finding(
                    f"external data file is {subject.size} bytes but {model} reads up to "
                    f"byte {extent} from it",
                    Location(uri=subject.path),
                    {"model": model, "size": subject.size, "extent": extent},
                )
            )
            out_subjects.append(replace(subject, kind=KIND, verdict="quarantine"))
        else:
            out_subjects.append(replace(subject, kind=KIND, verdict="pass"))
    kept = [f for f in findings if f.location.uri not in dropped]
    return out_subjects, kept + extra
