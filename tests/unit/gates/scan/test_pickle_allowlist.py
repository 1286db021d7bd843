"""Allowlist judgement, ``explain_global`` and argument shapes; benign ML pickles pass."""

from __future__ import annotations

import io
import pickle

import pytest

from mlsec_gates.gates.scan import allowlist, allowlist_data
from mlsec_gates.gates.scan.allowlist import explain_global
from mlsec_gates.gates.scan.engine import scan_file
from mlsec_gates.gates.scan.pickle_ops import PERSISTENT, Called, DictVal, GlobalRef
from mlsec_gates.gates.scan.pickle_shapes import expected_shape, shape_mismatch
from tests.fixtures import pickles as fx


def passes(data: bytes) -> bool:
    verdict = scan_file(io.BytesIO(data), uri="model.pkl")
    assert verdict.verdict == "pass", [(f.rule_id, f.message) for f in verdict.findings]
    return True


@pytest.mark.parametrize(
    ("module", "name", "decision"),
    [
        ("os", "system", "block"),
        ("posix", "system", "block"),
        ("fickling.hook", "run_hook", "block"),
        ("torch._utils", "_rebuild_tensor_v2", "pass"),
        ("numpy.core.multiarray", "_reconstruct", "pass"),
        ("sklearn.linear_model._logistic", "LogisticRegression", "pass"),
        ("mypkg.models", "Net", "quarantine"),
    ],
)
def test_explain_global_decisions(module: str, name: str, decision: str) -> None:
    got, reason, suggestion = explain_global(module, name, None)
    assert got == decision
    assert f"{module}.{name}" in reason
    assert (suggestion is not None) == (decision == "quarantine")


def test_explain_global_suggests_and_honours_the_project_allowlist() -> None:
    decision, reason, suggestion = explain_global("mypkg.models", "Net", {})
    assert (decision, suggestion) == ("quarantine", "mypkg.models.Net")
    assert "default-deny" in reason
    decision, reason, suggestion = explain_global("mypkg.models", "Net", {"mypkg.*": "ours"})
    assert (decision, suggestion) == ("pass", None)
    assert "project allowlist (ours)" in reason


def test_explain_global_names_alias_and_shape() -> None:
    _, reason, _ = explain_global("posix", "system")
    assert "alias of os.system" in reason
    _, reason, _ = explain_global("torch._utils", "_rebuild_tensor_v2")
    assert "argument shape (storage, int, ints, ints, bool, odict" in reason


def test_dangerous_names_are_never_suggested_nor_overridable() -> None:
    assert explain_global("os", "system", {"os.*": "x"})[0] == "block"
    assert explain_global("bad name!", "x")[2] is None


def test_data_and_logic_are_separate_modules() -> None:
    assert "torch._utils._rebuild_tensor_v2" in allowlist_data.ALLOWED_GLOBALS
    assert "torch._utils._rebuild_device_tensor_from_cpu_tensor" in allowlist_data.ALLOWED_GLOBALS
    assert allowlist.builtin_allowed("torch", "FloatStorage")
    assert allowlist.builtin_allowed("torch.cuda", "HalfTensor")
    assert allowlist.builtin_allowed("torch", "bfloat16")
    assert allowlist.builtin_allowed("numpy", "float64")
    assert not allowlist.builtin_allowed("torch", "load")


def _ref(full: str) -> GlobalRef:
    module, _, name = full.rpartition(".")
    return GlobalRef(module, name, full, True)


def test_rebuild_tensor_shape() -> None:
    odict = Called(_ref("collections.OrderedDict"), ())
    good = (PERSISTENT, 0, (2, 2), (2, 1), False, odict)
    assert shape_mismatch("torch._utils._rebuild_tensor_v2", good) is None
    assert shape_mismatch("torch._utils._rebuild_tensor_v2", (*good, DictVal())) is None
    bad = ("storage", 0, (2, 2), (2, 1), False, odict)
    expected = shape_mismatch("torch._utils._rebuild_tensor_v2", bad)
    assert expected == expected_shape("torch._utils._rebuild_tensor_v2")
    assert shape_mismatch("torch._utils._rebuild_tensor_v2", good[:5]) is not None
    tensor = Called(_ref("torch._utils._rebuild_tensor_v2"), good)
    assert shape_mismatch("torch._utils._rebuild_parameter", (tensor, True, odict)) is None
    assert shape_mismatch("torch._utils._rebuild_parameter", (odict, True, odict)) is not None


def test_unchecked_callables_have_no_shape() -> None:
    assert shape_mismatch("torch.Size", ("anything",)) is None
    assert expected_shape("torch.Size") is None


# --------------------------------------------------------------------------- benign ML pickles


@pytest.mark.parametrize("n_tensors", [1, 40])
def test_state_dict_checkpoints_pass(n_tensors: int) -> None:
    assert passes(fx.torch_zip_checkpoint(n_tensors))
    assert passes(fx.legacy_torch_checkpoint())


@pytest.mark.parametrize("protocol", range(6))
def test_numpy_pickles_pass(protocol: int) -> None:
    assert passes(fx.numpy_arrays_pickle(3, protocol=protocol))
    assert passes(fx.numpy_scalars_pickle(protocol))


def _estimators() -> list[object]:
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.RandomState(0)
    x = rng.rand(60, 4)
    y = (x[:, 0] > 0.5).astype(int)
    text = TfidfVectorizer().fit(["alpha beta", "beta gamma", "gamma delta"])
    return [
        make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        GradientBoostingClassifier(n_estimators=3).fit(x, y),
        DecisionTreeRegressor(max_depth=3).fit(x, x[:, 1]),
        PCA(n_components=2).fit(x),
        text,
    ]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_sklearn_estimators_pass(protocol: int) -> None:
    for estimator in _estimators():
        assert passes(pickle.dumps(estimator, protocol=protocol))
