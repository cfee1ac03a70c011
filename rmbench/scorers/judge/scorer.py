"""Generative judges as scorers: one driver for every mode and backend, and ``judge-openai``.

A judge answers questions about responses; a suite needs one number per response. The bridge:

* **comparison sets.** Modes that compare responses (pairwise, best-of-4) declare
  ``compares_within_group``, so the runner tells the scorer each response's suite group and
  caches scores per (group, prompt, response): the responses compared with each other are
  exactly a group's, even where groups share a prompt (RewardBench 1 reuses prompts across its
  alpacaeval-* and mt-bench-* subsets). Items without a group (a caller outside the runner) are
  grouped by identical prompt. Ratings judge each response alone, so each is its own set;
* **modes** (:mod:`.modes`) say which requests a set needs and turn the replies into scores;
  pairwise judging is round robin in both orders, a pair won only when both orders agree.
  Mode ``rewardbench2`` (:mod:`.dispatch`) picks a mode per set: Ties rated, other subsets
  best-of-4; the sets of each mode are judged in one pass, with that mode's template;
* **backends** only generate: :class:`~.openai_client.OpenAIBackend` (``judge-openai``) and
  :class:`~.local_backend.LocalBackend` (``judge-local``). Soft verdicts (:mod:`.soft`) are read
  from the token alternatives a backend returns, by the same code for both.

Each set is yielded as one batch once all its judgements are in, so the run's cache commits a
set all at once and a resumed run never finds half a set scored.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from rmbench.errors import UsageError
from rmbench.scorers.base import LOCAL_MODEL_OPTIONS, ScoredBatch, ScorerOptions, ScoringItem
from rmbench.scorers.judge.dispatch import RewardBench2, make_mode
from rmbench.scorers.judge.modes import Judged, Mode, stats_dict
from rmbench.scorers.judge.openai_client import ChatResult
from rmbench.scorers.judge.options import COMMON_OPTIONS, JudgeSettings, number
from rmbench.scorers.judge.soft import SoftTarget, read_soft
from rmbench.scorers.judge.templates import JudgeTemplate, render

SCORER_NAME = "judge-openai"
EXTRA_OPTIONS = (
    *COMMON_OPTIONS,
    "base_url",
    "api_key_env",
    "concurrency",
    "max_retries",
    "timeout",
    "backoff",
    "top_logprobs",
)


class Backend(Protocol):
    """Generates the judge's replies; keys travel with the jobs, replies come in any order.
    ``soft``: where the verdicts of these jobs are and their values, for a backend that computes
    the alternatives at the verdict position itself (None: hard verdicts)."""

    def run(
        self,
        jobs: Iterable[tuple[Any, list[dict[str, str]]]],
        soft: SoftTarget | None = None,
    ) -> Iterator[tuple[Any, ChatResult]]: ...


def comparison_sets(items: Sequence[ScoringItem]) -> list[list[ScoringItem]]:
    """Items grouped by suite group (by identical prompt where no group is given), in order of
    first appearance (see the module doc)."""
    sets: dict[str, list[ScoringItem]] = {}
    for item in items:
        prompt = json.dumps([[m["role"], m["content"]] for m in item.prompt], ensure_ascii=False)
        key = json.dumps([item.group, prompt])
        sets.setdefault(key, []).append(item)
    return list(sets.values())


class JudgeScorer:
    """Asks a backend what a mode needs for each set, and turns the replies into scores."""

    def __init__(
        self,
        name: str,
        settings: JudgeSettings,
        backend: Backend,
        mode: Mode | RewardBench2 | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.backend = backend
        self.mode = mode or make_mode(settings.mode, settings.rotations)
        self.compares_within_group = self.mode.compares_within_group

    @property
    def stats(self) -> Any:
        return self.mode.stats

    def mode_for(self, members: Sequence[ScoringItem]) -> Mode:
        """The plain mode that judges this set: the scorer's, or the one RewardBench 2's
        dispatch picks for the set's subset (:mod:`.dispatch`)."""
        if isinstance(self.mode, RewardBench2):
            return self.mode.mode_for(members)
        return self.mode

    def report(self) -> dict[str, Any]:
        """This session's judging counts, for ``summary.json`` (see :mod:`.modes`); with
        ``rewardbench2`` the totals, then each sub-mode's counts under its name."""
        head = {"mode": self.settings.mode, "soft": self.settings.soft}
        if isinstance(self.mode, RewardBench2):
            return {**head, **self.mode.report()}
        return {**head, **stats_dict(self.stats)}

    def score_batches(self, items: Sequence[ScoringItem]) -> Iterator[ScoredBatch]:
        # ratings judge each response on its own: every item is a set of one
        within = self.compares_within_group
        sets = comparison_sets(items) if within else [[item] for item in items]
        for members in sets:
            self.mode.check(members)
        if not sets:
            return
        modes = [self.mode_for(members) for members in sets]
        for mode in self.mode.modes if isinstance(self.mode, RewardBench2) else [self.mode]:
            # one pass per plain mode (a backend reads one kind of verdict at a time)
            chosen = [s for s, m in enumerate(modes) if m is mode]
            if chosen:
                yield from self._judge(mode, [sets[s] for s in chosen])
        print(f"{self.name}: {self.mode.summary()}", file=sys.stderr)

    def _judge(self, mode: Mode, sets: list[list[ScoringItem]]) -> Iterator[ScoredBatch]:
        """Every set judged by ``mode``, each yielded as soon as its replies are all in."""
        orders = [mode.orders(len(members)) for members in sets]
        replies: list[dict[int, ChatResult]] = [{} for _ in sets]
        soft = SoftTarget(mode.locate, tuple(mode.values)) if self.settings.soft else None
        jobs = self._jobs(self.settings.templates[mode.name], sets, orders)
        for (s, k), reply in self.backend.run(jobs, soft):
            replies[s][k] = reply
            if len(replies[s]) == len(orders[s]):
                yield self._score_set(mode, sets[s], orders[s], replies[s])
                replies[s] = {}

    @staticmethod
    def _jobs(
        template: JudgeTemplate,
        sets: list[list[ScoringItem]],
        orders: list[list[tuple[int, ...]]],
    ) -> Iterator[tuple[tuple[int, int], list[dict[str, str]]]]:
        """((set, request), messages) for every request, set by set, rendered lazily."""
        for s, members in enumerate(sets):
            for k, order in enumerate(orders[s]):
                answers = [members[i].response for i in order]
                yield (s, k), render(template, members[0].prompt, *answers)

    def _score_set(
        self,
        mode: Mode,
        members: list[ScoringItem],
        orders: list[tuple[int, ...]],
        replies: dict[int, ChatResult],
    ) -> ScoredBatch:
        judged = []
        tokens = 0
        stats = mode.stats
        for k, order in enumerate(orders):
            reply = replies[k]
            stats.requests += 1
            stats.retries += reply.attempts - 1
            stats.prompt_tokens += reply.prompt_tokens
            stats.completion_tokens += reply.completion_tokens
            tokens += reply.prompt_tokens + reply.completion_tokens
            soft = None
            if self.settings.soft:
                soft = read_soft(reply.pieces, reply.alternatives, mode.locate, mode.values)
            judged.append(Judged(order, reply, soft))
        return ScoredBatch(
            keys=[m.key for m in members],
            scores=mode.score(len(members), judged),
            n_tokens=tokens,
        )


# --------------------------------------------------------------------------- judge-openai


class JudgeOpenAIFactory:
    name = SCORER_NAME
    description = (
        "LLM judge on an OpenAI-compatible chat-completions server: pairwise ([[A]]/[[B]], "
        "both orders, round-robin win rate), ratings ([[1-10]]), best-of-4 with rotations, or "
        "rewardbench2 (Ties rated, other subsets best-of-4); -O soft=true reads the verdict "
        "from top logprobs"
    )

    def create(self, options: ScorerOptions) -> JudgeOpenAIScorer:
        return JudgeOpenAIScorer(JudgeConfig.from_options(options))


@dataclass(frozen=True)
class JudgeConfig:
    """Validated options of ``judge-openai`` (the API key itself is never stored here)."""

    model: str
    base_url: str
    api_key_env: str | None
    settings: JudgeSettings
    concurrency: int
    max_retries: int
    timeout: float
    backoff: float
    top_logprobs: int | None

    @property
    def template(self) -> JudgeTemplate:
        return self.settings.template

    @classmethod
    def from_options(cls, options: ScorerOptions) -> JudgeConfig:
        options.reject_unknown_extra(SCORER_NAME, EXTRA_OPTIONS)
        options.reject_unused(
            SCORER_NAME,
            LOCAL_MODEL_OPTIONS,
            "sends messages to a server, which loads and formats the model itself",
        )
        if not options.model:
            raise UsageError(
                f"option --model is required by scorer {SCORER_NAME!r} (the model name the "
                "server serves)"
            )
        base_url = options.extra.get("base_url", "")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"option -O base_url: expected the server's http(s) URL, e.g. "
                f"http://127.0.0.1:8000/v1, got {base_url!r}"
            )
        if parts.username or parts.password:
            raise UsageError(
                "option -O base_url: must not contain credentials (it is recorded in the run "
                "directory); name an environment variable with -O api_key_env instead"
            )
        api_key_env = options.extra.get("api_key_env") or None
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise UsageError(
                f"option -O api_key_env: environment variable {api_key_env} is not set"
            )
        settings = JudgeSettings.from_options(options)
        top_logprobs = None
        if settings.soft:
            top_logprobs = number(options, "top_logprobs", "20", int, 1)
            if top_logprobs > 20:
                raise UsageError(
                    f"option -O top_logprobs: at most 20 (the OpenAI API's limit), got "
                    f"{top_logprobs}"
                )
        elif "top_logprobs" in options.extra:
            raise UsageError("option -O top_logprobs: only read with -O soft=true")
        return cls(
            model=options.model,
            base_url=base_url.rstrip("/"),
            api_key_env=api_key_env,
            settings=settings,
            concurrency=number(options, "concurrency", "8", int, 1),
            max_retries=number(options, "max_retries", "5", int, 0),
            timeout=number(options, "timeout", "120", float, 0.001),
            backoff=number(options, "backoff", "1", float, 0),
            top_logprobs=top_logprobs,
        )


class JudgeOpenAIScorer(JudgeScorer):
    """A judge served over HTTP, at most ``concurrency`` requests at a time."""

    def __init__(self, config: JudgeConfig) -> None:
        from rmbench.scorers.judge.openai_client import (
            ChatClient,
            ClientSettings,
            OpenAIBackend,
        )

        self.config = config
        api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self.client = ChatClient(
            ClientSettings(
                base_url=config.base_url,
                model=config.model,
                timeout=config.timeout,
                max_retries=config.max_retries,
                backoff=config.backoff,
                seed=config.settings.seed,
                max_tokens=config.settings.max_tokens,
                top_logprobs=config.top_logprobs,
                api_key=api_key,
            )
        )
        super().__init__(
            SCORER_NAME, config.settings, OpenAIBackend(self.client, config.concurrency)
        )

    def identity(self) -> dict[str, Any]:
        record = {
            "scorer": SCORER_NAME,
            "model": self.config.model,
            "base_url": self.config.base_url,
            **self.settings.identity(),
        }
        if self.config.top_logprobs is not None:
            record["top_logprobs"] = self.config.top_logprobs
        return record
