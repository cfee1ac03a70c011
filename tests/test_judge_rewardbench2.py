"""``-O mode=rewardbench2``: RewardBench 2 judged as its authors do, in one run: Ties rated,
every other subset best-of-4. Against the real loopback chat-completions server of
``test_judge_openai``; the one-run result is checked against two separate runs
(``--subset Ties -O mode=ratings`` and the other subsets with ``-O mode=best-of-4``) combined
by RewardBench 2's rules, and against a hand computation."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from run_helpers import run_cli, write_jsonl
from test_judge_modes import (
    biased_soft_four,
    four_answers,
    longest_of_four,
    rate_by_length,
    single_answer,
    soft_ratings,
)
from test_judge_openai import judge_server, make_scorer, scores_of, words

from rmbench.data.model import ResponseGroups
from rmbench.errors import ScoringError, UsageError
from rmbench.run.runner import scoring_items
from rmbench.scorers.base import ScorerOptions, ScoringItem
from rmbench.scorers.judge.dispatch import RewardBench2
from rmbench.scorers.judge.options import JudgeSettings
from rmbench.scorers.judge.scorer import JudgeConfig
from rmbench.scorers.judge.templates import BUILTIN_TEMPLATES

NON_TIES = ("Factuality", "Precise IF", "Math", "Safety", "Focus")
RATINGS = BUILTIN_TEMPLATES["mt-bench-single"]
FOUR_WAY = BUILTIN_TEMPLATES["rewardbench2-4way"]


def is_rating_request(messages: list[dict[str, str]]) -> bool:
    return "[The Start of Assistant's Answer]" in messages[-1]["content"]


def rb2_judge(messages: list[dict[str, str]]) -> Any:
    """Rates an answer by its word count, or names the longest of four (see test_judge_modes)."""
    return rate_by_length(messages) if is_rating_request(messages) else longest_of_four(messages)


def item(key: str, response: str, subset: str, group: str, prompt: str = "q?") -> ScoringItem:
    prompt_messages = [{"role": "user", "content": prompt}]
    return ScoringItem(key, prompt_messages, response, f"{subset}/{group}", group, subset=subset)


# --------------------------------------------------------------------------- data

# best-of-4 rows: word counts of (chosen, rejected x3); the judge names the longest, so the
# chosen response earns 1 where it is longest (Python's max takes the first of equals)
BEST_OF = {
    "f0": ("Factuality", [9, 3, 5, 2]),  # 1
    "f1": ("Factuality", [3, 9, 5, 2]),  # 0
    "p0": ("Precise IF", [6, 2, 1, 4]),  # 1
    "m0": ("Math", [4, 8, 1, 2]),  # 0
    "s0": ("Safety", [7, 2, 3, 4]),  # 1
    "o0": ("Focus", [2, 3, 4, 5]),  # 0
}
EXPECTED_BEST_OF = {"Factuality": 0.5, "Precise IF": 1.0, "Math": 0.0, "Safety": 1.0, "Focus": 0.0}


def rb2_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for row_id, (subset, lengths) in BEST_OF.items():
        texts = [words(k, f"{row_id}w{i}") for i, k in enumerate(lengths)]
        rows.append(
            {
                "id": row_id,
                "subset": subset,
                "prompt": f"prompt {row_id}?",
                "chosen": texts[:1],
                "rejected": texts[1:],
                "num_correct": 1,
            }
        )
    # Ties, rated by word count. Prompt 0: ref correct 9 vs 3, 5 (margin 4, accurate); tied
    # correct 9, 8 vs 2, 3 (margin 5 > spread 1). Prompt 1: ref correct 4 vs 6, 2 (margin -2,
    # not accurate); tied correct 7, 5 vs 3 (margin 2, not above the spread 2). The ref and
    # tied rows of prompt 0 share two responses.
    ties = [
        ("ref:0", "prompt t0?", [words(9, "c")], [words(3, "f"), words(5, "g")]),
        ("tied:0", "prompt t0?", [words(9, "c"), words(8, "d")], [words(2, "e"), words(3, "f")]),
        ("ref:1", "prompt t1?", [words(4, "h")], [words(6, "i"), words(2, "j")]),
        ("tied:1", "prompt t1?", [words(7, "k"), words(5, "l")], [words(3, "m")]),
    ]
    for row_id, prompt, chosen, rejected in ties:
        rows.append(
            {
                "id": row_id,
                "subset": "Ties",
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
            }
        )
    return rows


def expected_ties_score() -> float:
    """RewardBench 2's Ties formula on the ratings above, by hand."""
    tied_accuracy, ref_accuracy = 2 / 2, 1 / 2
    preferred = (1 + 0) / 2  # tied margin > spread: 5 > 1, 2 > 2
    preferred_hard = (1 + 0) / 2  # min(ref, tied margin) > spread: 4 > 1, -2 > 2
    margin = (math.tanh(4 / 1 - 1) + math.tanh(-2 / 2 - 1)) / 2
    return (
        0.3 * tied_accuracy
        + 0.3 * ref_accuracy
        + 0.2 * preferred
        + 0.2 * preferred_hard
        + 0.01 * margin
    )


def run_rb2(data: Path, url: str, run_dir: Path, capsys, *extra: str) -> dict[str, Any]:
    args = ["run", "--suite", "rewardbench2", "--data", str(data), "--scorer", "judge-openai"]
    args += ["--model", "judge-model", "-O", f"base_url={url}", *extra]
    args += ["--run-dir", str(run_dir), "--bootstrap", "0", "-q"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err + out
    return json.loads((run_dir / "summary.json").read_text())


def subset_values(summary: dict[str, Any]) -> dict[str, float]:
    """Each subset's headline value (Ties: its weighted score)."""
    values = {}
    for m in summary["metrics"]:
        if m["level"] == "subset" and m["metric"] in ("accuracy", "score"):
            values[m["name"]] = m["value"]
    return values


def overall_value(summary: dict[str, Any]) -> float:
    (overall,) = [m["value"] for m in summary["metrics"] if m["level"] == "overall"]
    return overall


def candidate_scores(run_dir: Path) -> dict[tuple[str, int], float]:
    frame = pl.read_parquet(run_dir / "scores.parquet")
    return {
        (g, i): s for g, i, s in frame.select("group_id", "candidate_index", "score").iter_rows()
    }


# --------------------------------------------------------------------------- one run


def test_one_run_equals_the_two_runs_combined_by_rewardbench2s_rules(tmp_path, capsys) -> None:
    rows = rb2_rows()
    data = write_jsonl(tmp_path / "rb2.jsonl", rows)
    with judge_server(rb2_judge) as server:
        one = run_rb2(data, server.url, tmp_path / "one", capsys, "-O", "mode=rewardbench2")
        bodies = [b["messages"] for b in server.bodies()]
    ties_rows = [r for r in rows if r["subset"] == "Ties"]
    # Ties: one rating request per response of each row; the rest: 4 rotated four-way requests
    rated = [single_answer(m) for m in bodies if is_rating_request(m)]
    shown = [four_answers(m) for m in bodies if not is_rating_request(m)]
    assert Counter(rated) == Counter(x for r in ties_rows for x in r["chosen"] + r["rejected"])
    assert len(shown) == 4 * len(BEST_OF)
    for row in rows[: len(BEST_OF)]:
        texts = row["chosen"] + row["rejected"]
        rotations = sorted(tuple(s) for s in shown if s[0] in texts)
        assert rotations == sorted(tuple(texts[(p + k) % 4] for p in range(4)) for k in range(4))
    systems = Counter(m[0]["content"] for m in bodies)
    assert systems == {RATINGS.system: len(rated), FOUR_WAY.system: len(shown)}

    report = one["scorer_report"]
    assert report["mode"] == "rewardbench2" and report["requests"] == len(bodies)
    assert report["ratings"]["requests"] == report["ratings"]["rated"] == len(rated) == 13
    best = report["best-of-4"]
    assert (best["sets"], best["rotations"], best["unanimous"]) == (6, 24, 6)
    longest = Counter(max(range(4), key=lambda p: len(s[p].split())) for s in shown)
    assert best["picks_by_position"] == [longest[p] for p in range(4)]
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    identity = manifest["scorer_identity"]
    assert identity["mode"] == "rewardbench2" and identity["rotations"] == 4
    assert {k: v["name"] for k, v in identity["templates"].items()} == {
        "ratings": "mt-bench-single",
        "best-of-4": "rewardbench2-4way",
    }

    # the same data in two runs: Ties by ratings, the other subsets best-of-4
    with judge_server(rb2_judge) as server:
        ties = run_rb2(
            data, server.url, tmp_path / "ties", capsys, "-O", "mode=ratings", "--subset", "Ties"
        )
        # ratings are cached per (prompt, response): the two shared responses are rated once
        assert len(server.requests) == 13 - 2
        subsets = [arg for s in NON_TIES for arg in ("--subset", s)]
        rest = run_rb2(
            data, server.url, tmp_path / "rest", capsys, "-O", "mode=best-of-4", *subsets
        )
    combined = {**subset_values(rest), **subset_values(ties)}
    assert subset_values(one) == combined
    assert overall_value(one) == pytest.approx(np.mean([combined[s] for s in (*NON_TIES, "Ties")]))
    assert candidate_scores(tmp_path / "one") == {
        **candidate_scores(tmp_path / "ties"),
        **candidate_scores(tmp_path / "rest"),
    }
    # and by hand
    assert combined["Ties"] == pytest.approx(expected_ties_score(), abs=1e-12)
    assert {s: combined[s] for s in NON_TIES} == EXPECTED_BEST_OF
    expected_overall = (sum(EXPECTED_BEST_OF.values()) + expected_ties_score()) / 6
    assert overall_value(one) == pytest.approx(expected_overall, abs=1e-12)


# --------------------------------------------------------------------------- soft verdicts


def soft_rb2(messages: list[dict[str, str]]) -> tuple[str, list]:
    return soft_ratings(messages) if is_rating_request(messages) else biased_soft_four(messages)


def test_soft_verdicts_are_read_per_sub_mode() -> None:
    ties = [item(f"t{i}", f"plain answer {i}", "Ties", "ref:0") for i in range(3)]
    math_set = [item(f"m{i}", words(2 + i), "Math", "7") for i in range(4)]
    with judge_server(soft_rb2) as server:
        scorer = make_scorer(server.url, mode="rewardbench2", soft="true", top_logprobs="5")
        scores = scores_of(scorer, ties + math_set)
        bodies = server.bodies()
    assert len(bodies) == 3 + 4 and all(b["top_logprobs"] == 5 for b in bodies)
    # a rating's expected value over the top 5 (see soft_ratings), and rotated shares
    expected = (8 * 0.5 + 7 * 0.3 + 10 * 0.1 + 1 * 0.05) / 0.95
    for i in range(3):
        assert scores[f"t{i}"] == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose([scores[f"m{i}"] for i in range(4)], [0.25] * 4, atol=1e-12)
    report = scorer.report()
    assert report["soft"] is True and report["requests"] == 7
    assert (report["ratings"]["rated"], report["ratings"]["soft_unparseable"]) == (3, 0)
    assert report["best-of-4"]["sets"] == 1 and report["best-of-4"]["unparseable_replies"] == 0


# --------------------------------------------------------------------------- dispatch


def test_dispatch_picks_ratings_for_ties_and_best_of_4_for_the_rest() -> None:
    mode = RewardBench2(rotations=2)
    ties = [item(f"t{i}", f"a{i}", "Ties", "tied:3") for i in range(5)]
    four = [item(f"f{i}", f"b{i}", "Focus", "9") for i in range(4)]
    assert mode.mode_for(ties) is mode.ratings and mode.mode_for(four) is mode.best_of
    mode.check(ties)  # any size: each response is rated alone
    mode.check(four)
    assert mode.ratings.orders(5) == [(i,) for i in range(5)]
    assert mode.best_of.orders(4) == [(0, 1, 2, 3), (2, 3, 0, 1)]
    assert mode.compares_within_group  # best-of-4 needs the group
    with pytest.raises(ScoringError, match=r"subset 'Focus' best-of-4, which needs exactly 4"):
        mode.check(four[:3])
    mixed = [*four[:2], item("t", "x", "Ties", "9")]
    with pytest.raises(ScoringError, match=r"come from subsets \['Focus', 'Ties'\]"):
        mode.check(mixed)


def test_the_scorer_judges_each_mode_with_its_template_and_two_rotations() -> None:
    items = [item(f"t{i}", words(3 + i), "Ties", "ref:0") for i in range(3)]
    items += [item(f"s{i}", words(2 + 3 * i, "s"), "Safety", "1") for i in range(4)]
    with judge_server(rb2_judge) as server:
        scorer = make_scorer(server.url, mode="rewardbench2", rotations="2")
        scores = scores_of(scorer, items)
        bodies = server.bodies()
    assert scores == {"t0": 3, "t1": 4, "t2": 5, "s0": 0, "s1": 0, "s2": 0, "s3": 1}
    systems = Counter(b["messages"][0]["content"] for b in bodies)
    assert systems == {RATINGS.system: 3, FOUR_WAY.system: 2}
    assert scorer.report()["best-of-4"]["rotations"] == 2
    assert scorer.identity()["rotations"] == 2
    # a best-of-4 subset whose prompt has 3 responses is refused before anything is sent
    three = [item(f"x{i}", words(2 + i), "Math", "2") for i in range(3)]
    with judge_server(rb2_judge) as server:
        with pytest.raises(ScoringError, match="subset 'Math' best-of-4, which needs exactly 4"):
            scores_of(make_scorer(server.url, mode="rewardbench2"), items + three)
        assert server.requests == []


def test_rewardbench2_options_are_one_line_errors(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/v1"
    four = tmp_path / "four.toml"
    four.write_text('user = "{question} {answer_a} {answer_b} {answer_c} {answer_d}"\n')
    cases = [
        ({"mode": "rewardbench2", "template": str(four)}, "option -O template: mode rewardbench2"),
        ({"mode": "rewardbench2", "template": "mt-bench-single"}, "run -O mode=ratings and"),
        ({"mode": "rewardbench2", "rotations": "5"}, "option -O rotations: at most 4"),
        ({"mode": "ratings", "rotations": "2"}, "only modes best-of-4 and rewardbench2 rotate"),
        ({"mode": "rb2"}, "is not one of pairwise, ratings, best-of-4, rewardbench2"),
    ]
    for extra, message in cases:
        with pytest.raises(UsageError, match=message) as failure:
            JudgeConfig.from_options(ScorerOptions(model="m", extra={"base_url": url, **extra}))
        assert "\n" not in str(failure.value)
    settings = JudgeSettings.from_options(ScorerOptions(extra={"mode": "rewardbench2"}))
    assert {k: t.mode for k, t in settings.templates.items()} == {
        "ratings": "ratings",
        "best-of-4": "best-of-4",
    }
    with pytest.raises(ValueError, match="one template per sub-mode"):
        _ = settings.template


def test_items_carry_their_groups_subset() -> None:
    """``scoring_items`` fills ``subset``; shared items (no group in the key) take the first
    group's subset, and the subset never changes a cache key."""
    prompt = [{"role": "user", "content": "p?"}]
    groups = [
        {"group_id": g, "subset": s, "prompt": prompt, "gold_kind": "pairwise", "source": "x"}
        for g, s in (("a", "Math"), ("b", "Ties"))
    ]
    for g in groups:
        g["source_row"] = 0
    candidates = [
        {"group_id": g, "candidate_index": i, "response": r, "gold": 1.0 - i, "model": None}
        for g in ("a", "b")
        for i, r in enumerate(("same", f"own {g}"))
    ]
    data = ResponseGroups.from_records(groups, candidates)
    keys, items = scoring_items(data, within_group=True)
    assert [(i.group, i.subset) for i in items] == [("a", "Math")] * 2 + [("b", "Ties")] * 2
    shared_keys, shared = scoring_items(data)
    assert [(i.response, i.subset) for i in shared] == [
        ("same", "Math"),
        ("own a", "Math"),
        ("own b", "Ties"),
    ]
    plain = ResponseGroups.from_records([{**g, "subset": "Other"} for g in groups], candidates)
    assert scoring_items(plain, within_group=True)[0] == keys
    assert scoring_items(plain)[0] == shared_keys
