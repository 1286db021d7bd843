"""Benign corpus: real files written by the real libraries (writing only, never loading).

At least 300 files over torch (committed ``torch.save`` output plus re-zipped variants),
scikit-learn via joblib (plain and every joblib compressor), plain pickles, numpy
``.npy``/``.npz``, pandas ``to_pickle``, safetensors (by the spec), GGUF (``gguf`` writer,
with stock chat templates), ONNX (``onnx.helper``) and Keras 3 ``.keras`` zips (config.json
+ h5py weights, no Lambda).
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

COMMITTED_TORCH = Path(__file__).resolve().parent / "committed" / "torch"

# Stock chat templates, typed in from the published tokenizer_config.json files (data).
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}"
)


def _torch(out: Path) -> Iterator[tuple[str, str]]:
    """Committed torch.save files (fresh ones when torch is importable), plus re-zips."""
    try:
        import torch  # noqa: F401

        from .make_torch_fixtures import write

        sources = write(out / "torch-fresh")
    except ImportError:
        sources = sorted(COMMITTED_TORCH.iterdir())
    for src in sources:
        dest = out / f"torch_{src.name}"
        shutil.copyfile(src, dest)
        yield dest.name, "torch"
        if not zipfile.is_zipfile(src):
            continue
        with zipfile.ZipFile(src) as zf:
            members = [(info, zf.read(info)) for info in zf.infolist()]
        for variant, method, order in (
            ("deflated", zipfile.ZIP_DEFLATED, 1),
            ("reordered", zipfile.ZIP_STORED, -1),
        ):
            dest = out / f"torch_{variant}_{src.name}"
            with zipfile.ZipFile(dest, "w", method) as zf:
                for info, data in members[::order]:
                    zf.writestr(info.filename, data)
            yield dest.name, "torch"
    shutil.rmtree(out / "torch-fresh", ignore_errors=True)


def _sklearn_models(seed: int) -> dict[str, object]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.RandomState(seed)
    x = rng.rand(60, 4)
    y = (x[:, 0] + x[:, 1] > 1).astype(int)
    cats = rng.choice(["a", "b", "c"], size=(60, 2))
    docs = [f"token{i % 7} word{i % 3} model" for i in range(30)]
    return {
        "logreg": LogisticRegression().fit(x, y),
        "tree": DecisionTreeClassifier(max_depth=3, random_state=seed).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=seed).fit(x, y),
        "gboost": GradientBoostingClassifier(n_estimators=3, random_state=seed).fit(x, y),
        "ridge": Ridge().fit(x, x[:, 0]),
        "scaler": StandardScaler().fit(x),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "kmeans": KMeans(n_clusters=2, n_init=1, random_state=seed).fit(x),
        "pca": PCA(n_components=2).fit(x),
        "onehot": OneHotEncoder().fit(cats),
        "nb": GaussianNB().fit(x, y),
        "tfidf": TfidfVectorizer().fit(docs),
    }


JOBLIB_COMPRESS: tuple[tuple[str, object], ...] = (
    ("plain", 0),
    ("zlib", ("zlib", 3)),
    ("gzip", ("gzip", 3)),
    ("bz2", ("bz2", 3)),
    ("lzma", ("lzma", 3)),
    ("xz", ("xz", 3)),
)


def _sklearn(out: Path) -> Iterator[tuple[str, str]]:
    import joblib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {**_sklearn_models(0), **{f"{k}_s1": v for k, v in _sklearn_models(1).items()}}
    for name, model in models.items():
        for label, compress in JOBLIB_COMPRESS:
            dest = out / f"sklearn_{name}_{label}.joblib"
            joblib.dump(model, dest, compress=compress)
            yield dest.name, "joblib"
        if not name.endswith("_s1"):
            dest = out / f"sklearn_{name}.pkl"
            dest.write_bytes(pickle.dumps(model, protocol=5 if len(name) % 2 else 4))
            yield dest.name, "sklearn-pickle"


def _numpy(out: Path) -> Iterator[tuple[str, str]]:
    import numpy as np

    rng = np.random.default_rng(0)
    dtypes = ("<f4", "<f8", "<f2", "<i4", "<i8", "|u1", "|b1", "<c8")
    shapes = ((7,), (3, 5), (2, 3, 4))
    for dt in dtypes:
        for shape in shapes:
            arr = (rng.random(shape) * 100).astype(dt)
            dest = out / f"numpy_{dt.strip('<|')}_{'x'.join(map(str, shape))}.npy"
            np.save(dest, arr, allow_pickle=False)
            yield dest.name, "npy"
    for i in range(4):
        dest = out / f"numpy_fortran_{i}.npy"
        np.save(dest, np.asfortranarray(rng.random((i + 2, 3))), allow_pickle=False)
        yield dest.name, "npy"
    for i in range(6):
        arrays = {f"layer{j}": rng.random((j + 1, 4)).astype("<f4") for j in range(i + 1)}
        for save, label in ((np.savez, "npz"), (np.savez_compressed, "npz_compressed")):
            dest = out / f"numpy_{label}_{i}.npz"
            save(dest, **arrays)
            yield dest.name, "npz"


def _pandas(out: Path) -> Iterator[tuple[str, str]]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    frames = {
        "numeric": pd.DataFrame(rng.random((20, 3)), columns=["a", "b", "c"]),
        "mixed": pd.DataFrame({"id": range(10), "name": [f"n{i}" for i in range(10)]}),
        "category": pd.DataFrame({"c": pd.Categorical(list("abcabcabca"))}),
        "dates": pd.DataFrame({"t": pd.date_range("2024-01-01", periods=8, freq="D")}),
        "series": pd.Series(rng.integers(0, 9, 12), name="s"),
    }
    for name, frame in frames.items():
        for ext in ("pkl", "pkl.gz", "pkl.bz2", "pkl.xz"):
            dest = out / f"pandas_{name}.{ext}"
            frame.to_pickle(dest)
            yield dest.name, "pandas"


_ST_DTYPES = {
    "F32": ("<f4", 4),
    "F64": ("<f8", 8),
    "F16": ("<f2", 2),
    "I32": ("<i4", 4),
    "I64": ("<i8", 8),
    "U8": ("|u1", 1),
    "BOOL": ("|b1", 1),
    "BF16": (None, 2),
}


def safetensors_bytes(seed: int, n: int, dtype: str, metadata: dict[str, str] | None) -> bytes:
    """A safetensors file per the spec: u64 header length, JSON header, aligned data."""
    import numpy as np

    rng = np.random.default_rng(seed)
    header: dict[str, object] = {}
    blobs: list[bytes] = []
    offset = 0
    np_dtype, width = _ST_DTYPES[dtype]
    for i in range(n):
        shape = [int(rng.integers(1, 5)), int(rng.integers(1, 5))]
        count = shape[0] * shape[1]
        if np_dtype is None:
            data = rng.integers(0, 1 << 16, count, dtype=np.uint16).astype("<u2").tobytes()
        else:
            data = (rng.random(count) * 10).astype(np_dtype).tobytes()
        header[f"model.layers.{i}.weight"] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + count * width],
        }
        blobs.append(data)
        offset += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-(8 + len(raw)) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def _safetensors(out: Path) -> Iterator[tuple[str, str]]:
    i = 0
    for dtype in _ST_DTYPES:
        for n in (1, 3, 6):
            for meta in (None, {"format": "pt"}):
                if (i % 3) == 2 and meta is None:
                    i += 1
                    continue
                dest = out / f"safetensors_{dtype.lower()}_{n}_{i}.safetensors"
                dest.write_bytes(safetensors_bytes(i, n, dtype, meta))
                i += 1
                yield dest.name, "safetensors"


def _gguf(out: Path) -> Iterator[tuple[str, str]]:
    from .malicious import gguf_bytes

    templates = {
        "llama3": LLAMA3_TEMPLATE,
        "chatml": CHATML_TEMPLATE,
        "mistral": MISTRAL_TEMPLATE,
        "none": None,
    }
    for arch in ("llama", "qwen2", "gemma"):
        for label, template in templates.items():
            dest = out / f"gguf_{arch}_{label}.gguf"
            dest.write_bytes(gguf_bytes(template, arch=arch, n_tensors=2, seed=len(label)))
            yield dest.name, "gguf"


def _onnx(out: Path) -> Iterator[tuple[str, str]]:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    for i in range(16):
        width = 2 + i % 5
        depth = 1 + i % 3
        nodes, inits = [], []
        prev = "X"
        for d in range(depth):
            w = numpy_helper.from_array(rng.random((width, width)).astype(np.float32), f"W{d}")
            b = numpy_helper.from_array(rng.random(width).astype(np.float32), f"B{d}")
            inits += [w, b]
            nodes.append(helper.make_node("Gemm", [prev, f"W{d}", f"B{d}"], [f"h{d}"]))
            act = ("Relu", "Tanh", "Sigmoid")[(i + d) % 3]
            nodes.append(helper.make_node(act, [f"h{d}"], [f"a{d}"]))
            prev = f"a{d}"
        x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, width])
        y = helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, width])
        graph = helper.make_graph(nodes, f"mlp{i}", [x], [y], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        dest = out / f"onnx_mlp_{i}.onnx"
        dest.write_bytes(model.SerializeToString())
        yield dest.name, "onnx"


def _keras(out: Path) -> Iterator[tuple[str, str]]:
    import h5py
    import numpy as np

    rng = np.random.default_rng(3)
    for i in range(10):
        units = [4 + i % 3, 3, 2][: 1 + i % 3]
        layers = [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "registered_name": None,
                "config": {"batch_shape": [None, 5], "dtype": "float32", "name": "input"},
            }
        ]
        for j, u in enumerate(units):
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "registered_name": None,
                    "config": {
                        "name": f"dense_{j}",
                        "trainable": True,
                        "units": u,
                        "activation": ("relu", "softmax", "linear")[(i + j) % 3],
                        "use_bias": True,
                        "kernel_initializer": {
                            "module": "keras.initializers",
                            "class_name": "GlorotUniform",
                            "config": {"seed": None},
                            "registered_name": None,
                        },
                    },
                }
            )
            if i % 4 == 0:
                layers.append(
                    {
                        "module": "keras.layers",
                        "class_name": "Dropout",
                        "registered_name": None,
                        "config": {"name": f"dropout_{j}", "rate": 0.1},
                    }
                )
        config = {
            "module": "keras",
            "class_name": "Sequential",
            "registered_name": None,
            "config": {"name": f"seq_{i}", "layers": layers},
            "compile_config": None,
        }
        with tempfile.TemporaryDirectory() as tmp:
            h5 = Path(tmp) / "model.weights.h5"
            with h5py.File(h5, "w") as fh:
                fan_in = 5
                for j, u in enumerate(units):
                    grp = fh.create_group(f"layers/dense_{j}/vars")
                    grp.create_dataset("0", data=rng.random((fan_in, u)).astype("f4"))
                    grp.create_dataset("1", data=np.zeros(u, "f4"))
                    fan_in = u
            weights = h5.read_bytes()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(
                "metadata.json",
                json.dumps({"keras_version": "3.6.0", "date_saved": "2025-01-01@00:00:00"}),
            )
            zf.writestr("config.json", json.dumps(config))
            zf.writestr("model.weights.h5", weights)
        dest = out / f"keras_seq_{i}.keras"
        dest.write_bytes(buf.getvalue())
        yield dest.name, "keras"


def _plain_pickles(out: Path) -> Iterator[tuple[str, str]]:
    import collections
    import datetime

    objs = {
        "config": {"lr": 0.001, "layers": [64, 32], "name": "mlp", "flags": (True, False)},
        "vocab": {f"tok{i}": i for i in range(500)},
        "history": collections.OrderedDict(loss=[0.9, 0.5, 0.3], acc=[0.5, 0.7, 0.8]),
        "counter": collections.Counter("the quick brown fox jumps over the lazy dog"),
        "dates": [datetime.date(2024, 1, d) for d in range(1, 10)],
        "nested": {"a": {"b": {"c": [1, 2, {3, 4}, frozenset({5})]}}},
    }
    for name, obj in objs.items():
        for proto in (0, 2, 4, 5):
            dest = out / f"pickle_{name}_p{proto}.pkl"
            dest.write_bytes(pickle.dumps(obj, protocol=proto))
            yield dest.name, "pickle"


GROUPS = (_torch, _sklearn, _numpy, _pandas, _safetensors, _gguf, _onnx, _keras, _plain_pickles)


def write_benign(out: Path) -> list[tuple[str, str]]:
    """Write every benign file into ``out``; return ``(file name, format group)`` pairs."""
    out.mkdir(parents=True, exist_ok=True)
    return [entry for group in GROUPS for entry in group(out)]
