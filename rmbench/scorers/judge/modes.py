"""Judging modes: which questions a judge is asked about a set of responses, and how its
answers become one score per response. Backends only generate; everything here is shared.

* ``pairwise``: every pair of a set in both orders; a pair is won only when both orders agree
  (see :mod:`.verdicts`); score = mean points over the other responses (win 1, tie or no
  preference 0.5, loss 0). Soft: a reply's points are ``P(first) + P(tie)/2``, averaged over
  the two orders; a pair is "no preference" when either order has no soft verdict.
* ``ratings``: each response on its own (single-answer grading), score = the rating 1..10
  (soft: the expected rating). A reply without a valid rating scores :data:`UNRATED`, below
  every rating, so an unrated response never beats a rated one (RewardBench 2's authors score
  a failed rating as -1 for the same reason); it is counted and reported, never guessed.
* ``best-of-4``: the judge sees all four responses of a set and names the best. Position bias
  is controlled by judging ``rotations`` cyclic rotations of the order (with 4 rotations every
  response appears once in every position); score = share of rotations in which the response
  was named best (soft: its mean probability of being named), so RewardBench 2's best-of-4
  rule credits the chosen response only when it has the highest share. A rotation without a
  verdict credits nobody. Sets whose rotations named different responses are reported.

With soft verdicts, the counts of decided, tied, position-inconsistent and split sets and the
picks by position describe the verdicts the judge *wrote*; the unparseable counts are replies
without a *soft* verdict, which are the ones scored as no preference, unrated or no credit.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from itertools import combinations
from typing import Any

import numpy as np

from rmbench.errors import ScoringError
from rmbench.scorers.base import ScoringItem
from rmbench.scorers.judge.openai_client import ChatResult
from rmbench.scorers.judge.soft import SoftVerdict, expected_rating
from rmbench.scorers.judge.verdicts import (
    POINTS,
    RATING_VALUES,
    combine_orders,
    parse_choice,
    parse_rating,
    parse_verdict,
)

UNRATED = 0.0


@dataclass(frozen=True)
class Judged:
    """One reply of the judge, with the order of set members it was shown."""

    order: tuple[int, ...]
    reply: ChatResult
    soft: SoftVerdict | None  # None: hard verdicts


@dataclass
class TransportStats:
    """What the judging cost (filled by the scorer for every mode)."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def cost(self) -> str:
        return (
            f"{self.requests} requests, {self.retries} retries; tokens: {self.prompt_tokens} "
            f"prompt + {self.completion_tokens} completion"
        )


@dataclass
class PairwiseStats(TransportStats):
    pairs: int = 0
    decided: int = 0
    ties: int = 0  # both orders said tie
    inconsistent: int = 0  # the orders disagreed: position bias, scored as a tie
    no_verdict: int = 0  # a reply without a (soft) verdict: no preference
    unparseable_replies: int = 0


@dataclass
class RatingStats(TransportStats):
    rated: int = 0
    unrated: int = 0  # scored UNRATED: the three reasons below
    no_rating: int = 0
    conflicting: int = 0
    out_of_range: int = 0
    soft_unparseable: int = 0  # a valid hard rating whose position gave no soft rating


@dataclass
class BestOfStats(TransportStats):
    sets: int = 0
    rotations: int = 0
    unanimous: int = 0  # every rotation named the same response
    split: int = 0  # the rotations named different responses (position bias or doubt)
    unparseable_replies: int = 0
    picks_by_position: list[int] = field(default_factory=lambda: [0, 0, 0, 0])


def stats_dict(stats: TransportStats) -> dict[str, Any]:
    return {f.name: getattr(stats, f.name) for f in fields(stats)}


class Pairwise:
    name = "pairwise"
    compares_within_group = True
    values = ("A", "B", "C")

    def __init__(self) -> None:
        self.stats = PairwiseStats()

    def check(self, members: Sequence[ScoringItem]) -> None:
        if len(members) < 2:
            item = members[0]
            raise ScoringError(
                f"{item.ref or item.key}: a pairwise judge needs at least two different "
                "responses to a prompt, and this one has no other response to compare with"
            )

    def orders(self, n: int) -> list[tuple[int, ...]]:
        return [order for i, j in combinations(range(n), 2) for order in ((i, j), (j, i))]

    def locate(self, text: str) -> tuple[int, str] | None:
        parsed = parse_verdict(text)
        if parsed.verdict is None:
            return None
        return parsed.offset, text[parsed.offset]

    def score(self, n: int, judged: Sequence[Judged]) -> np.ndarray:
        points = np.zeros(n)
        stats = self.stats
        for k in range(0, len(judged), 2):
            first, second = judged[k], judged[k + 1]  # (i, j) then (j, i)
            i, j = first.order
            parsed = (parse_verdict(first.reply.text), parse_verdict(second.reply.text))
            outcome = combine_orders(*parsed)
            stats.pairs += 1
            stats.decided += outcome in ("first", "second")
            stats.ties += outcome == "tie"
            stats.inconsistent += outcome == "inconsistent"
            if first.soft is None or second.soft is None:
                stats.no_verdict += outcome == "unparseable"
                stats.unparseable_replies += sum(p.verdict is None for p in parsed)
                points[i] += POINTS[outcome][0]
                points[j] += POINTS[outcome][1]
                continue
            softs = (first.soft.probs, second.soft.probs)
            stats.unparseable_replies += sum(p is None for p in softs)
            if softs[0] is None or softs[1] is None:
                stats.no_verdict += 1
                points[i] += 0.5
                points[j] += 0.5
                continue
            # P(i better): as A in the first order, as B in the second; a tie is half a win
            p_i = (softs[0]["A"] + softs[1]["B"] + 0.5 * (softs[0]["C"] + softs[1]["C"])) / 2
            points[i] += p_i
            points[j] += 1.0 - p_i
        return points / (n - 1)

    def summary(self) -> str:
        s = self.stats
        return (
            f"{s.pairs} pairs judged in both orders ({s.requests} requests, {s.retries} "
            f"retries): {s.decided} decided, {s.ties} judged ties, {s.inconsistent} "
            f"position-inconsistent (scored as ties), {s.no_verdict} without a verdict (scored "
            f"as no preference; {s.unparseable_replies} unparseable replies); tokens: "
            f"{s.prompt_tokens} prompt + {s.completion_tokens} completion"
        )


class Ratings:
    name = "ratings"
    compares_within_group = False
    values = RATING_VALUES

    def __init__(self) -> None:
        self.stats = RatingStats()

    def check(self, members: Sequence[ScoringItem]) -> None:
        return None

    def orders(self, n: int) -> list[tuple[int, ...]]:
        return [(i,) for i in range(n)]

    def locate(self, text: str) -> tuple[int, str] | None:
        parsed = parse_rating(text)
        return None if parsed.rating is None else (parsed.offset, parsed.text)

    def score(self, n: int, judged: Sequence[Judged]) -> np.ndarray:
        scores = np.full(n, UNRATED)
        stats = self.stats
        for one in judged:
            parsed = parse_rating(one.reply.text)
            rating = parsed.rating
            if rating is not None and one.soft is not None:
                if one.soft.probs is None:
                    stats.soft_unparseable += 1
                    rating = None
                else:
                    rating = expected_rating(one.soft.probs)
            if rating is None:
                stats.unrated += 1
                stats.no_rating += parsed.problem == "no verdict"
                stats.conflicting += parsed.problem == "conflicting verdicts"
                stats.out_of_range += parsed.problem == "out of range"
                continue
            stats.rated += 1
            scores[one.order[0]] = rating
        return scores

    def summary(self) -> str:
        s = self.stats
        soft = f", {s.soft_unparseable} without a soft rating" if s.soft_unparseable else ""
        return (
            f"{s.rated + s.unrated} responses rated ({s.cost()}): {s.rated} rated, {s.unrated} "
            f"unrated (scored {UNRATED:g}: {s.no_rating} without a rating, {s.conflicting} "
            f"conflicting, {s.out_of_range} out of range 1..10{soft})"
        )


class BestOf:
    name = "best-of-4"
    compares_within_group = True
    size = 4
    values = tuple(string.ascii_uppercase[:4])

    def __init__(self, rotations: int) -> None:
        self.rotations = rotations
        self.stats = BestOfStats()

    def check(self, members: Sequence[ScoringItem]) -> None:
        if len(members) != self.size:
            item = members[0]
            raise ScoringError(
                f"{item.ref or item.key}: mode best-of-4 judges sets of exactly 4 responses, "
                f"and this prompt has {len(members)} (RewardBench 2's Ties subset has other "
                "sizes: -O mode=rewardbench2 rates it, as RewardBench 2's authors do)"
            )

    def orders(self, n: int) -> list[tuple[int, ...]]:
        """Rotation ``r`` shows member ``(p + shift_r) % n`` in position ``p``, with shifts
        spread evenly (0, 1, 2, 3 for 4 rotations; 0, 2 for 2)."""
        shifts = [r * n // self.rotations for r in range(self.rotations)]
        return [tuple((p + shift) % n for p in range(n)) for shift in shifts]

    def locate(self, text: str) -> tuple[int, str] | None:
        marker = parse_choice(text, "".join(self.values))
        return None if marker.value is None else (marker.offset, marker.value)

    def score(self, n: int, judged: Sequence[Judged]) -> np.ndarray:
        wins = np.zeros(n)
        stats = self.stats
        named: set[int] = set()
        parsed_count = 0
        for one in judged:
            marker = parse_choice(one.reply.text, "".join(self.values))
            if marker.value is not None:
                position = self.values.index(marker.value)
                stats.picks_by_position[position] += 1
                named.add(one.order[position])
            if one.soft is None:
                if marker.value is None:
                    stats.unparseable_replies += 1
                    continue
                parsed_count += 1
                wins[one.order[self.values.index(marker.value)]] += 1.0
                continue
            if one.soft.probs is None:
                stats.unparseable_replies += 1
                continue
            parsed_count += 1
            for position, letter in enumerate(self.values):
                wins[one.order[position]] += one.soft.probs[letter]
        stats.sets += 1
        stats.rotations += len(judged)
        stats.unanimous += parsed_count == len(judged) and len(named) == 1
        stats.split += len(named) > 1
        return wins / len(judged)

    def summary(self) -> str:
        s = self.stats
        picks = ", ".join(f"{v} {c}" for v, c in zip(self.values, s.picks_by_position, strict=True))
        return (
            f"{s.sets} sets judged best-of-4 under {self.rotations} rotations ({s.cost()}): "
            f"{s.unanimous} unanimous, {s.split} split between responses, "
            f"{s.unparseable_replies} unparseable replies (credit nobody); picks by position: "
            f"{picks}"
        )


Mode = Pairwise | Ratings | BestOf
