"""Tiny causal-LM judges, built locally (no hub), for real tests of ``judge-local``.

* :func:`make_random_judge`: a random causal Llama with a chat template: its replies are noise,
  so its verdicts are mostly unparseable, exactly what the scorer must count and not guess;
* :func:`make_trained_judge`: the same architecture trained for a few seconds to answer every
  judge prompt with ``Verdict: [[X]]`` where X is drawn at random (a letter for pairwise and
  best-of-4 prompts, 1..10 for ratings). It writes parseable verdicts, and its probabilities at
  the verdict position are spread over the verdicts, which is what soft verdicts read.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tiny_models import make_chat_tokenizer, tiny_llama_config
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from rmbench.scorers.judge.templates import BUILTIN_TEMPLATES, render

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}"
    "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
VERDICTS = {"pairwise": "ABC", "best-of-4": "ABCD"}


def _tokenizer(texts: list[str], max_positions: int) -> PreTrainedTokenizerFast:
    return make_chat_tokenizer(texts, CHAT_TEMPLATE, max_positions=max_positions)


def _model(tokenizer: PreTrainedTokenizerFast, seed: int, max_positions: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_llama_config(tokenizer, max_positions))


def judge_texts(prompts: list[str], answers: list[str]) -> list[str]:
    """Texts the tokenizer is trained on: the templates, the data and verdict markers."""
    verdicts = [f"Verdict: [[{v}]]" for v in [*"ABCD", *map(str, range(1, 11))]] * 20
    templates = [t.system + t.user for t in BUILTIN_TEMPLATES.values()]
    return [*templates, *prompts, *answers, *verdicts]


def make_random_judge(
    path: Path, texts: list[str], seed: int = 0, max_positions: int = 2048
) -> Path:
    tokenizer = _tokenizer(texts, max_positions)
    model = _model(tokenizer, seed, max_positions)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_trained_judge(
    path: Path,
    texts: list[str],
    conversations: list[tuple[str, list[dict[str, str]]]],
    *,
    seed: int = 0,
    steps: int = 30,
    max_positions: int = 2048,
) -> Path:
    """Train on ``(mode, judge messages)`` pairs, each answered ``Verdict: [[X]]`` with X drawn
    at random for the mode (so the model learns the format, not an answer). Single-threaded:
    on a busy shared CPU that is faster and steadier than competing for cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(path, texts, conversations, seed, steps, max_positions)
    finally:
        torch.set_num_threads(threads)


def _train(
    path: Path,
    texts: list[str],
    conversations: list[tuple[str, list[dict[str, str]]]],
    seed: int,
    steps: int,
    max_positions: int,
) -> Path:
    tokenizer = _tokenizer(texts, max_positions)
    model = _model(tokenizer, seed, max_positions)
    rng = random.Random(seed)
    examples = []
    for mode, messages in conversations:
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        for _ in range(3):
            choices = VERDICTS.get(mode) or [str(r) for r in range(1, 11)]
            reply = f"Verdict: [[{rng.choice(list(choices))}]]"
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            reply_ids = tokenizer(reply + tokenizer.eos_token, add_special_tokens=False)[
                "input_ids"
            ]
            examples.append((prompt_ids, reply_ids))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        batch = rng.sample(examples, min(8, len(examples)))
        width = max(len(p) + len(r) for p, r in batch)
        ids = torch.full((len(batch), width), tokenizer.eos_token_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (p, r) in enumerate(batch):
            ids[b, : len(p) + len(r)] = torch.tensor(p + r)
            labels[b, len(p) : len(p) + len(r)] = torch.tensor(r)
            mask[b, : len(p) + len(r)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def judge_conversations(
    questions: list[str], answers: list[list[str]]
) -> list[tuple[str, list[dict[str, str]]]]:
    """Judge messages of every mode for these questions (each with four answers)."""
    out = []
    for question, four in zip(questions, answers, strict=True):
        prompt = [{"role": "user", "content": question}]
        out.append(("pairwise", render(BUILTIN_TEMPLATES["mt-bench"], prompt, four[0], four[1])))
        out.append(("pairwise", render(BUILTIN_TEMPLATES["mt-bench"], prompt, four[1], four[0])))
        out.append(("ratings", render(BUILTIN_TEMPLATES["mt-bench-single"], prompt, four[2])))
        out.append(("best-of-4", render(BUILTIN_TEMPLATES["rewardbench2-4way"], prompt, *four)))
    return out
