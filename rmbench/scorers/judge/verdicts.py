"""Reading a pairwise verdict from the judge's reply, and combining the two orders.

Only the judge's reply is parsed, never the prompt, so a candidate's ``[[B]]`` can reach the
parser only if the judge itself writes it (quoting an answer, say). The rules, in order:

1. the reply ends with a marker (after trailing whitespace, quotes, periods, asterisks and
   backticks): that marker is the verdict, because the templates ask for the final verdict
   last and a judge quoting an answer quotes it *before* its verdict;
2. otherwise, if every marker in the reply names the same verdict, that one;
3. otherwise the reply is unparseable (no marker, or markers that disagree): counted and
   reported, and no winner is ever guessed from it.

The same rules read a best-of-4 choice (``[[A]]`` .. ``[[D]]``, :func:`parse_choice`) and a
rating (``[[7]]``, :func:`parse_rating`; a number outside 1..10 is counted as out of range,
never clipped). Every parse also says where the verdict's value starts in the reply (the
character after ``[[``), which is where a soft verdict reads the judge's probabilities.

``[[C]]`` is a tie in a pairwise verdict. Both orders of a pair are judged; a pair's outcome is a win only when both
orders name the same answer, a tie when the orders disagree (position bias) or both say tie,
and "no verdict" when either reply is unparseable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["A", "B", "tie"]
_TRAILING = " \t\r\n.\"'*`"
RATING_RANGE = (1.0, 10.0)
RATING_VALUES = tuple(str(r) for r in range(1, 11))  # what a soft rating reads


@dataclass(frozen=True)
class Marker:
    """The raw value inside the reply's deciding ``[[...]]`` and where it starts."""

    value: str | None  # None: no deciding marker
    offset: int = -1  # index in the reply of the value's first character
    problem: str = ""  # "no verdict" or "conflicting verdicts"


def read_marker(reply: str, inner: str) -> Marker:
    """The deciding ``[[inner]]`` marker of a reply under the module's rules."""
    pattern = re.compile(r"\[\[(" + inner + r")\]\]")
    matches = list(pattern.finditer(reply))
    if not matches:
        return Marker(None, problem="no verdict")
    last = matches[-1]
    if last.end() == len(reply.rstrip(_TRAILING)):
        return Marker(last.group(1), last.start(1))
    if len({m.group(1) for m in matches}) == 1:
        return Marker(last.group(1), last.start(1))
    return Marker(None, problem="conflicting verdicts")


@dataclass(frozen=True)
class ParsedVerdict:
    verdict: Verdict | None  # None: unparseable
    problem: str = ""  # why it is unparseable: "no verdict" or "conflicting verdicts"
    offset: int = field(default=-1, compare=False)  # where the verdict letter is in the reply


def _as_verdict(letter: str) -> Verdict:
    return "tie" if letter == "C" else letter  # type: ignore[return-value]


def parse_verdict(reply: str) -> ParsedVerdict:
    """The pairwise verdict of one judge reply (see the module's rules)."""
    marker = read_marker(reply, "[ABC]")
    if marker.value is None:
        return ParsedVerdict(None, marker.problem)
    return ParsedVerdict(_as_verdict(marker.value), offset=marker.offset)


def parse_choice(reply: str, letters: str) -> Marker:
    """The best answer a best-of-N reply names (one of ``letters``), under the same rules."""
    return read_marker(reply, f"[{letters}]")


@dataclass(frozen=True)
class ParsedRating:
    rating: float | None  # None: unparseable
    problem: str = ""  # "no verdict", "conflicting verdicts" or "out of range"
    offset: int = -1
    text: str = ""  # the rating as the judge wrote it


def parse_rating(reply: str) -> ParsedRating:
    """A ``[[rating]]`` (an integer or decimal number) from a single-answer grading reply.

    Markers that hold no number (``[[A]]`` quoted from an answer, ``[[rating]]`` quoted from
    the instructions) are not ratings and are skipped. A number outside 1..10 is reported as
    out of range rather than clipped: a judge writing ``[[11]]`` or ``[[0]]`` has not followed
    the scale, and clipping would invent a rating it did not give.
    """
    marker = read_marker(reply, r"\d+(?:\.\d+)?")
    if marker.value is None:
        return ParsedRating(None, marker.problem)
    rating = float(marker.value)
    low, high = RATING_RANGE
    if not low <= rating <= high:
        return ParsedRating(None, "out of range", marker.offset, marker.value)
    return ParsedRating(rating, "", marker.offset, marker.value)


Outcome = Literal["first", "second", "tie", "inconsistent", "unparseable"]


def combine_orders(first_as_a: ParsedVerdict, first_as_b: ParsedVerdict) -> Outcome:
    """Outcome of a pair (first, second) judged as (A=first, B=second) and (A=second, B=first).

    ``first``/``second``: both orders prefer that response; ``tie``: both orders say tie;
    ``inconsistent``: the orders disagree, scored as a tie; ``unparseable``: either reply has
    no verdict, scored as no preference.
    """
    one, two = first_as_a.verdict, first_as_b.verdict
    if one is None or two is None:
        return "unparseable"
    # map the swapped order back to (first, second)
    two_mapped = {"A": "B", "B": "A", "tie": "tie"}[two]
    if one != two_mapped:
        return "inconsistent"
    return {"A": "first", "B": "second", "tie": "tie"}[one]  # type: ignore[return-value]


#: Points of (first, second) for each outcome: a win is 1, a tie or no preference 0.5 each.
POINTS: dict[str, tuple[float, float]] = {
    "first": (1.0, 0.0),
    "second": (0.0, 1.0),
    "tie": (0.5, 0.5),
    "inconsistent": (0.5, 0.5),
    "unparseable": (0.5, 0.5),
}
