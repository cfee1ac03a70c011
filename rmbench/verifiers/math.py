"""``math``: is the response's final answer mathematically equal to the gold answer?

Extraction and comparison are math-verify's (Hugging Face's ``math_verify.parse`` and
``verify``): the response's answer is taken from ``\\boxed{...}`` when there is one, else from
the last LaTeX or plain expression; equality is symbolic and numeric, so ``\\frac{1}{2}``,
``0.5`` and ``1/2`` agree. The gold answer may be written bare (``1/2``, ``\\frac{1}{2}``) or
in math mode; a bare LaTeX answer (``(x+1)^2``) is retried as ``$...$`` when plain parsing
finds nothing, unless it reads as prose (two words in a row): a gold answer of plain words is
an ``error``, not a product of single-letter variables.

math-verify's own timeouts are switched off: they use ``SIGALRM`` and silently turn a hang
into "not equal". The pool (:mod:`rmbench.verifiers.pool`) enforces the deadline instead and
reports a hang as ``timeout``, which keeps "wrong" and "could not tell" apart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rmbench.verifiers.base import Verdict, VerifyItem, short

_PROSE = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")


def _parse(text: str) -> list[Any]:
    from math_verify import parse

    return parse(text, parsing_timeout=None)  # type: ignore[arg-type]


def _quiet() -> None:
    # math-verify logs a warning on every call made with its timeouts disabled
    logging.getLogger("math_verify").setLevel(logging.ERROR)


class MathVerifier:
    """Final-answer equivalence of a response with the gold answer (1 if equal, else 0)."""

    name = "math"
    description = "final answer (\\boxed{} or last expression) equals the reference, by math-verify"
    pool_grace_s = 0.0  # the pool's deadline is the only timeout
    pool_memory_mb = 4096  # sympy on a hostile expression can grow without bound

    def prepare(self) -> None:
        import math_verify  # noqa: F401 - sympy and the LaTeX grammar take about half a second

        _quiet()

    def check(self, item: VerifyItem) -> Verdict:
        from math_verify import verify

        _quiet()
        gold = _parse(item.reference)
        if not gold and "$" not in item.reference and not _PROSE.search(item.reference):
            gold = _parse(f"${item.reference}$")
        if not gold:
            return Verdict("error", 0.0, short(f"cannot parse the reference {item.reference!r}"))
        answer = _parse(item.response)
        if not answer:
            return Verdict("failed", 0.0, "no final answer found in the response")
        found = short(str(answer[-1]), 80)
        if verify(gold, answer, timeout_seconds=None):  # type: ignore[arg-type]
            return Verdict("passed", 1.0, f"answer {found} equals the reference")
        return Verdict("failed", 0.0, f"answer {found} differs from {short(str(gold[-1]), 80)}")
