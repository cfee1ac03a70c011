"""``judge-local`` on tiny causal Llamas built here: greedy batched generation checked against
a hand-written greedy loop, soft verdicts against a softmax of the verdict tokens' logits from
a direct forward pass, unparseable verdicts of a random model counted, and ``rmbench run``.

The hand computations share nothing with the backend: they lay the prompt out with the
tokenizer's chat template, run the model without a cache and pick token ids by name.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from judge_models import judge_conversations, judge_texts, make_random_judge, make_trained_judge
from run_helpers import run_cli
from transformers import AutoModelForCausalLM, AutoTokenizer

from rmbench.errors import ScoringError
from rmbench.scorers.base import ScorerOptions, ScoringItem
from rmbench.scorers.judge.local_backend import JudgeLocalFactory, JudgeLocalScorer
from rmbench.scorers.judge.modes import UNRATED
from rmbench.scorers.judge.soft import read_soft
from rmbench.scorers.judge.templates import BUILTIN_TEMPLATES, render
from rmbench.scorers.judge.verdicts import parse_choice, parse_rating, parse_verdict

_rng = random.Random(0)
_WORDS = [f"w{i}" for i in range(30)]
QUESTIONS = [f"question {q}: " + " ".join(_rng.choice(_WORDS) for _ in range(5)) for q in range(4)]
ANSWERS = [
    [" ".join(_rng.choice(_WORDS) for _ in range(_rng.randint(3, 12))) for _ in range(4)]
    for _ in QUESTIONS
]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; competing for a busy CPU's cores is slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def judges(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("judges")
    texts = judge_texts(QUESTIONS, [a for four in ANSWERS for a in four])
    conversations = judge_conversations(QUESTIONS, ANSWERS)
    letters = [c for c in conversations if c[0] != "ratings"]
    ratings = [c for c in conversations if c[0] == "ratings"]
    return {
        "random": make_random_judge(root / "random", texts),
        # one trained judge per kind of verdict: a few steps teach a tiny model the format,
        # not yet to tell a rating prompt from a comparison
        "trained": make_trained_judge(root / "trained", texts, letters),
        "rater": make_trained_judge(root / "rater", texts, ratings),
    }


def local(path: Path, batch: int = 8, **extra: str) -> JudgeLocalScorer:
    options = ScorerOptions(model=str(path), device="cpu", max_batch_size=batch, extra=extra)
    return JudgeLocalFactory().create(options)


def items_of(n_questions: int, per: int = 4) -> list[ScoringItem]:
    return [
        ScoringItem(
            f"{q}-{i}", [{"role": "user", "content": QUESTIONS[q]}], ANSWERS[q][i], group=str(q)
        )
        for q in range(n_questions)
        for i in range(per)
    ]


def scores_of(scorer: JudgeLocalScorer, items: list[ScoringItem]) -> dict[str, float]:
    out: dict[str, float] = {}
    for batch in scorer.score_batches(items):
        out.update(zip(batch.keys, batch.scores.tolist(), strict=True))
    return out


def jobs() -> list[tuple[int, list[dict[str, str]]]]:
    """Judge prompts of different lengths (pairwise, ratings and four-way)."""
    return list(enumerate(m for _, m in judge_conversations(QUESTIONS, ANSWERS)))


def hand_prompt_ids(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]  # the template writes <s>


def hand_greedy(model, tokenizer, messages, max_new: int) -> list[int]:
    """Greedy decoding by hand: a full forward pass per step, no cache, no padding."""
    ids = hand_prompt_ids(tokenizer, messages)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(max_new):
            logits = model(input_ids=torch.tensor([ids + out])).logits[0, -1]
            token = int(torch.argmax(logits))
            if token == tokenizer.eos_token_id:
                break
            out.append(token)
    return out


# --------------------------------------------------------------------------- generation


def test_greedy_batched_generation_matches_a_hand_loop_at_every_batch_size(judges) -> None:
    path = judges["random"]
    replies = {}
    for batch in (1, 3, 16):
        scorer = local(path, batch=batch, max_tokens="10")
        replies[batch] = dict(scorer.backend.run(jobs()))
    texts = {b: [replies[b][k].text for k in sorted(replies[b])] for b in replies}
    assert texts[1] == texts[3] == texts[16]
    counts = {b: [replies[b][k].completion_tokens for k in sorted(replies[b])] for b in replies}
    assert counts[1] == counts[3] == counts[16]

    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    for k, messages in jobs()[:4]:
        ids = hand_greedy(model, tokenizer, messages, 10)
        assert tokenizer.decode(ids, skip_special_tokens=True) == replies[16][k].text
        assert replies[16][k].prompt_tokens == len(hand_prompt_ids(tokenizer, messages))


def test_a_random_judge_is_unparseable_and_counted_not_guessed(judges, capsys) -> None:
    scorer = local(judges["random"], max_tokens="12")
    replies = [r.text for _, r in scorer.backend.run(jobs()[:2])]
    assert all(parse_verdict(text).verdict is None for text in replies), replies

    scorer = local(judges["random"], max_tokens="12")
    scores = scores_of(scorer, items_of(2))
    stats = scorer.stats
    assert stats.pairs == 2 * 6 and stats.requests == 2 * 12
    assert stats.unparseable_replies >= 0.9 * stats.requests  # noise, not verdicts
    undecided = stats.no_verdict + stats.inconsistent + stats.ties
    assert stats.decided + undecided == stats.pairs
    if stats.no_verdict == stats.pairs:  # no winner taken from noise
        assert set(scores.values()) == {0.5}
    assert f"{stats.no_verdict} without a verdict" in capsys.readouterr().err

    scorer = local(judges["random"], mode="ratings", max_tokens="12")
    ratings = scores_of(scorer, items_of(1))
    assert scorer.stats.unrated >= 3 and scorer.stats.no_rating == scorer.stats.unrated
    assert sum(v == UNRATED for v in ratings.values()) == scorer.stats.unrated


# --------------------------------------------------------------------------- soft verdicts


def hand_soft(model, tokenizer, messages, max_new: int, names: list[str]) -> np.ndarray:
    """Softmax over the logits of the tokens named ``names`` at the position after `` [[``
    in the hand-generated reply."""
    reply = hand_greedy(model, tokenizer, messages, max_new)
    opener = tokenizer.convert_tokens_to_ids("Ġ[[")
    k = reply.index(opener) + 1
    ids = hand_prompt_ids(tokenizer, messages) + reply[:k]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1].double()
    picked = logits[tokenizer.convert_tokens_to_ids(names)]
    return torch.softmax(picked, dim=0).numpy()


def test_soft_verdicts_are_the_softmax_of_the_verdict_token_logits(judges) -> None:
    path = judges["trained"]
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    prompt = [{"role": "user", "content": QUESTIONS[0]}]
    a, b, c, d = ANSWERS[0]

    # pairwise: P(A), P(B), P(C) at the verdict position, and the pair's score from them
    scorer = local(path, soft="true", max_tokens="10")
    orders = [render(BUILTIN_TEMPLATES["mt-bench"], prompt, *x) for x in ((a, b), (b, a))]
    replies = dict(scorer.backend.run(list(enumerate(orders))))
    probs = []
    for k, messages in enumerate(orders):
        assert parse_verdict(replies[k].text).verdict is not None, replies[k].text
        soft = read_soft(replies[k].pieces, replies[k].alternatives, scorer.mode.locate, "ABC")
        assert soft.probs is not None
        expected = hand_soft(model, tokenizer, messages, 10, ["A", "B", "C"])
        np.testing.assert_allclose([soft.probs[v] for v in "ABC"], expected, rtol=1e-5)
        assert 0.05 < expected.max() < 0.95  # a real distribution, not a one-hot
        probs.append(expected)
    items = [
        ScoringItem("a", prompt, a, group="g"),
        ScoringItem("b", prompt, b, group="g"),
    ]
    scores = scores_of(local(path, soft="true", max_tokens="10"), items)
    p_a = (probs[0][0] + probs[1][1] + 0.5 * (probs[0][2] + probs[1][2])) / 2
    assert scores["a"] == pytest.approx(p_a, rel=1e-5)
    assert scores["b"] == pytest.approx(1 - p_a, rel=1e-5)

    # ratings: the expected rating under the softmax over the tokens 1..10
    rater = judges["rater"]
    scorer = local(rater, mode="ratings", soft="true", max_tokens="10")
    rated = scores_of(scorer, [ScoringItem("c", prompt, c)])
    messages = render(BUILTIN_TEMPLATES["mt-bench-single"], prompt, c)
    rater_model = AutoModelForCausalLM.from_pretrained(rater).eval()
    rater_tokenizer = AutoTokenizer.from_pretrained(rater)
    ratings = [str(r) for r in range(1, 11)]
    p = hand_soft(rater_model, rater_tokenizer, messages, 10, ratings)
    assert 0.01 < p.max() < 0.99
    assert rated["c"] == pytest.approx(float(np.dot(np.arange(1, 11), p)), rel=1e-5)
    assert scorer.stats.rated == 1

    # best-of-4: each response's mean probability of being named over the four rotations
    scorer = local(path, mode="best-of-4", soft="true", max_tokens="10")
    four = [ScoringItem(str(i), prompt, x, group="g") for i, x in enumerate((a, b, c, d))]
    best = scores_of(scorer, four)
    expected = np.zeros(4)
    for shift in range(4):
        order = [(p + shift) % 4 for p in range(4)]
        shown = render(
            BUILTIN_TEMPLATES["rewardbench2-4way"], prompt, *[(a, b, c, d)[i] for i in order]
        )
        p = hand_soft(model, tokenizer, shown, 10, list("ABCD"))
        for position, member in enumerate(order):
            expected[member] += p[position] / 4
    np.testing.assert_allclose([best[str(i)] for i in range(4)], expected, rtol=1e-5)
    assert sum(best.values()) == pytest.approx(1.0)
    assert scorer.stats.rotations == 4 and sum(scorer.stats.picks_by_position) == 4


def test_hard_modes_on_the_trained_judges(judges) -> None:
    """Ratings and best-of-4 read the written verdict; shares are multiples of 1/rotations."""
    scorer = local(judges["rater"], mode="ratings", max_tokens="10")
    ratings = scores_of(scorer, items_of(1))
    prompt = [{"role": "user", "content": QUESTIONS[0]}]
    shown = [render(BUILTIN_TEMPLATES["mt-bench-single"], prompt, x) for x in ANSWERS[0]]
    replies = dict(scorer.backend.run(list(enumerate(shown))))
    written = [parse_rating(replies[i].text).rating for i in range(4)]
    assert [ratings[f"0-{i}"] for i in range(4)] == written
    assert None not in written and scorer.stats.rated == 4

    path = judges["trained"]
    scorer = local(path, mode="best-of-4", rotations="2", max_tokens="10")
    shares = scores_of(scorer, items_of(2))
    assert scorer.stats.rotations == 4 and scorer.stats.sets == 2
    assert all(v in (0.0, 0.5, 1.0) for v in shares.values())
    assert sum(shares.values()) == pytest.approx(2.0)  # every rotation named someone
    assert parse_choice("x [[D]]", "ABCD").value == "D"


def test_options_are_checked(judges, tmp_path: Path) -> None:
    path = str(judges["trained"])
    cases = [
        (ScorerOptions(), "option --model is required"),
        (ScorerOptions(model=path, truncate=True), "option --truncate"),
        (ScorerOptions(model=path, max_batch_size=0), "option --max-batch-size"),
        (ScorerOptions(model=path, max_tokens_per_batch=0), "option --max-tokens-per-batch"),
        (ScorerOptions(model=path, extra={"base_url": "http://x"}), "option -O base_url"),
        (ScorerOptions(model=path, extra={"top_logprobs": "5"}), "option -O top_logprobs"),
        (ScorerOptions(model=path, extra={"mode": "listwise"}), "option -O mode"),
        (ScorerOptions(model=path, extra={"soft": "maybe"}), "option -O soft"),
        (
            ScorerOptions(model=path, extra={"rotations": "2"}),
            "only modes best-of-4 and rewardbench2 rotate",
        ),
        (
            ScorerOptions(model=path, extra={"mode": "best-of-4", "rotations": "5"}),
            "at most 4",
        ),
        (
            ScorerOptions(model=path, extra={"mode": "ratings", "template": "mt-bench"}),
            "is a pairwise template",
        ),
        (ScorerOptions(model=path, device="cuda:7"), "option --device")
        if not torch.cuda.is_available()
        else (ScorerOptions(model=path, dtype="fp8"), "option --dtype"),
        (ScorerOptions(model=str(tmp_path / "none")), "option --model"),
    ]
    for options, message in cases:
        with pytest.raises(Exception, match=message) as failure:
            JudgeLocalFactory().create(options)
        assert "\n" not in str(failure.value)
    with pytest.raises(ScoringError, match="exactly 4 responses"):
        scores_of(local(judges["trained"], mode="best-of-4"), items_of(1, per=3))


# --------------------------------------------------------------------------- end to end


def test_rmbench_run_with_a_local_judge(judges, tmp_path: Path, capsys) -> None:
    rows = [
        {"question": QUESTIONS[q], "answers": ANSWERS[q], "quality": [4.0, 3.0, 2.0, 1.0]}
        for q in range(3)
    ]
    data = tmp_path / "graded.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir = tmp_path / "run"
    args = ["run", "--suite", "custom", "--data", str(data), "--scorer", "judge-local"]
    args += ["--model", str(judges["trained"]), "--device", "cpu", "--max-batch-size", "5"]
    args += ["-O", "mode=best-of-4", "-O", "soft=true", "-O", "max_tokens=10"]
    args += ["--suite-option", "prompt=question", "--suite-option", "responses=answers"]
    args += ["--suite-option", "gold=quality", "--run-dir", str(run_dir), "--bootstrap", "0", "-q"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err + out
    assert "3 sets judged best-of-4 under 4 rotations" in err
    scores = pl.read_parquet(run_dir / "scores.parquet")
    assert scores.height == 12
    for _, group in scores.group_by("group_id"):
        assert group["score"].sum() == pytest.approx(1.0)  # shares of one verdict per rotation
    manifest = json.loads((run_dir / "manifest.json").read_text())
    identity = manifest["scorer_identity"]
    assert identity["scorer"] == "judge-local" and identity["mode"] == "best-of-4"
    assert identity["soft"] is True and identity["decoding"] == "greedy"
    assert identity["template"]["name"] == "rewardbench2-4way"
    report = json.loads((run_dir / "summary.json").read_text())["scorer_report"]
    assert report["sets"] == 3 and report["rotations"] == 12 and report["requests"] == 12
    assert report["unparseable_replies"] == 0
    # a rerun scores nothing again
    code, out2, _ = run_cli(args, capsys)
    assert code == 0 and "0 inputs scored now" in " ".join(out2.split())
    assert not math.isnan(scores["score"].sum())


def test_a_prompt_that_cannot_fit_fails_before_anything_is_generated(judges) -> None:
    scorer = local(judges["random"], max_tokens="2040")  # the model has 2048 positions
    calls = []
    scorer.backend.generate = lambda rows: calls.append(rows)  # type: ignore[method-assign]
    with pytest.raises(ScoringError, match=r"with -O max_tokens=2040 it exceeds the model's 2048"):
        scores_of(scorer, items_of(1))
    assert calls == []


# --------------------------------------------------------------------------- RewardBench 2


@pytest.fixture(scope="module")
def rb2_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A judge trained on rating and four-way prompts for long enough to answer each in its own
    format (a rating to a rating prompt, a letter to a four-way one)."""
    texts = judge_texts(QUESTIONS, [a for four in ANSWERS for a in four])
    conversations = [c for c in judge_conversations(QUESTIONS, ANSWERS) if c[0] != "pairwise"]
    path = tmp_path_factory.mktemp("judges") / "rb2"
    return make_trained_judge(path, texts, conversations, steps=60)


def rb2_rows() -> list[dict]:
    """Ties rows (ref and tied, sharing three responses) on question 0; one best-of-4 row per
    other subset on questions 1..3."""
    a = ANSWERS[0]
    rows = [
        {"id": "ref:0", "chosen": [a[0]], "rejected": [a[1], a[2]]},
        {"id": "tied:0", "chosen": [a[0], a[3]], "rejected": [a[1], a[2]]},
    ]
    rows = [{**r, "subset": "Ties", "prompt": QUESTIONS[0]} for r in rows]
    for n, subset in enumerate(["Factuality", "Precise IF", "Math", "Safety", "Focus"]):
        q = 1 + n % 3
        four = ANSWERS[q] if n < 3 else ANSWERS[q][::-1]
        rows.append(
            {
                "id": str(n),
                "subset": subset,
                "prompt": QUESTIONS[q],
                "chosen": four[:1],
                "rejected": four[1:],
                "num_correct": 1,
            }
        )
    return rows


def test_rmbench_run_rewardbench2_mode_with_a_local_judge(
    rb2_judge, tmp_path: Path, capsys
) -> None:
    """One run rates Ties and judges the rest best-of-4 (soft verdicts for both), and equals a
    ratings run on Ties plus a best-of-4 run on the other subsets."""
    data = tmp_path / "rb2.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rb2_rows()))

    def run(name: str, *extra: str) -> tuple[dict, dict]:
        args = ["run", "--suite", "rewardbench2", "--data", str(data), "--scorer", "judge-local"]
        args += ["--model", str(rb2_judge), "--device", "cpu", "--max-batch-size", "8"]
        args += ["-O", "soft=true", "-O", "max_tokens=10", *extra]
        args += ["--run-dir", str(tmp_path / name), "--bootstrap", "0", "-q"]
        code, out, err = run_cli(args, capsys)
        assert code == 0, err + out
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        frame = pl.read_parquet(tmp_path / name / "scores.parquet")
        columns = frame.select("group_id", "candidate_index", "score")
        scores = {(g, i): s for g, i, s in columns.iter_rows()}
        return summary, scores

    one, one_scores = run("one", "-O", "mode=rewardbench2")
    report = one["scorer_report"]
    assert report["ratings"]["requests"] == 3 + 4 and report["ratings"]["rated"] == 7
    assert report["ratings"]["soft_unparseable"] == 0
    best = report["best-of-4"]
    assert (best["sets"], best["requests"], best["unparseable_replies"]) == (5, 20, 0)
    assert report["requests"] == 27

    ties, ties_scores = run("ties", "-O", "mode=ratings", "--subset", "Ties")
    assert ties["scorer_report"]["requests"] == 4  # the shared responses rated once
    subsets = ["--subset", "Factuality", "--subset", "Precise IF", "--subset", "Math"]
    subsets += ["--subset", "Safety", "--subset", "Focus"]
    rest, rest_scores = run("rest", "-O", "mode=best-of-4", *subsets)
    assert one_scores.keys() == {**ties_scores, **rest_scores}.keys()
    for key, score in {**ties_scores, **rest_scores}.items():
        assert one_scores[key] == pytest.approx(score, rel=1e-5)

    def values(summary: dict) -> dict[str, float]:
        return {
            m["name"]: m["value"]
            for m in summary["metrics"]
            if m["level"] == "subset" and m["metric"] in ("accuracy", "score")
        }

    combined = {**values(rest), **values(ties)}
    assert len(combined) == 6 and values(one) == pytest.approx(combined, rel=1e-5)
    (overall,) = [m["value"] for m in one["metrics"] if m["level"] == "overall"]
    assert overall == pytest.approx(np.mean(list(combined.values())), rel=1e-5)
