"""On-GPU check of ``rmbench train``: float32 against bf16 autocast, and exact resume.

A tiny random Llama (4 layers, hidden 512 by default) and its byte-level BPE tokenizer are
built locally (no hub), with a chat template that ends turns with eos and no pad token, so
the decoder path (dedicated pad token, reward at the final eos) is the one exercised. The
preference data is synthetic and learnable: chosen responses carry words from one list,
rejected ones from another, amid neutral filler. Every run goes through
:func:`rmbench.train.runner.run_training`, the function behind ``rmbench train``.

Runs, each a fresh model from the same seed:

* ``float32``, ``bfloat16`` and ``bfloat16`` with gradient checkpointing: steps/s (median
  step time, first 3 steps excluded), tokens/s, peak CUDA memory, final loss, held-out
  accuracy with its bootstrap interval;
* resume: a bf16 run stopped after half its steps and rerun to the end, against the same run
  uninterrupted, both under ``torch.use_deterministic_algorithms`` (so any difference is the
  resume's, not the GPU's atomics): the final weights must be bitwise equal.

    python benchmarks/train_gpu_check.py                  # CUDA; well under a minute on an H200
    python benchmarks/train_gpu_check.py --cpu-smoke      # CPU; a small model, a few steps

At this size (13M parameters, ~3k tokens a step) an H200 is bound by kernel launches, not
arithmetic, so bf16 is no faster than float32 here; what the check shows is that the bf16 path
trains the same (losses, accuracy), uses less memory, and resumes exactly. Measured on an H200
(torch 2.11, transformers 5.17), defaults: float32 46.8 steps/s, 787 MiB peak, final loss
0.3288, held-out accuracy 0.930 [0.895, 0.961] over 258 pairs; bf16 37.5 steps/s, 641 MiB,
0.3284, 0.930; bf16 + gradient checkpointing 21.0 steps/s, 368 MiB, 0.3284, 0.930; resume
bitwise equal; about 40 s in all. Steps/s swing by a third between runs at this size.

Prints one JSON object (also written to ``--json``). Imports: torch, transformers, tokenizers
(a dependency of transformers), safetensors, and rmbench, which itself needs numpy, polars,
pyarrow and its compiled core ``rmbench._core``; neither trl nor datasets.
"""

from __future__ import annotations

import os

# cuBLAS needs this set before CUDA starts for deterministic algorithms (the resume check)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

GOOD = ["helpful", "clear", "correct", "kind", "precise", "thorough", "careful", "honest"]
BAD = ["rude", "wrong", "vague", "lazy", "harmful", "sloppy", "careless", "dishonest"]
NEUTRAL = ["the", "a", "answer", "is", "it", "this", "that", "we", "you", "about", "of", "to",
           "and", "in", "for", "on", "with", "as", "at", "by", "from", "question", "reply",
           "point", "idea", "case", "way", "part", "time", "thing"]  # fmt: skip
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{{ eos_token }}{% endfor %}"
)


def synthetic_rows(n: int, filler: int, seed: int) -> list[dict[str, str]]:
    """Learnable pairs: 3 telling words in ``filler`` neutral ones per response."""
    rng = random.Random(seed)

    def response(signal: list[str]) -> str:
        words = [rng.choice(NEUTRAL) for _ in range(filler)]
        for word in rng.sample(signal, 3):
            words.insert(rng.randint(0, len(words)), word)
        return " ".join(words)

    return [
        {
            "id": f"q{i}",
            "prompt": f"question {i}: " + " ".join(rng.choice(NEUTRAL) for _ in range(8)),
            "chosen": response(GOOD),
            "rejected": response(BAD),
        }
        for i in range(n)
    ]


def build_base(
    path: Path, texts: list[str], layers: int, hidden: int, seed: int
) -> tuple[Path, int]:
    """A random Llama causal LM with a locally trained tokenizer (no pad token); its size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        special_tokens=["<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.model_max_length = 1024
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=int(hidden * 8 / 3) // 64 * 64 or 64,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 128),
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    path.mkdir(parents=True, exist_ok=True)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, sum(p.numel() for p in model.parameters())


def train_once(args: argparse.Namespace, data: Path, base: Path, run_dir: Path, **kw: Any):
    """One ``rmbench train`` run; its measurements."""
    from rmbench.train.config import TrainConfig
    from rmbench.train.runner import run_training

    config = TrainConfig(
        data=str(data),
        base=str(base),
        run_dir=str(run_dir),
        eval_fraction=args.eval_pairs / (args.eval_pairs + args.steps * args.batch_size),
        max_steps=args.steps,
        batch_size=args.batch_size,
        eval_batch_size=64,
        learning_rate=args.lr,
        warmup_steps=max(1, args.steps // 10),
        weight_decay=0.01,
        device=args.device,
        seed=0,
        bootstrap=1000,
        save_steps=10**6,
        quiet=True,
        **kw,
    )
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    outcome = run_training(config)
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["event"] == "train"]
    timed = steps[3:] or steps
    step_s = statistics.median(r["step_seconds"] for r in timed)
    summary = outcome.summary or {}
    acc = summary.get("eval_accuracy") or {}
    manifest = json.loads((run_dir / "train_manifest.json").read_text())
    return outcome, {
        "steps": len(steps),
        "steps_per_s": round(1.0 / step_s, 2),
        "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in timed)),
        "peak_cuda_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1)
        if cuda
        else None,
        "wall_s": round(wall, 2),
        "first_loss": round(steps[0]["loss"], 4),
        "final_loss": round(steps[-1]["loss"], 4),
        "mean_loss_last_5": round(statistics.fmean(r["loss"] for r in steps[-5:]), 4),
        "eval_loss": round(summary["eval"]["loss"], 4) if "eval" in summary else None,
        "eval_accuracy": acc.get("value"),
        "eval_accuracy_ci": [acc.get("ci_low"), acc.get("ci_high")],
        "eval_pairs": acc.get("n"),
        "precision": manifest.get("precision"),
    }


def off_bf16_grid(run_dir: Path) -> float:
    """Share of held-out rewards not representable in bf16: ~1 when the head ran in fp32."""
    import polars as pl

    scores = pl.read_parquet(run_dir / "eval_scores.parquet")["chosen_reward"].to_numpy()
    values = torch.tensor(scores, dtype=torch.float32)
    return round(float((values != values.to(torch.bfloat16).float()).float().mean()), 3)


def weights_diff(a: Path, b: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    wa, wb = (
        load_file(a / "model" / "model.safetensors"),
        load_file(b / "model" / "model.safetensors"),
    )
    diffs = [float((wa[k].float() - wb[k].float()).abs().max()) for k in wa]
    return {
        "bitwise_equal": wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa),
        "max_abs_diff": max(diffs),
        "tensors": len(wa),
    }


#: Packages whose presence in the process the JSON reports (trl and datasets must be absent).
WATCHED = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "polars", "pyarrow",
           "rmbench", "accelerate", "trl", "datasets")  # fmt: skip


def imported_packages() -> dict[str, bool]:
    """Which of :data:`WATCHED` this process imported (transformers pulls in accelerate)."""
    tops = {name.split(".")[0] for name in sys.modules}
    return {name: name in tops for name in WATCHED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="small and on CPU")
    parser.add_argument("--device", default=None, help="default cuda (cpu with --cpu-smoke)")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--filler", type=int, default=None, help="neutral words per response")
    parser.add_argument("--eval-pairs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None, help="default 1e-5 (3e-3 smoke)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    import transformers

    smoke = {"device": "cpu", "layers": 2, "hidden": 64, "steps": 8, "batch_size": 4,
             "filler": 12, "eval_pairs": 32, "lr": 3e-3}  # fmt: skip
    full = {"device": "cuda", "layers": 4, "hidden": 512, "steps": 60, "batch_size": 16,
            "filler": 60, "eval_pairs": 256, "lr": 1e-5}  # fmt: skip
    for key, value in (smoke if args.cpu_smoke else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("CUDA is not available here; run with --cpu-smoke")
    if args.cpu_smoke:
        torch.set_num_threads(min(2, torch.get_num_threads()))

    work = args.workdir or Path(tempfile.mkdtemp(prefix="rmbench-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    n_pairs = args.steps * args.batch_size + args.eval_pairs + 8
    rows = synthetic_rows(n_pairs, args.filler, seed=0)
    data = work / "prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts = [f"{r['prompt']} {r['chosen']} {r['rejected']}" for r in rows]
    base, n_params = build_base(work / "base", texts, args.layers, args.hidden, seed=0)

    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "model": {"layers": args.layers, "hidden": args.hidden, "parameters": n_params},
        "steps": args.steps,
        "batch_size_pairs": args.batch_size,
        "runs": {},
    }
    torch.use_deterministic_algorithms(False)
    variants = {
        "float32": {"dtype": "float32"},
        "bfloat16": {"dtype": "bfloat16"},
        "bfloat16_gradient_checkpointing": {"dtype": "bfloat16", "gradient_checkpointing": True},
    }
    for name, kw in variants.items():
        _, result["runs"][name] = train_once(args, data, base, work / name, **kw)
    result["bf16_rewards_off_bf16_grid"] = off_bf16_grid(work / "bfloat16")
    fp32, bf16 = result["runs"]["float32"], result["runs"]["bfloat16"]
    result["bf16_vs_fp32"] = {
        "speedup": round(bf16["steps_per_s"] / fp32["steps_per_s"], 2),
        "final_loss_diff": round(bf16["final_loss"] - fp32["final_loss"], 4),
        "eval_accuracy_diff": round(bf16["eval_accuracy"] - fp32["eval_accuracy"], 4),
    }

    # resume: deterministic kernels, so the comparison isolates the checkpoint and restore
    torch.use_deterministic_algorithms(True, warn_only=True)
    stop = args.steps // 2
    train_once(args, data, base, work / "resume_whole", dtype="bfloat16")
    first, _ = train_once(
        args, data, base, work / "resume_killed", dtype="bfloat16", stop_after_steps=stop
    )
    second, _ = train_once(args, data, base, work / "resume_killed", dtype="bfloat16")
    torch.use_deterministic_algorithms(False)

    def losses(d: str) -> list[float]:
        lines = (work / d / "metrics.jsonl").read_text().splitlines()
        return [r["loss"] for r in map(json.loads, lines) if r["event"] == "train"]

    result["resume"] = {
        "stopped_at": first.loop.step,
        "resumed_from": second.loop.resumed_from,
        "finished": second.loop.finished,
        "losses_equal": losses("resume_whole") == losses("resume_killed"),
        **weights_diff(work / "resume_whole", work / "resume_killed"),
    }
    result["workdir"] = str(work)
    result["imported"] = imported_packages()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
