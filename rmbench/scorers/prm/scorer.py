"""``prm``: a local transformers process reward model, one reward per response from its steps.

Each response is split into steps (:mod:`rmbench.scorers.prm.steps`), re-laid out with the
model's step tag after every step, rendered with the chat template and tokenised once with
offsets to find each tag's token (:mod:`rmbench.scorers.prm.locate`). One forward pass gives a
probability of correctness at every tag (:mod:`rmbench.scorers.prm.heads`), and the step
scores are aggregated to the response's reward (:mod:`rmbench.scorers.prm.aggregate`).

Options (``-O key=value``): ``step_tag`` (required), ``step_separator`` (default ``\\n\\n``)
or ``step_regex``, ``step_join`` (default: the separator), ``good_token`` / ``bad_token``
(causal LMs only; default ``+`` / ``-``), ``aggregation`` (min, product, last, mean; default
min), ``system_prompt`` (added to prompts without a system message), ``attn_implementation``.

Prefixes of one solution that arrive together (a ProcessBench-style suite scores every prefix)
are read from a single forward pass on the longest one when that is provably exact
(:mod:`rmbench.scorers.prm.sharing`); ``report()`` counts the passes saved.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmbench.errors import ModelError, ScoringError, UsageError
from rmbench.scorers.base import ScoredBatch, ScorerOptions, ScoringItem
from rmbench.scorers.batching import over_length, pack_by_token_budget
from rmbench.scorers.loading import model_max_length
from rmbench.scorers.prm.aggregate import aggregate, parse_aggregation
from rmbench.scorers.prm.heads import LM, load_prm, single_token_id, tag_probabilities
from rmbench.scorers.prm.locate import StepTokenizer, StepTokens
from rmbench.scorers.prm.sharing import is_causal, plan
from rmbench.scorers.prm.steps import StepFormat, unescape

SCORER_NAME = "prm"
EXTRA_OPTIONS = (
    "step_tag",
    "step_separator",
    "step_regex",
    "step_join",
    "good_token",
    "bad_token",
    "aggregation",
    "system_prompt",
    "attn_implementation",
)


class PRMFactory:
    name = SCORER_NAME
    description = (
        "Process reward model: per-step scores at a step tag (good/bad token logits of a causal "
        "LM, or a token-classification head), aggregated by min, product, last or mean"
    )

    def create(self, options: ScorerOptions) -> PRMScorer:
        return PRMScorer.load(options)


@dataclass(frozen=True)
class PRMSettings:
    """The ``-O`` options, parsed and checked before any model is loaded."""

    format: StepFormat
    aggregation: str
    good_token: str
    bad_token: str
    tokens_given: bool  # good_token or bad_token was set explicitly
    system_prompt: str | None


def parse_settings(options: ScorerOptions) -> PRMSettings:
    options.reject_unknown_extra(SCORER_NAME, EXTRA_OPTIONS)
    extra = options.extra
    if "step_tag" not in extra:
        raise UsageError(
            "option -O step_tag is required by scorer 'prm': the text the model was trained to "
            "score after each step (e.g. 'ки' for Math-Shepherd, '<extra_0>' for Qwen2.5-Math-PRM)"
        )
    if "step_separator" in extra and "step_regex" in extra:
        raise UsageError("options -O step_separator and -O step_regex: give one, not both")
    regex = extra.get("step_regex")
    separator = (
        None
        if regex is not None
        else unescape(extra.get("step_separator", "\\n\\n"), "step_separator")
    )
    join_default = separator if separator is not None else "\n\n"
    join = unescape(extra["step_join"], "step_join") if "step_join" in extra else join_default
    fmt = StepFormat(
        tag=unescape(extra["step_tag"], "step_tag"), join=join, separator=separator, regex=regex
    )
    for option in ("good_token", "bad_token"):
        if option in extra and not extra[option]:
            raise UsageError(f"option -O {option}: must not be empty")
    good, bad = extra.get("good_token", "+"), extra.get("bad_token", "-")
    if good == bad:
        raise UsageError(f"options -O good_token and -O bad_token: both are {good!r}")
    return PRMSettings(
        format=fmt,
        aggregation=parse_aggregation(extra.get("aggregation", "min")),
        good_token=good,
        bad_token=bad,
        tokens_given="good_token" in extra or "bad_token" in extra,
        system_prompt=unescape(extra["system_prompt"], "system_prompt")
        if "system_prompt" in extra
        else None,
    )


class PRMScorer:
    """A loaded PRM, scoring responses by token-budget batches of forward passes."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        kind: str,
        options: ScorerOptions,
        device: Any,
        dtype: Any,
        fingerprint: dict[str, Any],
    ) -> None:
        self.settings = parse_settings(options)
        if kind != LM and self.settings.tokens_given:
            raise UsageError(
                f"options -O good_token/-O bad_token: model {options.model!r} has a "
                "token-classification head, which scores steps without vocabulary tokens"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.kind = kind
        self.options = options
        self.device = device
        self.dtype = dtype
        self.steps = StepTokenizer(
            tokenizer, options.chat_template, self.settings.format, self.settings.system_prompt
        )
        self.good_bad: tuple[int, int] | None = None
        if kind == LM:
            self.good_bad = (
                single_token_id(tokenizer, self.settings.good_token, "good_token"),
                single_token_id(tokenizer, self.settings.bad_token, "bad_token"),
            )
            if self.good_bad[0] == self.good_bad[1]:
                raise UsageError("options -O good_token and -O bad_token: both are the same token")
        self.max_length = model_max_length(tokenizer, model.config)
        self.share_prefixes = is_causal(model.config)
        self._fingerprint = fingerprint
        pad = tokenizer.pad_token_id
        # Right padding under an attention mask: real tokens never attend to pads.
        self.pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        self.truncated_count = 0
        self._counts = {"inputs": 0, "forward_passes": 0, "inputs_read_from_a_longer_pass": 0}

    @classmethod
    def load(cls, options: ScorerOptions) -> PRMScorer:
        parse_settings(options)  # option errors before the model is loaded
        if not options.model:
            raise UsageError(f"option --model is required by scorer {SCORER_NAME!r}")
        options.check_batching()
        from transformers.utils import logging as hf_logging

        from rmbench.run.fingerprint import model_fingerprint
        from rmbench.scorers.torch_runtime import resolve_device, resolve_dtype

        hf_logging.disable_progress_bar()
        device = resolve_device(options.device)
        dtype = resolve_dtype(options.dtype, device)
        model, tokenizer, kind = load_prm(
            options.model,
            dtype=dtype,
            revision=options.revision,
            trust_remote_code=options.trust_remote_code,
            attn_implementation=options.extra.get("attn_implementation"),
        )
        model.to(device)
        fingerprint = model_fingerprint(options.model, getattr(model.config, "_commit_hash", None))
        return cls(model, tokenizer, kind, options, device, dtype, fingerprint)

    def identity(self) -> dict[str, Any]:
        from rmbench.scorers.torch_runtime import dtype_name

        return {
            "scorer": SCORER_NAME,
            "model": self.options.model,
            "revision": self.options.revision,
            "model_fingerprint": self._fingerprint,
            "architecture": type(self.model).__name__,
            "head": self.kind,
            "good_bad_token_ids": list(self.good_bad) if self.good_bad else None,
            "steps": self.settings.format.identity(),
            "aggregation": self.settings.aggregation,
            "system_prompt": self.settings.system_prompt,
            "dtype": dtype_name(self.dtype),
            "chat_template": self.steps.identity(),
            "max_length": self.max_length,
            "truncate": self.options.truncate,
            "attn_implementation": self.options.extra.get("attn_implementation"),
        }

    def report(self) -> dict[str, int]:
        """Counts of this session: inputs scored, forward passes run, inputs that shared one."""
        return dict(self._counts)

    def tokenize(self, items: Sequence[ScoringItem]) -> list[StepTokens]:
        """Locate every input's step tags; refuse (or truncate) over-length inputs."""
        rows = self.steps.encode_all(items)
        over = over_length(
            [len(r.ids) for r in rows],
            items,
            self.max_length,
            self.options.truncate,
            "Pass --truncate to score the steps whose tags fit",
        )
        for i in over:
            assert self.max_length is not None  # over is empty without a maximum
            keep = rows[i].tag_positions[rows[i].tag_positions < self.max_length]
            if not len(keep):
                raise ModelError(
                    f"the first step tag of {items[i].ref or items[i].key} lies beyond the "
                    f"model's maximum length of {self.max_length} tokens; no step would be scored"
                )
            rows[i] = StepTokens(rows[i].ids[: self.max_length], keep, rows[i].steps)
        self.truncated_count += len(over)
        return rows

    def score_batches(self, items: Sequence[ScoringItem]) -> Iterator[ScoredBatch]:
        if not items:
            return
        rows = self.tokenize(items)
        members = plan(items, rows, self.share_prefixes)
        hosts = list(members)
        lengths = np.array([len(rows[h].ids) for h in hosts], dtype=np.int64)
        batches = pack_by_token_budget(
            lengths, self.options.max_tokens_per_batch, self.options.max_batch_size
        )
        self._counts["inputs"] += len(items)
        self._counts["forward_passes"] += len(hosts)
        self._counts["inputs_read_from_a_longer_pass"] += len(items) - len(hosts)
        for batch in batches:
            chunk = [hosts[int(b)] for b in batch]
            probs = tag_probabilities(
                self.model,
                self.kind,
                [rows[h] for h in chunk],
                self.device,
                self.pad_id,
                self.good_bad,
            )
            keys: list[str] = []
            scores: list[float] = []
            for host, p in zip(chunk, probs, strict=True):
                for i in members[host]:
                    keys.append(items[i].key)
                    scores.append(aggregate(self.settings.aggregation, p[: rows[i].n_steps]))
            values = np.asarray(scores, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                first = next(it for it in items if it.key == keys[int(bad[0])])
                raise ScoringError(
                    f"non-finite step score ({values[bad[0]]}) for {first.ref or first.key} "
                    f"({bad.size} in this batch); scores of earlier batches are kept in the cache"
                )
            yield ScoredBatch(keys=keys, scores=values, n_tokens=int(lengths[batch].sum()))

    def step_scores(self, items: Sequence[ScoringItem]) -> list[np.ndarray]:
        """Every step's probability of correctness, per item, one pass per item (diagnostics)."""
        out: list[np.ndarray] = []
        for row in self.tokenize(items):
            (probs,) = tag_probabilities(
                self.model, self.kind, [row], self.device, self.pad_id, self.good_bad
            )
            out.append(probs)
        return out
