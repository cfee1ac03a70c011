"""``rmbench train`` precision and memory options, checked on CPU.

bf16 autocast runs on CPU too, so the mixed-precision path (float32 master weights, bf16
matmuls, a float32 score head and loss) is tested here without a GPU; so is gradient
checkpointing, by counting how often each layer runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from safetensors.torch import load_file
from test_train import _one_thread, _texts, config, synthetic_rows, train_records, write_jsonl
from train_models import make_llama_chat_base

from rmbench.errors import UsageError
from rmbench.train.loop import uses_bf16
from rmbench.train.model import checkpointing_active, enable_gradient_checkpointing, load_base
from rmbench.train.runner import run_training

__all__ = ["_one_thread"]  # the autouse fixture applies here too


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return synthetic_rows(120, seed=8)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory, rows: list[dict]) -> Path:
    return make_llama_chat_base(tmp_path_factory.mktemp("m") / "llama", _texts(rows))


def _layer_calls(model, enable: bool) -> int:
    """Decoder-layer MLP runs in one training forward + backward."""
    if enable:
        enable_gradient_checkpointing(model)
    calls = []
    for layer in model.model.layers:  # a wrapped forward (torch mutes hooks in the recompute)
        inner = layer.mlp.forward
        layer.mlp.forward = lambda *a, _inner=inner, **k: calls.append(1) or _inner(*a, **k)
    model.train()
    ids = torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(0))
    model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.sum().backward()
    return len(calls)


def test_gradient_checkpointing_recomputes_every_layer_in_backward(llama: Path) -> None:
    plain = load_base(str(llama), seed=0).model
    ckpt = load_base(str(llama), seed=0).model
    assert not checkpointing_active(plain)
    n_layers = len(plain.model.layers)
    assert _layer_calls(plain, enable=False) == n_layers
    assert _layer_calls(ckpt, enable=True) == 2 * n_layers  # forward, then again in backward
    assert checkpointing_active(ckpt) and ckpt.config.use_cache is False
    for a, b in zip(plain.parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-6, rtol=1e-5)


def test_bf16_autocast_keeps_float32_weights_head_and_loss(
    rows: list[dict], llama: Path, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    common = {"max_steps": 8, "batch_size": 8, "learning_rate": 3e-3, "eval_fraction": 0.25}
    fp32 = run_training(config(data, llama, tmp_path / "fp32", dtype="float32", **common))
    bf16 = run_training(
        config(data, llama, tmp_path / "bf16", dtype="bfloat16", gradient_checkpointing=True,
               **common)
    )  # fmt: skip
    manifest = json.loads((tmp_path / "bf16" / "train_manifest.json").read_text())
    assert manifest["precision"] == {
        "autocast": "bfloat16",
        "weights": "float32",
        "score_head_float32": "score",
        "gradient_checkpointing": True,
    }
    plain = json.loads((tmp_path / "fp32" / "train_manifest.json").read_text())["precision"]
    assert plain["autocast"] is None and plain["gradient_checkpointing"] is False

    losses = [[r["loss"] for r in train_records(tmp_path / d)] for d in ("fp32", "bf16")]
    assert losses[1][-1] < losses[1][0] - 0.2  # it trains
    np.testing.assert_allclose(losses[1], losses[0], atol=0.05)  # bf16 rounding, not a bug
    assert losses[1] != losses[0]  # and bf16 was really used
    weights = load_file(bf16.output / "model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.float32}  # float32 master weights

    # the head ran in float32: rewards are not confined to bfloat16's grid
    rewards = pl.read_parquet(tmp_path / "bf16" / "eval_scores.parquet")["chosen_reward"]
    values = torch.tensor(rewards.to_numpy(), dtype=torch.float32)
    off_grid = values != values.to(torch.bfloat16).float()
    assert off_grid.float().mean() > 0.9
    assert fp32.summary["eval_accuracy"]["n"] == bf16.summary["eval_accuracy"]["n"]


def test_bf16_is_refused_where_the_device_cannot_do_it(monkeypatch, tmp_path: Path) -> None:
    cfg = config(tmp_path / "d.jsonl", tmp_path / "m", tmp_path / "r", dtype="bfloat16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    with pytest.raises(UsageError, match="--dtype: bfloat16 requested but cuda has no native"):
        uses_bf16(cfg, torch.device("cuda"))
    auto = config(tmp_path / "d.jsonl", tmp_path / "m", tmp_path / "r", dtype="auto")
    assert uses_bf16(auto, torch.device("cuda")) is False  # auto falls back to float32
    assert uses_bf16(auto, torch.device("cpu")) is False
    assert uses_bf16(cfg, torch.device("cpu")) is True
    with pytest.raises(UsageError, match="--dtype: bfloat16 autocast does not work on meta"):
        uses_bf16(cfg, torch.device("meta"))  # a device without bf16 autocast: probed, refused
