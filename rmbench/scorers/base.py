"""What a scorer is: something that turns (prompt, response) pairs into scalar rewards.

A plugin registers a :class:`ScorerFactory`; rmbench calls ``factory.create(options)`` once
per run and then streams batches of scores out of :meth:`Scorer.score_batches`. The runner
writes every batch to the run's score cache as soon as it arrives, so a scorer never needs
to handle resumption itself: it is only ever asked for items that are not cached yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rmbench.errors import UsageError

Message = dict[str, str]


@dataclass(frozen=True)
class ScoringItem:
    """One response to score in its context. ``key`` identifies it in the score cache."""

    key: str
    prompt: Sequence[Message]
    response: str
    ref: str = ""  # human-readable reference for messages, e.g. "alpacaeval-easy/17#1"
    # The suite group the response belongs to: set only for scorers that declare
    # ``compares_within_group`` (their score depends on the group's other responses).
    group: str = ""
    # What the response is checked against (a gold answer, unit tests): set only for scorers
    # that declare ``needs_reference``, from the suite's optional ``reference`` column.
    reference: str = ""
    # The suite subset of the response's group (RewardBench 2's judge mode rates "Ties" and
    # judges the other subsets best-of-4). Not part of the cache key. An item that groups of
    # different subsets share (possible only for scorers without ``compares_within_group``, whose
    # items are deduplicated across groups) carries the subset of the first such group.
    subset: str = ""


@dataclass(frozen=True)
class ScoredBatch:
    """Scores for a batch of items, aligned with ``keys``; ``n_tokens`` feeds the progress bar."""

    keys: list[str]
    scores: np.ndarray
    n_tokens: int = 0


#: The options that only mean something to a scorer that loads a model itself.
LOCAL_MODEL_OPTIONS = (
    "device",
    "dtype",
    "max_tokens_per_batch",
    "max_batch_size",
    "chat_template",
    "truncate",
    "trust_remote_code",
    "revision",
)


@dataclass(frozen=True)
class ScorerOptions:
    """Options common to every scorer, plus free-form ``extra`` ones (``-O key=value``).

    A scorer must reject ``extra`` keys it does not understand (see :meth:`take_extra`), so
    that no option is silently accepted and ignored.
    """

    model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    max_tokens_per_batch: int = 16384
    max_batch_size: int = 64
    chat_template: str = "auto"
    truncate: bool = False
    trust_remote_code: bool = False
    revision: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def check_batching(self) -> None:
        """Refuse batch limits below 1 (for scorers that batch inputs through a model)."""
        if self.max_tokens_per_batch < 1:
            raise UsageError("option --max-tokens-per-batch must be at least 1")
        if self.max_batch_size < 1:
            raise UsageError("option --max-batch-size must be at least 1")

    def reject_unused(self, scorer: str, unused: Sequence[str], why: str) -> None:
        """Refuse the common options a scorer has no use for (``unused``: field names), when
        set away from their defaults, so that none is accepted and ignored; ``why`` says what
        the scorer does instead ("runs a verifier, not a model")."""
        defaults = ScorerOptions()
        for option in fields(ScorerOptions):
            name = option.name
            if name in unused and getattr(self, name) != getattr(defaults, name):
                flag = "--" + name.replace("_", "-")  # the field's `rmbench run` flag
                raise UsageError(f"option {flag}: scorer {scorer!r} {why}; leave it out")

    def reject_unknown_extra(self, scorer: str, known: Sequence[str] = ()) -> None:
        unknown = sorted(set(self.extra) - set(known))
        if unknown:
            allowed = ", ".join(known) if known else "none"
            raise UsageError(
                f"option -O {unknown[0]}: scorer {scorer!r} has no such option (it takes: {allowed})"
            )


@runtime_checkable
class Scorer(Protocol):
    """A loaded scorer, ready to score."""

    def identity(self) -> dict[str, Any]:
        """JSON-serialisable description of everything that determines the scores.

        Written to the manifest; a run directory refuses to resume under a different identity,
        because its cached scores would be silently mixed with new ones.
        """
        ...

    # Optional attributes the runner reads with ``getattr``:
    #
    # * ``compares_within_group: bool`` (default False): the score of a response depends on the
    #   other responses of its suite group (a pairwise judge). The runner then sets
    #   ``ScoringItem.group`` and keys the cache by (group, prompt, response), so two groups that
    #   share a prompt (RewardBench 1 does) are scored separately.
    # * ``needs_reference: bool`` (default False): the score checks the response against the
    #   group's reference (a verifier). The runner refuses a suite without a ``reference``
    #   column, sets ``ScoringItem.reference`` and makes the reference part of the cache key.
    # * ``report() -> dict``: JSON-serialisable counts of this session (requests, unparseable
    #   verdicts, ...), written to ``summary.json`` as ``scorer_report``.

    def score_batches(self, items: Sequence[ScoringItem]) -> Iterator[ScoredBatch]:
        """Yield scores for every item, batch by batch, in any order.

        Validation that can fail (an input over the model's maximum length, say) must happen
        before the first batch is computed, so the user hears about it before paying for it.
        """
        ...


@runtime_checkable
class ScorerFactory(Protocol):
    """What plugins register: a named, lazily-instantiated scorer."""

    name: str
    description: str

    def create(self, options: ScorerOptions) -> Scorer: ...
