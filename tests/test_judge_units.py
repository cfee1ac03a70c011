"""Verdict parsing (pairwise, ratings, best-of-4), order combination, template rendering and
the soft-verdict arithmetic of the judges."""

from __future__ import annotations

import math
import re

import pytest

from rmbench.scorers.judge.soft import (
    SoftVerdict,
    expected_rating,
    normalise,
    read_soft,
    token_span,
    value_of_token,
    verdict_mass,
)
from rmbench.scorers.judge.templates import BUILTIN_TEMPLATES, fence, question_text, render
from rmbench.scorers.judge.verdicts import (
    ParsedVerdict,
    combine_orders,
    parse_choice,
    parse_rating,
    parse_verdict,
)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("Explanation... Final verdict: [[A]]", "A"),
        ("[[B]].", "B"),
        ('My verdict: "[[C]]"', "tie"),
        ("**[[A]]**\n", "A"),
        ("[[B]] because B cites its sources.", "B"),  # one marker, then prose
        ("[[B]] ... on reflection [[B]] again", "B"),
        # a quoted answer containing [[B]], then the judge's own final verdict
        ('A wrote "do [[B]] now". B is vague. Final verdict: [[A]]', "A"),
    ],
)
def test_verdicts_are_read_from_the_end_of_the_reply(reply: str, verdict: str) -> None:
    assert parse_verdict(reply) == ParsedVerdict(verdict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("Both answers are fine.", "no verdict"),
        ("", "no verdict"),
        ("A", "no verdict"),
        ("[[D]]", "no verdict"),
        ("[[a]]", "no verdict"),
        ("[A]", "no verdict"),
        ("[[A]] or maybe [[B]], hard to say", "conflicting verdicts"),
    ],
)
def test_unparseable_replies_are_never_guessed(reply: str, problem: str) -> None:
    assert parse_verdict(reply) == ParsedVerdict(None, problem)


def test_both_orders_must_agree() -> None:
    a, b, tie, bad = (parse_verdict(x) for x in ("[[A]]", "[[B]]", "[[C]]", "??"))
    # (A=first, B=second), then (A=second, B=first)
    assert combine_orders(a, b) == "first"
    assert combine_orders(b, a) == "second"
    assert combine_orders(tie, tie) == "tie"
    assert combine_orders(a, a) == "inconsistent"  # always position A: position bias
    assert combine_orders(a, tie) == "inconsistent"
    assert combine_orders(bad, a) == combine_orders(b, bad) == "unparseable"


@pytest.mark.parametrize("text", ["plain", "has ``` three", "has ```` four and ` one", "`````"])
def test_nothing_inside_a_fence_can_close_it(text: str) -> None:
    block = fence(text)
    opening, *body, closing = block.split("\n")
    assert opening == closing + "text" and set(closing) == {"`"} and len(closing) >= 3
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    assert len(closing) > longest
    assert "\n".join(body) == text


def test_render_fills_placeholders_once_and_keeps_mt_bench_text() -> None:
    template = BUILTIN_TEMPLATES["mt-bench"]
    prompt = [{"role": "user", "content": "What is {answer_a}?"}]
    messages = render(template, prompt, "A says {answer_b}", "B says {question}")
    assert messages[0] == {"role": "system", "content": template.system}
    assert messages[1]["content"] == (
        "[User Question]\n```text\nWhat is {answer_a}?\n```\n\n"
        "[The Start of Assistant A's Answer]\n```text\nA says {answer_b}\n```\n"
        "[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\n```text\nB says {question}\n```\n"
        "[The End of Assistant B's Answer]"
    )
    assert "[[C]]" in template.system
    assert "[[C]]" not in BUILTIN_TEMPLATES["mt-bench-no-tie"].system
    assert template.sha256 != BUILTIN_TEMPLATES["mt-bench-no-tie"].sha256


def test_multi_turn_context_is_one_transcript() -> None:
    prompt = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Sum 2+2?"},
    ]
    assert (
        question_text(prompt)
        == "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Sum 2+2?"
    )


# --------------------------------------------------------------------------- ratings, choices


@pytest.mark.parametrize(
    ("reply", "rating", "problem"),
    [
        ("Good answer. Rating: [[7]]", 7.0, ""),
        ("Rating: [[7.5]].", 7.5, ""),
        ("[[10]]", 10.0, ""),
        ('It says "[[A]]" and follows [[rating]] format: [[3]]', 3.0, ""),
        ("[[4]] ... as said, [[4]], solid", 4.0, ""),
        ("Rating: [[11]]", None, "out of range"),
        ("Rating: [[0]]", None, "out of range"),
        ("Rating: [[-3]]", None, "no verdict"),  # not a number marker at all
        ("Rating: [[seven]]", None, "no verdict"),
        ("Rating: 7", None, "no verdict"),
        ("[[3]] or [[4]], hard to say", None, "conflicting verdicts"),
    ],
)
def test_ratings_are_read_never_clipped(reply: str, rating: float | None, problem: str) -> None:
    parsed = parse_rating(reply)
    assert (parsed.rating, parsed.problem) == (rating, problem)
    if rating is not None:
        assert reply[parsed.offset : parsed.offset + len(parsed.text)] == parsed.text


def test_best_of_four_choices_and_where_the_letter_is() -> None:
    reply = 'A said "[[B]]". Final: [[D]]'
    marker = parse_choice(reply, "ABCD")
    assert (marker.value, reply[marker.offset]) == ("D", "D")
    assert reply[marker.offset - 2 : marker.offset] == "[["
    assert parse_choice("[[E]]", "ABCD").value is None
    assert parse_choice("[[A]] then [[C]] maybe", "ABCD").problem == "conflicting verdicts"


# --------------------------------------------------------------------------- soft helpers


def test_the_verdict_position_and_which_tokens_count() -> None:
    pieces = ["Verdict", ": ", "[[A", "]]"]
    assert token_span(pieces, len("Verdict: [[")) == (2, "[[")
    assert token_span(pieces, 100) is None
    assert value_of_token("A", "", "ABC") == "A"
    assert value_of_token("A]]", "", "ABC") == "A"
    assert value_of_token("AB", "", "ABC") is None  # a word, not a verdict
    assert value_of_token("[[B", "[[", "ABC") == "B"
    assert value_of_token("B", "[[", "ABC") is None  # the prefix is part of the position
    ratings = [str(r) for r in range(1, 11)]
    assert value_of_token("10", "", ratings) == "10"
    assert value_of_token("1", "", ratings) == "1"
    assert value_of_token("10]]", "", ratings) == "10"


def test_soft_probabilities_renormalise_over_the_verdicts() -> None:
    logprobs = {"A": math.log(0.5), "A]]": math.log(0.1), "B": math.log(0.2), "x": math.log(0.2)}
    mass = verdict_mass(logprobs, "", "ABC")
    assert mass == pytest.approx({"A": 0.6, "B": 0.2})
    soft = normalise(mass, "ABC")
    assert soft.probs == pytest.approx({"A": 0.75, "B": 0.25, "C": 0.0})
    assert normalise({}, "ABC") == SoftVerdict(None, "verdict tokens not among the alternatives")
    assert expected_rating({"7": 0.5, "9": 0.5}) == 8.0

    def locate(text: str) -> tuple[int, str] | None:
        parsed = parse_verdict(text)
        return None if parsed.verdict is None else (parsed.offset, text[parsed.offset])

    pieces = ["ok ", "[[", "B", "]]"]
    alternatives = [{}, {}, {"B": math.log(0.3), "A": math.log(0.1)}, {}]
    assert read_soft(pieces, alternatives, locate, "ABC").probs == pytest.approx(
        {"A": 0.25, "B": 0.75, "C": 0.0}
    )
    assert read_soft(["no verdict"], [{}], locate, "ABC").problem == "no verdict"
    assert read_soft([], [], locate, "ABC").problem.startswith("no token log-probabilities")
    assert read_soft(pieces, [{}] * 4, locate, "ABC").problem.startswith("no alternatives")


def test_ratings_and_four_way_templates_render_every_answer_fenced() -> None:
    prompt = [{"role": "user", "content": "Q {answer}?"}]
    single = render(BUILTIN_TEMPLATES["mt-bench-single"], prompt, "one {answer_a}")
    assert single[1]["content"] == (
        "[Question]\n```text\nQ {answer}?\n```\n\n"
        "[The Start of Assistant's Answer]\n```text\none {answer_a}\n```\n"
        "[The End of Assistant's Answer]"
    )
    assert single[0]["content"].endswith('format: "[[rating]]", for example: "Rating: [[5]]".')
    four = render(BUILTIN_TEMPLATES["rewardbench2-4way"], prompt, "a", "b", "c", "d")
    blocks = "".join(
        f"\n\n[The Start of Assistant {x}'s Answer]\n```text\n{x.lower()}\n```\n"
        f"[The End of Assistant {x}'s Answer]"
        for x in "ABCD"
    )
    assert four[1]["content"] == "[User Question]\n```text\nQ {answer}?\n```" + blocks
    assert "four AI assistants" in four[0]["content"]
    with pytest.raises(ValueError, match="takes 4 answers"):
        render(BUILTIN_TEMPLATES["rewardbench2-4way"], prompt, "a", "b")
