"""The ``prm`` scorer on tiny random PRMs, checked against step scores computed by hand.

The hand computation shares nothing with the scorer: it writes the tagged conversation out
itself, finds the tag tokens by their id, runs one explicit forward pass and takes the softmax
(or sigmoid) at those positions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from prm_models import (
    SHEPHERD_TAG,
    TAG,
    make_tiny_bert_prm,
    make_tiny_prm,
    make_tiny_remote_code_prm,
)
from run_helpers import WORDS
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from rmbench.errors import ModelError, UsageError
from rmbench.scorers.base import ScorerOptions, ScoringItem
from rmbench.scorers.prm.scorer import PRMScorer

TEXTS = [" ".join(WORDS)] * 20 + ["Step 1: answer1 tok3\nStep 2: code2 reason4"] * 10
PROMPT = [{"role": "user", "content": "tok1 tok2?"}]
STEPS = ["answer1 tok3", "code2 reason4"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("prm-models")
    out = {head: make_tiny_prm(root / head, TEXTS, head) for head in ("lm", "classifier", "value")}
    out["bert"] = make_tiny_bert_prm(root / "bert", TEXTS)
    out["remote"] = make_tiny_remote_code_prm(root / "remote", TEXTS)
    return out


def scorer(model: Path, **extra: str) -> PRMScorer:
    options = {k: v for k, v in extra.items() if not k.startswith("_")}
    options.setdefault("step_tag", TAG)
    return PRMScorer.load(
        ScorerOptions(
            model=str(model),
            device="cpu",
            max_tokens_per_batch=int(extra.get("_budget", 16384)),
            max_batch_size=int(extra.get("_rows", 64)),
            trust_remote_code="_trust" in extra,
            extra=options,
        )
    )


def scores_of(s: PRMScorer, items: list[ScoringItem]) -> dict[str, float]:
    out: dict[str, float] = {}
    for batch in s.score_batches(items):
        out.update(zip(batch.keys, batch.scores.tolist(), strict=True))
    assert len(out) == len({item.key for item in items})
    return out


def hand_step_scores(model_dir: Path, head: str, text: str, tag_token: str) -> np.ndarray:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    tag_id = tokenizer.convert_tokens_to_ids(tag_token)
    positions = [i for i, t in enumerate(ids) if t == tag_id]
    assert len(positions) == 2
    if head == "remote":  # Qwen2.5-Math-PRM style: own class, AutoModel, two logits per token
        model = AutoModel.from_pretrained(model_dir, trust_remote_code=True).eval()
        head = "classifier"
    else:
        loader = AutoModelForCausalLM if head == "lm" else AutoModelForTokenClassification
        model = loader.from_pretrained(model_dir).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, positions].double()
    if head == "lm":
        plus, minus = tokenizer.convert_tokens_to_ids(["+", "-"])
        return torch.softmax(logits[:, [plus, minus]], dim=-1)[:, 0].numpy()
    if head == "classifier":
        return torch.softmax(logits, dim=-1)[:, 1].numpy()
    return torch.sigmoid(logits[:, 0]).numpy()


@pytest.mark.parametrize("head", ["lm", "classifier", "value", "remote"])
def test_step_scores_and_aggregations_match_hand_computation(
    models: dict[str, Path], head: str
) -> None:
    item = ScoringItem("k", PROMPT, "\n\n".join(STEPS))
    text = f"<s><|user|>tok1 tok2?<|assistant|>{STEPS[0]}{TAG}\n\n{STEPS[1]}{TAG}</s>"
    expected = hand_step_scores(models[head], head, text, TAG)
    assert abs(expected[0] - expected[1]) > 1e-3  # distinct steps: the aggregations differ

    s = scorer(models[head], _trust="1")
    (row,) = s.tokenize([item])
    tokenizer = AutoTokenizer.from_pretrained(models[head])
    assert row.ids.tolist() == tokenizer(text, add_special_tokens=False)["input_ids"]
    np.testing.assert_allclose(s.step_scores([item])[0], expected, rtol=1e-5, atol=1e-6)
    by_hand = {
        "min": expected.min(),
        "product": expected[0] * expected[1],
        "last": expected[1],
        "mean": (expected[0] + expected[1]) / 2,
    }
    for aggregation, value in by_hand.items():
        got = scores_of(scorer(models[head], aggregation=aggregation, _trust="1"), [item])["k"]
        assert got == pytest.approx(value, rel=1e-5, abs=1e-6), aggregation


def test_math_shepherd_layout_regex_steps_and_plain_text_tag(models: dict[str, Path]) -> None:
    """Math-Shepherd: steps "Step i: ..." split by a regex, " ки" after each, joined by "\\n"."""
    response = "Step 1: answer1 tok3\nStep 2: code2 reason4"
    text = f"<s><|user|>tok1 tok2?<|assistant|>Step 1: answer1 tok3{SHEPHERD_TAG}\nStep 2: code2 reason4{SHEPHERD_TAG}</s>"
    tokenizer = AutoTokenizer.from_pretrained(models["lm"])
    (tag_id,) = tokenizer(SHEPHERD_TAG, add_special_tokens=False)["input_ids"]
    expected = hand_step_scores(models["lm"], "lm", text, tokenizer.convert_ids_to_tokens(tag_id))
    s = scorer(
        models["lm"],
        step_tag=SHEPHERD_TAG,
        step_regex=r"\n(?=Step \d)",
        step_join="\\n",
        good_token="+",
        bad_token="-",
    )
    item = ScoringItem("k", PROMPT, response)
    np.testing.assert_allclose(s.step_scores([item])[0], expected, rtol=1e-5, atol=1e-6)
    assert s.identity()["steps"] == {
        "separator": None,
        "regex": r"\n(?=Step \d)",
        "tag": SHEPHERD_TAG,
        "join": "\n",
    }


def test_system_prompt_is_added_to_prompts_without_one(models: dict[str, Path]) -> None:
    s = scorer(models["classifier"], system_prompt="reason1\\nreason2")
    response = "\n\n".join(STEPS)
    text = f"<s><|system|>reason1\nreason2<|user|>tok1 tok2?<|assistant|>{STEPS[0]}{TAG}\n\n{STEPS[1]}{TAG}</s>"
    expected = hand_step_scores(models["classifier"], "classifier", text, TAG)
    got = s.step_scores([ScoringItem("k", PROMPT, response)])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    own = [{"role": "system", "content": "code1"}, *PROMPT]
    (row,) = s.tokenize([ScoringItem("k", own, response)])
    tokenizer = AutoTokenizer.from_pretrained(models["classifier"])
    assert tokenizer.decode(row.ids).startswith("<s><|system|>code1<|user|>")
    assert s.identity()["system_prompt"] == "reason1\nreason2"


def solutions(n: int, seed: int = 0) -> list[tuple[list[dict[str, str]], list[str]]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        prompt = [{"role": "user", "content": " ".join(rng.choice(WORDS, 4)) + f" {i}?"}]
        steps = [" ".join(rng.choice(WORDS, rng.integers(2, 8))) for _ in range(rng.integers(1, 7))]
        out.append((prompt, steps))
    return out


def with_batching(
    s: PRMScorer, rows: int, budget: int, order: list[ScoringItem]
) -> dict[str, float]:
    s.options = replace(s.options, max_batch_size=rows, max_tokens_per_batch=budget)
    return scores_of(s, order)


@pytest.mark.parametrize("head", ["lm", "classifier"])
def test_scores_do_not_depend_on_batching(models: dict[str, Path], head: str) -> None:
    items = [
        ScoringItem(f"s{i}", prompt, "\n\n".join(steps))
        for i, (prompt, steps) in enumerate(solutions(14))
    ]
    s = scorer(models[head], aggregation="mean")
    keys = [item.key for item in items]
    base = np.array([with_batching(s, 1, 16384, items)[k] for k in keys])
    assert len(set(np.round(base, 6))) == len(keys)  # distinct scores: the check has teeth
    for rows, budget, order in ((64, 16384, items), (64, 150, items), (3, 16384, items[::-1])):
        other = with_batching(s, rows, budget, order)
        np.testing.assert_allclose([other[k] for k in keys], base, rtol=1e-5, atol=1e-6)


def prefix_items() -> list[ScoringItem]:
    """Every prefix of five solutions; two share a prompt and their first two steps."""
    sols = solutions(4, seed=1)
    prompt, steps = sols[0]
    sols.append((prompt, [*steps[:2], "reason7 reason8 tok9", "code1"]))
    sols[0] = (prompt, [*steps[:2], *(["answer5 answer6"] if len(steps) < 3 else steps[2:])])
    seen: dict[tuple[str, str], ScoringItem] = {}
    for i, (p, st) in enumerate(sols):
        for k in range(1, len(st) + 1):
            response = "\n\n".join(st[:k])
            # the runner gives equal (prompt, response) inputs one key, as here
            seen.setdefault((p[0]["content"], response), ScoringItem(f"s{i}#{k}", p, response))
    return list(seen.values())


@pytest.mark.parametrize(
    ("head", "aggregation"), [("lm", "last"), ("lm", "min"), ("value", "product")]
)
def test_prefix_sharing_equals_scoring_each_prefix_alone(
    models: dict[str, Path], head: str, aggregation: str
) -> None:
    items = prefix_items()
    shared = scorer(models[head], aggregation=aggregation)
    together = scores_of(shared, items)
    assert shared.report() == {
        "inputs": len(items),
        "forward_passes": 5,
        "inputs_read_from_a_longer_pass": len(items) - 5,
    }
    alone_scorer = scorer(models[head], aggregation=aggregation)
    alone = {item.key: scores_of(alone_scorer, [item])[item.key] for item in items}
    assert alone_scorer.report()["forward_passes"] == len(items)
    keys = [item.key for item in items]
    np.testing.assert_allclose([together[k] for k in keys], [alone[k] for k in keys], rtol=1e-5)
    if aggregation != "min":  # distinct scores: the check has teeth (a min repeats by design)
        assert len(set(np.round([alone[k] for k in keys], 6))) == len(keys)


def test_bidirectional_models_do_not_share_prefixes(models: dict[str, Path]) -> None:
    """A BERT head sees later steps, so a prefix's score differs from the full pass's: the
    scorer must run every prefix on its own."""
    items = prefix_items()
    s = scorer(models["bert"], aggregation="last", _rows="64")
    together = scores_of(s, items)
    assert s.report()["forward_passes"] == len(items)
    full = max(items, key=lambda it: len(it.response))
    full_steps = s.step_scores([full])[0]
    first = next(it for it in items if it.prompt == full.prompt and "\n\n" not in it.response)
    assert together[first.key] != pytest.approx(full_steps[0], abs=1e-6)


def test_option_errors(models: dict[str, Path]) -> None:
    lm, value = models["lm"], models["value"]
    cases: list[tuple[type[Exception], Path, dict[str, str], str]] = [
        (UsageError, lm, {"temperature": "1"}, "-O temperature"),
        (UsageError, lm, {"aggregation": "max"}, "-O aggregation"),
        (UsageError, lm, {"step_separator": "x", "step_regex": "y"}, "not both"),
        (UsageError, lm, {"step_regex": "("}, "does not compile"),
        (UsageError, lm, {"step_regex": "x*"}, "empty string"),
        (UsageError, lm, {"step_join": "\\q"}, "unknown escape"),
        (UsageError, lm, {"good_token": "+", "bad_token": "+"}, "both are"),
        (ModelError, lm, {"good_token": "answer1 tok3"}, "-O good_token"),
        (UsageError, value, {"good_token": "+"}, "token-classification head"),
    ]
    for error, model, extra, message in cases:
        with pytest.raises(error, match=message):
            scorer(model, **extra)
    with pytest.raises(ModelError, match="pass --trust-remote-code"):
        scorer(models["remote"])
    with pytest.raises(UsageError, match="step_tag is required"):
        PRMScorer.load(ScorerOptions(model=str(lm), device="cpu"))


def test_input_errors_name_the_input(models: dict[str, Path]) -> None:
    s = scorer(models["lm"])
    cases = [
        ("  \n\n ", "has no steps"),
        (f"answer1{TAG}tok3\n\ncode2", "contains the step tag"),
    ]
    for response, message in cases:
        with pytest.raises(ModelError, match=message):
            list(s.score_batches([ScoringItem("k", PROMPT, response, ref="sub/7#0")]))
    # the tag " an" followed by the join "swer " is the BPE token " answer": no token of its own
    merged = scorer(models["lm"], step_tag=" an", step_join="swer ")
    with pytest.raises(ModelError, match=r"tag after step 1 of sub/7#0 is not a token of its own"):
        list(merged.score_batches([ScoringItem("k", PROMPT, "code2\n\ncode3", ref="sub/7#0")]))


def test_over_length_inputs_are_refused_or_truncated_to_whole_steps(
    models: dict[str, Path],
) -> None:
    steps = [" ".join(WORDS[i : i + 10]) for i in range(0, 60, 10)]
    item = ScoringItem("k", PROMPT, "\n\n".join(steps), ref="sub/1#0")
    full = scorer(models["value"], aggregation="last").step_scores([item])[0]
    (row,) = scorer(models["value"]).tokenize([item])
    limit = int(row.tag_positions[3]) + 2  # tags 0..3 fit
    s = scorer(models["value"], aggregation="last")
    s.max_length = limit
    with pytest.raises(ModelError, match="exceed the model's maximum length"):
        list(s.score_batches([item]))
    s.options = replace(s.options, truncate=True)
    assert scores_of(s, [item])["k"] == pytest.approx(full[3], rel=1e-5)
    assert s.truncated_count == 1
