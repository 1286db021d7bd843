"""Write the small torch-made benign fixtures committed under ``committed/torch/``.

Run with a Python that has torch (never the project venv), e.g.::

    /work/torchvenv/bin/python tests/corpus/make_torch_fixtures.py

The generator (:mod:`tests.corpus.generate`) copies these files when torch is not
importable, so CI without torch still scans real ``torch.save`` output.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from pathlib import Path

OUT = Path(__file__).resolve().parent / "committed" / "torch"


def _modules(torch):
    nn = torch.nn
    return {
        "sequential_mlp": nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        "conv_net": nn.Sequential(
            nn.Conv2d(1, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.1),
            nn.Linear(4 * 3 * 3, 3),
        ),
        "lstm": nn.LSTM(6, 8, num_layers=2, batch_first=True),
        "gru": nn.GRU(5, 7),
        "embedding_bag": nn.Sequential(nn.Embedding(50, 8), nn.LayerNorm(8), nn.GELU()),
        "transformer_layer": nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16),
        "conv1d_tanh": nn.Sequential(nn.Conv1d(2, 3, 3), nn.Tanh(), nn.AdaptiveAvgPool1d(1)),
        "linear": nn.Linear(4, 4),
    }


def write(out: Path) -> list[Path]:
    """Write every torch fixture into ``out``; return the paths."""
    import torch

    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(obj, name, **kw):
        path = out / name
        torch.save(obj, path, **kw)
        written.append(path)

    for name, module in _modules(torch).items():
        save(module.state_dict(), f"{name}.state_dict.pt")
        save(module, f"{name}.module.pt")
        save(
            module.state_dict(),
            f"{name}.state_dict.legacy.pt",
            _use_new_zipfile_serialization=False,
        )
        opt = torch.optim.Adam(module.parameters(), lr=1e-3)
        for p in module.parameters():
            p.grad = torch.ones_like(p)
        opt.step()
        save(opt.state_dict(), f"{name}.adam.pt")
    seq = _modules(torch)["sequential_mlp"]
    save(seq, "sequential_mlp.module.legacy.pt", _use_new_zipfile_serialization=False)
    sgd = torch.optim.SGD(seq.parameters(), lr=0.1, momentum=0.9)
    for p in seq.parameters():
        p.grad = torch.ones_like(p)
    sgd.step()
    save(sgd.state_dict(), "sequential_mlp.sgd.pt")
    lightning = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": OrderedDict(("model." + k, v) for k, v in seq.state_dict().items()),
        "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": None}},
        "optimizer_states": [sgd.state_dict()],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": {"lr": 0.1, "hidden": 16, "layers": [8, 16, 2]},
    }
    save(lightning, "lightning_style.ckpt")
    save({"weights": torch.arange(10, dtype=torch.float16), "step": 5}, "tensor_dict.pt")
    save(torch.randn(3, 3, dtype=torch.float64), "single_tensor.pt")
    save(
        [torch.zeros(2, dtype=torch.int64), torch.ones(2, 2, dtype=torch.bfloat16)],
        "tensor_list.pt",
    )
    return written


def main() -> int:
    """Regenerate ``committed/torch/``."""
    written = write(OUT)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {total} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
