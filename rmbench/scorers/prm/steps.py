"""Cutting a response into steps and writing it back with a step tag after each step.

A process reward model was trained on solutions laid out one way: each step followed by a tag
token (``ки`` in Math-Shepherd, ``<extra_0>`` in Qwen2.5-Math-PRM), steps joined by a fixed
text. Its step scores are only meaningful on that layout, so the scorer re-lays every response
out that way: split it into steps (on a separator, or a regex), strip each step, drop empty
ones, and write ``step₁ + tag + join + step₂ + tag + ...``. The character span of every tag
is recorded while writing, so the tokens the model scores at are found from offsets, never by
searching the text afterwards (a step that happens to contain the tag text cannot shift them).

Option values for separators, tags and joins may spell newlines and tabs as ``\\n`` and
``\\t`` (``\\\\`` for a backslash), since typing a real newline into ``-O`` is awkward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rmbench.errors import UsageError

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(value: str, option: str) -> str:
    """``\\n``, ``\\t``, ``\\r`` and ``\\\\`` in an option value become the characters they name."""
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, None)
        if nxt not in _ESCAPES:
            raise UsageError(
                f"option -O {option}: unknown escape '\\{nxt or ''}' in {value!r} "
                "(use \\n, \\t, \\r or \\\\)"
            )
        out.append(_ESCAPES[nxt])
    return "".join(out)


@dataclass(frozen=True)
class TaggedContent:
    """A response re-laid out with tags: the text and each tag's ``(start, end)`` characters."""

    text: str
    tag_spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class StepFormat:
    """How responses are split into steps and how the model expects them tagged."""

    tag: str
    join: str
    separator: str | None = "\n\n"
    regex: str | None = None

    def __post_init__(self) -> None:
        if not self.tag:
            raise UsageError("option -O step_tag: must not be empty")
        if (self.separator is None) == (self.regex is None):
            raise UsageError("options -O step_separator and -O step_regex: give exactly one")
        if self.separator == "":
            raise UsageError("option -O step_separator: must not be empty")
        if self.regex is not None:
            try:
                pattern = re.compile(self.regex)
            except re.error as error:
                raise UsageError(
                    f"option -O step_regex: {self.regex!r} does not compile ({error})"
                ) from None
            if pattern.search("") is not None:
                raise UsageError(
                    f"option -O step_regex: {self.regex!r} matches the empty string, so it "
                    "would cut between every character"
                )

    def split(self, response: str) -> list[str]:
        """The response's steps: pieces between separators (or regex matches), stripped, the
        empty ones dropped (a blank line run is not a step)."""
        if self.regex is not None:
            pieces = re.split(self.regex, response)
        else:
            assert self.separator is not None
            pieces = response.split(self.separator)
        return [p.strip() for p in pieces if p.strip()]

    def tagged(self, steps: list[str]) -> TaggedContent:
        """``step₁ + tag + join + step₂ + tag ...`` and where each tag lies in it."""
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        at = 0
        for index, step in enumerate(steps):
            if index:
                parts.append(self.join)
                at += len(self.join)
            parts.append(step)
            at += len(step)
            parts.append(self.tag)
            spans.append((at, at + len(self.tag)))
            at += len(self.tag)
        return TaggedContent("".join(parts), tuple(spans))

    def identity(self) -> dict[str, str | None]:
        return {
            "separator": self.separator,
            "regex": self.regex,
            "tag": self.tag,
            "join": self.join,
        }
