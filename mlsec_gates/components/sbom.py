"""KFP component for the SBOM gate: a CycloneDX 1.6 ML-BOM of a model.

Example:
    >>> from kfp import dsl
    >>> from mlsec_gates.components import artifact_scan, model_sbom
    >>> @dsl.pipeline(name="scan-and-bom")
    ... def scan_and_bom(model_uri: str, data_uri: str):
    ...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
    ...     data = dsl.importer(artifact_uri=data_uri, artifact_class=dsl.Dataset)
    ...     scan = artifact_scan(model=model.output)
    ...     model_sbom(
    ...         model=model.output, dataset=data.output, scan_report=scan.outputs["report_json"]
    ...     )

The BOM is the ``bom`` output artifact (CycloneDX JSON), which the signing component can sign
along with the model. ``dataset``, ``validation_report``, ``scan_report`` and
``model_eval_report`` (whose results fill the BOM's ``modelCard``) are optional artifact
inputs (kfp >= 2.17 accepts ``Optional[Input[...]] = None``); datasets and gate
reports that are not KFP artifacts go in ``dataset_uris`` / ``gate_report_uris`` (paths or
``s3://`` URIs the gate reads itself).

Like every gate component it is a hard gate by default (see
:mod:`mlsec_gates.components.scan` for the shared outputs and ``fail_on_violation``). This
module has no ``from __future__ import annotations``: KFP reads the annotations as objects.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from mlsec_gates.components._image import IMAGE

__all__ = ["model_sbom"]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def model_sbom(
    model: Input[Model],
    bom: Output[Artifact],
    report_html: Output[HTML],
    report_md: Output[Markdown],
    report_json: Output[Artifact],
    report_files: Output[Artifact],
    metrics: Output[Metrics],
    dataset: Optional[Input[Dataset]] = None,  # noqa: UP045 - KFP cannot parse `X | None`
    validation_report: Optional[Input[Artifact]] = None,  # noqa: UP045
    scan_report: Optional[Input[Artifact]] = None,  # noqa: UP045
    model_eval_report: Optional[Input[Artifact]] = None,  # noqa: UP045
    dataset_uris: Optional[list[str]] = None,  # noqa: UP045
    gate_report_uris: Optional[list[str]] = None,  # noqa: UP045
    requirements: Optional[str] = None,  # noqa: UP045
    environment: bool = False,
    policy: Optional[str] = None,  # noqa: UP045
    fail_on_violation: bool = True,
    run_id: str = "",
    task_name: str = "",
) -> NamedTuple("SbomOutputs", [("passed", bool), ("status", str), ("summary", str)]):
    """Write and check the CycloneDX 1.6 ML-BOM of a model artifact.

    Args:
        model: the model artifact (a file or a directory).
        bom: the BOM (CycloneDX 1.6 JSON); its metadata holds ``passed`` and ``status``.
        report_html: the full report, one self-contained page (shown by "View HTML").
        report_md: the one-screen summary.
        report_json: the machine-readable report; its metadata holds ``passed`` and ``status``.
        report_files: the same reports as files named with their extensions
            (``<gate>-report.html``, ``.md``, ``.json``): open them in a browser, or
            combine a run's with ``mlsec-gates report``.
        metrics: the gate's metrics and ``passed``.
        dataset: the training data artifact, recorded with its hash.
        validation_report: the data validation gate's ``report_json``, recorded as evidence.
        scan_report: the scan gate's ``report_json``, recorded as evidence.
        model_eval_report: the model-eval gate's ``report_json``: recorded as evidence, and
            its results (per-group metrics, fairness assessments, limitations) fill the
            BOM's ``modelCard``.
        dataset_uris: more datasets, as paths or ``s3://`` URIs.
        gate_report_uris: more JSON gate reports, as paths or ``s3://`` URIs.
        requirements: path of a pip requirements/lock file listing the packages.
        environment: list the packages installed in the task's image instead.
        policy: policy YAML text, or its path or ``s3://`` URI; empty for the defaults.
        run_id: the pipeline run, for the ledger and the BOM; pass
            ``dsl.PIPELINE_JOB_ID_PLACEHOLDER``. Empty: no run context.
        task_name: this task; pass ``dsl.PIPELINE_TASK_NAME_PLACEHOLDER``.
        fail_on_violation: fail the task when the gate does not pass (hard gate).

    Returns:
        ``passed``, ``status`` and the one-line ``summary``. A hard gate that did not pass
        raises a ``RuntimeError`` carrying the summary instead, after writing every output.
    """
    from mlsec_gates.components._runtime import finish, kfp_run_context, local_paths, scratch_dir
    from mlsec_gates.gates.sbom import sbom_gate

    reports = (validation_report, scan_report, model_eval_report, *(gate_report_uris or []))
    with scratch_dir() as scratch:
        result = sbom_gate(
            model.path,
            datasets=local_paths(dataset, *(dataset_uris or [])),
            requirements=requirements or None,
            environment=environment,
            out=bom.path,
            gate_reports=local_paths(*reports),
            policy=policy,
            run_context=kfp_run_context(run_id, task_name),
            report_dir=scratch,
        )
    outputs = {"report_html": report_html, "report_md": report_md, "report_json": report_json}
    outputs["report_files"] = report_files
    outputs.update(metrics=metrics, artifacts={"bom": bom})
    return finish(result, fail_on_violation=fail_on_violation, **outputs)
