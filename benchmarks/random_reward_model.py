"""Build a randomly initialised decoder reward model of realistic size, with no hub access.

Throughput and numerics checks on a GPU need a model whose shape is like a real reward model
(8B RMs are Llama-style decoders with a one-unit score head), but the GPU machines here reach
no model hub. This writes a ``LlamaForSequenceClassification`` directory with a byte-level BPE
tokenizer trained on the given texts, a dedicated pad token (not eos, so a final eos is never
mistaken for padding) and a chat template, loadable by ``rmbench run`` and plain transformers.

    python benchmarks/random_reward_model.py OUT_DIR --size 1b --texts ../shared/data/rewardbench

The scores are meaningless (random weights); shapes, kernels and memory traffic are not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n"
    "{% endfor %}{{ eos_token }}"
)

#: (hidden, layers, heads, kv heads, intermediate): Llama-family proportions.
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (64, 2, 4, 2, 176),
    "100m": (768, 12, 12, 4, 2048),
    "1b": (2048, 16, 16, 8, 5632),
}


def texts_from(path: Path) -> list[str]:
    """Every string field of every JSON line under ``path`` (a file or a directory)."""
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    texts: list[str] = []
    for file in files:
        for line in file.open(encoding="utf-8"):
            row = json.loads(line)
            texts.extend(v for v in row.values() if isinstance(v, str))
    return texts


def build(out: Path, size: str, texts: list[str], vocab_size: int, seed: int) -> Path:
    specials = ["<s>", "</s>", "<unk>", "<pad>"]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(
        texts or ["hello world"],
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=8192,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    hidden, layers, heads, kv_heads, intermediate = SIZES[size]
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=8192,
        num_labels=1,
        pad_token_id=raw.token_to_id("<pad>"),
        bos_token_id=raw.token_to_id("<s>"),
        eos_token_id=raw.token_to_id("</s>"),
        torch_dtype="float32",
    )
    model = LlamaForSequenceClassification(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": str(out), "size": size, "parameters": n_params}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="100m")
    parser.add_argument("--texts", type=Path, help="JSONL file or directory to train the BPE on")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    texts = texts_from(args.texts) if args.texts else []
    build(args.out, args.size, texts, args.vocab_size, args.seed)


if __name__ == "__main__":
    main()
