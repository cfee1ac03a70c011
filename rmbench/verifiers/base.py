"""What a verifier is: a programmatic check of one response against a per-item reference.

A verifier answers "is this response correct?" without a model: the math verifier compares the
response's final answer with a gold answer, the python-tests verifier runs unit tests against
the response's code. Verifiers are registered by plugins through the ``register_verifiers``
hook (rmbench's own two included) and looked up by name with
:func:`rmbench.plugins.get_verifier`.

A check may hang or crash on hostile input (sympy on a tower of powers, a solution with an
infinite loop), so rmbench never calls :meth:`Verifier.check` in its own process: the
:mod:`rmbench.verifiers.pool` runs checks in worker processes under a per-item deadline and
turns a hang into a ``timeout`` verdict. A verifier therefore must be picklable (a module-level
class instance is) and its ``check`` must be safe to call in a fresh process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Every status a verdict may carry. ``passed`` and ``failed`` are the response's merit;
#: the others say the check could not finish normally (the response is still scored 0 unless
#: a verifier gives partial credit, e.g. tests that passed before a timeout).
STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "error")


@dataclass(frozen=True)
class VerifyItem:
    """One check to make: ``response`` against ``reference`` (a gold answer, a test suite...).

    ``timeout_s`` is the caller's per-item budget; a verifier that runs its own subprocess (the
    code sandbox) uses it as that subprocess's wall-clock limit, others may ignore it because
    the pool enforces it from outside anyway.
    """

    response: str
    reference: str
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: a status, a score in [0, 1] and a short human-readable reason."""

    status: str
    score: float
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; known: {STATUSES}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"verdict score must lie in [0, 1], got {self.score}")

    @classmethod
    def of(cls, correct: bool, reason: str = "") -> Verdict:
        """A plain right/wrong verdict."""
        return cls("passed" if correct else "failed", 1.0 if correct else 0.0, reason)


@runtime_checkable
class Verifier(Protocol):
    """What plugins register with ``register_verifiers``: a named, picklable checker.

    ``check`` runs inside a pool worker process (see the module docstring); it should return a
    :class:`Verdict` rather than raise, but an exception is caught and reported as ``error``.
    An optional ``prepare()`` method is called once per worker before its first item (heavy
    imports go there, so they do not count against the first item's timeout).
    """

    name: str
    description: str

    def check(self, item: VerifyItem) -> Verdict: ...


def short(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters: verdict reasons stay table-sized."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
