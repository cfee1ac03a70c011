"""Soft verdicts: the judge's probabilities for each verdict instead of the verdict it wrote.

A hard verdict throws away how sure the judge was: ``[[A]]`` written with probability 0.51
counts as much as one written with 0.99. A soft verdict reads the distribution at the
**verdict position**, defined precisely as:

    the position of the token that holds the first character of the verdict's value inside
    the deciding marker of the reply, i.e. the character right after ``[[`` of the marker the
    hard parser reads (:mod:`.verdicts`).

Usually that token is ``A`` (or ``7``) right after a ``[[`` token. Tokenizers may merge
characters, so the token may begin before the value (``[[A``, `` [A``): the part of the token
before the value is its **prefix**, and an alternative token counts for verdict ``v`` when its
text is ``prefix + v`` followed by nothing or by a character that is neither a letter nor a
digit (``A``, ``A]]`` and ``A]`` count for A; ``AB`` does not; ``10`` counts for 10, not 1).

The probability of verdict ``v`` is the judge's probability mass on the tokens that count for
``v``, renormalised over all verdicts: ``P(v) = Σ_{t→v} p(t) / Σ_{t→any verdict} p(t)``, i.e. a
softmax over the verdict tokens' logits. Sources of ``p(t)``:

* an OpenAI-compatible server: the ``top_logprobs`` it returns for that position (the chosen
  token and the ``k`` most likely alternatives; a verdict outside them gets probability 0, as it
  is less likely than all ``k``);
* a local model: its logits at that position over the whole vocabulary.

A reply is **unparseable** for the soft verdict (counted, never guessed) when it has no hard
verdict (there is no verdict position), when the value is split over several tokens (a
tokenizer that writes 10 as ``1`` ``0``: the position's distribution cannot tell 1 from 10),
or when no verdict token is among the alternatives.

Ratings: the soft rating is the expected value ``Σ r·P(r)`` over the integer ratings 1..10.
With a tokenizer that writes 10 as two tokens, the mass on ``1`` includes the start of ``10``;
the local backend therefore refuses soft ratings for such a tokenizer, and a server's reply
that shows the split (``1`` then ``0``) is unparseable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SoftTarget:
    """What a backend needs to read a reply's soft verdict: where the verdict is (a mode's
    ``locate``) and the verdict values whose tokens count. A backend that computes the
    alternatives itself (``judge-local``) is given the target of the mode being judged."""

    locate: Callable[[str], tuple[int, str] | None]
    values: tuple[str, ...]


@dataclass(frozen=True)
class SoftVerdict:
    """Probabilities per verdict value (summing to 1), or why there are none."""

    probs: dict[str, float] | None
    problem: str = ""


def token_span(pieces: Sequence[str], offset: int) -> tuple[int, str] | None:
    """Index of the token holding character ``offset`` of ``"".join(pieces)``, and the part of
    that token before the offset (its prefix); None when the offset lies beyond the text."""
    start = 0
    for index, piece in enumerate(pieces):
        end = start + len(piece)
        if start <= offset < end:
            return index, piece[: offset - start]
        start = end
    return None


def value_of_token(token: str, prefix: str, values: Iterable[str]) -> str | None:
    """The verdict value that ``token`` writes after ``prefix`` (see the module's rule)."""
    if not token.startswith(prefix):
        return None
    rest = token[len(prefix) :]
    fits = [
        value
        for value in values
        if rest.startswith(value) and (len(rest) == len(value) or not rest[len(value)].isalnum())
    ]
    return max(fits, key=len, default=None)


def verdict_mass(
    logprobs: Mapping[str, float], prefix: str, values: Sequence[str]
) -> dict[str, float]:
    """Summed probability per verdict value of the tokens (text → log-probability) that count
    for it; values without any such token are left out."""
    mass: dict[str, float] = {}
    for token, logprob in logprobs.items():
        value = value_of_token(token, prefix, values)
        if value is not None and math.isfinite(logprob):
            mass[value] = mass.get(value, 0.0) + math.exp(logprob)
    return mass


def normalise(mass: Mapping[str, float], values: Sequence[str]) -> SoftVerdict:
    """``mass`` renormalised over the verdict values (every value present in the result)."""
    total = sum(mass.values())
    if not total > 0:
        return SoftVerdict(None, "verdict tokens not among the alternatives")
    return SoftVerdict({v: mass.get(v, 0.0) / total for v in values})


def chosen_value_complete(chosen: str, prefix: str, value: str) -> bool:
    """Whether the token the judge wrote at the verdict position holds the whole value."""
    return value_of_token(chosen, prefix, [value]) == value


def expected_rating(probs: Mapping[str, float]) -> float:
    return sum(float(value) * p for value, p in probs.items())


def read_soft(
    pieces: Sequence[str],
    alternatives: Sequence[Mapping[str, float]],
    locate: Callable[[str], tuple[int, str] | None],
    values: Sequence[str],
) -> SoftVerdict:
    """The soft verdict of one reply, given its tokens and the alternatives at each position
    (only the verdict position's are read; a backend may leave the others empty)."""
    if not pieces:
        return SoftVerdict(None, "no token log-probabilities in the reply")
    located = locate("".join(pieces))
    if located is None:
        return SoftVerdict(None, "no verdict")
    offset, written = located
    span = token_span(pieces, offset)
    if span is None:
        return SoftVerdict(None, "no verdict")
    index, prefix = span
    if not chosen_value_complete(pieces[index], prefix, written):
        return SoftVerdict(None, "verdict value spans several tokens")
    if index >= len(alternatives) or not alternatives[index]:
        return SoftVerdict(None, "no alternatives at the verdict position")
    return normalise(verdict_mass(alternatives[index], prefix, values), values)
