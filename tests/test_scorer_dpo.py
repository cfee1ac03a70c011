"""The ``dpo`` scorer on tiny random causal Llamas, checked against log-probabilities by hand.

The hand computation shares nothing with the scorer: it writes the rendered text itself, runs
one explicit forward pass per input, takes ``log_softmax`` and gathers the response tokens.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from run_helpers import run_cli, synthetic_pairs, write_jsonl
from tiny_models import make_chat_tokenizer, tiny_llama_config
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaForCausalLM,
)

from rmbench.errors import ModelError, UsageError
from rmbench.scorers.base import ScorerOptions, ScoringItem
from rmbench.scorers.dpo import DPOScorer

# Role headers are special tokens and the assistant turn ends in EOS, so a response whose
# content is one token has exactly two response tokens: the content and EOS.
TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}"
    "<|assistant|>{{ m['content'] }}{{ eos_token }}{% else %}<|{{ m['role'] }}|>"
    "{{ m['content'] }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def make_tiny_causal_llamas(
    root: Path, texts: list[str], max_positions: int = 512
) -> tuple[Path, Path]:
    """A policy and a reference causal Llama (different random weights) sharing one tokenizer."""
    tokenizer = make_chat_tokenizer(texts, TEMPLATE, max_positions=max_positions)
    paths = []
    for name, seed in (("policy", 0), ("reference", 1)):
        torch.manual_seed(seed)
        # a peaked random LM: log-probs differ clearly between tokens
        config = tiny_llama_config(tokenizer, max_positions, initializer_range=0.2)
        model = LlamaForCausalLM(config)
        path = root / name
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths.append(path)
    return paths[0], paths[1]


ROWS = synthetic_pairs({"alpacaeval-easy": 12, "mt-bench-hard": 8}, seed=3)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    texts = [r[k] for r in ROWS for k in ("prompt", "chosen", "rejected")]
    return make_tiny_causal_llamas(tmp_path_factory.mktemp("dpo-models"), texts)


def items_of(rows: list[dict[str, str]]) -> list[ScoringItem]:
    return [
        ScoringItem(f"{r['id']}-{side}", [{"role": "user", "content": r["prompt"]}], r[side])
        for r in rows
        for side in ("chosen", "rejected")
    ]


def scorer(policy: Path, **extra: str) -> DPOScorer:
    options = {k: v for k, v in extra.items() if not k.startswith("_")}
    return DPOScorer.load(
        ScorerOptions(
            model=str(policy),
            device="cpu",
            max_tokens_per_batch=int(extra.get("_budget", 16384)),
            max_batch_size=int(extra.get("_rows", 64)),
            extra=options,
        )
    )


def scores_of(s: DPOScorer, items: list[ScoringItem]) -> dict[str, float]:
    out: dict[str, float] = {}
    for batch in s.score_batches(items):
        out.update(zip(batch.keys, batch.scores.tolist(), strict=True))
    return out


def hand_logprobs(model_dir: Path, text: str, n_response: int) -> np.ndarray:
    """log p of the last ``n_response`` tokens of ``text``: one explicit forward pass."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    logps = torch.log_softmax(logits.double(), dim=-1)
    n = ids.shape[1]
    positions = torch.arange(n - n_response - 1, n - 1)
    return logps[positions, ids[0, n - n_response :]].numpy()


def test_two_token_response_matches_hand_computed_logprobs(models: tuple[Path, Path]) -> None:
    policy, reference = models
    prompt = ROWS[0]["prompt"]
    tokenizer = AutoTokenizer.from_pretrained(policy)
    word = next(w for w in ("answer", "reason", "code") if len(tokenizer(w)["input_ids"]) == 1)
    item = ScoringItem("k", [{"role": "user", "content": prompt}], word)
    text = f"<s><|user|>{prompt}<|assistant|>{word}</s>"  # written out by hand, not by the template

    rows = scorer(policy, ref_model=str(reference)).tokenize([item])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert rows[0].ids.tolist() == ids
    assert rows[0].n_response == 2
    assert ids[-1] == tokenizer.eos_token_id

    pol = hand_logprobs(policy, text, 2)
    ref = hand_logprobs(reference, text, 2)
    assert np.all(pol < 0) and not np.allclose(pol, ref)
    cases = {
        ("dpo", "1"): pol.sum() - ref.sum(),
        ("dpo", "0.1"): 0.1 * (pol.sum() - ref.sum()),
        ("sum", "1"): pol.sum(),
        ("mean", "2"): 2 * pol.mean(),
        ("norm", "1"): -np.sqrt(np.sum(pol**2)),
    }
    for (variant, beta), expected in cases.items():
        extra = {"variant": variant, "beta": beta}
        if variant == "dpo":
            extra["ref_model"] = str(reference)
        got = scores_of(scorer(policy, **extra), [item])["k"]
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-5), (variant, beta)


def test_prompt_tokens_are_masked_under_the_chat_template(models: tuple[Path, Path]) -> None:
    """A longer prompt changes the context, but its own tokens never enter the sum."""
    policy, _ = models
    tokenizer = AutoTokenizer.from_pretrained(policy)
    item = ScoringItem(
        "k",
        [
            {"role": "system", "content": "answer3 answer4"},
            {"role": "user", "content": ROWS[1]["prompt"]},
        ],
        ROWS[1]["chosen"],
    )
    (row,) = scorer(policy, variant="sum").tokenize([item])
    response_ids = tokenizer(ROWS[1]["chosen"] + "</s>", add_special_tokens=False)["input_ids"]
    assert row.ids[row.response_start :].tolist() == response_ids
    text = f"<s><|system|>answer3 answer4<|user|>{ROWS[1]['prompt']}<|assistant|>{ROWS[1]['chosen']}</s>"
    expected = hand_logprobs(policy, text, len(response_ids)).sum()
    assert scores_of(scorer(policy, variant="sum"), [item])["k"] == pytest.approx(
        expected, abs=1e-4
    )


@pytest.mark.parametrize("variant", ["dpo", "mean"])
def test_scores_do_not_depend_on_batching(models: tuple[Path, Path], variant: str) -> None:
    policy, reference = models
    items = items_of(ROWS)
    extra = {"variant": variant} | ({"ref_model": str(reference)} if variant == "dpo" else {})
    s = scorer(policy, **extra)

    def with_batching(rows: int, budget: int, order: list[ScoringItem]) -> dict[str, float]:
        s.options = replace(s.options, max_batch_size=rows, max_tokens_per_batch=budget)
        return scores_of(s, order)

    alone = with_batching(1, 16384, items)
    keys = [item.key for item in items]
    base = np.array([alone[k] for k in keys])
    assert len(set(np.round(base, 6))) == len(keys)  # distinct rewards: the check has teeth
    for rows, budget, order in ((64, 16384, items), (64, 200, items), (7, 16384, items[::-1])):
        other = with_batching(rows, budget, order)
        np.testing.assert_allclose([other[k] for k in keys], base, rtol=1e-5, atol=1e-5)


def test_chat_template_that_breaks_the_prefix_is_refused(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    policy, _ = models
    item = ScoringItem("k", [{"role": "user", "content": "reas"}], "on", ref="s/g#0")
    # The prompt is written differently once an assistant turn follows it.
    rewrites = tmp_path / "rewrites.jinja"
    rewrites.write_text(
        "{% for m in messages %}{% if m['role'] == 'user' and messages[-1]['role'] == "
        "'assistant' %}Q: {% endif %}{{ m['content'] }}\n{% endfor %}"
    )
    s = DPOScorer.load(
        ScorerOptions(
            model=str(policy), device="cpu", chat_template=str(rewrites), extra={"variant": "sum"}
        )
    )
    with pytest.raises(ModelError, match=r"--chat-template.*differently once the response"):
        s.tokenize([item])
    # No separator: the tokenizer merges the prompt's last characters with the response's.
    glued = tmp_path / "glued.jinja"
    glued.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    tokenizer = AutoTokenizer.from_pretrained(policy)
    assert tokenizer("reason")["input_ids"] == [tokenizer.convert_tokens_to_ids("reason")]
    s = DPOScorer.load(
        ScorerOptions(
            model=str(policy), device="cpu", chat_template=str(glued), extra={"variant": "sum"}
        )
    )
    with pytest.raises(ModelError, match=r"not a prefix.*s/g#0.*merges across the boundary"):
        s.tokenize([item])


def test_plain_template_keeps_the_space_with_the_response(models: tuple[Path, Path]) -> None:
    policy, _ = models
    s = DPOScorer.load(
        ScorerOptions(
            model=str(policy), device="cpu", chat_template="plain", extra={"variant": "sum"}
        )
    )
    (row,) = s.tokenize([ScoringItem("k", [{"role": "user", "content": "tok1?"}], "answer2")])
    tokenizer = AutoTokenizer.from_pretrained(policy)
    assert tokenizer.decode(row.ids[row.response_start :]) == " answer2"


def test_bad_options_are_one_line_errors(models: tuple[Path, Path]) -> None:
    policy, reference = models
    cases = [
        ({}, "option -O ref_model is required"),
        ({"variant": "avg"}, "option -O variant: 'avg'"),
        ({"variant": "sum", "beta": "x"}, "option -O beta: 'x' is not a number"),
        ({"variant": "sum", "beta": "-1"}, "option -O beta: must be a positive"),
        ({"variant": "sum", "ref_model": str(reference)}, "option -O ref_model: variant 'sum'"),
        ({"variant": "sum", "temperature": "1"}, "option -O temperature: scorer 'dpo'"),
    ]
    for extra, message in cases:
        with pytest.raises(UsageError, match=message):
            DPOScorer.load(ScorerOptions(model=str(policy), device="cpu", extra=extra))
    with pytest.raises(UsageError, match="option --chat-template: 'pair'"):
        DPOScorer.load(
            ScorerOptions(
                model=str(policy), device="cpu", chat_template="pair", extra={"variant": "sum"}
            )
        )


def test_classifier_checkpoint_is_not_a_policy(tmp_path: Path, models: tuple[Path, Path]) -> None:
    from tiny_models import make_tiny_llama_rm

    rm = make_tiny_llama_rm(tmp_path / "rm", ["tok1 tok2 answer3"], vocab_size=300)
    with pytest.raises(ModelError, match=r"option -O ref_model: .*not a causal language model"):
        DPOScorer.load(
            ScorerOptions(model=str(models[0]), device="cpu", extra={"ref_model": str(rm)})
        )


def test_over_length_inputs_are_refused_or_truncated(tmp_path: Path) -> None:
    texts = [r[k] for r in ROWS for k in ("prompt", "chosen", "rejected")]
    policy, _ = make_tiny_causal_llamas(tmp_path, texts, max_positions=24)
    tokenizer = AutoTokenizer.from_pretrained(policy)
    prompt = "answer1 tok2?"
    response = " ".join(f"code{i}" for i in range(12))
    item = ScoringItem("long", [{"role": "user", "content": prompt}], response, ref="s/g#0")
    text = f"<s><|user|>{prompt}<|assistant|>{response}</s>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    n_prompt = len(
        tokenizer(f"<s><|user|>{prompt}<|assistant|>", add_special_tokens=False)["input_ids"]
    )
    assert n_prompt < 24 < len(ids)

    def load(truncate: bool) -> DPOScorer:
        options = ScorerOptions(
            model=str(policy), device="cpu", truncate=truncate, extra={"variant": "sum"}
        )
        return DPOScorer.load(options)

    with pytest.raises(ModelError, match=r"1 of 1 inputs exceed the model's maximum length of 24"):
        list(load(False).score_batches([item]))
    s = load(True)
    got = scores_of(s, [item])["long"]
    kept = tokenizer.decode(ids[:24], skip_special_tokens=False)
    assert kept.startswith("<s><|user|>")
    # the first 24 tokens, of which those after the prompt are scored
    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids[:24]])).logits[0].double()
    logps = torch.log_softmax(logits, -1)
    expected = sum(logps[t - 1, ids[t]].item() for t in range(n_prompt, 24))
    assert got == pytest.approx(expected, abs=1e-4)
    assert s.truncated_count == 1
    long_prompt = ScoringItem("p", [{"role": "user", "content": response + response}], "answer1")
    with pytest.raises(ModelError, match=r"alone fills the model's maximum length"):
        s.tokenize([long_prompt])


def test_rmbench_run_with_the_dpo_scorer(
    models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, reference = models
    data = write_jsonl(tmp_path / "pairs.jsonl", ROWS)
    run_dir = tmp_path / "run"
    args = ["run", "--suite", "rewardbench", "--data", str(data), "--scorer", "dpo"]
    args += ["--model", str(policy), "-O", f"ref_model={reference}", "-O", "beta=0.1"]
    args += ["--device", "cpu", "--run-dir", str(run_dir), "--bootstrap", "50", "-q"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err + out

    manifest = json.loads((run_dir / "manifest.json").read_text())
    identity = manifest["scorer_identity"]
    assert identity["scorer"] == "dpo" and identity["variant"] == "dpo"
    assert identity["beta"] == 0.1 and identity["ref_model"] == str(reference)
    assert set(identity["model_fingerprint"]) == {"policy", "reference"}

    scores = pl.read_parquet(run_dir / "scores.parquet")
    for row in ROWS[:3]:
        for index, side in enumerate(("chosen", "rejected")):
            text = f"<s><|user|>{row['prompt']}<|assistant|>{row[side]}</s>"
            tokenizer = AutoTokenizer.from_pretrained(policy)
            n = len(tokenizer(row[side] + "</s>", add_special_tokens=False)["input_ids"])
            expected = 0.1 * (
                hand_logprobs(policy, text, n).sum() - hand_logprobs(reference, text, n).sum()
            )
            got = scores.filter(
                (pl.col("group_id") == row["id"]) & (pl.col("candidate_index") == index)
            )["score"].item()
            assert got == pytest.approx(expected, abs=1e-4)

    # A rerun resumes from the cache; another beta is a different run and is refused.
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "0 inputs scored now" in " ".join(out.split())
    other = [a if a != "beta=0.1" else "beta=0.2" for a in args]
    code, out, err = run_cli(other, capsys)
    assert code == 2, err + out
