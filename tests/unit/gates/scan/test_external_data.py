"""ONNX external-data files are judged with the model that references them (issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlsec_gates.gates.scan import run_scan
from tests.corpus.assembler import Call, G, dumps


def _model(folder: Path) -> Path:
    w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8])],
        [w],
    )
    path = folder / "model.onnx"
    onnx.save_model(
        helper.make_model(graph),
        path,
        save_as_external_data=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    return path


def _verdicts(folder: Path) -> dict[str, tuple[str, str | None]]:
    result = run_scan([str(folder)])
    return {Path(s.path).name: (s.verdict, s.kind) for s in result.subjects}


def test_external_data_next_to_its_model_passes(tmp_path: Path) -> None:
    _model(tmp_path)
    assert _verdicts(tmp_path) == {
        "model.onnx": ("pass", "onnx"),
        "model.onnx.data": ("pass", "onnx-external-data"),
    }


def test_external_data_alone_is_still_unsupported(tmp_path: Path) -> None:
    _model(tmp_path)
    result = run_scan([str(tmp_path / "model.onnx.data")])
    assert [s.verdict for s in result.subjects] == ["quarantine"]


def test_truncated_external_data_is_quarantined(tmp_path: Path) -> None:
    _model(tmp_path)
    data = tmp_path / "model.onnx.data"
    data.write_bytes(data.read_bytes()[:100])
    result = run_scan([str(tmp_path)])
    verdicts = {Path(s.path).name: s.verdict for s in result.subjects}
    assert verdicts["model.onnx.data"] == "quarantine"
    assert "scan.onnx.external-data-short" in {f.rule_id for f in result.findings}


def test_a_pickle_in_place_of_external_data_keeps_its_block(tmp_path: Path) -> None:
    _model(tmp_path)
    (tmp_path / "model.onnx.data").write_bytes(dumps(Call(G("os", "system"), ("true",))))
    assert _verdicts(tmp_path)["model.onnx.data"][0] == "block"
